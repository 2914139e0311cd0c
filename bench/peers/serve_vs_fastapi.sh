#!/usr/bin/env bash
# Serving on loopback with wrk -t2 -c32 (wrk shares the machine's cores with the servers), in one run:
#   1. an empty Kestrel POST endpoint (`peer empty-kestrel`), the ceiling;
#   2. Strata's POST /v1/endpoints/flights/predict serving the peers' XGBoost flights model, one row per request;
#   3. ../shared/peers/serve_fastapi.py (FastAPI + uvicorn, 2 workers) serving the same model and row.
# The three run side by side (a .NET one paused, with SIGSTOP, while another is measured) and are measured in ROUNDS rounds
# (default 3), each round in a rotated order, so a machine whose speed drifts (a shared host) weighs on all three alike;
# each one's figure is its median round, and the ratios are the medians of the rounds' ratios. Then, on the same Strata server, p50/p99 at 80% of Strata's median rate
# (open-loop `peer paced-load`, and wrk pausing 1 ms between requests on as many connections as reach that rate; each
# is also sent to the empty endpoint at the same rate, for the tail the machine itself gives), p99 of an endpoint that enriches each request with 50 features from the
# embedded online store (-t1 -c4, one random entity of 10,000 per request) and the server's RSS while a 500-tree model
# is loaded and under load. DURATION (default 10s) per measurement, after a warm-up of each server (WARMUP, default 10s: `strata
# serve` runs under dynamic PGO, which compiles hot code twice). Prints one JSON line.
source "$(dirname "$0")/common.sh"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-10s}"
ROUNDS="${ROUNDS:-3}"
serving_tools
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do resume "$p"; kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
# A .NET server not being measured is paused, so its timers (the log writers' ticks) take nothing from the one that
# is; uvicorn's workers idle in epoll and are left running (a paused uvicorn may not stop on SIGTERM).
pause() { kill -STOP "$1" 2>/dev/null || true; }
resume() { kill -CONT "$1" 2>/dev/null || true; }
trap cleanup EXIT
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

# CPU time (ms) the hypervisor gave this machine's CPUs to others (steal in /proc/stat): wrk corrects its percentiles
# for coordinated omission, so one stall of the whole machine (e.g. 100 ms) adds samples up to its length, and a few
# of them make a p99 of tens of ms; a case's steal during its run tells such a run from a slow server.
steal() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / {print int($9 * 1000 / hz)}' /proc/stat; }
measured() { # OUT, then the wrk command: runs it into OUT and the steal during it into OUT.steal
  local out="$1" before; shift
  before="$(steal)"
  "$@" > "$out"
  echo "$(( $(steal) - before ))" > "$out.steal"
}
measure() { # NAME URL LUA THREADS CONNECTIONS
  wrk -t"$4" -c"$5" -d"$WARMUP" -s "$3" "$2" >/dev/null
  measured "$WORK/serve.$1.txt" wrk -t"$4" -c"$5" -d"$DURATION" --latency -s "$3" "$2"
}
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }

# 1. The ceiling, Strata and FastAPI, all started before any is measured.
PORT="$(port)"
$STRATA_BENCH peer empty-kestrel "http://127.0.0.1:$PORT" > "$WORK/serve.empty.log" 2>&1 &
EMPTY=$!; PIDS+=("$EMPTY")
wait_up "http://127.0.0.1:$PORT/" "$EMPTY" "$WORK/serve.empty.log"
EMPTY_URL="http://127.0.0.1:$PORT/"

PORT="$(port)"
URL="http://127.0.0.1:$PORT"
Logging__LogLevel__Default=Warning $STRATA serve --home "$HOME_DIR" --config "$HOME_DIR/strata.yaml" --urls "$URL" > "$WORK/serve.strata.log" 2>&1 &
SERVER=$!; PIDS+=("$SERVER")
wait_up "$URL/health/ready" "$SERVER" "$WORK/serve.strata.log"
curl -sf -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
  -d "$("$PYTHON" -c "import json,sys; print(json.loads(sys.argv[1])['strata'])" "$ROW")" "$URL/v1/endpoints/flights/predict" > "$WORK/serve.sample.json"

PORT="$(port)"
( cd "$PEERS" && exec "$PYTHON" -m uvicorn serve_fastapi:app --host 127.0.0.1 --port "$PORT" --workers 2 --log-level warning --no-access-log ) > "$WORK/serve.fastapi.log" 2>&1 &
FASTAPI=$!; PIDS+=("$FASTAPI")
wait_up "http://127.0.0.1:$PORT/health" "$FASTAPI" "$WORK/serve.fastapi.log"
FASTAPI_URL="http://127.0.0.1:$PORT/predict"

