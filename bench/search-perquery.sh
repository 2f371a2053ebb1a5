#!/usr/bin/env bash
# What each of the 20 queries costs at x1 and at xN under load, on the databases a
# `KEEP_DATA=1 bench/search.sh` run kept: each query's URLs alone, 32 connections, x1 and xN
# alternated query by query. The mix's xN/x1 ratio is the sum of these costs, so the lines with
# the largest growth are where the ratio comes from. Usage:
#   bench/search-perquery.sh OUT BACKEND [seconds] [connections]
# BINARY: the server to run (./target/release/fhir-server). Prints req/s and microseconds of the (2-core) machine per request, at each size, and the growth.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$1; BACKEND=$2; DUR=${3:-2}; CONN=${4:-32}
source bench/server.sh
QUERIES="$OUT/queries-$BACKEND.tsv"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
port=18421
for size in x1 xN; do
    start_server "$(kept_url "$OUT" "$BACKEND" $size)" $port "$OUT/perquery-$size.log" "${BINARY:-./target/release/fhir-server}"
    PIDS+=("$SERVER")
    port=$((port + 1))
done
rps() { QUERIES_FILE=$1 wrk -t2 -c"$CONN" -d"${DUR}s" -s bench/search.lua "http://127.0.0.1:$2" | awk '/Requests\/sec/ {printf "%d", $2}'; }
echo "| query | x1 req/s | xN req/s | x1 µs/req | xN µs/req | growth µs |"
echo "|---|---|---|---|---|---|"
for q in $(cut -f1 "$QUERIES" | sort -u); do
    grep "^$q	" "$QUERIES" > "$OUT/perquery-$q.tsv"
    a=$(rps "$OUT/perquery-$q.tsv" 18421)
    b=$(rps "$OUT/perquery-$q.tsv" 18422)
    echo "$q $a $b"
done | awk '{ u1 = 1e6 / $2; un = 1e6 / $3; s1 += u1; sn += un
              printf "| %s | %d | %d | %.1f | %.1f | %+.1f |\n", $1, $2, $3, u1, un, un - u1 }
            END { printf "| sum | | | %.0f | %.0f | %+.0f (xN/x1 %.2f) |\n", s1, sn, sn - s1, sn / s1 }'
