#!/usr/bin/env bash
# Serving on loopback, measured in one run with wrk -t2 -c32 (wrk shares the machine's cores with the server):
#   1. an empty Kestrel POST endpoint (`peer empty-kestrel`), the ceiling;
#   2. Strata's POST /v1/endpoints/flights/predict serving the peers' XGBoost flights model, one row per request;
#   3. ../shared/peers/serve_fastapi.py (FastAPI + uvicorn, 2 workers) serving the same model and row;
# then, on the same Strata server, p50/p99 at 80% of Strata's peak rate (open-loop `peer paced-load`, and wrk pausing between requests;
# the open-loop rate is also sent to the empty endpoint, for the tail the machine itself gives), p99 of an endpoint that enriches each request with 50 features from the embedded
# online store (-t1 -c4, one random entity of 10,000 per request) and the server's RSS while a 500-tree model is loaded
# and under load. DURATION (default 10s) per case, after a 3 s warm-up. Prints one JSON line.
source "$(dirname "$0")/common.sh"
DURATION="${DURATION:-10s}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }
dotnet build -c Release "$ROOT/src/Strata.Cli" -v quiet -nologo >/dev/null
STRATA="dotnet $ROOT/src/Strata.Cli/bin/Release/net10.0/Strata.Cli.dll"
port() { "$PYTHON" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_up() { # URL PID LOG
  for _ in $(seq 1 150); do
    curl -s -o /dev/null "$1" && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; exit 1; }
    sleep 0.2
  done
  echo "server at $1 did not start" >&2; exit 1
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

HOME_DIR="$WORK/serve-home"
rm -rf "$HOME_DIR"
$STRATA_BENCH peer serve-setup "$HOME_DIR" "$PEERS/models/flights_xgb.json" > "$WORK/serve.setup.json"
KEY="$("$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))['key'])" "$WORK/serve.setup.json")"

# One row of the sample: the model's 11 inputs, named for Strata and as a list for FastAPI.
ROW="$("$PYTHON" - "$PEERS/models/flights_sample.csv.gz" <<'EOF'
import csv, gzip, json, sys
with gzip.open(sys.argv[1], "rt") as f:
    reader = csv.reader(f); header = next(reader); row = next(reader)
names, values = header[:11], [float(v) for v in row[:11]]
print(json.dumps({"strata": json.dumps({"rows": [dict(zip(names, values))]}), "fastapi": json.dumps({"inputs": [values]})}))
EOF
)"
lua() { # FILE BODY [AUTH]
  "$PYTHON" - "$1" "$2" "${3:-}" <<'EOF'
import json, sys
path, body, key = sys.argv[1:4]
with open(path, "w") as f:
    f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
    if key: f.write(f'wrk.headers["Authorization"] = "Bearer {key}"\n')
    f.write(f"wrk.body = {json.dumps(body)}\n")
EOF
}
lua "$WORK/serve.strata.lua" "$("$PYTHON" -c "import json,sys; print(json.loads(sys.argv[1])['strata'])" "$ROW")" "$KEY"
lua "$WORK/serve.fastapi.lua" "$("$PYTHON" -c "import json,sys; print(json.loads(sys.argv[1])['fastapi'])" "$ROW")"
cat > "$WORK/serve.enriched.lua" <<EOF
wrk.method = "POST"
wrk.path = "/v1/endpoints/enriched/predict"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
function setup(thread) thread:set("seed", math.random(1, 1000000)) end
function init(args) math.randomseed(seed) end
request = function() return wrk.format(nil, nil, nil, '{"rows":[{"entity_id":' .. math.random(0, 9999) .. '}]}') end
EOF
cat > "$WORK/serve.big.lua" <<EOF
wrk.method = "POST"
wrk.path = "/v1/endpoints/big/predict"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
request = function()
  local f = {}
  for i = 0, 49 do f[#f + 1] = '"f' .. i .. '":' .. math.random() end
  return wrk.format(nil, nil, nil, '{"rows":[{' .. table.concat(f, ",") .. '}]}')
end
EOF

measure() { # NAME URL LUA THREADS CONNECTIONS
  wrk -t"$4" -c"$5" -d3s -s "$3" "$2" >/dev/null
  wrk -t"$4" -c"$5" -d"$DURATION" --latency -s "$3" "$2" > "$WORK/serve.$1.txt"
}

# 1. The ceiling.
PORT="$(port)"
$STRATA_BENCH peer empty-kestrel "http://127.0.0.1:$PORT" > "$WORK/serve.empty.log" 2>&1 &
EMPTY=$!; PIDS+=("$EMPTY")
wait_up "http://127.0.0.1:$PORT/" "$EMPTY" "$WORK/serve.empty.log"
EMPTY_URL="http://127.0.0.1:$PORT/"
measure empty "$EMPTY_URL" "$WORK/serve.strata.lua" 2 32

# 2. Strata, then enrichment and the 500-tree model on the same server.
PORT="$(port)"
URL="http://127.0.0.1:$PORT"
Logging__LogLevel__Default=Warning $STRATA serve --home "$HOME_DIR" --config "$HOME_DIR/strata.yaml" --urls "$URL" > "$WORK/serve.strata.log" 2>&1 &
SERVER=$!; PIDS+=("$SERVER")
wait_up "$URL/health/ready" "$SERVER" "$WORK/serve.strata.log"
curl -sf -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
  -d "$("$PYTHON" -c "import json,sys; print(json.loads(sys.argv[1])['strata'])" "$ROW")" "$URL/v1/endpoints/flights/predict" > "$WORK/serve.sample.json"
measure strata "$URL/v1/endpoints/flights/predict" "$WORK/serve.strata.lua" 2 32
# Latency under a steady load: open-loop at 80% of the peak just measured (wrk cannot pace; wrk2 is not packaged).
PEAK="$(awk '/Requests\/sec/ {print $2}' "$WORK/serve.strata.txt")"
"$PYTHON" -c "import json,sys; print(json.loads(sys.argv[1])['strata'], end='')" "$ROW" > "$WORK/serve.body.json"
$STRATA_BENCH peer paced-load "$URL/v1/endpoints/flights/predict" "$WORK/serve.body.json" \
  "$("$PYTHON" -c "print(round(0.8 * $PEAK))")" 32 "${DURATION%s}" "Bearer $KEY" > "$WORK/serve.paced.json"
# The same open-loop rate against the empty endpoint (idle until now): the tail this machine gives any server at that rate.
$STRATA_BENCH peer paced-load "$EMPTY_URL" "$WORK/serve.body.json" \
  "$("$PYTHON" -c "print(round(0.8 * $PEAK))")" 32 "${DURATION%s}" "Bearer $KEY" > "$WORK/serve.emptypaced.json"
stop "$EMPTY"
# The same target rate paced by wrk itself: closed loop (each connection waits 32/rate s between requests), so it is
# blind to coordinated omission and reaches less than the target, but takes far less CPU from the two shared cores than
# the open-loop generator; both are reported, with the rate each reached. wrk takes whole milliseconds, so the pause is
# rounded, and never to 0 (above 40,000 req/s it would be, and the case would run unpaced).
{ cat "$WORK/serve.strata.lua"; echo "function delay() return $("$PYTHON" -c "print(max(1, round(32 * 1000 / (0.8 * $PEAK))))") end"; } > "$WORK/serve.wrkpaced.lua"
measure wrkpaced "$URL/v1/endpoints/flights/predict" "$WORK/serve.wrkpaced.lua" 2 32
measure enriched "$URL" "$WORK/serve.enriched.lua" 1 4
( wrk -t2 -c32 -d"$DURATION" --latency -s "$WORK/serve.big.lua" "$URL" > "$WORK/serve.big.txt" ) &
LOAD=$!
RSS=0
while kill -0 "$LOAD" 2>/dev/null; do
  NOW="$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status" 2>/dev/null || echo 0)"
  [ -n "$NOW" ] && [ "$NOW" -gt "$RSS" ] && RSS="$NOW"
  sleep 0.5
