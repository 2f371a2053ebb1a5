# Sourced by the benchmark scripts: start/stop target/release/fhir-server on $PORT, logging to
# $WORK/server.log, and make a database URL per backend (a fresh PostgreSQL database each time).

start_server() { # $1 = database url
    ./target/release/fhir-server --listen 127.0.0.1:$PORT --database-url "$1" > "$WORK/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do curl -sf http://127.0.0.1:$PORT/health/ready >/dev/null && return; sleep 0.2; done
    echo "server did not start"; cat "$WORK/server.log"; exit 1
}

stop_server() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }

database_url() { # $1 = sqlite|postgres, $2 = PostgreSQL database name; sets URL
    if [ "$1" = sqlite ]; then
        URL="sqlite://$WORK/sqlite/fhir.db"
    else
        psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $2" -c "CREATE DATABASE $2" >/dev/null
        URL="${PG_ADMIN%/*}/$2"
    fi
}
