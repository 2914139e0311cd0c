#!/usr/bin/env bash
# Point-in-time join, 1,000,000 entity rows against a 10,000,000-row view of 10 float32 features (100,000 entities over
# 30 days, TTL 24 h): pandas merge_asof incl. sorting (../shared/peers/pit_join_pandas.py, its synthetic part) against
# Strata's PointInTimeJoin on 2 threads (`peer pit-join`, same shape generated in-process, first run, cold), each in its
# own fresh process, alternated RUNS times (default 3); medians of time and peak RSS (pandas' from /usr/bin/time, for
# the whole script). Also `peer pit-join-store`: the same join through the embedded offline store (append timed apart,
# reopen, GetHistoricalFeatures reads the day segments and joins). Prints one JSON line. Targets (issue 5): ≥ 10× pandas' entity rows/s, peak RSS below pandas'.
source "$(dirname "$0")/common.sh"
RUNS="${RUNS:-3}"
for i in $(seq "$RUNS"); do
  $STRATA_BENCH peer pit-join >> "$WORK/pit.strata.jsonl"
  $STRATA_BENCH peer pit-join-store >> "$WORK/pit.store.jsonl"
  /usr/bin/time -f '%M' -o "$WORK/pit.pandas.rss" "$PYTHON" "$PEERS/pit_join_pandas.py" > "$WORK/pit.pandas.out"
  "$PYTHON" -c "
import json, sys
j = json.loads(open(sys.argv[1]).read())
j['peak_rss_mb'] = round(int(open(sys.argv[2]).read().split()[-1]) / 1024, 1)
print(json.dumps(j))" "$WORK/pit.pandas.out" "$WORK/pit.pandas.rss" >> "$WORK/pit.pandas.jsonl"
done
field() { tail -n "$RUNS" "$1" | "$PYTHON" -c "import sys, json; [print(eval('j' + sys.argv[1], {'j': json.loads(l)})) for l in sys.stdin]" "$2" | median; }
s_time=$(field "$WORK/pit.strata.jsonl" "['join_s']"); s_best=$(field "$WORK/pit.strata.jsonl" "['best_join_s']")
s_rss=$(field "$WORK/pit.strata.jsonl" "['peak_rss_mb']"); s_matched=$(field "$WORK/pit.strata.jsonl" "['matched']")
st_time=$(field "$WORK/pit.store.jsonl" "['join_s']"); st_rss=$(field "$WORK/pit.store.jsonl" "['peak_rss_mb']")
p_time=$(field "$WORK/pit.pandas.jsonl" "['synthetic_1Mx10M']['total_s']"); p_rss=$(field "$WORK/pit.pandas.jsonl" "['peak_rss_mb']")
p_matched=$(field "$WORK/pit.pandas.jsonl" "['synthetic_1Mx10M']['matched']")
"$PYTHON" -c "
import json
print(json.dumps({'benchmark': 'pit_join_1M_entity_rows_x_10M_feature_rows', 'entity_rows': 1000000, 'feature_rows': 10000000,
  'runs': $RUNS, 'load_average_1m': float(open('/proc/loadavg').read().split()[0]),
  'strata_s': $s_time, 'strata_best_s': $s_best, 'pandas_s': $p_time,
  'strata_entity_rows_per_s': round(1e6 / $s_time), 'pandas_entity_rows_per_s': round(1e6 / $p_time),
  'speedup': round($p_time / $s_time, 2), 'strata_peak_rss_mb': $s_rss, 'pandas_peak_rss_mb': $p_rss,
  'rss_ratio': round($s_rss / $p_rss, 2), 'strata_matched': $s_matched, 'pandas_matched': $p_matched,
  'store_s': $st_time, 'store_speedup': round($p_time / $st_time, 2), 'store_peak_rss_mb': $st_rss}))"
