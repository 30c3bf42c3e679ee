#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL cluster for Sluice's tests, on 127.0.0.1 only.
#
#   scripts/postgres.sh start   # prints the admin URL: postgres://postgres@127.0.0.1:PORT/postgres
#   scripts/postgres.sh stop    # stops it and deletes its data
#   scripts/postgres.sh status  # exit status 0 when it answers
#
# The port is SLUICE_PG_PORT (default 55432); data and log live in SLUICE_PG_DIR (default
# ${TMPDIR:-/tmp}/sluice-postgres-PORT). Trust authentication, fsync off: for tests only, never for data you keep.
# Idempotent: starting a running cluster only prints its URL; stopping a stopped one does nothing.
# The machine may run as root, which PostgreSQL refuses; the server then runs as the `postgres` system user.
set -euo pipefail

PORT="${SLUICE_PG_PORT:-55432}"
DIR="${SLUICE_PG_DIR:-${TMPDIR:-/tmp}/sluice-postgres-$PORT}"
URL="postgres://postgres@127.0.0.1:$PORT/postgres"

log() { printf '[postgres] %s\n' "$*" >&2; }

BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
if [ -z "$BIN" ] || [ ! -x "$BIN/pg_ctl" ]; then
  log "PostgreSQL server binaries not found under /usr/lib/postgresql: run scripts/setup.sh (installs 'postgresql')"
  exit 1
fi

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

running() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; }

case "${1:-}" in
  start)
    if running; then
      log "already running on port $PORT"
    else
      mkdir -p "$DIR"
      [ "$(id -u)" -eq 0 ] && chown postgres: "$DIR"
      if [ ! -f "$DIR/data/PG_VERSION" ]; then
        log "initialising a cluster in $DIR/data"
        as_pg "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust --encoding=UTF8 >"$DIR/initdb.log" 2>&1 \
          || { cat "$DIR/initdb.log" >&2; exit 1; }
      fi
      log "starting on 127.0.0.1:$PORT"
      as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
        -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=300" \
        start >/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
    fi
    echo "$URL"
    ;;
  stop)
    if [ -f "$DIR/data/postmaster.pid" ]; then
      log "stopping"
      as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$DIR"
    ;;
  status)
    running
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
