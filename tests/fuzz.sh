#!/bin/sh
# tests/fuzz.sh — run each libFuzzer target of tests/fuzz/ for a while.
#
# MM_FUZZ_TARGETS names them (tests/fuzz/Makefile.inc; empty when configure
# found no clang with libFuzzer), MM_FUZZ_SECONDS is how long each runs.
# The corpus a target grows is kept in tests/fuzz/corpus-NAME of the build
# tree, seeded from tests/fuzz/corpus/NAME of the source tree; a crash
# leaves its input as tests/fuzz/crash-NAME-*.  Prints TAP.
set -u
srcdir=${MM_TEST_SRCDIR:-.}
targets=${MM_FUZZ_TARGETS:-}
seconds=${MM_FUZZ_SECONDS:-10}

if [ -z "$targets" ]; then
  echo "1..0 # SKIP clang with libFuzzer not found"
  exit 0
fi

set -- $targets
echo "1..$#"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mixmeet-fuzz-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0
for t in $targets; do
  n=$((n + 1))
  corpus=tests/fuzz/corpus-$t
  mkdir -p "$corpus"
  seeds=
  [ -d "$srcdir/tests/fuzz/corpus/$t" ] && seeds=$srcdir/tests/fuzz/corpus/$t
  # New inputs go to the first directory only: the seeds stay as they are.
  if tests/fuzz/fuzz-$t -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="tests/fuzz/crash-$t-" \
       "$corpus" $seeds >"$tmp/$t.log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$t.log")
    cov=$(grep '^#.*DONE' "$tmp/$t.log" | sed 's/.*\(cov: [0-9]*\).*\(corp: [^ ]*\).*/\1, \2/')
    echo "ok $n - fuzz-$t: ${runs:-?} runs in $seconds s, nothing found (${cov:-?})"
  else
    failed=1
    echo "not ok $n - fuzz-$t found something: tests/fuzz/crash-$t-*"
    tail -n 60 "$tmp/$t.log" | sed 's/^/# /'
  fi
done
exit $failed
