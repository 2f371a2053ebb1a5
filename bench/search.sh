#!/usr/bin/env bash
# Search benchmark (issue #4): 20 realistic queries over the Synthea data, at 1x and Nx the data,
# on both backends. Usage: bench/search.sh [seconds] [connections] [scale] [rounds]
#   seconds      wrk duration of each mixed run (default 15)
#   connections  wrk connections (default 32)
#   scale        the larger data size, in copies of the 30 Synthea bundles (default 10; 1 = only 1x)
#   rounds       mixed runs per size, x1 and xN alternating (default 3)
# The two sizes are two databases served side by side: the larger starts as a copy of the smaller
# (same ids, so the same URLs ask the same questions) and grows by cloned copies. Every measurement
# alternates between them, because this machine's speed drifts (by a third within half an hour,
# seen 2026-11-21), which measuring all of x1 and then all of xN would report as a ratio.
# Env: BACKENDS ("sqlite postgres"), BENCH_POSTGRES_URL (postgres://postgres@127.0.0.1:5432/postgres),
#      SYNTHEA_DIR, PER_QUERY_SECONDS (2: per-query latency run, one connection), OUT (results folder),
#      KEEP_DATA (1: keep both databases, their URLs in OUT/url-<backend>-x1.txt and -x<scale>.txt, the
#      larger also in url-<backend>.txt for bench/search-again.sh after a server change).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-15}
CONN=${2:-32}
SCALE=${3:-10}
ROUNDS=${4:-3}
PG_ADMIN=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
SYNTHEA=${SYNTHEA_DIR:-../shared/corpora/synthea/fhir-r4}
BACKENDS=${BACKENDS:-sqlite postgres}
PER_QUERY_SECONDS=${PER_QUERY_SECONDS:-2}
OUT=${OUT:-$(mktemp -d /tmp/fhir-search-bench.XXXXXX)}
mkdir -p "$OUT"
bash bench/install-tools.sh
cargo build --release -p fhir-server -p conformance-tests --bin fhir-server --example ingest --example synthea_clone --example search_queries 2>&1 | tail -1
WORK=$(mktemp -d)
PORT=18182        # x1
PORT_N=18183      # xN
EX=./target/release/examples
SIZES="1"
[ "$SCALE" -gt 1 ] && SIZES="1 $SCALE"

source bench/server.sh
declare -A PID URLS DBS
stop_all() { for s in "${!PID[@]}"; do SERVER=${PID[$s]}; stop_server 2>/dev/null || true; done; PID=(); }
trap 'stop_all' EXIT   # no server left behind when a check fails

port_of() { [ "$1" = 1 ] && echo $PORT || echo $PORT_N; }
base_of() { echo "http://127.0.0.1:$(port_of "$1")/fhir"; }

# wrk's latency figure in ms ("12.65ms", "980.00us", "1.02s").
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/) n *= 1000; printf "%.2f", n }'; }
wrk_figures() { # $1 = wrk output file -> "req/s p50 p99"
    echo "$(awk '/Requests\/sec/ {printf "%d", $2}' "$1") $(to_ms "$(awk '$1 == "50%" {print $2}' "$1")") $(to_ms "$(awk '$1 == "99%" {print $2}' "$1")")"
}

