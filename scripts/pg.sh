#!/usr/bin/env bash
# Controls the private PostgreSQL cluster the tests and the demo use.
#   scripts/pg.sh start   start it (installing PostgreSQL first if needed)
#   scripts/pg.sh env     start it and print `export CTIBRIDGE_TEST_PG=...` (use: eval "$(scripts/pg.sh env)")
#   scripts/pg.sh psql    open psql on it
#   scripts/pg.sh stop    stop it
#   scripts/pg.sh status  say whether it runs, and where
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/postgres.sh"

case "${1:-status}" in
  start) pg_start; echo "PostgreSQL running on 127.0.0.1:$PG_PORT (data in $PG_DATA)" ;;
  env) pg_start; printf 'export CTIBRIDGE_TEST_PG=%q\n' "$CTIBRIDGE_TEST_PG" ;;
  psql) pg_start; exec psql -h 127.0.0.1 -p "$PG_PORT" -U postgres "${@:2}" ;;
  stop) pg_stop; echo "stopped" ;;
  status)
    pg_choose_dir
    if pg_running; then echo "running on 127.0.0.1:$(cat "$PG_DIR/port") (data in $PG_DATA)"; else echo "not running (data in $PG_DATA)"; fi ;;
  *) echo "usage: scripts/pg.sh start|env|psql|stop|status" >&2; exit 2 ;;
esac
