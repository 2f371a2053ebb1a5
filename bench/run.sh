#!/usr/bin/env bash
# Benchmarks GET Patient/{id}, POST Patient and Synthea transaction ingest on both backends.
# Usage: bench/run.sh [seconds-per-run] [connections]
# Needs PostgreSQL at $BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-15}
CONN=${2:-32}
PG_ADMIN=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
SYNTHEA=${SYNTHEA_DIR:-../shared/corpora/synthea/fhir-r4}
bash bench/install-tools.sh
cargo build --release -p fhir-server -p conformance-tests --bin fhir-server --example ingest 2>&1 | tail -1
WORK=$(mktemp -d)
PORT=18181
BASE=http://127.0.0.1:$PORT/fhir

source bench/server.sh

for backend in sqlite postgres; do
    DB=fhir_bench_$$
    database_url $backend $DB
    start_server "$URL"
    echo "== $backend: Synthea ingest (30 transaction bundles, 6,621 resources)"
    ./target/release/examples/ingest "$BASE" "$SYNTHEA" 2
    echo "== $backend: POST Patient (${DUR}s, $CONN connections)"
    wrk -t2 -c"$CONN" -d"${DUR}s" -s bench/create.lua "$BASE/Patient" | grep -E "Requests/sec|Latency|Non-2xx"
    curl -s "$BASE/Patient?_count=1000&_elements=id" | python3 -c 'import json,sys; [print(e["resource"]["id"]) for e in json.load(sys.stdin)["entry"]]' > "$WORK/ids.txt"
    echo "== $backend: GET Patient/{id} over $(wc -l < "$WORK/ids.txt") ids (${DUR}s, $CONN connections)"
    IDS_FILE="$WORK/ids.txt" wrk -t2 -c"$CONN" -d"${DUR}s" -s bench/read.lua "http://127.0.0.1:$PORT" | grep -E "Requests/sec|Latency|Non-2xx"
    stop_server
    [ $backend = postgres ] && psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null
done
rm -rf "$WORK"
