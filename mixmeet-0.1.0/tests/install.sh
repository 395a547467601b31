#!/bin/sh
# tests/install.sh — what `make install` puts in place is complete.
#
# Every migration in sql/ and every pipeline in pipelines/ is in the
# install lists of Makefile.am, and really lands under $(pkgdatadir) with
# `make install DESTDIR=...`; so do the man pages, the configuration file
# and the systemd unit, which systemd-analyze accepts (when it is there).
# Prints TAP.
set -u
srcdir=${MM_TEST_SRCDIR:-.}
make=${MAKE:-make}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mixmeet-install-XXXXXX")
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; }

# 1. The lists in Makefile.am name every file of sql/ and pipelines/.
for f in "$srcdir"/sql/*.sql "$srcdir"/pipelines/*.pipeline; do
  rel=${f#"$srcdir"/}
  if grep -q "^[[:space:]]*$rel[[:space:]]*\\\\\$" "$srcdir/Makefile.am"; then
    ok "$rel is in an install list of Makefile.am"
  else
    not_ok "$rel is missing from the install lists of Makefile.am (dist_sql_DATA / dist_pipelines_DATA)"
  fi
done

# 2. make install puts them (and the rest) in place.
if ! $make install DESTDIR="$tmp/root" >"$tmp/install.log" 2>&1; then
  not_ok "make install DESTDIR=... succeeds"
  sed 's/^/# /' "$tmp/install.log" | tail -20
  echo "1..$n"
  exit 1
fi
ok "make install DESTDIR=... succeeds"
share=$(find "$tmp/root" -type d -path '*/share/mixmeet' | head -1)
for f in "$srcdir"/sql/*.sql "$srcdir"/pipelines/*.pipeline; do
  rel=${f#"$srcdir"/}
  if [ -n "$share" ] && cmp -s "$f" "$share/$rel"; then
    ok "$rel is installed"
  else
    not_ok "$rel is not installed under share/mixmeet"
  fi
done
for want in bin/mixmeetd bin/mixmeet-bot etc/mixmeet/mixmeetd.conf share/man/man8/mixmeetd.8 \
            share/man/man1/mixmeet-bot.1 lib/systemd/system/mixmeetd.service; do
  if [ -n "$(find "$tmp/root" -path "*/$want" | head -1)" ]; then
    ok "$want is installed"
  else
    not_ok "$want is not installed"
  fi
done

# The installed server refuses a misspelt setting, naming file, line and key.
bin_d=$(find "$tmp/root" -path '*/bin/mixmeetd' | head -1)
printf '[server]\nport = 8080\nlisten-adress = 0.0.0.0\n' > "$tmp/bad.conf"
out=$("$bin_d" --config "$tmp/bad.conf" 2>&1)
rc=$?
case "$rc:$out" in
  0:*) not_ok "mixmeetd started with an unknown setting in its config" ;;
  *"$tmp/bad.conf:3: [server] listen-adress: unknown setting"*)
    ok "mixmeetd refuses an unknown setting, naming file, line and key" ;;
  *) not_ok "mixmeetd's message for an unknown setting: $out" ;;
esac

# 3. The unit names the installed binary and config, and systemd accepts it.
unit=$(find "$tmp/root" -path '*/lib/systemd/system/mixmeetd.service' | head -1)
if [ -n "$unit" ]; then
  bin=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$unit")
  conf=$(sed -n 's/^ExecStart=.*--config \([^ ]*\).*/\1/p' "$unit")
  if [ -f "$tmp/root$bin" ] && [ -f "$tmp/root$conf" ]; then
    ok "the unit starts the installed mixmeetd with the installed config"
  else
    not_ok "the unit's ExecStart ($bin --config $conf) does not match what was installed"
  fi
  if command -v systemd-analyze >/dev/null 2>&1; then
    # verify checks that ExecStart is executable on this system: point it at
    # the staged binary; every other line is checked as installed.
    mkdir -p "$tmp/verify"
    sed "s|^ExecStart=$bin|ExecStart=$tmp/root$bin|" "$unit" > "$tmp/verify/mixmeetd.service"
    man=$(find "$tmp/root" -type d -path '*/share/man' | head -1)
    out=$(MANPATH="$man:" systemd-analyze verify "$tmp/verify/mixmeetd.service" 2>&1)
    if [ $? -eq 0 ] && [ -z "$out" ]; then
      ok "systemd-analyze verify accepts mixmeetd.service"
    else
      not_ok "systemd-analyze verify: $out"
    fi
  else
    ok "# SKIP systemd-analyze is not installed (Debian package systemd)"
  fi
fi
echo "1..$n"
exit $failed
