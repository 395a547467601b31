#!/bin/sh
# run.sh — mixmeet's benchmarks: eight scenarios, one table, one JSON file.
#
#   bench/run.sh           the full bench (make bench; about 10 minutes)
#   bench/run.sh quick     each scenario briefly (make bench-quick)
#
# A private PostgreSQL and mixmeetd on 127.0.0.1, driven by mixmeet-bot.
# Server CPU is mixmeetd's utime+stime from /proc over a steady window, in
# cores; the bots' own CPU is reported apart.  See bench/README.md for what
# each scenario measures.  Run from the top of a built tree.  Results go to
# bench/results/DATE-COMMIT.json (BENCH_OUT overrides).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mode=${1:-full}
if [ "$mode" = quick ]; then
  LAT_S=15; CHURN=5; CHURN_S=3; WARMUP=6; WINDOW=6
  CAPACITY="2 4 9 16"; AUDIENCE=${BENCH_AUDIENCE:-50 100}; AUDIO_STEPS=${BENCH_AUDIO:-20 50}
  LOWBW_S=20
else
  LAT_S=45; CHURN=20; CHURN_S=4; WARMUP=10; WINDOW=20
  CAPACITY=${BENCH_CAPACITY:-2 4 9 16}; AUDIENCE=${BENCH_AUDIENCE:-100 250 500 1000 2000}
  AUDIO_STEPS=${BENCH_AUDIO:-50 100 200}; LOWBW_S=40
fi
# Lean viewers (mixmeet-bot --viewers) per process: one thread each.
# Fewer than one thread could carry: libsrtp2 on NSS (Debian's) costs
# more a packet the more SRTP sessions a process holds (bench/README.md).
VIEWERS_PER_PROCESS=${BENCH_VIEWERS_PER_PROCESS:-250}
# Audio-only participants that send a tone; the others send silence.
AUDIO_SPEAKERS=${BENCH_AUDIO_SPEAKERS:-5}
# SRTP authentication of 1 packet in K at the viewers (1: every packet).
AUTH_SAMPLE=${BENCH_AUTH_SAMPLE:-10}
hz=$(getconf CLK_TCK)
dir=$(mktemp -d -t mixmeet-bench-XXXXXX)
chmod 755 "$dir"
srv=
bots=

