#!/usr/bin/env bash
# GBDT training against XGBoost 1.7 (hist) and sklearn HistGradientBoosting, with train_xgb.py's settings (100 rounds,
# learning rate 0.1, depth 6, 255/256 bins, 2 threads): flights (2.5M × 11, features and time split exactly as
# train_xgb.py builds them, point-in-time origin features included) and synthetic (1M × 50 + 200k test). Each engine
# runs in its own fresh process on the same files, alternated RUNS times (default 1); medians of train seconds (Strata:
# FitAsync with binning; XGBoost: xgb.train, which builds its cuts; DMatrix time reported apart), test AUC and peak RSS.
# Prints one JSON line per data set. Targets (issue): Strata ≤ 0.8× XGBoost's time, AUC within 0.002, peak RSS ≤ XGBoost's.
# Measure on a quiet machine: the script records the load average before and after.
source "$(dirname "$0")/common.sh"
RUNS="${RUNS:-1}"
DATA="$WORK/gbdt"
SIDE="$ROOT/bench/peers/gbdt_side.py"
if [ ! -s "$DATA/flights/test.csv" ]; then
  "$PYTHON" "$SIDE" prepare flights "$DATA/flights" "$PEERS/data/flights-3m.csv.gz" "$PEERS/data/origin_hourly_features.csv.gz" >&2
fi
if [ ! -s "$DATA/synthetic/test.f32" ]; then
  "$PYTHON" "$SIDE" prepare synthetic "$DATA/synthetic" >&2
fi
for ds in flights synthetic; do
  ext=csv; [ "$ds" = synthetic ] && ext=f32
  train="$DATA/$ds/train.$ext"; test="$DATA/$ds/test.$ext"
  out="$WORK/gbdt.$ds.$$"
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  for i in $(seq "$RUNS"); do
    $STRATA_BENCH peer train-gbdt "$train" "$test" >> "$out.strata.jsonl"
    "$PYTHON" "$SIDE" xgb "$train" "$test" 2 >> "$out.xgb.jsonl"
    "$PYTHON" "$SIDE" hgb "$train" "$test" >> "$out.hgb.jsonl"
  done
  load_after=$(cut -d' ' -f1 /proc/loadavg)
  "$PYTHON" - "$ds" "$RUNS" "$out" "$load_before" "$load_after" <<'EOF'
import json, statistics, sys
ds, runs, out, before, after = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
def rows(engine): return [json.loads(l) for l in open(f"{out}.{engine}.jsonl")]
def med(rs, key): return statistics.median(r[key] for r in rs)
s, x, h = rows("strata"), rows("xgb"), rows("hgb")
res = {"benchmark": f"gbdt_train_{ds}", "rows_train": s[0]["rows_train"], "features": s[0]["features"], "runs": runs,
       "load_avg_before": before, "load_avg_after": after,
       "strata_train_s": med(s, "train_s"), "xgb_train_s": med(x, "train_s"), "xgb_dmatrix_s": med(x, "dmatrix_s"),
       "hgb_train_s": med(h, "train_s"),
       "strata_auc": med(s, "auc"), "xgb_auc": med(x, "auc"), "hgb_auc": med(h, "auc"),
       "strata_peak_rss_mb": med(s, "peak_rss_mb"), "xgb_peak_rss_mb": med(x, "peak_rss_mb"), "hgb_peak_rss_mb": med(h, "peak_rss_mb"),
       "strata_binning_s": med(s, "phase_binning_s"), "strata_histograms_s": med(s, "phase_histograms_s"),
       "strata_partition_s": med(s, "phase_partition_s")}
res["time_ratio_vs_xgb"] = round(res["strata_train_s"] / res["xgb_train_s"], 3)
res["time_ratio_vs_xgb_incl_dmatrix"] = round(res["strata_train_s"] / (res["xgb_train_s"] + res["xgb_dmatrix_s"]), 3)
res["time_ratio_vs_hgb"] = round(res["strata_train_s"] / res["hgb_train_s"], 3)
res["auc_diff_vs_xgb"] = round(res["strata_auc"] - res["xgb_auc"], 5)
res["rss_ratio_vs_xgb"] = round(res["strata_peak_rss_mb"] / res["xgb_peak_rss_mb"], 3)
res["meets_targets"] = res["time_ratio_vs_xgb"] <= 0.8 and abs(res["auc_diff_vs_xgb"]) <= 0.002 and res["rss_ratio_vs_xgb"] <= 1
print(json.dumps(res))
EOF
  rm -f "$out".*.jsonl
done
