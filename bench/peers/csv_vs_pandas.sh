#!/usr/bin/env bash
# CSV → table on the 3M-row flights data (106 MB decompressed): Strata's CsvReader against pandas.read_csv, each in
# its own fresh process, alternated RUNS times (default 5); medians of time and peak RSS. Prints one JSON line.
# Targets (issue 2): Strata ≥ 3× pandas' rows/s, and peak RSS ≤ pandas'.
source "$(dirname "$0")/common.sh"
RUNS="${RUNS:-5}"
for i in $(seq "$RUNS"); do
  $STRATA_BENCH peer csv-parse "$FLIGHTS" >> "$WORK/csv.strata.jsonl"
  "$PYTHON" "$ROOT/bench/peers/pandas_side.py" csv "$FLIGHTS" >> "$WORK/csv.pandas.jsonl"
done
field() { tail -n "$RUNS" "$1" | "$PYTHON" -c "import sys, json; [print(json.loads(l)['$2']) for l in sys.stdin]" | median; }
s_time=$(field "$WORK/csv.strata.jsonl" seconds); p_time=$(field "$WORK/csv.pandas.jsonl" seconds)
s_rss=$(field "$WORK/csv.strata.jsonl" peak_rss_mb); p_rss=$(field "$WORK/csv.pandas.jsonl" peak_rss_mb)
"$PYTHON" -c "
import json
print(json.dumps({'benchmark': 'csv_parse_flights_3m', 'rows': 3000000, 'runs': $RUNS,
  'strata_s': $s_time, 'pandas_s': $p_time, 'strata_rows_per_s': round(3e6 / $s_time), 'pandas_rows_per_s': round(3e6 / $p_time),
  'speedup': round($p_time / $s_time, 2), 'strata_peak_rss_mb': $s_rss, 'pandas_peak_rss_mb': $p_rss,
  'rss_ratio': round($s_rss / $p_rss, 2)}))"
