#!/bin/sh
# pg.sh — a private PostgreSQL cluster on a Unix socket, for tests and
# quickstart.  initdb refuses to run as root, so as root the cluster runs as
# an unprivileged user (postgres, or nobody when there is no such user).
#
#   pg.sh start DIR     create DIR (initdb once) and start the server;
#                       prints the libpq connection string
#   pg.sh stop DIR      stop it (fast shutdown)
#   pg.sh conninfo DIR  print the connection string
#
# Environment: PG_BINDIR (where initdb and pg_ctl are), PG_FAST=1 turns off
# fsync (tests only: a crash may corrupt the cluster).
set -eu

cmd=${1:?usage: pg.sh start|stop|conninfo DIR}
dir=${2:?usage: pg.sh start|stop|conninfo DIR}

if [ -z "${PG_BINDIR:-}" ]; then
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && PG_BINDIR=$d
  done
fi
if [ -z "${PG_BINDIR:-}" ] || [ ! -x "$PG_BINDIR/initdb" ]; then
  echo "pg.sh: initdb not found: apt-get install postgresql" >&2
  exit 1
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data=$dir/data
sock=$dir/sock

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    if id postgres >/dev/null 2>&1; then owner=postgres; else owner=nobody; fi
    chown -R "$owner" "$dir"
    runuser -u "$owner" -- "$@"
  else
    "$@"
  fi
}

conninfo() {
  echo "host=$sock dbname=mixmeet user=mixmeet"
}

case $cmd in
  start)
    if [ ! -f "$data/PG_VERSION" ]; then
      mkdir -p "$data" "$sock"
      chmod 700 "$data" "$sock"
      if [ "$(id -u)" = 0 ]; then
        if id postgres >/dev/null 2>&1; then owner=postgres; else owner=nobody; fi
        if ! runuser -u "$owner" -- test -x "$dir"; then
          echo "pg.sh: $dir is not reachable by the user $owner (a parent directory is private);" \
               "choose a state directory elsewhere" >&2
          exit 1
        fi
      fi
      as_owner "$PG_BINDIR/initdb" -D "$data" -U mixmeet --auth=trust -E UTF8 \
        --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
          cat "$dir/initdb.log" >&2; exit 1; }
    fi
    opts="-c listen_addresses='' -k $sock -c unix_socket_permissions=0700"
    if [ "${PG_FAST:-0}" = 1 ]; then
      opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    if ! as_owner "$PG_BINDIR/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
          -o "$opts" status >/dev/null 2>&1; then
      as_owner "$PG_BINDIR/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
        -o "$opts" start >/dev/null || { tail -20 "$dir/server.log" >&2; exit 1; }
    fi
    if ! as_owner "$PG_BINDIR/psql" -h "$sock" -U mixmeet -d postgres -Atqc \
          "SELECT 1 FROM pg_database WHERE datname = 'mixmeet'" | grep -q 1; then
      as_owner "$PG_BINDIR/createdb" -h "$sock" -U mixmeet mixmeet
    fi
    conninfo
    ;;
  stop)
    if [ -f "$data/postmaster.pid" ]; then
      as_owner "$PG_BINDIR/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
    fi
    ;;
  conninfo)
    conninfo
    ;;
  *)
    echo "usage: pg.sh start|stop|conninfo DIR" >&2
    exit 2
    ;;
esac
