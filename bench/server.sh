# Sourced by the benchmark scripts: start/stop target/release/fhir-server on $PORT, logging to
# $WORK/server.log, make a database URL per backend (a fresh PostgreSQL database each time), and
# read the database URLs a `KEEP_DATA=1 bench/search.sh` run kept.

start_server() { # $1 = database url, $2 = port ($PORT), $3 = log file ($WORK/server.log), $4 = binary; sets SERVER
    local port=${2:-$PORT} log=${3:-$WORK/server.log} binary=${4:-./target/release/fhir-server}
    "$binary" --listen 127.0.0.1:$port --database-url "$1" > "$log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do curl -sf http://127.0.0.1:$port/health/ready >/dev/null && return; sleep 0.2; done
    echo "server did not start"; cat "$log"; exit 1
}

stop_server() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }

database_url() { # $1 = sqlite|postgres, $2 = database name (SQLite: a folder in $WORK); sets URL
    if [ "$1" = sqlite ]; then
        URL="sqlite://$WORK/$2/fhir.db"
    else
        psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $2" -c "CREATE DATABASE $2" >/dev/null
        URL="${PG_ADMIN%/*}/$2"
    fi
}

# CPU accounting around a wrk run, so a figure says how much of the machine other work took.
# Jiffies (1/100 s) of all CPUs busy, and of the given pids (utime + stime).
cpu_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
cpu_of() { local t=0 p; for p in "$@"; do [ -r /proc/$p/stat ] && t=$((t + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }
# PIDs of this benchmark's server and, for PostgreSQL, the backends serving database $1.
bench_pids() { echo "$SERVER"; [ -n "${1:-}" ] && pgrep -f "postgres: .*postgres $1 " || true; }

# Runs wrk (all arguments) and prints how the CPU time of the run was spent: by the server and its
# database backends, by wrk, and by every other process (other people's builds and tests).
wrk_accounted() { # $1 = PostgreSQL database name or "", then wrk arguments
    local db=$1; shift
    local pids b0 o0 b1 o1 t0 t1 w
    pids=$(bench_pids "$db")
    b0=$(cpu_busy); o0=$(cpu_of $pids); t0=$(date +%s.%N)
    TIMEFORMAT='%U %S'
    w=$( { time wrk "$@" > "$WRK_OUT"; } 2>&1 )
    pids=$(bench_pids "$db")   # backends that came and went are missed: connections are pooled
    b1=$(cpu_busy); o1=$(cpu_of $pids); t1=$(date +%s.%N)
    awk -v b=$((b1 - b0)) -v o=$((o1 - o0)) -v w="$w" -v s="$(echo "$t1 - $t0" | bc)" 'BEGIN {
        split(w, x, " "); wrk = (x[1] + x[2]) * 100;
        printf "   CPU over %.1f s (2 cores = %.0f s): server+database %.1f s, wrk %.1f s, other processes %.1f s\n",
            s, 2 * s, o / 100, wrk / 100, (b - o - wrk) / 100 }'
}

kept_url() { # $1 = results folder of a KEEP_DATA=1 bench/search.sh run, $2 = backend, $3 = x1 or xN
    if [ "$3" = x1 ]; then cat "$1/url-$2-x1.txt"; else cat "$(ls "$1"/url-"$2"-x*.txt | grep -v -- '-x1.txt' | head -1)"; fi
}
