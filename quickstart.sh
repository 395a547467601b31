#!/bin/sh
# quickstart.sh — set up, build and run mixmeet on Debian 12.
#
#   ./quickstart.sh run    install what is missing, build, start a private
#                          PostgreSQL under state/ and serve on
#                          http://localhost:8080 (extra arguments go to mixmeetd)
#   ./quickstart.sh check  the same set-up, then every test (make check)
#
# Environment:
#   MIXMEET_STATE_DIR     where the private cluster and data live (default ./state)
#   MIXMEET_DATABASE_URL  use this database instead of a private cluster
#   MIXMEET_PORT          port for "run" (default 8080)
#   MIXMEET_CHECK_BUSY    N: "check" runs with N CPU-bound processes beside
#                         it (tests/busy.sh), as on a busy machine
set -eu

cd "$(dirname "$0")"
top=$(pwd)
state=${MIXMEET_STATE_DIR:-$top/state}
mode=${1:-}
[ $# -gt 0 ] && shift

# Debian packages the build and the tests need.
packages="build-essential autoconf automake libtool pkg-config
  libglib2.0-dev libjson-glib-dev libmicrohttpd-dev libpq-dev libssl-dev libcrypt-dev
  libcurl4-openssl-dev libnice-dev libsrtp2-dev postgresql
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-nice gstreamer1.0-x gstreamer1.0-tools"
# Only for the tests: the browser tests drive Debian's Chromium with
# playwright-core (from the npm registry; it never downloads a browser);
# the RTMP egress test pushes to a local nginx with the RTMP module; the
# proxy test puts nginx with a certificate made by openssl in front, and
# the TURN test relays the browser's media through coturn; the
# install test checks the systemd unit with systemd-analyze; clang builds
# the fuzz targets of the transport's parsers (run briefly by make check).
check_packages="chromium nginx-light libnginx-mod-rtmp coturn openssl systemd clang"

say() { printf '==> %s\n' "$*"; }

install_missing() {
  missing=
  want=$packages
  [ "${1:-}" = check ] && want="$packages $check_packages"
  command -v node >/dev/null || want="$want nodejs"
  command -v npm >/dev/null || want="$want npm"
  for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing="$missing $p"
    fi
  done
  [ -z "$missing" ] && return 0
  say "installing:$missing"
  if [ "$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null; then sudo=sudo; else
    echo "quickstart: missing packages:$missing (run as root or install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends $missing
}

build() {
  if [ ! -x configure ]; then
    say "autoreconf"
    autoreconf -fi
  fi
  if [ ! -f Makefile ]; then
    say "configure"
    ./configure --enable-werror
  fi
  say "make"
  make -j"$(nproc)"
}

database() {
  if [ -n "${MIXMEET_DATABASE_URL:-}" ]; then
    printf '%s\n' "$MIXMEET_DATABASE_URL"
  else
    mkdir -p "$state"
    sh tests/pg.sh start "$state/pg"
  fi
}

# One line at the end of a test run: "N passed, N failed, N skipped".
summary() {
  pass=0 fail=0 skip=0
  for trs in tests/*.trs; do
    [ -f "$trs" ] || continue
    p=$(grep -c '^:test-result: PASS' "$trs" || true)
    f=$(grep -c -E '^:test-result: (FAIL|ERROR|XPASS)' "$trs" || true)
    s=$(grep -c '^:test-result: SKIP' "$trs" || true)
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
  done
  # make check can fail outside any test (a log it could not make):
  # that counts as a failure too.
  [ "${1:-0}" -ne 0 ] && [ "$fail" -eq 0 ] && fail=1
  echo "$pass passed, $fail failed, $skip skipped"
}

case $mode in
  run)
    install_missing
    build
    conninfo=$(database)
    mkdir -p "$state/data"
    say "serving on http://localhost:${MIXMEET_PORT:-8080}/ (Ctrl+C stops)"
    exec ./mixmeetd --database "$conninfo" --sql-dir "$top/sql" --web-root "$top/www/dist" \
      --pipelines-dir "$top/pipelines" \
      --data-dir "$state/data" --port "${MIXMEET_PORT:-8080}" "$@"
    ;;
  check)
    install_missing check
    build
    if [ ! -d tests/browser/node_modules/playwright-core ] ||
       [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
      say "npm ci (tests/browser)"
      (cd tests/browser && npm ci --no-audit --no-fund)
    fi
    say "make check"
    rc=0
    if [ -n "${MIXMEET_CHECK_BUSY:-}" ]; then
      MM_BUSY=$MIXMEET_CHECK_BUSY sh tests/busy.sh make -j"$(nproc)" check "$@" || rc=$?
    else
      make -j"$(nproc)" check "$@" || rc=$?
    fi
    if [ $rc -ne 0 ]; then
      for log in tests/*.log; do
        [ -f "$log" ] && grep -q -E '^(not ok|Bail out)' "$log" && { echo "--- $log"; tail -40 "$log"; }
      done
    fi
    summary $rc
    exit $rc
    ;;
  *)
    echo "usage: ./quickstart.sh run|check" >&2
    exit 2
    ;;
esac
