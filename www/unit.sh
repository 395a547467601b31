#!/bin/sh
# unit.sh — the web client's unit tests (Vitest) as one TAP test for make check.
# Runs from the build directory (www/ there holds node_modules), or from www/.
dir=www
[ -d "$dir/node_modules" ] || dir=$(dirname "$0")
echo "1..1"
# Generous per-test limits: a busy machine runs them slower (speed is not
# what they test).
if out=$(cd "$dir" && NO_COLOR=1 CI=true npm test -- --testTimeout=60000 --hookTimeout=60000 2>&1); then
  printf '%s\n' "$out" | sed 's/^/# /'
  echo "ok 1 - vitest (www/test)"
else
  printf '%s\n' "$out" | sed 's/^/# /'
  echo "not ok 1 - vitest (www/test)"
fi
