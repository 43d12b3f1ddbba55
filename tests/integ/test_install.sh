#!/usr/bin/env bash
# test_install.sh: make install and make uninstall into a staging root
# (DESTDIR), and the systemd unit they install.
#
#   - install puts binaries, manual pages (whatever man/ holds), the
#     example as /etc/herald/herald.ini, the unit, the sysusers.d and
#     logrotate snippets and the state directory where they belong, with
#     their modes; the installed herald checks the installed config;
#   - a second install keeps an edited herald.ini;
#   - uninstall leaves the root exactly as it was before install (a file
#     of someone else's and the standard directories stay), but keeps an
#     edited config and a state directory holding a database;
#   - the unit, installed with real paths, passes systemd-analyze verify
#     (and a broken copy of it does not).
. "$(dirname "$0")/lib.sh"

if [ "$HERALD_STANDIN" = nghttpx ]; then
  skip "install" "herald's own files; no stand-in"
  finish
fi

# mk TARGET...: make in the tree with this build directory. Nothing may
# need building (a test must not rebuild with other flags): check first.
# MAKEFLAGS from an enclosing make is dropped (its jobserver is not ours).
mk() { MAKEFLAGS= make -s --no-print-directory -C "$ROOT" B="$B" "$@"; }
if ! MAKEFLAGS= make -q --no-print-directory -C "$ROOT" B="$B" all 2>/dev/null; then
  fail "the build is up to date" "make -q all says something needs building in $B"
  finish
fi

D=$WORK/root
# snapshot: every path under $D with its type, mode and content hash.
snapshot() {
  (cd "$D" && find . -printf '%p %y %m\n' | sort | while read -r p t m; do
    if [ "$t" = f ]; then echo "$p $t $m $(md5sum <"$p" | cut -c1-12)"; else echo "$p $t $m"; fi
  done)
}
# A system that already has the standard directories and someone else's
# program in sbin.
mkdir -p "$D/usr/local/sbin" "$D/usr/local/share/man/man8" "$D/usr/local/share/man/man5" \
  "$D/usr/local/share/doc" \
  "$D/etc/logrotate.d" "$D/var/lib" "$D/usr/local/lib/systemd/system" \
  "$D/usr/local/lib/sysusers.d"
echo other >"$D/usr/local/sbin/other"
before=$(snapshot)

out=$(mk install DESTDIR="$D" 2>&1)
assert_eq "make install DESTDIR=... succeeds" 0 $?
# mode PATH: octal mode.
mode() { stat -c %a "$D/$1" 2>/dev/null || echo missing; }
assert_eq "sbin/herald 755" 755 "$(mode usr/local/sbin/herald)"
assert_eq "sbin/heraldctl 755" 755 "$(mode usr/local/sbin/heraldctl)"
check "the installed herald is the build's" cmp -s "$B/herald" "$D/usr/local/sbin/herald"
assert_eq "etc/herald/herald.ini 644" 644 "$(mode etc/herald/herald.ini)"
check "herald.ini is the shipped example" cmp -s "$ROOT/config/herald.ini.example" "$D/etc/herald/herald.ini"
assert_eq "the example is also in the doc dir" 644 "$(mode usr/local/share/doc/herald/herald.ini.example)"
assert_eq "and the README" 644 "$(mode usr/local/share/doc/herald/README.md)"
assert_eq "the state directory, 750" 750 "$(mode var/lib/herald)"
assert_eq "the unit" 644 "$(mode usr/local/lib/systemd/system/herald.service)"
assert_eq "the sysusers.d snippet" 644 "$(mode usr/local/lib/sysusers.d/herald.conf)"
check "the logrotate snippet" cmp -s "$ROOT/tools/logrotate/herald" "$D/etc/logrotate.d/herald"
unit=$(cat "$D/usr/local/lib/systemd/system/herald.service")
assert_contains "the unit starts the installed herald with the installed config" \
  "ExecStart=/usr/local/sbin/herald -c /etc/herald/herald.ini" "$unit"
