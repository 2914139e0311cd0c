#!/usr/bin/env bash
# Online feature reads over HTTP: `strata serve` on loopback over a fresh home whose view has 50 float64 features of
# ENTITIES (default 100,000) int64-keyed entities (`peer online-http-setup`), loaded by wrk posting Feast's
# /get-online-features for 1 entity × 50 features and 100 entities × 50 features (random ids per request, one in 20
# unknown), each with one connection (-t1 -c1) and with eight (-t2 -c8), DURATION (default 10s) each.
# Prints one JSON line: p50/p99 in ms and requests/s per case (targets: p99 ≤ 1 ms for 1×50, ≤ 5 ms for 100×50).
source "$(dirname "$0")/common.sh"
ENTITIES="${ENTITIES:-100000}"
DURATION="${DURATION:-10s}"
serving_tools

HOME_DIR="$WORK/online-http-home"
rm -rf "$HOME_DIR"
$STRATA_BENCH peer online-http-setup "$HOME_DIR" "$ENTITIES" > "$WORK/online_http.setup.json"
KEY="$("$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))['key'])" "$WORK/online_http.setup.json")"
PORT="$("$PYTHON" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")"
URL="http://127.0.0.1:$PORT"

# Request logging off: the figures are the server's, not its console's.
Logging__LogLevel__Default=Warning $STRATA serve --home "$HOME_DIR" --urls "$URL" > "$WORK/online_http.server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf "$URL/health/ready" >/dev/null && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/online_http.server.log" >&2; exit 1; }
  sleep 0.2
done

LUA="$WORK/online_http.lua"
cat > "$LUA" <<EOF
-- Feast get-online-features of ENTITIES_PER_REQUEST random entities (one in 20 unknown) × 50 features.
local per = tonumber(os.getenv("ENTITIES_PER_REQUEST"))
local entities = $ENTITIES
local names = {}
for f = 0, 49 do names[#names + 1] = '"wide:f' .. f .. '"' end
local features = table.concat(names, ",")
wrk.method = "POST"
wrk.path = "/get-online-features?project=bench"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
function setup(thread) thread:set("seed", math.random(1, 1000000)) end
function init(args) math.randomseed(seed) end
request = function()
  local ids = {}
  for i = 1, per do ids[i] = math.random(0, entities + entities / 20 - 1) end
  return wrk.format(nil, nil, nil, '{"features":[' .. features .. '],"entities":{"entity_id":[' .. table.concat(ids, ",") .. ']}}')
end
EOF

# Warm-up: tiered JIT needs a few thousand calls of each path before the figures mean anything (a cold server's p50 is
# three times its warm one). Then one sanity read that must be a 200 with 50 PRESENT columns.
ENTITIES_PER_REQUEST=1 wrk -t1 -c1 -d5s -s "$LUA" "$URL" >/dev/null
ENTITIES_PER_REQUEST=100 wrk -t1 -c1 -d5s -s "$LUA" "$URL" >/dev/null
curl -sf -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
  -d '{"features":["wide:f0","wide:f49"],"entities":{"entity_id":[0]}}' "$URL/get-online-features?project=bench" > "$WORK/online_http.sample.json"

run() { # NAME PER THREADS CONNECTIONS
  ENTITIES_PER_REQUEST="$2" wrk -t"$3" -c"$4" -d"$DURATION" --latency -s "$LUA" "$URL" > "$WORK/online_http.$1.txt"
}
run single_c1 1 1 1
run batch100_c1 100 1 1
run single_c8 1 2 8
run batch100_c8 100 2 8

"$PYTHON" - "$WORK" "$ENTITIES" "$DURATION" <<'EOF'
import json, re, sys
work, entities, duration = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def ms(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 3)
out = {"benchmark": "online_http", "entities": entities, "features": 50, "duration": duration,
       "load_average_1m": float(open("/proc/loadavg").read().split()[0])}
for case in ["single_c1", "batch100_c1", "single_c8", "batch100_c8"]:
    text = open(f"{work}/online_http.{case}.txt").read()
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", text, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out[case] = {"p50_ms": ms(latency["50"]), "p99_ms": ms(latency["99"]),
                 "req_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
                 "non_2xx": int(errors.group(1)) if errors else 0}
sample = json.load(open(f"{work}/online_http.sample.json"))
out["sample_ok"] = sample["metadata"]["feature_names"] == ["entity_id", "f0", "f49"] and all(
    s == "PRESENT" for r in sample["results"] for s in r["statuses"])
out["targets_met"] = out["single_c1"]["p99_ms"] <= 1.0 and out["batch100_c1"]["p99_ms"] <= 5.0
print(json.dumps(out))
EOF
