#!/bin/sh
# unit.sh — the web client's unit tests (Vitest) as one TAP test for make check.
# Runs from the build directory (www/ there holds node_modules), or from www/.
dir=www
[ -d "$dir/node_modules" ] || dir=$(dirname "$0")
echo "1..1"
if out=$(cd "$dir" && NO_COLOR=1 CI=true npm test 2>&1); then
  printf '%s\n' "$out" | sed 's/^/# /'
  echo "ok 1 - vitest (www/test)"
else
  printf '%s\n' "$out" | sed 's/^/# /'
  echo "not ok 1 - vitest (www/test)"
fi
