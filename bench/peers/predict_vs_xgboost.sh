#!/usr/bin/env bash
# Prediction with the peers' XGBoost flights model (100 trees of depth 6, 11 features) on the same 100,000 sample rows:
# XGBoost's own predict_xgb.py (inplace_predict, best of 5; 10,000 single-row calls) against the model imported into
# Strata (`peer predict-xgb`: compiled trees, best of 5; 10,000 single-row calls), alternated RUNS times (default 1);
# medians. Prints one JSON line. Targets (issue "Learning stratum"): batch ≥ 2× XGBoost's inplace_predict on 2 threads;
# single row median ≤ 1 µs and p99 ≤ 5 µs in-process.
source "$(dirname "$0")/common.sh"
RUNS="${RUNS:-1}"
MODEL="$PEERS/models/flights_xgb.json"
SAMPLE="$PEERS/models/flights_sample.csv.gz"
for i in $(seq "$RUNS"); do
  $STRATA_BENCH peer predict-xgb "$MODEL" "$SAMPLE" >> "$WORK/predict.strata.jsonl"
  "$PYTHON" "$PEERS/predict_xgb.py" "$MODEL" "$SAMPLE" >> "$WORK/predict.xgboost.jsonl"
done
field() { tail -n "$RUNS" "$1" | "$PYTHON" -c "import sys, json; [print(eval('j' + sys.argv[1], {'j': json.loads(l)})) for l in sys.stdin]" "$2" | median; }
s_b2=$(field "$WORK/predict.strata.jsonl" "['nthread2']['batch_rows_per_s']")
s_b1=$(field "$WORK/predict.strata.jsonl" "['nthread1']['batch_rows_per_s']")
s_med=$(field "$WORK/predict.strata.jsonl" "['nthread1']['single_row_median_us']")
s_p99=$(field "$WORK/predict.strata.jsonl" "['nthread1']['single_row_p99_us']")
s_diff=$(field "$WORK/predict.strata.jsonl" "['max_abs_diff_vs_saved']")
x_b2=$(field "$WORK/predict.xgboost.jsonl" "['nthread2']['batch_inplace_rows_per_s']")
x_b1=$(field "$WORK/predict.xgboost.jsonl" "['nthread1']['batch_inplace_rows_per_s']")
x_med=$(field "$WORK/predict.xgboost.jsonl" "['nthread1']['single_row_median_us']")
x_p99=$(field "$WORK/predict.xgboost.jsonl" "['nthread1']['single_row_p99_us']")
"$PYTHON" -c "
import json
print(json.dumps({'benchmark': 'predict_flights_xgb_100_trees_depth_6', 'rows': 100000, 'runs': $RUNS,
  'load_average_1m': float(open('/proc/loadavg').read().split()[0]),
  'strata_batch_rows_per_s_2_threads': $s_b2, 'xgboost_inplace_rows_per_s_2_threads': $x_b2, 'batch_speedup_2_threads': round($s_b2 / $x_b2, 2),
  'strata_batch_rows_per_s_1_thread': $s_b1, 'xgboost_inplace_rows_per_s_1_thread': $x_b1, 'batch_speedup_1_thread': round($s_b1 / $x_b1, 2),
  'strata_single_row_median_us': $s_med, 'strata_single_row_p99_us': $s_p99,
  'xgboost_single_row_median_us': $x_med, 'xgboost_single_row_p99_us': $x_p99, 'single_row_speedup': round($x_med / $s_med, 1),
  'strata_max_abs_diff_vs_xgboost': $s_diff}))"
