#!/usr/bin/env bash
# Point-in-time join in PostgreSQL, 1,000,000 entity rows against a 10,000,000-row view of 10 float32 features
# (100,000 entities over 30 days, TTL 24 h): Strata's PostgreSQL offline store with the join pushed into SQL
# (`peer pit-join-postgres`: entity upload + join + read back, against the server at STRATA_BENCH_POSTGRES, default
# 127.0.0.1:5432, which it also times PostgreSQL's own LATERAL CREATE TABLE AS on, same table and session settings)
# side by side with ../shared/peers/pit_join_postgres.py (LATERAL on its own tuned server, needs root). Prints one JSON
# line. ENTITY_ROWS / FEATURE_ROWS shrink the run.
source "$(dirname "$0")/common.sh"
ENTITY_ROWS="${ENTITY_ROWS:-1000000}"
FEATURE_ROWS="${FEATURE_ROWS:-10000000}"
PG="${STRATA_BENCH_POSTGRES:-Host=127.0.0.1;Port=5432;Username=postgres;Password=strata;Database=postgres}"
$STRATA_BENCH peer pit-join-postgres "$ENTITY_ROWS" "$FEATURE_ROWS" 100000 "$PG" > "$WORK/pitpg.strata.json"
"$PYTHON" "$PEERS/pit_join_postgres.py" "$ENTITY_ROWS" "$FEATURE_ROWS" > "$WORK/pitpg.peer.json"
"$PYTHON" -c "
import json, sys
s = json.loads(open(sys.argv[1]).read()); p = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
print(json.dumps({'benchmark': 'pit_join_postgres', 'entity_rows': s['entity_rows'], 'feature_rows': s['feature_rows'],
  'load_average_1m': float(open('/proc/loadavg').read().split()[0]),
  'strata_pg_pushdown_s': s['pg_pushdown_s'], 'same_server_lateral_ctas_s': s['pg_lateral_ctas_s'],
  'speedup_vs_same_server_lateral': s['pushdown_speedup_vs_lateral'],
  'peer_script_lateral_ctas_s': p['join_ctas_s'], 'speedup_vs_peer_script': round(p['join_ctas_s'] / s['pg_pushdown_s'], 2),
  'strata_embedded_join_s': s.get('embedded_join_s'), 'embedded_vs_pg_differences': s.get('embedded_vs_pg_differences'),
  'strata_pg_matched': s['pg_matched'], 'peer_matched': p['matched'], 'strata': s, 'peer': p}))" "$WORK/pitpg.strata.json" "$WORK/pitpg.peer.json"
