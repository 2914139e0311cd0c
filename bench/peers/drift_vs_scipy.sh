#!/usr/bin/env bash
# Data drift on 50 features, 1,000,000 reference vs 1,000,000 current rows (reference ~ N(0,1); current shifts features
# 0-9 by +0.05 and scales 10-14 by 1.1): Strata's drift profiles (KLL edges pass + exact counts on both sides + KS and
# PSI) against ../shared/peers/drift_scipy.py (scipy ks_2samp + numpy PSI), side by side in one run. Generating the
# numbers is not timed on either side; peak RSS is each whole process's. Flags: KS p < 0.01, PSI > 0.001 (the peer's).
# Prints one JSON line. Target (issue 7): ≥ 10× faster with peak RSS ≤ SciPy's and the same features flagged.
source "$(dirname "$0")/common.sh"
ROWS="${ROWS:-1000000}"
FEATURES="${FEATURES:-50}"
$STRATA_BENCH peer drift "$ROWS" "$FEATURES" > "$WORK/drift.strata.json"
"$PYTHON" "$ROOT/bench/peers/drift_side.py" "$PEERS" > "$WORK/drift.scipy.json"
"$PYTHON" -c "
import json
s = json.load(open('$WORK/drift.strata.json')); p = json.load(open('$WORK/drift.scipy.json'))
print(json.dumps({'benchmark': 'drift_50x1m', 'features': $FEATURES, 'rows_ref': $ROWS, 'rows_cur': $ROWS,
  'strata_s': s['seconds'], 'strata_sketch_s': s['sketch_s'], 'scipy_s': p['seconds'], 'scipy_ks_s': p['ks_s'], 'scipy_psi_s': p['psi_s'],
  'speedup': round(p['seconds'] / s['seconds'], 2),
  'strata_peak_rss_mb': s['peak_rss_mb'], 'scipy_peak_rss_mb': p['peak_rss_mb'],
  'same_ks_flags': s['ks_flagged_p_lt_0.01'] == p['ks_flagged_p_lt_0.01'],
  'same_psi_flags': s['psi_flagged_gt_0.001'] == p['psi_flagged_gt_0.001'],
  'strata_ks_flagged': s['ks_flagged_p_lt_0.01'], 'scipy_ks_flagged': p['ks_flagged_p_lt_0.01'],
  'strata_psi_flagged': s['psi_flagged_gt_0.001'], 'scipy_psi_flagged': p['psi_flagged_gt_0.001']}))"
