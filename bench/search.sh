#!/usr/bin/env bash
# Search benchmark (issue #4): 20 realistic queries over the Synthea data, at 1x and Nx the data,
# on both backends. Usage: bench/search.sh [seconds] [connections] [scale]
#   seconds      wrk duration of the mixed run (default 15)
#   connections  wrk connections (default 32)
#   scale        the larger data size, in copies of the 30 Synthea bundles (default 10; 1 = only 1x)
# Env: BACKENDS ("sqlite postgres"), BENCH_POSTGRES_URL (postgres://postgres@127.0.0.1:5432/postgres),
#      SYNTHEA_DIR, PER_QUERY_SECONDS (2: per-query latency run, one connection), OUT (results folder),
#      KEEP_DATA (1: keep each backend's database at the larger scale and print its URL, to measure again
#      with bench/search-again.sh after a server change without loading again).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-15}
CONN=${2:-32}
SCALE=${3:-10}
PG_ADMIN=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
SYNTHEA=${SYNTHEA_DIR:-../shared/corpora/synthea/fhir-r4}
BACKENDS=${BACKENDS:-sqlite postgres}
PER_QUERY_SECONDS=${PER_QUERY_SECONDS:-2}
OUT=${OUT:-$(mktemp -d /tmp/fhir-search-bench.XXXXXX)}
mkdir -p "$OUT"
bash bench/install-tools.sh
cargo build --release -p fhir-server -p conformance-tests --bin fhir-server --example ingest --example synthea_clone --example search_queries 2>&1 | tail -1
WORK=$(mktemp -d)
PORT=18182
BASE=http://127.0.0.1:$PORT/fhir
EX=./target/release/examples

source bench/server.sh
trap 'if [ -n "${SERVER:-}" ]; then kill "$SERVER" 2>/dev/null || true; fi' EXIT   # no server left behind when a check fails

measure() { # $1 = scale label
    local tag="$backend-x$1"
    # VACUUM too: right after a bulk load no page is marked all-visible yet, so index-only scans
    # still visit the table, until autovacuum gets to it (minutes later, at an unknown moment).
    [ $backend = postgres ] && psql "$URL" -qc "VACUUM ANALYZE" >/dev/null
    echo "== $backend x$1: check (every URL 200 with matches)"
    $EX/search_queries check "$BASE" "$OUT/queries-$backend.tsv" > "$OUT/check-$tag.md"
    tail -1 "$OUT/check-$tag.md"
    echo "== $backend x$1: per query, one connection, ${PER_QUERY_SECONDS}s each"
    $EX/search_queries measure "$BASE" "$OUT/queries-$backend.tsv" "$PER_QUERY_SECONDS" | tee "$OUT/per-query-$tag.md"
    echo "== $backend x$1: mixed, $(wc -l < "$OUT/queries-$backend.tsv") URLs round robin (${DUR}s, $CONN connections); $(uptime | sed 's/.*load/load/')"
    ps -eo pcpu,etime,comm --sort=-pcpu | head -6 > "$OUT/ps-$tag.txt"   # who else was busy
    WRK_OUT="$OUT/wrk-$tag.txt" QUERIES_FILE="$OUT/queries-$backend.tsv" \
        wrk_accounted "$([ $backend = postgres ] && echo "$DB")" -t2 -c"$CONN" -d"${DUR}s" --latency -s bench/search.lua "http://127.0.0.1:$PORT" \
        | tee "$OUT/cpu-$tag.txt"
    grep -E "Requests/sec| 50%| 99%|Non-2xx|Socket errors|requests in" "$OUT/wrk-$tag.txt"
    echo "   after: $(uptime | sed 's/.*load/load/')"
}

for backend in $BACKENDS; do
    DB=fhir_search_bench_$$
    database_url $backend $DB
    start_server "$URL"
    echo "== $backend: load x1 (30 Synthea transaction bundles)"
    $EX/ingest "$BASE" "$SYNTHEA" 2
    # Query values come from the original data (ids are assigned by the server, so once per backend);
    # the larger scale asks the same questions over more data.
    $EX/search_queries derive "$BASE" "$OUT/queries-$backend.tsv"
    measure 1
    if [ "$SCALE" -gt 1 ]; then
        echo "== $backend: load $((SCALE - 1)) cloned copies (x$SCALE)"
        $EX/synthea_clone "$BASE" "$SYNTHEA" $((SCALE - 1)) 2
        measure "$SCALE"
    fi
    stop_server
    if [ "${KEEP_DATA:-0}" = 1 ]; then
        echo "$URL" > "$OUT/url-$backend.txt"
        echo "== $backend: kept $URL"
    elif [ $backend = postgres ]; then
        psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null
    fi
done
[ "${KEEP_DATA:-0}" = 1 ] || rm -rf "$WORK"
echo "results in $OUT"
