# shellcheck shell=bash
# The private PostgreSQL cluster used by the tests and the demo: installed with apt when missing,
# owned by the `postgres` user, listening on 127.0.0.1 only, on a port of its own.
# Source this file; it defines functions and never exits the caller's shell by itself.

PG_ROOT="${PG_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

pg_log() { printf '[pg] %s\n' "$*" >&2; }

# Runs a command as the cluster's owner: `postgres` when we are root (PostgreSQL refuses to run as
# root), ourselves otherwise.
pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_find_bindir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

pg_install() {
  if PG_BIN="$(pg_find_bindir)"; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    pg_log "PostgreSQL server binaries are missing and we are not root: run 'sudo apt-get install -y postgresql' once."
    return 1
  fi
  pg_log "PostgreSQL is not installed: installing it with apt-get (once)."
  # We start our own cluster; keep the package from creating and starting a system-wide one.
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/ctibridge.conf
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q postgresql >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    apt-get install -y -q postgresql >/dev/null
  fi
  PG_BIN="$(pg_find_bindir)" || { pg_log "apt-get installed postgresql but no initdb was found under /usr/lib/postgresql/*/bin"; return 1; }
}

# Where the cluster lives: .pg/ in the repository when the owner can reach it, else a folder under
# /var/tmp named after the repository path (a clone under /root is not readable by `postgres`).
pg_choose_dir() {
  if [ -n "${CTIBRIDGE_PG_DIR:-}" ]; then
    PG_DIR="$CTIBRIDGE_PG_DIR"
  elif [ "$(id -u)" -ne 0 ] || runuser -u postgres -- test -x "$PG_ROOT" 2>/dev/null; then
    PG_DIR="$PG_ROOT/.pg"
  else
    PG_DIR="/var/tmp/ctibridge-pg-$(printf '%s' "$PG_ROOT" | md5sum | cut -c1-12)"
  fi
  PG_DATA="$PG_DIR/data"
  PG_SOCKET="$PG_DIR/socket"
  PG_LOGFILE="$PG_DIR/postgres.log"
}

pg_port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The last port used if free, else the first free one from 55432; ports named in $1 (space-separated) are skipped.
pg_pick_port() {
  local port skip=" ${1:-} "
  if [ -f "$PG_DIR/port" ]; then
    port="$(cat "$PG_DIR/port")"
    if [[ "$skip" != *" $port "* ]] && ! pg_port_in_use "$port"; then
      echo "$port"
      return 0
    fi
  fi
  for port in $(seq 55432 55532); do
    if [[ "$skip" != *" $port "* ]] && ! pg_port_in_use "$port"; then
      echo "$port"
      return 0
    fi
  done
  pg_log "no free TCP port between 55432 and 55532 on 127.0.0.1"
  return 1
}

pg_running() {
  [ -f "$PG_DATA/postmaster.pid" ] || return 1
  local pid
  pid="$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null)"
  # A postmaster killed with -9 can linger as a zombie when nothing reaps it: that is not running.
  [ -n "$pid" ] && [ -d "/proc/$pid" ] && grep -q postgres "/proc/$pid/comm" 2>/dev/null \
    && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null
}

pg_start() {
  pg_install || return 1
  pg_choose_dir
  mkdir -p "$PG_DIR" "$PG_SOCKET"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$PG_DIR" "$PG_SOCKET"; fi

  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    rm -rf "$PG_DATA"
    pg_log "creating the private cluster in $PG_DATA"
    pg_as_owner "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null \
      || pg_as_owner "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --no-locale >/dev/null
  fi

  if pg_running; then
    PG_PORT="$(cat "$PG_DIR/port")"
  else
    local taken="" tries=0
    while :; do
      # A run killed half-way leaves postmaster.pid behind; the process it names is gone.
      rm -f "$PG_DATA/postmaster.pid"
      PG_PORT="$(pg_pick_port "$taken")" || return 1
      echo "$PG_PORT" > "$PG_DIR/port"
      if pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOGFILE" -w -t 60 start \
          -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_SOCKET -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=128MB" >/dev/null; then
        break
      fi
      # A port free when picked can be taken before PostgreSQL binds it: another cluster starting at the same
      # moment, or an outgoing connection's local port (55432-55532 lies in Linux's ephemeral range, which the
      # free-port check cannot see). Try the next one, a few times.
      if [ "$tries" -lt 5 ] && tail -n 20 "$PG_LOGFILE" | grep -q "could not bind .*Address already in use"; then
        tries=$((tries + 1))
        taken="$taken $PG_PORT"
        pg_log "port $PG_PORT was taken before PostgreSQL could bind it; trying another"
        continue
      fi
      pg_log "PostgreSQL failed to start; the end of $PG_LOGFILE says:"
      tail -n 20 "$PG_LOGFILE" >&2
      return 1
    done
  fi
  PG_CONNECTION="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=postgres;Include Error Detail=true"
  export CTIBRIDGE_TEST_PG="$PG_CONNECTION"
}

pg_stop() {
  pg_choose_dir
  PG_BIN="${PG_BIN:-$(pg_find_bindir)}" || return 0
  if pg_running; then
    pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null || true
  fi
}
