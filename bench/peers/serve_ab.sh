#!/usr/bin/env bash
# Two Strata servers of this build, A and B, side by side: for a runtime setting (an environment variable) or a serve
# option whose effect is smaller than this shared machine's drift between whole runs. ENV_A / ENV_B (space-separated
# NAME=value assignments) and ARGS_A / ARGS_B (extra `strata serve` arguments) set each one apart; each serves its own
# copy of the `peer serve-setup` home (the peers' XGBoost flights model). Both are warmed up for WARMUP (default 10s),
# then measured in ROUNDS (default 12) rounds of DURATION (default 3s) under wrk -t2 -c32, one row per POST, the order
# alternating by round; the one not being measured is paused (SIGSTOP), so its timers take nothing from the other.
# Prints one JSON line: per round each one's req/s and server CPU per request, and the medians of the rounds' B/A ratios.
# CONFIG_B (a sed expression) edits B's strata.yaml, e.g. B without the prediction log:
#   CONFIG_B='s/model: flights@live }/model: flights@live, log_sample_rate: 0 }/' bench/peers/serve_ab.sh
# Example: ENV_B="DOTNET_TieredPGO=1" bench/peers/serve_ab.sh
source "$(dirname "$0")/common.sh"
DURATION="${DURATION:-3s}"
WARMUP="${WARMUP:-10s}"
ROUNDS="${ROUNDS:-12}"
serving_tools
declare -A PID URL
cleanup() { for p in "${PID[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

rm -rf "$WORK/ab-home-A" "$WORK/ab-home-B"
$STRATA_BENCH peer serve-setup "$WORK/ab-home-A" "$PEERS/models/flights_xgb.json" > "$WORK/ab.setup.json"
cp -r "$WORK/ab-home-A" "$WORK/ab-home-B"
if [ -n "${CONFIG_B:-}" ]; then sed -i "$CONFIG_B" "$WORK/ab-home-B/strata.yaml"; fi
KEY="$("$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))['key'])" "$WORK/ab.setup.json")"
flights_lua "$KEY" > "$WORK/ab.lua"

start() { # NAME ENV ARGS
  URL[$1]="http://127.0.0.1:$(port)"
  # shellcheck disable=SC2086 # the settings are word lists by design
  env $2 Logging__LogLevel__Default=Warning $STRATA serve --home "$WORK/ab-home-$1" --config "$WORK/ab-home-$1/strata.yaml" \
    --urls "${URL[$1]}" $3 > "$WORK/ab.$1.log" 2>&1 &
  PID[$1]=$!
  wait_up "${URL[$1]}/health/ready" "${PID[$1]}" "$WORK/ab.$1.log"
}
start A "${ENV_A:-}" "${ARGS_A:-}"
start B "${ENV_B:-}" "${ARGS_B:-}"
other() { [ "$1" = A ] && echo B || echo A; }
measure() { # NAME DURATION: the other one paused; prints "req/s cpu_ticks requests"
  local o; o="$(other "$1")"
  kill -STOP "${PID[$o]}"
  local before; before="$(cpu "${PID[$1]}")"
  wrk -t2 -c32 -d"$2" -s "$WORK/ab.lua" "${URL[$1]}/v1/endpoints/flights/predict" > "$WORK/ab.wrk.txt"
  local after; after="$(cpu "${PID[$1]}")"
  kill -CONT "${PID[$o]}"
  echo "$(awk '/Requests\/sec/ {print $2}' "$WORK/ab.wrk.txt") $((after - before)) $(awk '/requests in/ {print $1}' "$WORK/ab.wrk.txt")"
}
measure A "$WARMUP" > /dev/null
measure B "$WARMUP" > /dev/null
: > "$WORK/ab.results"
for round in $(seq 1 "$ROUNDS"); do
  if (( round % 2 )); then order="A B"; else order="B A"; fi
  for name in $order; do echo "$round $name $(measure "$name" "$DURATION")" >> "$WORK/ab.results"; done
done

"$PYTHON" - "$WORK/ab.results" "$DURATION" "$WARMUP" "${ENV_A:-}" "${ENV_B:-}" "${ARGS_A:-}" "${ARGS_B:-}" "${CONFIG_B:-}" <<'EOF'
import json, os, statistics, sys
ticks = os.sysconf("SC_CLK_TCK")
rounds = {}
for line in open(sys.argv[1]):
    r, name, rps, cpu, requests = line.split()
    rounds.setdefault(int(r), {})[name] = (float(rps), 1e6 * int(cpu) / ticks / int(requests))
out = {"benchmark": "serve_ab", "load": f"wrk -t2 -c32 -d{sys.argv[2]} per round after {sys.argv[3]} of warm-up, 1 row per POST, 127.0.0.1",
       "A": {"env": sys.argv[4], "args": sys.argv[6]}, "B": {"env": sys.argv[5], "args": sys.argv[7], "config": sys.argv[8]}}
for name in ("A", "B"):
    out[name]["req_per_s"] = [round(rounds[r][name][0]) for r in sorted(rounds)]
    out[name]["server_cpu_us_per_request"] = [round(rounds[r][name][1], 1) for r in sorted(rounds)]
ratios = [rounds[r]["B"][0] / rounds[r]["A"][0] for r in sorted(rounds)]
cpu = [rounds[r]["B"][1] / rounds[r]["A"][1] for r in sorted(rounds)]
out["b_vs_a_req_per_s"] = round(statistics.median(ratios), 3)
out["b_vs_a_req_per_s_range"] = [round(min(ratios), 3), round(max(ratios), 3)]
out["b_vs_a_cpu_per_request"] = round(statistics.median(cpu), 3)
out["b_vs_a_cpu_per_request_range"] = [round(min(cpu), 3), round(max(cpu), 3)]
out["load_average_1m"] = float(open("/proc/loadavg").read().split()[0])
print(json.dumps(out))
EOF
