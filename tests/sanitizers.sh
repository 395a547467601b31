#!/bin/sh
# tests/sanitizers.sh — the sanitizer build, as CI runs it: the release
# tarball (make dist) configured with --enable-sanitizers
# (AddressSanitizer, UndefinedBehaviorSanitizer, LeakSanitizer) in a
# build tree of its own, and the unit, HTTP and signalling tests run
# against that mixmeetd.  Any sanitizer report fails the run: ASan and
# UBSan stop the process at the first (halt_on_error), LeakSanitizer
# makes it exit non-zero.  tests/lsan.supp names the one-time
# allocations of GLib and GStreamer that live until exit by design.
#
#   sh tests/sanitizers.sh [TARBALL]     (default: the newest mixmeet-*.tar.gz,
#                                         else make dist makes one)
#
# MM_SANITIZER_TESTS overrides the test programs; the build tree is
# left in sanitizers/ for a look at the logs.  .ci/run runs it after
# make distcheck, on distcheck's tarball.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
tarball=${1:-}
if [ -z "$tarball" ]; then
  tarball=$(ls -t mixmeet-*.tar.gz 2>/dev/null | head -n 1 || true)
  if [ -z "$tarball" ]; then
    make dist >/dev/null
    tarball=$(ls -t mixmeet-*.tar.gz | head -n 1)
  fi
fi
tests=${MM_SANITIZER_TESTS:-"tests/unit-core tests/unit-http tests/unit-transport
  tests/unit-dtls tests/unit-srtp tests/unit-sdp tests/unit-rtcp tests/unit-bwe tests/unit-lean
  tests/unit-media tests/test-auth tests/test-rooms tests/test-signal tests/test-input
  tests/test-limits"}

rm -rf sanitizers
mkdir sanitizers
tar -xzf "$tarball" -C sanitizers
cd sanitizers/mixmeet-*/
./configure --enable-sanitizers --disable-web-client >configure.log 2>&1 ||
  { tail -n 30 configure.log >&2; exit 1; }
make -j"$(nproc)" >build.log 2>&1 || { tail -n 50 build.log >&2; exit 1; }
# Full stacks for leaks (the fast unwinder stops in libraries built
# without frame pointers, and the suppressions match on frames).
ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:fast_unwind_on_malloc=0:strict_string_checks=1:detect_stack_use_after_return=1
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
LSAN_OPTIONS=suppressions=$top/tests/lsan.supp:print_suppressions=0
# GLib's slice allocator hides leaks and use after free from ASan.
G_SLICE=always-malloc
G_DEBUG=gc-friendly
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS G_SLICE G_DEBUG
rc=0
make -j"$(nproc)" check TESTS="$(echo $tests)" || rc=$?
# A report in a process the tests started (mixmeetd, mixmeet-bot) ends up
# in the test's log, not always in its exit status.
if grep -l -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" tests/*.log \
     2>/dev/null; then
  echo "sanitizers: reports in the logs above" >&2
  rc=1
fi
exit $rc
