#!/usr/bin/env bash
# What the per-request access log costs the predict endpoint: Strata's POST /v1/endpoints/flights/predict (the peers'
# XGBoost flights model, one row per request) under wrk -t2 -c32, with --access-log off, stdout (every request) and
# each rate in RATES, the settings interleaved over ROUNDS rounds in one run (the machine is shared: interleaving spreads
# its noise over every setting). The log goes to a file, as a log shipper's pipe would take it. DURATION (default 5s)
# per measurement after a 3 s warm-up. Prints one JSON line: per setting the median req/s and the median server CPU time
# per request (steadier than req/s on a loaded machine), each with its ratio to off.
source "$(dirname "$0")/common.sh"
DURATION="${DURATION:-5s}"
ROUNDS="${ROUNDS:-3}"
RATES="${RATES:-0.1}"
FORMAT="${FORMAT:-json}"
serving_tools
SERVER=""
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; true' EXIT

HOME_DIR="$WORK/access-home"
rm -rf "$HOME_DIR"
$STRATA_BENCH peer serve-setup "$HOME_DIR" "$PEERS/models/flights_xgb.json" > "$WORK/access.setup.json"
KEY="$("$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))['key'])" "$WORK/access.setup.json")"
flights_lua "$KEY" > "$WORK/access.lua"

: > "$WORK/access.results"
for round in $(seq 1 "$ROUNDS"); do
  for setting in off stdout $RATES; do
    PORT="$(port)"; URL="http://127.0.0.1:$PORT"
    Logging__LogLevel__Default=Warning $STRATA serve --home "$HOME_DIR" --config "$HOME_DIR/strata.yaml" --urls "$URL" \
      --log-format "$FORMAT" --access-log "$setting" > "$WORK/access.$setting.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 150); do curl -s -o /dev/null "$URL/health/ready" && break; sleep 0.2; done
    wrk -t2 -c32 -d3s -s "$WORK/access.lua" "$URL/v1/endpoints/flights/predict" > /dev/null
    PID="$SERVER"
    BEFORE="$(cpu "$PID")"
    wrk -t2 -c32 -d"$DURATION" -s "$WORK/access.lua" "$URL/v1/endpoints/flights/predict" > "$WORK/access.wrk.txt"
    AFTER="$(cpu "$PID")"
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
    echo "$setting $(awk '/Requests\/sec/ {print $2}' "$WORK/access.wrk.txt") $(awk '/requests in/ {print $1}' "$WORK/access.wrk.txt") $((AFTER - BEFORE)) $(grep -c '"Category":"Strata.Server.AccessLog"\| access ' "$WORK/access.$setting.log" || true)" >> "$WORK/access.results"
  done
done

"$PYTHON" - "$WORK/access.results" "$DURATION" "$ROUNDS" "$FORMAT" <<'EOF'
import json, statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
by = {}
ticks = int(__import__("os").sysconf("SC_CLK_TCK"))
for setting, rps, requests, cpu, lines in rows:
    by.setdefault(setting, []).append((float(rps), int(lines), 1e6 * int(cpu) / ticks / int(requests)))
out = {"benchmark": "serve_access_log", "load": f"wrk -t2 -c32 -d{sys.argv[2]}, 1 row per POST, 127.0.0.1, {sys.argv[3]} interleaved rounds",
       "log_format": sys.argv[4], "load_average_1m": float(open("/proc/loadavg").read().split()[0])}
off = statistics.median(r for r, _, _ in by["off"])
off_cpu = statistics.median(c for _, _, c in by["off"])
for setting, values in by.items():
    median = statistics.median(r for r, _, _ in values)
    cpu = statistics.median(c for _, _, c in values)
    out[setting] = {"req_per_s": [r for r, _, _ in values], "median_req_per_s": median, "vs_off": round(median / off, 3),
                    "server_cpu_us_per_request": [round(c, 1) for _, _, c in values], "median_cpu_us_per_request": round(cpu, 1),
                    "cpu_vs_off": round(cpu / off_cpu, 3), "lines_last_round": values[-1][1]}
print(json.dumps(out))
EOF