cleanup() {
  for p in $bots; do kill "$p" 2>/dev/null || true; done
  [ -n "$srv" ] && kill "$srv" 2>/dev/null || true
  sleep 1
  for p in $bots $srv; do kill -9 "$p" 2>/dev/null || true; done
  sh tests/pg.sh stop "$dir/pg" >/dev/null 2>&1 || true
  if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

conninfo=$(PG_FAST=1 sh tests/pg.sh start "$dir/pg")

# start_server [ENV=VALUE ...]: a fresh mixmeetd, with the options in
# $server_args; sets srv, url, token.
server_args=
# Every bot comes from 127.0.0.1: no per-address or per-room limit here.
no_limits="--max-connections-per-address 0 --limits-registrations-per-hour 1000000
  --limits-rooms-per-hour 1000000 --limits-joins-per-minute 1000000
  --limits-chat-per-minute 100000 --limits-meetings 1000000 --limits-room-participants 100000
  --limits-viewers 10000000"
start_server() {
  if [ -n "$srv" ]; then kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; fi
  rm -f "$dir/port"
  env "$@" ./mixmeetd --database "$conninfo" --sql-dir sql --pipelines-dir pipelines \
    --web-root www --data-dir "$dir/data" --port 0 --port-file "$dir/port" --bcrypt-cost 4 \
    --ice-addresses 127.0.0.1 --media-port 0 --log-level "${BENCH_LOG_LEVEL:-warning}" $no_limits $server_args 2>>"$dir/mixmeetd.log" &
  srv=$!
  while [ ! -s "$dir/port" ]; do sleep 0.1; done
  url=http://127.0.0.1:$(cat "$dir/port")
  until curl -sf "$url/readyz" >/dev/null; do sleep 0.2; done
  curl -sf -XPOST "$url/api/v1/auth/register" -H 'Content-Type: application/json' \
    -d '{"name":"Bench","email":"bench@example.com","password":"bench bench"}' >/dev/null || true
  token=$(curl -sf -XPOST "$url/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"bench bench"}' | json token)
}

json() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
room() {   # room TITLE [MODE]
  curl -sf -XPOST "$url/api/v1/rooms" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $token" -d "{\"title\":\"$1\",\"mode\":\"${2:-meeting}\"}" | json code
}
bot() {    # bot OUTFILE ARGS...: one mixmeet-bot process in the background
  out=$1; shift
  ./mixmeet-bot --server "$url" --ice-address 127.0.0.1 "$@" >"$out" 2>>"$dir/bots.err" &
  bots="$bots $!"
  last_bot=$!
}
any_alive() { for p in "$@"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
stop_bots() {
  for p in $bots; do kill "$p" 2>/dev/null || true; done
  # Each bot posts its leave in turn; a loaded server can take seconds for
  # each.  After 20 s the rest are killed (the server's presence timeout
  # removes them; the next scenario has a server of its own anyway).
  i=0
  while [ "$i" -lt 20 ] && any_alive $bots; do
    sleep 1; i=$((i + 1))
  done
  for p in $bots; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  bots=
  sleep 1
  if ! kill -0 "$srv" 2>/dev/null; then
    echo "mixmeetd died; the end of its log:" | tee -a "$dir/table"
    tail -n 3 "$dir/mixmeetd.log" | tee -a "$dir/table"
    srv=
  fi
}
ticks() {  # summed utime+stime of the given pids
  for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0; done |
    awk '{s += $1} END {print s + 0}'
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
now() { date +%s.%N; }
# profile NAME: with BENCH_PERF=DIR, perf record mixmeetd over the window.
profile() {
  [ -n "${BENCH_PERF:-}" ] || return 0
  mkdir -p "$BENCH_PERF"
  perf record -q -F 199 -g -p "$srv" -o "$BENCH_PERF/$1.data" -- sleep "$WINDOW" \
    >/dev/null 2>&1 &
}
only() {   # only SCENARIO: true if BENCH_ONLY is empty or names it
  [ -z "${BENCH_ONLY:-}" ] && return 0
  case " $BENCH_ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac
}
cores() { echo "$1 $2 $3 $4" | awk -v hz="$hz" '{printf "%.3f", ($2 - $1) / hz / ($4 - $3)}'; }

# window_stats FROM TO FILES...: over the bots' per-second lines with
# FROM < t <= TO: mean fps, the bots seen, packets lost in the window
# (summed over bots), the largest max_gap_ms.
window_stats() {
  from=$1; to=$2; shift 2
  cat "$@" | awk -v w="$from" -v e="$to" '
    function num(s, k,  a) { if (!sub(".*\"" k "\":", "", s)) return ""; split(s, a, /[,}]/); return a[1] }
    /"final":true|"event":/ { next }
    { t = num($0, "t") + 0; if (t <= w || t > e) next
      b = num($0, "bot") "/" num($0, "participant_id")
      fps += num($0, "fps"); nf++; seen[b] = 1
      g = num($0, "max_gap_ms"); if (g != "null" && g + 0 > gap) gap = g + 0
      l = num($0, "packets_lost"); if (l != "null") { if (!(b in l0)) l0[b] = l; l1[b] = l } }
    END { n = 0; for (b in seen) n++; for (b in l1) lost += l1[b] - l0[b]
          printf "%.1f %d %d %d\n", nf ? fps / nf : 0, n, lost, gap }'
}

pct() {    # pct P: the P-th percentile of the numbers on stdin
  sort -n | awk -v p="$1" '{ v[NR] = $1 } END { if (!NR) { print "null"; exit }
    i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; if (i > NR) i = NR; print v[i] }'
}

rows=
row() {    # row SCENARIO CASE KEY=VALUE ...: one table row and one JSON object
  sc=$1; case_=$2; shift 2
  line=$(printf '%-10s %-8s' "$sc" "$case_"); js="{\"scenario\":\"$sc\",\"case\":\"$case_\""
  for kv in "$@"; do
    k=${kv%%=*}; v=${kv#*=}
    line="$line $k=$v"
    case $v in
      ''|*[!0-9.-]*) [ "$v" = null ] && js="$js,\"$k\":null" || js="$js,\"$k\":\"$v\"" ;;
      *) js="$js,\"$k\":$v" ;;
    esac
  done
  echo "$line" | tee -a "$dir/table"
  rows="$rows${rows:+,}$js}"
}

echo "mixmeet bench ($mode), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"

# ---- 1. Added latency ----------------------------------------------------
if only latency; then
start_server MIXMEET_PROBE_LOG="$dir/probe.log" MIXMEET_PROBE_COLOR=00ffff
code=$(room latency)
bot "$dir/lat-pub.out" --room "$code" --name pub --color ff0000 --blink-color 00ffff \
  --blink 700 --no-decode --duration "$LAT_S"
pub=$last_bot
bot "$dir/lat-recv.out" --room "$code" --name recv --recv-only --watch-color 00ffff \
  --watch-tone --latency 40 --duration "$LAT_S"
recv=$last_bot
wait "$pub" "$recv" 2>/dev/null || true
bots=
rpid=$(sed -n 's/.*"participant_id":"\([^"]*\)".*/\1/p' "$dir/lat-recv.out" | tail -n 1)
# delays PREFIX CHANGE TIME ON SEEN: one line per change the publisher
# reported (CHANGE events, made at TIME, turning "on" when they match ON):
# server-added (PREFIX"in" -> PREFIX"out" to the receiver), in -> mix, mix
# -> encoded, encoded -> out, end to end (made -> the receiver's SEEN), ms.
# Video: in/mix/enc/out and change/seen; audio: ain/amix/aenc/aout and
# burst/heard (the tone bursts that go with the changes).
delays() {
  awk -v rpid="$rpid" -v p="$1" -v change="\"event\":\"$2\"" -v tkey="$3" -v on="$4" \
      -v seen="\"event\":\"$5\"" '
  function num(s, k,  a) { if (!sub(".*\"" k "\":\"?", "", s)) return ""; split(s, a, /[,}"]/); return a[1] }
  FILENAME ~ /probe/ {
    if ($1 == p "in") { ink[$3 " " $4] = $5 }
    else if ($1 == p "mix") { nm++; mpts[nm] = $2; mp[nm] = $3; mus[nm] = $4 }
    else if ($1 == p "enc") { enc[$2] = $3 }
    else if ($1 == p "out" && ($2 == rpid || $2 == "*")) { no++; ous[no] = $5 }
    next }
  index($0, change) { nc++; con[nc] = (index($0, on) > 0); cm[nc] = num($0, tkey)
    ckey[nc] = num($0, "ssrc") " " num($0, "rtp_ts"); next }
  index($0, seen) { ns++; sp[ns] = ($0 ~ /"present":true/); sus[ns] = num($0, "us"); next }
  END {
    for (c = 1; c <= nc; c++) {
      want = con[c]; e2e = srv = a = b = d = "-"
      for (s = 1; s <= ns; s++) if (sus[s] >= cm[c] && sp[s] == want) { e2e = (sus[s] - cm[c]) / 1000; break }
      if (ckey[c] in ink) {
        ta = ink[ckey[c]]
        for (m = 1; m <= nm; m++) if (mus[m] >= ta && mp[m] == want) break
        if (m <= nm && (mpts[m] in enc)) {
          te = enc[mpts[m]]
          for (o = 1; o <= no; o++) if (ous[o] >= te) break
          if (o <= no) { srv = (ous[o] - ta) / 1000; a = (mus[m] - ta) / 1000
                         b = (te - mus[m]) / 1000; d = (ous[o] - te) / 1000 }
        }
      }
      if (e2e != "-" && e2e > 2000) e2e = "-"
      if (srv != "-" && srv > 2000) srv = "-"
      print srv, a, b, d, e2e
    } }' "$dir/probe.log" "$dir/lat-pub.out" "$dir/lat-recv.out" 2>/dev/null || true
}
col() { awk -v c="$1" '$c != "-" { print $c }' "$2"; }   # col N FILE
# delay_row CASE COUNT FILE: the table row of a delays file.
delay_row() {
  row latency "$1" "$2=$(wc -l <"$3")" matched="$(col 1 "$3" | wc -l)" \
    server_p50_ms="$(col 1 "$3" | pct 50)" server_p95_ms="$(col 1 "$3" | pct 95)" \
    in_to_mix_p50_ms="$(col 2 "$3" | pct 50)" mix_to_enc_p50_ms="$(col 3 "$3" | pct 50)" \
    enc_to_out_p50_ms="$(col 4 "$3" | pct 50)" \
    e2e_p50_ms="$(col 5 "$3" | pct 50)" e2e_p95_ms="$(col 5 "$3" | pct 95)"
}
delays "" change painted_us '"rgb":"00ffff"' seen >"$dir/lat.txt"
delays a burst made_us '"on":true' heard >"$dir/lat-audio.txt"
delay_row 1pub1rx changes "$dir/lat.txt"
delay_row audio bursts "$dir/lat-audio.txt"
fi

# ---- 2 and 5. Join/leave stalls, join time --------------------------------
if only stalls; then
# The server logs when each composite frame leaves it (src/media/probe.c):
# its own largest gap, apart from what the bots (on the same machine)
# received.
start_server MIXMEET_PROBE_LOG="$dir/stall-probe.log"
code=$(room churn)
bot "$dir/steady.out" --room "$code" --name steady --count 4 --no-decode
steady=$last_bot
sleep "$WARMUP"
t_from=$(sed -n 's/.*"t":\([0-9]*\).*/\1/p' "$dir/steady.out" | tail -n 1)
us_from=$(($(date +%s%N) / 1000))
i=0
: >"$dir/joins.txt"
: >"$dir/join-steps.txt"
while [ "$i" -lt "$CHURN" ]; do
  # A 40 ms jitter buffer, as scenario 1's receiver: browsers start theirs
  # near zero, webrtcbin's default of 200 ms would be the bot's own delay.
  ./mixmeet-bot --server "$url" --ice-address 127.0.0.1 --room "$code" --name "join-$i" \
    --latency 40 --duration "$CHURN_S" >"$dir/join.out" 2>>"$dir/bots.err" || true
  sed -n 's/.*"first_frame_ms":\([0-9][0-9]*\).*/\1/p' "$dir/join.out" | tail -n 1 >>"$dir/joins.txt"
  # The steps before it: joined offer answer ice connected first_packet.
  grep '"first_frame_ms":[0-9]' "$dir/join.out" | tail -n 1 |
    sed -n 's/.*"join_ms":{"joined":\([0-9n][0-9ul]*\),"offer":\([0-9n][0-9ul]*\),"answer":\([0-9n][0-9ul]*\),"ice":\([0-9n][0-9ul]*\),"connected":\([0-9n][0-9ul]*\),"first_packet":\([0-9n][0-9ul]*\)}.*/\1 \2 \3 \4 \5 \6/p' \
    >>"$dir/join-steps.txt"
  i=$((i + 1))
done
sleep 2
t_to=$(sed -n 's/.*"t":\([0-9]*\).*/\1/p' "$dir/steady.out" | tail -n 1)
us_to=$(($(date +%s%N) / 1000))
set -- $(window_stats "$t_from" "$t_to" "$dir/steady.out")
server_gap=$(awk -v a="$us_from" -v b="$us_to" '$1 == "out" && $2 == "*" && $5 >= a && $5 <= b {
    if (p) { g = $5 - p; if (g > m) m = g } p = $5 } END { printf "%.0f", m / 1000 }' \
  "$dir/stall-probe.log" 2>/dev/null)
row stalls "4+${CHURN}" steady_fps="$1" max_gap_ms="$4" server_max_gap_ms="${server_gap:-null}" \
  lost="$3"
step() { awk -v c="$1" '$c != "null" { print $c }' "$dir/join-steps.txt" | pct 50; }
row join "$CHURN" joined="$(grep -c . "$dir/joins.txt" || true)" \
  p50_ms="$(pct 50 <"$dir/joins.txt")" p95_ms="$(pct 95 <"$dir/joins.txt")" \
  rest_p50_ms="$(step 1)" offer_p50_ms="$(step 2)" answer_p50_ms="$(step 3)" \
  ice_p50_ms="$(step 4)" dtls_p50_ms="$(step 5)" first_packet_p50_ms="$(step 6)"
stop_bots
fi

# ---- 3. Meeting capacity --------------------------------------------------
if only capacity; then
start_server
for n in $CAPACITY; do
  code=$(room "capacity $n")
  bot "$dir/cap-$n.out" --room "$code" --name pub --count "$n" --no-decode
  b=$last_bot
  sleep "$WARMUP"
  profile "capacity-$n"
  s0=$(ticks "$srv"); b0=$(ticks "$b"); t0=$(now)
  k0=$(sed -n 's/.*"t":\([0-9]*\).*/\1/p' "$dir/cap-$n.out" | tail -n 1)
  sleep "$WINDOW"
  s1=$(ticks "$srv"); b1=$(ticks "$b"); t1=$(now)
  k1=$(sed -n 's/.*"t":\([0-9]*\).*/\1/p' "$dir/cap-$n.out" | tail -n 1)
  set -- $(window_stats "$k0" "$k1" "$dir/cap-$n.out")
  row capacity "$n" server_cores="$(cores "$s0" "$s1" "$t0" "$t1")" \
    bots_cores="$(cores "$b0" "$b1" "$t0" "$t1")" fps="$1" bots="$2" lost="$3" max_gap_ms="$4"
  stop_bots
  sleep 2
  [ -n "$srv" ] || start_server
done
fi

# ---- 4. Audience (lecture room) -------------------------------------------
# Lean viewers (mixmeet-bot --viewers: our own transport code as a client,
# one thread per process) join step by step.  Each step is measured over
# WINDOW seconds once every viewer is connected; its marginal cost is the
# server's CPU and RSS above the previous step's (above the presenter
# alone for the first step), per added viewer.
if only audience; then
server_args="--video-bitrate 1200"   # the target's 720p at 1.2 Mbit/s
start_server
server_args=
code=$(room audience lecture)
bot "$dir/presenter.out" --room "$code" --email bench@example.com --password 'bench bench' \
  --no-decode
presenter=$last_bot
sleep "$WARMUP"
# The presenter alone: the baseline of the first step's marginal cost.
s0=$(ticks "$srv"); t0=$(now); sleep "$WINDOW"; s1=$(ticks "$srv"); t1=$(now)
prev_n=0; prev_cores=$(cores "$s0" "$s1" "$t0" "$t1"); prev_rss=$(rss_kib "$srv")
row audience 0 server_cores="$prev_cores" rss_mib="$(echo "$prev_rss" | awk '{printf "%.0f", $1 / 1024}')"
have=0; vpids=
# lean_last FIELD: FIELD summed over the viewer processes' latest lines.
lean_last() {
  for f in "$dir"/viewers-*.out; do
    grep -v '"final":true' "$f" 2>/dev/null | tail -n 1
  done | sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p" | awk '{s += $1} END {print s + 0}'
}
for n in $AUDIENCE; do
  while [ "$have" -lt "$n" ]; do
    c=$((n - have)); [ "$c" -gt "$VIEWERS_PER_PROCESS" ] && c=$VIEWERS_PER_PROCESS
    bot "$dir/viewers-$have.out" --room "$code" --name "v$have" --viewers "$c" \
      --auth-sample "$AUTH_SAMPLE"
    vpids="$vpids $last_bot"
    have=$((have + c))
  done
  # Until every viewer is connected or has failed (joins are paced), then
  # a warm-up.
  i=0
  while [ "$i" -lt $((60 + n / 10)) ]; do
    done_=$(($(lean_last connected) + $(lean_last failed)))
    [ "$done_" -ge "$n" ] && break
    sleep 1; i=$((i + 1))
  done
  sleep "$WARMUP"
  profile "audience-$n"
  s0=$(ticks "$srv"); b0=$(ticks $vpids $presenter); t0=$(now)
  sleep "$WINDOW"
  s1=$(ticks "$srv"); b1=$(ticks $vpids $presenter); t1=$(now)
  rss1=$(rss_kib "$srv")
  # Each viewer process has its own t: each file's last WINDOW seconds.
  # fps: mean over the seconds, weighted by the viewers connected; lost
  # and expected: growth over the window; the largest gap.
  stats=$(for f in "$dir"/viewers-*.out; do
      e=$(grep -v '"final":true' "$f" | sed -n 's/.*"t":\([0-9]*\).*/\1/p' | tail -n 1)
      grep -v '"final":true' "$f" | awk -v w=$((e - WINDOW)) -v e="$e" '
        function num(s, k,  a) { if (!sub(".*\"" k "\":", "", s)) return ""; split(s, a, /[,}]/); return a[1] }
        { t = num($0, "t") + 0; if (t < w || t > e) next
          if (t == w) { l0 = num($0, "packets_lost"); x0 = num($0, "packets_expected"); next }
          c = num($0, "connected") + 0; fps += num($0, "fps") * c; nc += c
          g = num($0, "max_gap_ms"); if (g != "null" && g + 0 > gap) gap = g + 0
          l1 = num($0, "packets_lost"); x1 = num($0, "packets_expected")
          conn = c; fail = num($0, "failed"); srtp = num($0, "failures") }
        END { printf "%f %d %d %d %d %d %d %d\n", fps, nc, l1 - l0, x1 - x0, gap, conn, fail, srtp }'
    done | awk '{ fps += $1; nc += $2; lost += $3; ex += $4; if ($5 > gap) gap = $5
                  conn += $6; fail += $7; srtp += $8 }
                END { printf "%.1f %d %.3f %d %d %d %d\n", nc ? fps / nc : 0, lost,
                      ex ? 100 * lost / ex : 0, gap, conn, fail, srtp }')
  set -- $stats
  fps=$1; lost=$2; loss=$3; gap=$4; conn=$5; fail=$6; srtp=$7
  acores=$(cores "$s0" "$s1" "$t0" "$t1")
  # Marginal: per viewer added since the previous step.
  marg=$(echo "$acores $prev_cores $n $prev_n" | awk '{ printf "%.6f", ($1 - $2) / ($3 - $4) }')
  ff=$(for f in "$dir"/viewers-*.out; do grep -v '"final":true' "$f" | tail -n 1; done |
       sed -n 's/.*"first_frame":{"n":[0-9]*,"p50":\([0-9]*\),"p95":\([0-9]*\)}.*/\1 \2/p' |
       awk '{ if ($1 > a) a = $1; if ($2 > b) b = $2 } END { printf "%d %d", a, b }')
  row audience "$n" server_cores="$acores" bots_cores="$(cores "$b0" "$b1" "$t0" "$t1")" \
    fps="$fps" loss_pct="$loss" lost="$lost" max_gap_ms="$gap" connected="$conn" failed="$fail" \
    srtp_failures="$srtp" auth_sample="$AUTH_SAMPLE" \
    millicores_per_viewer="$(echo "$marg" | awk '{printf "%.3f", $1 * 1000}')" \
    viewers_per_core="$(echo "$marg" | awk '{ if ($1 > 0) printf "%.0f", 1 / $1; else print "null" }')" \
    rss_mib="$(echo "$rss1" | awk '{printf "%.0f", $1 / 1024}')" \
    rss_mib_per_viewer="$(echo "$rss1 $prev_rss $n $prev_n" | awk '{printf "%.3f", ($1 - $2) / 1024 / ($3 - $4)}')" \
    first_frame_p50_ms="${ff% *}" first_frame_p95_ms="${ff#* }"
  prev_n=$n; prev_cores=$acores; prev_rss=$rss1
  if [ "$(echo "$fps $loss" | awk '{print ($1 < 29 || $2 > 0.5)}')" = 1 ] \
     || [ "$conn" -lt $((n * 99 / 100)) ]; then
    echo "audience: $n viewers missed the step (${fps} fps, ${loss}% lost, $conn of $n connected): stop" | tee -a "$dir/table"
    break
  fi
done
stop_bots
fi

# ---- 6. Audio-only room ----------------------------------------------------
# Lean audio-only participants (mixmeet-bot --viewers N --audio-only): each
# sends an Opus packet every 20 ms with its level, AUDIO_SPEAKERS of them a
# tone and the rest silence, and receives its mix.  The room grows step by
# step (AUDIO_STEPS); in each step's window a prober joins, chats and
# leaves once a second and times each REST request.
# rest_probe SECONDS FILE: "join|chat|leave HTTP_STATUS SECONDS" lines.
rest_probe() {
  end=$(($(date +%s) + $1)); i=0
  while [ "$(date +%s)" -lt "$end" ]; do
    i=$((i + 1))
    t=$(curl -s -o "$dir/probe.json" -w '%{http_code} %{time_total}' -XPOST \
      "$url/api/v1/rooms/$code/join" -H 'Content-Type: application/json' \
      -H "Authorization: Bearer $token" -d "{\"display_name\":\"probe $i\"}") || t="000 30"
    echo "join $t" >>"$2"
    secret=$(json secret <"$dir/probe.json"); msgs=$(json messages <"$dir/probe.json")
    leave=$(json leave <"$dir/probe.json")
    if [ -n "$secret" ] && [ -n "$msgs" ] && [ -n "$leave" ]; then
      t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -XPOST "$url$msgs" \
        -H 'Content-Type: application/json' -H "Authorization: Bearer $secret" \
        -d "{\"type\":\"chat\",\"text\":\"probe $i\"}") || t="000 30"
      echo "chat $t" >>"$2"
      t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -XPOST "$url$leave" \
        -H "Authorization: Bearer $secret") || t="000 30"
      echo "leave $t" >>"$2"
    fi
    sleep 1
  done
}
# audio_lines FILE: its last WINDOW lines a second (not the final ones).
audio_lines() { grep -v '"final":true' "$1" | grep '"audio":' | tail -n "$WINDOW"; }
if only audio; then
start_server
code=$(room audio)
prev=0; procs=; speakers_left=$AUDIO_SPEAKERS
for n in $AUDIO_STEPS; do
  add=$((n - prev))
  sp=$speakers_left; [ "$sp" -gt "$add" ] && sp=$add
  speakers_left=$((speakers_left - sp))
  bot "$dir/audio-$n.out" --room "$code" --name "a$n" --viewers "$add" --audio-only \
    --speakers "$sp" --window "$WINDOW"
  procs="$procs $last_bot"
  # Until every participant of the step is connected (or 60 s + 1 s per 4).
  i=0
  while [ "$i" -lt $((60 + add / 4)) ]; do
    c=$(tail -n 1 "$dir/audio-$n.out" 2>/dev/null | sed -n 's/.*"connected":\([0-9]*\).*/\1/p')
    [ "${c:-0}" -ge "$add" ] && break
    sleep 1; i=$((i + 1))
  done
  sleep "$WARMUP"
  profile "audio-$n"
  rm -f "$dir/rest-$n.txt"
  rest_probe "$WINDOW" "$dir/rest-$n.txt" &
  prober=$!
  s0=$(ticks "$srv"); b0=$(ticks $procs); t0=$(now)
  sleep "$WINDOW"
  s1=$(ticks "$srv"); b1=$(ticks $procs); t1=$(now)
  wait "$prober" 2>/dev/null || true
  # Connected now, and the fewest hearing the mix in any second of the
  # window (summed over the processes: a floor), the longest audio wait.
  connected=0; hearing=0; agap=0
  for f in "$dir"/audio-*.out; do
    c=$(audio_lines "$f" | tail -n 1 | sed -n 's/.*"connected":\([0-9]*\).*/\1/p')
    h=$(audio_lines "$f" | sed -n 's/.*"hearing":\([0-9]*\).*/\1/p' | sort -n | head -n 1)
    g=$(audio_lines "$f" | sed -n 's/.*"audio":{[^}]*"max_gap_ms":\([0-9]*\).*/\1/p' | sort -n | tail -n 1)
    connected=$((connected + ${c:-0})); hearing=$((hearing + ${h:-0}))
    [ "${g:-0}" -gt "$agap" ] && agap=${g:-0}
  done
  rest_ok=$(awk '$2 >= 200 && $2 < 300' "$dir/rest-$n.txt" | wc -l)
  rest_n=$(wc -l <"$dir/rest-$n.txt")
  rest_ms() { awk -v k="$1" '$1 == k || k == "all" {print $3 * 1000}' "$dir/rest-$n.txt"; }
  row audio "$n" server_cores="$(cores "$s0" "$s1" "$t0" "$t1")" \
    bots_cores="$(cores "$b0" "$b1" "$t0" "$t1")" connected="$connected" hearing="$hearing" \
    speakers="$AUDIO_SPEAKERS" max_audio_gap_ms="$agap" \
    rest_p50_ms="$(rest_ms all | pct 50)" rest_p95_ms="$(rest_ms all | pct 95)" \
    join_p95_ms="$(rest_ms join | pct 95)" chat_p95_ms="$(rest_ms chat | pct 95)" \
    leave_p95_ms="$(rest_ms leave | pct 95)" rest_ok="$rest_ok/$rest_n" \
    rss_mib="$(rss_kib "$srv" | awk '{printf "%.0f", $1 / 1024}')"
  prev=$n
done
stop_bots
fi

# ---- 7. Low-bandwidth receivers -------------------------------------------
# One publisher (a webrtcbin bot) and lean viewers in one meeting room:
# one unshaped, and one process per simulated link (mixmeet-bot --viewers 1
# --link KBPS[,QUEUE_MS[,LOSS]]: a token bucket of one MTU at KBPS, a
# drop-tail queue of 300 ms, random loss).  Each viewer says at its end
# the tier it settled on and, after that, its frame rate, freezes and
# audio gaps.  Then the server's cost per active tier: the same room grown
# one shaped viewer at a time (each link meant to bring in one more tier).
if only lowbw; then
LOWBW_LINKS="3000 600 250 80 600,300,3"
server_args="--video-bitrate 1200"   # the high tier's 1.2 Mbit/s
start_server
code=$(room lowbw)
bot "$dir/lowbw-pub.out" --room "$code" --name pub --no-decode --busy-picture
sleep "$WARMUP"
# link_case LINK: the case's name ("600,300,3" -> 600-3pct).
link_case() { echo "$1" | awk -F, '{ print $1 ($3 != "" ? "-" $3 "pct" : "") }'; }
# vfield FILE KEY: KEY of the viewer's line at its end (strings unquoted).
vfield() {
  grep '"viewer":' "$1" 2>/dev/null | tail -n 1 |
    sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p"
}
lpids=
bot "$dir/lowbw-unshaped.out" --room "$code" --name unshaped --viewers 1 \
  --duration "$LOWBW_S"
lpids="$lpids $last_bot"
for l in $LOWBW_LINKS; do
  bot "$dir/lowbw-$(link_case "$l").out" --room "$code" --name "link$(link_case "$l")" \
    --viewers 1 --link "$l" --duration "$LOWBW_S"
  lpids="$lpids $last_bot"
done
# The server's CPU once the viewers have settled, to a few seconds before
# they leave.
sleep 10
s0=$(ticks "$srv"); t0=$(now)
sleep $((LOWBW_S - 15))
s1=$(ticks "$srv"); t1=$(now)
for p in $lpids; do wait "$p" 2>/dev/null || true; done
row lowbw all server_cores="$(cores "$s0" "$s1" "$t0" "$t1")" \
  viewers="$(cat "$dir"/lowbw-*.out | grep -c '"viewer":' || true)"
echo "lowbw targets: unshaped high at >= 29 fps throughout; 250 kbit/s low within 5 s," \
  "no freeze over 300 ms after; 80 kbit/s audio-only, no audio gap over 100 ms" |
  tee -a "$dir/table"
for c in unshaped $(for l in $LOWBW_LINKS; do link_case "$l"; done); do
  f=$dir/lowbw-$c.out
  tier=$(vfield "$f" tier); settled=$(vfield "$f" settled_s); fps=$(vfield "$f" fps)
  freezes=$(vfield "$f" freezes); agap=$(vfield "$f" max_audio_gap_ms)
  changes=$(vfield "$f" tier_changes)
  # The target of the three cases that have one: met or missed.
  target=$(echo "$c $tier ${settled:-null} ${fps:-null} ${freezes:-null} ${agap:-null} ${changes:-null}" |
    awk '{ ok = -1
           if ($1 == "unshaped") ok = ($2 == "high" && $4 != "null" && $4 >= 29 && $7 == 0)
           if ($1 == "250") ok = ($2 == "low" && $3 != "null" && $3 <= 5 && $5 == 0)
           if ($1 == "80") ok = ($2 == "audio-only" && $6 != "null" && $6 <= 100)
           print ok < 0 ? "null" : (ok ? "met" : "missed") }')
  fgap=$(vfield "$f" max_frame_gap_ms); kbps=$(vfield "$f" video_kbps)
  drops=$(vfield "$f" queue_drops); agap_at=$(vfield "$f" max_audio_gap_at_s)
  fgap_at=$(vfield "$f" max_frame_gap_at_s); kfs=$(vfield "$f" keyframes)
  kfmax=$(vfield "$f" max_keyframe_bytes)
  row lowbw "$c" tier="${tier:-null}" settled_s="${settled:-null}" fps="${fps:-null}" \
    freezes="${freezes:-null}" max_frame_gap_ms="${fgap:-null}" \
    max_frame_gap_at_s="${fgap_at:-null}" keyframes="${kfs:-null}" \
    max_keyframe_bytes="${kfmax:-null}" \
    max_audio_gap_ms="${agap:-null}" max_audio_gap_at_s="${agap_at:-null}" \
    tier_changes="${changes:-null}" video_kbps="${kbps:-null}" queue_drops="${drops:-null}" target="$target"
done
stop_bots

# Cost per active tier: the publisher (which receives the composite) and
# an unshaped viewer, then one more viewer on 600, 250 and 80 kbit/s; each
# step over the window once it has settled.  "tiers" lists the viewers'
# tiers (the publisher's own is not known here).
start_server
server_args=
code=$(room lowbw-tiers)
bot "$dir/tiers-pub.out" --room "$code" --name pub --no-decode --busy-picture
bot "$dir/tiers-0.out" --room "$code" --name unshaped --viewers 1
prev=
i=0
for l in "" 600 250 80; do
  if [ -n "$l" ]; then
    i=$((i + 1))
    bot "$dir/tiers-$i.out" --room "$code" --name "link$l" --viewers 1 --link "$l"
  fi
  sleep "$WARMUP"
  s0=$(ticks "$srv"); t0=$(now); sleep "$WINDOW"; s1=$(ticks "$srv"); t1=$(now)
  c=$(cores "$s0" "$s1" "$t0" "$t1")
  # Each viewer's tier from its latest line's "tiers" counts.
  tiers=$(for f in "$dir"/tiers-[0-9]*.out; do
      grep -v '"final":true' "$f" | tail -n 1 |
        sed -n 's/.*"tiers":{\([^}]*\)}.*/\1/p' | tr ',' '\n' |
        sed -n 's/"\([^"]*\)":[1-9][0-9]*/\1/p'
    done | sort | uniq | tr '\n' '+' | sed 's/+$//')
  row lowbw "tiers-$i" link="${l:-none}" tiers="${tiers:-none}" server_cores="$c" \
    added_cores="$(echo "$c ${prev:-$c}" | awk '{ printf "%.3f", $1 - $2 }')"
  prev=$c
done
stop_bots
fi

# ---- 8. Latency as Chromium sees it ------------------------------------------
# bench/browser-latency.mjs in Debian's Chromium: a sender page blinks
# red/cyan every 700 ms with a tone while cyan, a receiver page notes when
# it presents and hears each change; peer to peer, then through a meeting
# room of this server, in one browser, BROWSER_S seconds each after a
# warm-up.  Added = through the room minus peer to peer (p50 and p95).
if only browser; then
if [ "$mode" = quick ]; then BROWSER_S=10; BROWSER_WARMUP=5; else BROWSER_S=25; BROWSER_WARMUP=5; fi
chromium=${CHROMIUM:-/usr/bin/chromium}
if ! command -v node >/dev/null 2>&1; then
  echo "browser: skipped, no node (apt-get install nodejs)" | tee -a "$dir/table"
elif [ ! -x "$chromium" ]; then
  echo "browser: skipped, no $chromium (apt-get install chromium)" | tee -a "$dir/table"
else
  [ -d tests/browser/node_modules/playwright-core ] ||
    (cd tests/browser && npm install --no-audit --no-fund >/dev/null 2>>"$dir/browser.err")
  start_server
  code=$(room browser)
  node bench/browser-latency.mjs "$url" "$code" --seconds "$BROWSER_S" \
    --warmup "$BROWSER_WARMUP" >"$dir/browser.json" 2>>"$dir/browser.err" || true
  # One line per row: CASE KEY=VALUE ...
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8") || "{}");
    const v = (x) => (x === null || x === undefined ? "null" : String(x).replace(/ /g, "_"));
    for (const c of ["p2p", "mixmeet"]) {
      const k = r[c];
      if (!k) { console.log(c + " error=" + v(r.error || "no_result")); continue; }
      const vs = k.video.stats, as = k.audio.stats;
      console.log([c, "changes=" + k.changes, "video_p50_ms=" + v(k.video.p50_ms),
        "video_p95_ms=" + v(k.video.p95_ms), "audio_p50_ms=" + v(k.audio.p50_ms),
        "audio_p95_ms=" + v(k.audio.p95_ms), "video_to_received_p50_ms=" + v(k.video.to_received_p50_ms),
        "video_jb_ms=" + v(vs.jitter_buffer_ms), "video_jb_target_ms=" + v(vs.target_ms),
        "video_jb_min_ms=" + v(vs.minimum_ms), "video_processing_ms=" + v(vs.processing_ms),
        "audio_jb_ms=" + v(as.jitter_buffer_ms), "audio_jb_target_ms=" + v(as.target_ms),
        "audio_jb_min_ms=" + v(as.minimum_ms), "audio_concealed_pct=" + v(as.concealed_pct),
        "sender_kbps=" + v(k.sender.kbps), "sender_fps=" + v(k.sender.fps_sent)].join(" "));
    }
    const a = r.added;
    if (a) {
      const met = a.video_p50_ms !== null && a.audio_p50_ms !== null
        && a.video_p50_ms <= 60 && a.audio_p50_ms <= 60;
      console.log(["added", "video_p50_ms=" + v(a.video_p50_ms), "video_p95_ms=" + v(a.video_p95_ms),
        "audio_p50_ms=" + v(a.audio_p50_ms), "audio_p95_ms=" + v(a.audio_p95_ms),
        "target=" + (met ? "met" : "missed")].join(" "));
    }' "$dir/browser.json" >"$dir/browser.rows" 2>>"$dir/browser.err" || true
  echo "browser target: added over peer to peer p50 <= 60 ms, video and audio" | tee -a "$dir/table"
  while read -r c rest; do
    # shellcheck disable=SC2086
    row browser "$c" $rest
  done <"$dir/browser.rows"
fi
fi

# ---- results ----------------------------------------------------------------
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
out=${BENCH_OUT:-bench/results/$(date -u +%Y%m%d-%H%M)-$commit.json}
mkdir -p "$(dirname "$out")"
printf '{"mode":"%s","date":"%s","commit":"%s","cores":%s,"kernel":"%s","rows":[%s]}\n' \
  "$mode" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$commit" "$(nproc)" "$(uname -r)" "$rows" >"$out"
echo "results: $out"
