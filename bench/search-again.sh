#!/usr/bin/env bash
# Measures the search benchmark again on the databases a `KEEP_DATA=1 bench/search.sh` run kept
# (after a server or schema change: the server migrates them on start), without loading again.
# Usage: bench/search-again.sh OUT LABEL [seconds] [connections]
#   OUT    the results folder of that run (url-<backend>.txt, queries-<backend>.tsv)
#   LABEL  names this run's files in OUT (per-query-LABEL-<backend>.md, wrk-LABEL-<backend>.txt)
# Env: BACKENDS ("sqlite postgres"), PER_QUERY_SECONDS (2), MIXED (1: also the wrk run; 0: per query only).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$1
LABEL=$2
DUR=${3:-15}
CONN=${4:-32}
BACKENDS=${BACKENDS:-sqlite postgres}
PER_QUERY_SECONDS=${PER_QUERY_SECONDS:-2}
MIXED=${MIXED:-1}
cargo build --release -p fhir-server -p conformance-tests --bin fhir-server --example search_queries 2>&1 | tail -1
WORK=$(mktemp -d)
PORT=18182
BASE=http://127.0.0.1:$PORT/fhir
EX=./target/release/examples
source bench/server.sh
trap 'if [ -n "${SERVER:-}" ]; then kill "$SERVER" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT

for backend in $BACKENDS; do
    URL=$(cat "$OUT/url-$backend.txt")
    tag="$LABEL-$backend"
    start_server "$URL"
    [ $backend = postgres ] && psql "$URL" -qc "VACUUM ANALYZE" >/dev/null   # as bench/search.sh
    $EX/search_queries check "$BASE" "$OUT/queries-$backend.tsv" > "$OUT/check-$tag.md"
    tail -1 "$OUT/check-$tag.md"
    echo "== $backend $LABEL: per query, one connection, ${PER_QUERY_SECONDS}s each; $(uptime | sed 's/.*load/load/')"
    $EX/search_queries measure "$BASE" "$OUT/queries-$backend.tsv" "$PER_QUERY_SECONDS" | tee "$OUT/per-query-$tag.md"
    if [ "$MIXED" = 1 ]; then
        echo "== $backend $LABEL: mixed (${DUR}s, $CONN connections); $(uptime | sed 's/.*load/load/')"
        WRK_OUT="$OUT/wrk-$tag.txt" QUERIES_FILE="$OUT/queries-$backend.tsv" \
            wrk_accounted "$([ $backend = postgres ] && echo "${URL##*/}")" -t2 -c"$CONN" -d"${DUR}s" --latency -s bench/search.lua "http://127.0.0.1:$PORT" \
            | tee "$OUT/cpu-$tag.txt"
        grep -E "Requests/sec| 50%| 99%|Non-2xx|Socket errors" "$OUT/wrk-$tag.txt"
        echo "   after: $(uptime | sed 's/.*load/load/')"
    fi
    stop_server
    SERVER=
done
