#!/bin/sh
# busy.sh — run a command on a busy machine: N CPU-bound processes (default
# 2, or $MM_BUSY) run beside it and stop when it ends, however it ends.
#
#   tests/busy.sh [-n N] COMMAND [ARG...]
#
# make check-busy runs make check this way: the tests assert behaviour, not
# speed, with margins that two busy cores keep.  The exit status is the
# command's.
set -u

n=${MM_BUSY:-2}
if [ "${1:-}" = -n ]; then
  n=${2:?usage: busy.sh [-n N] COMMAND [ARG...]}
  shift 2
fi
[ $# -gt 0 ] || { echo "usage: busy.sh [-n N] COMMAND [ARG...]" >&2; exit 2; }
case $n in
  ''|*[!0-9]*) echo "busy.sh: N must be a number, not \"$n\"" >&2; exit 2 ;;
esac

pids=
stop() {
  for pid in $pids; do
    kill "$pid" 2>/dev/null
  done
  for pid in $pids; do
    wait "$pid" 2>/dev/null
  done
  pids=
}
trap 'stop' EXIT
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

i=0
while [ "$i" -lt "$n" ]; do
  yes > /dev/null &
  pids="$pids $!"
  i=$((i + 1))
done
echo "busy.sh: $n CPU-bound processes beside: $*" >&2

rc=0
"$@" || rc=$?
stop
exit $rc
