#!/usr/bin/env bash
# Profile of the 3M-row flights table: Strata's Profiler (counts, nulls, min/max, mean/variance, KLL quantiles,
# histograms, top values, HyperLogLog distinct) against the same statistics in pandas (describe + value_counts +
# quantiles + nunique + isna + histograms). Data loading is not timed on either side. Strata's figure is its first
# run in the process (JIT included); the best of 5 is reported too. Prints one JSON line. Target (issue 2): ≥ 5×.
source "$(dirname "$0")/common.sh"
RUNS="${RUNS:-3}"
for i in $(seq "$RUNS"); do
  $STRATA_BENCH peer profile-file "$FLIGHTS" >> "$WORK/profile.strata.jsonl"
  "$PYTHON" "$ROOT/bench/peers/pandas_side.py" profile "$FLIGHTS" >> "$WORK/profile.pandas.jsonl"
done
field() { tail -n "$RUNS" "$1" | "$PYTHON" -c "import sys, json; [print(json.loads(l)['$2']) for l in sys.stdin]" | median; }
s_first=$(field "$WORK/profile.strata.jsonl" first_s); s_best=$(field "$WORK/profile.strata.jsonl" best_s)
p_time=$(field "$WORK/profile.pandas.jsonl" seconds)
"$PYTHON" -c "
import json
print(json.dumps({'benchmark': 'profile_flights_3m', 'rows': 3000000, 'runs': $RUNS,
  'strata_first_s': $s_first, 'strata_best_s': $s_best, 'pandas_s': $p_time,
  'speedup': round($p_time / $s_first, 2), 'speedup_warm': round($p_time / $s_best, 2)}))"
