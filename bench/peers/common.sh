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