done
stop "$SERVER"

# 3. FastAPI + uvicorn, two workers.
PORT="$(port)"
( cd "$PEERS" && exec "$PYTHON" -m uvicorn serve_fastapi:app --host 127.0.0.1 --port "$PORT" --workers 2 --log-level warning --no-access-log ) > "$WORK/serve.fastapi.log" 2>&1 &
FASTAPI=$!; PIDS+=("$FASTAPI")
wait_up "http://127.0.0.1:$PORT/health" "$FASTAPI" "$WORK/serve.fastapi.log"
sleep 2
measure fastapi "http://127.0.0.1:$PORT/predict" "$WORK/serve.fastapi.lua" 2 32
stop "$FASTAPI"

"$PYTHON" - "$WORK" "$DURATION" "$RSS" <<'EOF'
import json, re, sys
work, duration, rss_kb = sys.argv[1], sys.argv[2], int(sys.argv[3])
def ms(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 3)
def read(case):
    text = open(f"{work}/serve.{case}.txt").read()
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", text, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"req_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)), "p50_ms": ms(latency["50"]),
            "p99_ms": ms(latency["99"]), "non_2xx": int(errors.group(1)) if errors else 0}
out = {"benchmark": "serve_vs_fastapi", "load": f"wrk -t2 -c32 -d{duration}, 1 row per POST, 127.0.0.1",
       "load_average_1m": float(open("/proc/loadavg").read().split()[0])}
for case in ["empty", "strata", "fastapi", "enriched", "big", "wrkpaced"]:
    out[case] = read(case)
out["enriched"]["load"] = "wrk -t1 -c4, 1 random entity of 10000, 50 features from the embedded online store"
out["big"]["rss_mb"] = round(rss_kb / 1024, 1)
out["sample"] = json.load(open(f"{work}/serve.sample.json"))["probabilities"][0]
out["strata_paced"] = {k: v for k, v in json.load(open(f"{work}/serve.paced.json")).items() if k not in ("operation", "peak_rss_mb")}
out["strata_paced"]["load"] = "open loop at 80% of strata's peak req/s, 32 connections, latency from each request's due time"
out["empty_paced"] = {k: v for k, v in json.load(open(f"{work}/serve.emptypaced.json")).items() if k not in ("operation", "peak_rss_mb")}
out["empty_paced"]["load"] = "the same open-loop rate against the empty Kestrel endpoint"
out["wrkpaced"]["load"] = "wrk -t2 -c32 closed loop, each connection pausing 32/(0.8 x peak) s between requests"
out["strata_vs_empty"] = round(out["strata"]["req_per_s"] / out["empty"]["req_per_s"], 3)
out["strata_vs_fastapi"] = round(out["strata"]["req_per_s"] / out["fastapi"]["req_per_s"], 2)
print(json.dumps(out))
EOF
