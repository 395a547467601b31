#!/bin/sh
# tests/quickstart-run.sh — the README's first command serves.
#
# Starts `./quickstart.sh run` on a free port with a state directory of its
# own, waits for /readyz, signs up, creates a room, has a mixmeet-bot join it
# and receive the composite with its own colour in it, then stops the server
# with SIGTERM and checks it exits cleanly.  Used by .ci/run after the tests;
# run it by hand from the top of the tree.  Exit status 0 on success.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
# The state directory must be reachable by the postgres user (tests/pg.sh).
state=$(mktemp -d /tmp/mixmeet-run-XXXXXX)
chmod 755 "$state"
log=$state/server.log
server=

say() { printf 'quickstart-run: %s\n' "$*"; }
fail() {
  say "FAILED: $*"
  echo "--- last lines of the server's output:"
  tail -40 "$log" 2>/dev/null || true
  exit 1
}
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  sh tests/pg.sh stop "$state/pg" >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT

# A free TCP port on loopback.
port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
base=http://127.0.0.1:$port

say "starting ./quickstart.sh run on port $port"
MIXMEET_PORT=$port MIXMEET_STATE_DIR=$state ./quickstart.sh run >"$log" 2>&1 &
server=$!

# The first run may build: allow it time, but stop as soon as it is ready.
ready=
for i in $(seq 1 600); do
  if ! kill -0 "$server" 2>/dev/null; then fail "quickstart.sh run exited before serving"; fi
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200 ]; then ready=1; break; fi
  sleep 1
done
[ -n "$ready" ] || fail "/readyz did not answer 200 within 600 s"
say "ready"

# The web client is served.
curl -sf "$base/" | grep -q '<div id="root">' || fail "GET / does not serve the web client"

# Sign up, create a room.
email="ci-$(date +%s)@example.com"
reg=$(curl -sf -H 'Content-Type: application/json' \
  -d "{\"name\":\"CI\",\"email\":\"$email\",\"password\":\"correct horse battery\"}" \
  "$base/api/v1/auth/register") || fail "register failed"
token=$(printf '%s' "$reg" | sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')
[ -n "$token" ] || fail "no token in $reg"
room=$(curl -sf -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
  -d '{"title":"CI","mode":"meeting"}' "$base/api/v1/rooms") || fail "creating a room failed"
code=$(printf '%s' "$room" | sed -n 's/.*"code" *: *"\([a-z-]*\)".*/\1/p')
[ -n "$code" ] || fail "no room code in $room"
say "room $code"

# A bot joins and must see the composite, with its own magenta tile.
./mixmeet-bot --server "$base" --room "$code" --name ci --color ff00ff --duration 40 \
  >"$state/bot.out" 2>"$state/bot.err" &
bot=$!
seen=
for i in $(seq 1 40); do
  sleep 1
  if grep '"frames":[1-9]' "$state/bot.out" | grep -q '"rgb":\[2[0-9][0-9],[0-9]\{1,2\},2[0-9][0-9]\]'; then
    seen=1
    break
  fi
done
kill "$bot" 2>/dev/null || true
wait "$bot" 2>/dev/null || true
if [ -z "$seen" ]; then
  echo "--- bot output:"; tail -5 "$state/bot.out"; tail -20 "$state/bot.err"
  fail "the bot never received the composite with its own tile"
fi
say "the bot received the composite with its own tile"

# SIGTERM: a clean exit.
kill -TERM "$server"
rc=0
wait "$server" || rc=$?
server=
[ "$rc" -eq 0 ] || fail "mixmeetd exited with status $rc after SIGTERM"
say "stopped cleanly"