# 2. The rounds: empty, strata, fastapi; then strata, fastapi, empty; then fastapi, empty, strata; and so on.
CASES=(empty strata fastapi)
declare -A TARGET=([empty]="$EMPTY_URL" [strata]="$URL/v1/endpoints/flights/predict" [fastapi]="$FASTAPI_URL")
declare -A SCRIPT=([empty]="$WORK/serve.strata.lua" [strata]="$WORK/serve.strata.lua" [fastapi]="$WORK/serve.fastapi.lua")
declare -A PROCESS=([empty]="$EMPTY" [strata]="$SERVER" [fastapi]="")
for c in "${CASES[@]}"; do wrk -t2 -c32 -d"$WARMUP" -s "${SCRIPT[$c]}" "${TARGET[$c]}" >/dev/null; [ -z "${PROCESS[$c]}" ] || pause "${PROCESS[$c]}"; done
for ((r = 0; r < ROUNDS; r++)); do
  for ((k = 0; k < 3; k++)); do
    c="${CASES[$(((r + k) % 3))]}"
    [ -z "${PROCESS[$c]}" ] || resume "${PROCESS[$c]}"
    wrk -t2 -c32 -d1s -s "${SCRIPT[$c]}" "${TARGET[$c]}" >/dev/null
    measured "$WORK/serve.$c.$r.txt" wrk -t2 -c32 -d"$DURATION" --latency -s "${SCRIPT[$c]}" "${TARGET[$c]}"
    [ -z "${PROCESS[$c]}" ] || pause "${PROCESS[$c]}"
  done
done
resume "$EMPTY"
resume "$SERVER"
stop "$FASTAPI"
# Each case's median round stands for it.
for c in "${CASES[@]}"; do
  MEDIAN="$(for ((r = 0; r < ROUNDS; r++)); do echo "$(rps "$WORK/serve.$c.$r.txt") $r"; done | sort -n | awk -v n="$ROUNDS" 'NR == int((n + 1) / 2) {print $2}')"
  cp "$WORK/serve.$c.$MEDIAN.txt" "$WORK/serve.$c.txt"
  cp "$WORK/serve.$c.$MEDIAN.txt.steal" "$WORK/serve.$c.txt.steal"
done

# 3. Latency under a steady load: open-loop at 80% of Strata's median rate (wrk cannot pace; wrk2 is not packaged).
PEAK="$(awk '/Requests\/sec/ {print $2}' "$WORK/serve.strata.txt")"
"$PYTHON" -c "import json,sys; print(json.loads(sys.argv[1])['strata'], end='')" "$ROW" > "$WORK/serve.body.json"
$STRATA_BENCH peer paced-load "$URL/v1/endpoints/flights/predict" "$WORK/serve.body.json" \
  "$("$PYTHON" -c "print(round(0.8 * $PEAK))")" 32 "${DURATION%s}" "Bearer $KEY" > "$WORK/serve.paced.json"
# The same open-loop rate against the empty endpoint: the tail this machine gives any server at that rate.
$STRATA_BENCH peer paced-load "$EMPTY_URL" "$WORK/serve.body.json" \
  "$("$PYTHON" -c "print(round(0.8 * $PEAK))")" 32 "${DURATION%s}" "Bearer $KEY" > "$WORK/serve.emptypaced.json"
# The same target rate paced by wrk itself: closed loop (each connection pauses 1 ms, wrk's shortest pause, after each
# answer), so it is blind to coordinated omission, but takes far less CPU from the two shared cores than the open-loop
# generator. A closed loop's rate is connections / (pause + latency), so the connections are found that reach the
# target: three 3 s calibration runs, each scaling the count by target / rate reached. The empty endpoint is measured
# the same way at the same target (its own connection count): the tail the machine gives a server at that rate.
{ cat "$WORK/serve.strata.lua"; echo "function delay() return 1 end"; } > "$WORK/serve.wrkpaced.lua"
TARGET="$("$PYTHON" -c "print(round(0.8 * $PEAK))")"
calibrate() { # URL -> connections reaching $TARGET req/s
  local c rate
  c="$("$PYTHON" -c "print(max(8, round($TARGET * 0.002)))")"
  for _ in 1 2 3; do
    rate="$(wrk -t2 -c"$c" -d3s -s "$WORK/serve.wrkpaced.lua" "$1" | awk '/Requests\/sec/ {print $2}')"
    c="$("$PYTHON" -c "print(min(1024, max(2, round($c * $TARGET / max($rate, 1.0)))))")"
  done
  echo "$c"
}
EMPTY_CONNECTIONS="$(calibrate "$EMPTY_URL")"
measure emptywrkpaced "$EMPTY_URL" "$WORK/serve.wrkpaced.lua" 2 "$EMPTY_CONNECTIONS"
stop "$EMPTY"
CONNECTIONS="$(calibrate "$URL/v1/endpoints/flights/predict")"
measure wrkpaced "$URL/v1/endpoints/flights/predict" "$WORK/serve.wrkpaced.lua" 2 "$CONNECTIONS"
measure enriched "$URL" "$WORK/serve.enriched.lua" 1 4
( measured "$WORK/serve.big.txt" wrk -t2 -c32 -d"$DURATION" --latency -s "$WORK/serve.big.lua" "$URL" ) &
LOAD=$!
RSS=0
while kill -0 "$LOAD" 2>/dev/null; do
  NOW="$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status" 2>/dev/null || echo 0)"
  [ -n "$NOW" ] && [ "$NOW" -gt "$RSS" ] && RSS="$NOW"
  sleep 0.5
