#!/bin/sh
# capacity.sh — server CPU and delivered frame rate for N publishers.
#
#   bench/capacity.sh [N ...]        (default: 2 4 9)
#
# For each N: a private PostgreSQL, mixmeetd on 127.0.0.1, one room and N
# mixmeet-bot publishers (640x360 VP8 + Opus each, in one bot process).
# After a warm-up, it samples mixmeetd's CPU time from /proc over a steady
# window and prints one line per N: server CPU (share of one core), the
# bots' own CPU, the frame rate and size the bots received, packets lost,
# and join-to-first-frame times.  Run from the top of a built tree.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
WARMUP=${WARMUP:-10}
WINDOW=${WINDOW:-20}
dir=$(mktemp -d /tmp/mixmeet-bench-XXXXXX)
chmod 755 "$dir"
trap 'kill $srv 2>/dev/null || true; sh tests/pg.sh stop "$dir/pg" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

conninfo=$(PG_FAST=1 sh tests/pg.sh start "$dir/pg")
./mixmeetd --database "$conninfo" --sql-dir sql --pipelines-dir pipelines --web-root www \
  --data-dir "$dir/data" --port 0 --port-file "$dir/port" --bcrypt-cost 4 \
  --ice-addresses 127.0.0.1 --media-port 0 --log-level warning \
  --max-connections-per-address 0 --limits-joins-per-minute 1000000 \
  --limits-room-participants 100000 2>"$dir/mixmeetd.log" &
srv=$!
while [ ! -s "$dir/port" ]; do sleep 0.1; done
port=$(cat "$dir/port")
url=http://127.0.0.1:$port
until curl -sf "$url/readyz" >/dev/null; do sleep 0.2; done

json() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
token=$(curl -sf -XPOST "$url/api/v1/auth/register" -H 'Content-Type: application/json' \
  -d '{"name":"Bench","email":"bench@example.com","password":"bench bench"}' | json token)

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

printf '%-4s %-12s %-10s %-8s %-10s %-8s %-14s\n' N server_cpu bots_cpu fps size lost first_frame_ms
for n in ${*:-2 4 9}; do
  code=$(curl -sf -XPOST "$url/api/v1/rooms" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $token" -d "{\"title\":\"bench $n\"}" | json code)
  ./mixmeet-bot --server "$url" --room "$code" --count "$n" --name pub \
    --ice-address 127.0.0.1 --duration $((WARMUP + WINDOW + 5)) >"$dir/bots-$n.out" 2>"$dir/bots-$n.err" &
  bots=$!
  sleep "$WARMUP"
  s0=$(ticks $srv); b0=$(ticks $bots); t0=$(date +%s.%N)
  sleep "$WINDOW"
  s1=$(ticks $srv); b1=$(ticks $bots); t1=$(date +%s.%N)
  wait $bots || true
  # Per-second lines of the steady window: t > WARMUP.
  stats=$(awk -v w="$WARMUP" -v e="$((WARMUP + WINDOW))" '
    { t = $0; sub(/.*"t":/, "", t); t += 0;
      if (t <= w || t > e) next;
      f = $0; sub(/.*"fps":/, "", f); fps += f + 0; nf++;
      s = $0; if (sub(/.*"width":/, "", s)) { split(s, a, /[,}]/); wd = a[1] }
      s = $0; if (sub(/.*"height":/, "", s)) { split(s, a, /[,}]/); ht = a[1] }
      l = $0; if (sub(/.*"packets_lost":/, "", l)) { split(l, a, /[,}]/); if (a[1] + 0 > lost) lost = a[1] + 0 } }
    END { if (nf == 0) { print "0 - 0"; exit } printf "%.1f %sx%s %d", fps / nf, wd, ht, lost }' \
    "$dir/bots-$n.out")
  first=$(sed -n 's/.*"first_frame_ms":\([0-9]*\).*/\1/p' "$dir/bots-$n.out" | sort -n | uniq |
    awk '{ v[NR] = $1 } END { if (NR) printf "p50 %d max %d", v[int((NR + 1) / 2)], v[NR] }')
  set -- $stats
  printf '%-4s %-12s %-10s %-8s %-10s %-8s %-14s\n' "$n" \
    "$(echo "$s0 $s1 $t0 $t1 $hz" | awk '{printf "%.2f", ($2 - $1) / $5 / ($4 - $3)}')" \
    "$(echo "$b0 $b1 $t0 $t1 $hz" | awk '{printf "%.2f", ($2 - $1) / $5 / ($4 - $3)}')" \
    "$1" "$2" "$3" "$first"
done