for backend in $BACKENDS; do
    DB=fhir_search_bench_$$
    database_url $backend ${DB}_x1; URLS[1]=$URL; DBS[1]=${DB}_x1
    start_server "${URLS[1]}" $PORT "$WORK/server-x1.log"; PID[1]=$SERVER
    echo "== $backend: load x1 (30 Synthea transaction bundles)"
    $EX/ingest "$(base_of 1)" "$SYNTHEA" 2
    # Query values come from the original data (ids are assigned by the server, so once per backend);
    # the larger size asks the same questions over more data.
    $EX/search_queries derive "$(base_of 1)" "$OUT/queries-$backend.tsv"
    if [ "$SCALE" -gt 1 ]; then
        stop_all   # the copy needs a quiet database (PostgreSQL: no connections to the template)
        DBS[$SCALE]=${DB}_x$SCALE
        if [ $backend = sqlite ]; then
            mkdir -p "$WORK/${DBS[$SCALE]}" && cp "$WORK/${DBS[1]}"/fhir.db* "$WORK/${DBS[$SCALE]}/"
            URLS[$SCALE]="sqlite://$WORK/${DBS[$SCALE]}/fhir.db"
        else
            psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS ${DBS[$SCALE]}" -c "CREATE DATABASE ${DBS[$SCALE]} TEMPLATE ${DBS[1]}" >/dev/null
            URLS[$SCALE]="${PG_ADMIN%/*}/${DBS[$SCALE]}"
        fi
        start_server "${URLS[$SCALE]}" $PORT_N "$WORK/server-x$SCALE.log"; PID[$SCALE]=$SERVER
        echo "== $backend: load $((SCALE - 1)) cloned copies into a copy of x1 (x$SCALE)"
        $EX/synthea_clone "$(base_of $SCALE)" "$SYNTHEA" $((SCALE - 1)) 2
        start_server "${URLS[1]}" $PORT "$WORK/server-x1.log"; PID[1]=$SERVER
    fi
    for s in $SIZES; do
        # VACUUM too: right after a bulk load no page is marked all-visible yet, so index-only scans
        # still visit the table, until autovacuum gets to it (minutes later, at an unknown moment).
        [ $backend = postgres ] && psql "${URLS[$s]}" -qc "VACUUM ANALYZE" >/dev/null
        echo "== $backend x$s: check (every URL 200 with matches)"
        $EX/search_queries check "$(base_of $s)" "$OUT/queries-$backend.tsv" > "$OUT/check-$backend-x$s.md"
        tail -1 "$OUT/check-$backend-x$s.md"
    done
    for s in $SIZES; do
        echo "== $backend x$s: per query, one connection, ${PER_QUERY_SECONDS}s each"
        $EX/search_queries measure "$(base_of $s)" "$OUT/queries-$backend.tsv" "$PER_QUERY_SECONDS" | tee "$OUT/per-query-$backend-x$s.md"
    done
    echo "== $backend: mixed, $(wc -l < "$OUT/queries-$backend.tsv") URLs round robin (${DUR}s, $CONN connections), $ROUNDS rounds of$(printf ' x%s' $SIZES)"
    for r in $(seq 1 "$ROUNDS"); do
        for s in $SIZES; do
            tag="$backend-x$s-r$r"
            ps -eo pcpu,etime,comm --sort=-pcpu | head -6 > "$OUT/ps-$tag.txt"   # who else was busy
            SERVER=${PID[$s]}
            cpu=$(WRK_OUT="$OUT/wrk-$tag.txt" QUERIES_FILE="$OUT/queries-$backend.tsv" \
                wrk_accounted "$([ $backend = postgres ] && echo "${DBS[$s]}")" -t2 -c"$CONN" -d"${DUR}s" --latency -s bench/search.lua "http://127.0.0.1:$(port_of $s)")
            echo "$cpu" > "$OUT/cpu-$tag.txt"
            grep -qE "Non-2xx|Socket errors" "$OUT/wrk-$tag.txt" && grep -E "Non-2xx|Socket errors" "$OUT/wrk-$tag.txt"
            read -r rps p50 p99 <<< "$(wrk_figures "$OUT/wrk-$tag.txt")"
            printf '   round %d x%-3s %6d req/s  p50 %7.2f ms  p99 %7.2f ms %s\n' "$r" "$s" "$rps" "$p50" "$p99" "$cpu"
        done
    done | tee "$OUT/mixed-$backend.txt"
    # Medians over the rounds, and the x1/xN ratio of each round (the pairs ran minutes apart at most).
    awk -v scale="$SCALE" -v sizes="$SIZES" '
        function median(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
                                           return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        $1 == "round" { s = substr($3, 2); n[s]++; rps[s, n[s]] = $4; p50[s, n[s]] = $7; p99[s, n[s]] = $10 }
        END {
            printf "| size | req/s (median) | p50 ms (median) | p99 ms (median) |\n|---|---|---|---|\n"
            m = split(sizes, size, " ")
            for (k = 1; k <= m; k++) {
                s = size[k]
                if (!(s in n)) continue
                for (i = 1; i <= n[s]; i++) { a[i] = rps[s, i]; b[i] = p50[s, i]; c[i] = p99[s, i] }
                printf "| x%d | %d | %.2f | %.2f |\n", s, median(a, n[s]), median(b, n[s]), median(c, n[s])
            }
            if (scale > 1) {
                line = ""
                for (i = 1; i <= n[1] && i <= n[scale]; i++) { r[i] = p50[scale, i] / p50[1, i]; line = line sprintf(" %.2f", r[i]) }
                printf "\np50 x%d / x1 per round:%s; median %.2f\n", scale, line, median(r, i - 1)
            }
        }' "$OUT/mixed-$backend.txt" | tee "$OUT/summary-$backend.md"
    stop_all
    if [ "${KEEP_DATA:-0}" = 1 ]; then
        for s in $SIZES; do echo "${URLS[$s]}" > "$OUT/url-$backend-x$s.txt"; done
        echo "${URLS[$SCALE]}" > "$OUT/url-$backend.txt"
        echo "== $backend: kept$(printf ' %s' "${URLS[@]}")"
    elif [ $backend = postgres ]; then
        for s in $SIZES; do psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS ${DBS[$s]}" >/dev/null; done
    fi
    URLS=(); DBS=()
done
[ "${KEEP_DATA:-0}" = 1 ] || rm -rf "$WORK"
echo "results in $OUT"