done
stop "$SERVER"

"$PYTHON" - "$WORK" "$DURATION" "$RSS" "$ROUNDS" "$TARGET" "$CONNECTIONS" "$EMPTY_CONNECTIONS" <<'EOF'
import json, re, statistics, sys
work, duration, rss_kb, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
target, connections, empty_connections = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
def ms(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 3)
def read(case):
    text = open(f"{work}/serve.{case}.txt").read()
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", text, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"req_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)), "p50_ms": ms(latency["50"]),
            "p99_ms": ms(latency["99"]), "max_ms": ms(re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", text).group(1)),
            "non_2xx": int(errors.group(1)) if errors else 0,
            "machine_steal_ms": int(open(f"{work}/serve.{case}.txt.steal").read())}
out = {"benchmark": "serve_vs_fastapi", "load": f"wrk -t2 -c32 -d{duration}, 1 row per POST, 127.0.0.1",
       "load_average_1m": float(open("/proc/loadavg").read().split()[0])}
for case in ["empty", "strata", "fastapi", "enriched", "big", "wrkpaced", "emptywrkpaced"]:
    out[case] = read(case)
per_round = {case: [read(f"{case}.{r}")["req_per_s"] for r in range(rounds)] for case in ["empty", "strata", "fastapi"]}
for case, rates in per_round.items():
    out[case]["rounds_req_per_s"] = rates
    out[case]["load"] = f"median of {rounds} rounds, the three cases in a rotated order each round"
out["enriched"]["load"] = "wrk -t1 -c4, 1 random entity of 10000, 50 features from the embedded online store"
out["big"]["rss_mb"] = round(rss_kb / 1024, 1)
out["sample"] = json.load(open(f"{work}/serve.sample.json"))["probabilities"][0]
out["strata_paced"] = {k: v for k, v in json.load(open(f"{work}/serve.paced.json")).items() if k not in ("operation", "peak_rss_mb")}
out["strata_paced"]["load"] = "open loop at 80% of strata's peak req/s, 32 connections, latency from each request's due time"
out["empty_paced"] = {k: v for k, v in json.load(open(f"{work}/serve.emptypaced.json")).items() if k not in ("operation", "peak_rss_mb")}
out["empty_paced"]["load"] = "the same open-loop rate against the empty Kestrel endpoint"
for case, count in (("wrkpaced", connections), ("emptywrkpaced", empty_connections)):
    out[case].update(target_req_per_s=target, connections=count, share_of_strata_peak=round(out[case]["req_per_s"] / out["strata"]["req_per_s"], 3))
out["wrkpaced"]["load"] = "wrk -t2 closed loop at 80% of strata's peak req/s: each connection pausing 1 ms, connections calibrated to reach the rate"
out["emptywrkpaced"]["load"] = "the same wrk-paced target rate against the empty Kestrel endpoint (its own calibrated connections)"
# Each round's ratio is of measurements taken a few seconds apart; the median of those is the figure.
vs_empty = [s / e for s, e in zip(per_round["strata"], per_round["empty"])]
vs_fastapi = [s / f for s, f in zip(per_round["strata"], per_round["fastapi"])]
out["strata_vs_empty"] = round(statistics.median(vs_empty), 3)
out["strata_vs_empty_rounds"] = [round(v, 3) for v in vs_empty]
out["strata_vs_fastapi"] = round(statistics.median(vs_fastapi), 2)
out["strata_vs_fastapi_rounds"] = [round(v, 2) for v in vs_fastapi]
print(json.dumps(out))
EOF
