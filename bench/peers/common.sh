# Shared by the bench/peers scripts: where the peer data is, a Release build of the measurement host, a decompressed
# copy of the flights data, and Debian's Python (pandas lives there, not in pyenv's).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PEERS="${STRATA_PEERS:-$ROOT/../shared/peers}"
PYTHON="${PYTHON:-/usr/bin/python3}"
WORK="${STRATA_BENCH_WORK:-${TMPDIR:-/tmp}/strata-bench}"
mkdir -p "$WORK"
FLIGHTS="$WORK/flights-3m.csv"
if [ ! -s "$FLIGHTS" ]; then
  gzip -dc "$PEERS/data/flights-3m.csv.gz" > "$FLIGHTS.part" && mv "$FLIGHTS.part" "$FLIGHTS"
fi
dotnet build -c Release "$ROOT/bench/Strata.Benchmarks" -v quiet -nologo >/dev/null
STRATA_BENCH="dotnet $ROOT/bench/Strata.Benchmarks/bin/Release/net10.0/Strata.Benchmarks.dll"
# Median of the values read from stdin, one per line.
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
# For the scripts that load a server with wrk: checks wrk is there, builds this checkout's CLI in Release and sets
# STRATA to run it.
serving_tools() {
  command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }
  dotnet build -c Release "$ROOT/src/Strata.Cli" -v quiet -nologo >/dev/null
  STRATA="dotnet $ROOT/src/Strata.Cli/bin/Release/net10.0/Strata.Cli.dll"
}
# Waits until URL answers; stops the script, with the server's LOG, when process PID ends first or after 30 s.
wait_up() { # URL PID LOG
  for _ in $(seq 1 150); do
    curl -s -o /dev/null "$1" && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; exit 1; }
    sleep 0.2
  done
  echo "server at $1 did not start" >&2; exit 1
}
# A free port on the loopback interface.
port() { "$PYTHON" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
# CPU time (user + system, clock ticks) process $1 has used: per request it is far steadier than req/s on a shared machine.
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# A wrk script that posts the flights sample's first row (the peers' XGBoost model's 11 inputs, by name) to Strata's
# predict endpoint with the API key $1.
flights_lua() {
  "$PYTHON" - "$PEERS/models/flights_sample.csv.gz" "$1" <<'EOF'
import csv, gzip, json, sys
with gzip.open(sys.argv[1], "rt") as f:
    reader = csv.reader(f); header = next(reader); row = next(reader)
body = json.dumps({"rows": [dict(zip(header[:11], [float(v) for v in row[:11]]))]})
print('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"')
print(f'wrk.headers["Authorization"] = "Bearer {sys.argv[2]}"\nwrk.body = {json.dumps(body)}')
EOF
}
