#!/usr/bin/env bash
# Old server against new, on the databases a `KEEP_DATA=1 bench/search.sh` run kept: four servers
# side by side (old and new, x1 and xN), the mix run on each in turn, round after round, so drift
# of this machine's speed falls on both alike. Usage:
#   bench/search-ab.sh OUT BACKEND OLD_BINARY [rounds] [seconds] [connections]
#   OUT      the results folder of that run (url-<backend>-x1.txt, url-<backend>-x<N>.txt, queries-<backend>.tsv)
#   BACKEND  sqlite or postgres
# The new server is ./target/release/fhir-server (NEW_BINARY to change it); NEW_OUT: another results
# folder whose databases the new server serves (the same binary on two layouts of the data). Prints each run (req/s, p50, p99, CPU ms of the
# whole machine per request) and the medians, and the p50 xN/x1 ratio of each round per server.
# ONLY: query ids to run alone ("Q11 Q20"), for one query's cost old against new.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$1; BACKEND=$2; OLD=$3; ROUNDS=${4:-5}; DUR=${5:-6}; CONN=${6:-32}
source bench/server.sh
NEW_OUT=${NEW_OUT:-$OUT}
QUERIES="$OUT/queries-$BACKEND.tsv"
if [ -n "${ONLY:-}" ]; then
    grep -E "^(${ONLY// /|})	" "$QUERIES" > "$OUT/ab-queries.tsv"
    QUERIES="$OUT/ab-queries.tsv"
fi
declare -A PIDS
trap 'kill ${PIDS[@]} 2>/dev/null || true' EXIT
port=18401
for srv in "old:$OLD:$OUT" "new:${NEW_BINARY:-./target/release/fhir-server}:$NEW_OUT"; do
    IFS=: read -r name binary data <<< "$srv"
    for size in x1 xN; do
        start_server "$(kept_url "$data" "$BACKEND" $size)" $port "$OUT/ab-$name-$size.log" "$binary"
        PIDS["$name-$size"]=$SERVER
        port=$((port + 1))
    done
done
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
for r in $(seq 1 "$ROUNDS"); do
    port=18401
    for tag in old-x1 old-xN new-x1 new-xN; do
        b0=$(busy)
        QUERIES_FILE="$QUERIES" wrk -t2 -c"$CONN" -d"${DUR}s" --latency -s bench/search.lua http://127.0.0.1:$port > "$OUT/ab-wrk.txt"
        b1=$(busy)
        grep -E "Non-2xx|Socket errors" "$OUT/ab-wrk.txt" || true
        awk -v r="$r" -v tag="$tag" -v b=$((b1 - b0)) -v d="$DUR" '
            function ms(v) { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/) n *= 1000; return n }
            /Requests\/sec/ { rps = $2 } $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
            END { printf "%d %s %d %.2f %.2f %.3f\n", r, tag, rps, p50, p99, b * 10 / (rps * d) }' "$OUT/ab-wrk.txt"
        port=$((port + 1))
    done
done | tee "$OUT/ab-$BACKEND.txt"
awk 'function median(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
                                        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
     { k = $2; n[k]++; rps[k, n[k]] = $3; p99[k, n[k]] = $5; cpu[k, n[k]] = $6; p50[k, $1] = $4; rounds = $1 }
     END {
         print "server size req/s p99-ms cpu-ms/req (medians)"
         split("old-x1 old-xN new-x1 new-xN", tags, " ")
         for (t = 1; t <= 4; t++) { k = tags[t]; for (i = 1; i <= n[k]; i++) { a[i] = rps[k, i]; b[i] = p99[k, i]; c[i] = cpu[k, i] }
                                    printf "%s %d %.2f %.3f\n", k, median(a, n[k]), median(b, n[k]), median(c, n[k]) }
         split("old new", srv, " ")
         for (s = 1; s <= 2; s++) { line = ""; for (i = 1; i <= rounds; i++) { r[i] = p50[srv[s] "-xN", i] / p50[srv[s] "-x1", i]; line = line sprintf(" %.2f", r[i]) }
                                    printf "%s p50 xN/x1 per round:%s; median %.2f\n", srv[s], line, median(r, rounds) }
     }' "$OUT/ab-$BACKEND.txt"