nman=0
for m in "$ROOT"/man/*.[1-8]; do
  [ -f "$m" ] || continue
  nman=$((nman + 1))
  n=${m##*/}
  check "manual page $n installed" cmp -s "$m" "$D/usr/local/share/man/man${n##*.}/$n"
done
assert_eq "the three manual pages are in the tree and installed" 3 "$nman"

# ---- the manual pages: they render cleanly and are the reference -----------------

for m in "$ROOT"/man/*.[1-8]; do
  n=${m##*/}
  out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null)
  assert_eq "man --warnings -l man/$n: no warnings" "" "$out"
  out=$(groff -ww -man -z "$m" 2>&1)
  assert_eq "groff -ww -man -z man/$n: no warnings" "" "$out"
done
check "man -l renders herald(8)" bash -c "MANWIDTH=80 man -l '$ROOT/man/herald.8' 2>/dev/null | grep -q '^SIGNALS'"
# Every key of the example configuration is an entry of herald.ini(5).
missing=""
for k in $(grep -oE '^;?[a-z_0-9]+ =' "$ROOT/config/herald.ini.example" | tr -d ';= ' | sort -u); do
  awk -v k="$k" 'prev == ".TP" && index($0, "\\fB" k "\\fR") { f = 1 } { prev = $0 } END { exit !f }' \
    "$ROOT/man/herald.ini.5" || missing="$missing $k"
done
assert_eq "herald.ini(5) has an entry for every key of herald.ini.example" "" "$missing"
# Every heraldctl command and flag is in heraldctl(8).
ctl8=$(MANWIDTH=200 man -l "$ROOT/man/heraldctl.8" 2>/dev/null)
missing=""
for w in pages rules explain simulate stats threshold min-visits budget max-resources \
  mode pin block unpin learn export import --db --config --json --wide -o --live \
  --class --route --channel --threshold --step --min-visits --since --page --help --version; do
  grep -qE -- "(^| )$w( |,|\$)" <<<"$ctl8" || missing="$missing $w"
done
assert_eq "heraldctl(8) has every command and option" "" "$missing"
# Every metric herald exports is in herald(8).
h8=$(MANWIDTH=200 man -l "$ROOT/man/herald.8" 2>/dev/null)
missing=""
for mtr in $(grep -oE '"herald_[a-z0-9_]+' "$ROOT/proxy/admin.c" | tr -d '"' |
  sed -E 's/_(bucket|count|sum)$//' | sort -u); do
  grep -q -- "$mtr" <<<"$h8" || missing="$missing $mtr"
done
assert_eq "herald(8) lists every metric of /metrics" "" "$missing"
for s in SIGHUP SIGUSR1 SIGTERM "EXIT STATUS" FILES /rules /healthz; do
  assert_contains "herald(8) documents $s" "$s" "$h8"
done
out=$("$D/usr/local/sbin/herald" -t -c "$D/etc/herald/herald.ini" 2>&1)
assert_eq "the installed herald passes -t on the installed config" \
  "herald: configuration $D/etc/herald/herald.ini is ok" "$out"
out=$("$D/usr/local/sbin/herald" --help 2>&1)
assert_contains "the installed herald reads /etc/herald/herald.ini without -c" \
  "default: /etc/herald/herald.ini" "$out"

# An edited configuration survives a second install.
echo "; edited" >>"$D/etc/herald/herald.ini"
out=$(mk install DESTDIR="$D" 2>&1)
assert_contains "a second install keeps the edited herald.ini" "keeping $D/etc/herald/herald.ini" "$out"
assert_eq "and does not touch it" "; edited" "$(tail -1 "$D/etc/herald/herald.ini")"
# Uninstall keeps what is the operator's: an edited config, a database.
touch "$D/var/lib/herald/herald.db"
out=$(mk uninstall DESTDIR="$D" 2>&1)
assert_eq "make uninstall succeeds" 0 $?
assert_contains "uninstall keeps the edited config" "keeping $D/etc/herald/herald.ini: it was changed" "$out"
assert_contains "and a state directory with a database" "keeping $D/var/lib/herald: it is not empty" "$out"
[ -e "$D/usr/local/sbin/herald" ] && fail "uninstall removes the binaries" "still there" ||
  ok "uninstall removes the binaries"
rm -f "$D/etc/herald/herald.ini" "$D/var/lib/herald/herald.db"
rmdir "$D/etc/herald" "$D/var/lib/herald"
assert_eq "with those removed by hand, the root is as before" "$before" "$(snapshot)"

# The plain round trip leaves nothing behind and takes nothing away.
mk install DESTDIR="$D" >/dev/null 2>&1
mk uninstall DESTDIR="$D" >/dev/null 2>&1
after=$(snapshot)
assert_eq "install then uninstall: the root is exactly as before" "$before" "$after"
assert_contains "someone else's file stays" "./usr/local/sbin/other f" "$after"

# MANPAGES is the hook for the manual pages: each goes to its section.
printf '.TH HERALD 8\n' >"$WORK/herald.8"
printf '.TH HERALD.INI 5\n' >"$WORK/herald.ini.5"
M=(MANPAGES="$WORK/herald.8 $WORK/herald.ini.5")
mk install DESTDIR="$D" "${M[@]}" >/dev/null 2>&1
assert_eq "a section 8 page goes to man8" 644 "$(mode usr/local/share/man/man8/herald.8)"
assert_eq "a section 5 page goes to man5" 644 "$(mode usr/local/share/man/man5/herald.ini.5)"
mk uninstall DESTDIR="$D" "${M[@]}" >/dev/null 2>&1
assert_eq "uninstall removes the pages it installed" "$before" "$(snapshot)"

# ---- the unit ---------------------------------------------------------------

if ! command -v systemd-analyze >/dev/null 2>&1; then
  fail "systemd-analyze installed" "make deps (package systemd)"
  finish
fi
# Installed with real paths, so systemd-analyze can find the binary and,
# through MANPATH, the manual pages the unit's Documentation= names.
P=$WORK/prefix
mk install PREFIX="$P/usr" SYSCONFDIR="$P/etc" LOCALSTATEDIR="$P/var" >/dev/null 2>&1
U=$P/usr/lib/systemd/system/herald.service
assert_contains "PREFIX and SYSCONFDIR reach the unit" \
  "ExecStart=$P/usr/sbin/herald -c $P/etc/herald/herald.ini" "$(cat "$U")"
out=$(MANPATH="$P/usr/share/man" systemd-analyze verify --man=yes "$U" 2>&1)
assert_eq "systemd-analyze verify: the unit is valid, its manual pages there" "0:" "$?:$out"
u=$(cat "$U")
for k in Type=notify "ExecReload=/bin/kill -HUP \$MAINPID" User=herald ProtectSystem=strict \
  StateDirectory=herald NoNewPrivileges=yes CapabilityBoundingSet=CAP_NET_BIND_SERVICE \
  AmbientCapabilities=CAP_NET_BIND_SERVICE PrivateTmp=yes; do
  assert_contains "the unit has $k" "$k" "$u"
done
mkdir -p "$WORK/broken"
sed -e 's/^Type=notify/Type=notifyy/' -e 's/^User=/Usr=/' "$U" >"$WORK/broken/herald.service"
out=$(systemd-analyze verify --man=no "$WORK/broken/herald.service" 2>&1)
assert_ne "and a broken copy does not pass verify" "0:" "$?:$out"
assert_contains "which names the bad line" "Failed to parse service type" "$out"
mk uninstall PREFIX="$P/usr" SYSCONFDIR="$P/etc" LOCALSTATEDIR="$P/var" >/dev/null 2>&1
assert_eq "uninstall from a PREFIX leaves only its empty standard directories" "" \
  "$(find "$P" -type f)"

finish
