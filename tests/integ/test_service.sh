#!/usr/bin/env bash
# test_service.sh: herald as an installed service: the default
# configuration file, starting as root, binding a low port and dropping to
# [server] user, the sd_notify protocol, and one herald per database.
#
# Needs root (users, a private mount namespace for /etc, port 443);
# without it the checks are skipped.
. "$(dirname "$0")/lib.sh"

if [ "$HERALD_STANDIN" = nghttpx ]; then
  skip "service checks" "herald's own behaviour; no stand-in"
  finish
fi
if [ "$(id -u)" != 0 ]; then
  skip "service checks" "need root"
  finish
fi
HERALD=$B/herald
start_fault_backend || finish

# private_etc CMD...: CMD in a private mount namespace whose /etc is an
# overlay on the real one, so it can have its own /etc/herald/herald.ini
# and nothing it writes there outlives it. It execs CMD (no fork), so $!
# of a backgrounded private_etc is CMD's pid.
private_etc() {
  mkdir -p "$WORK/ov"
  unshare -m sh -c 'mount -t tmpfs tmpfs "$1" && mkdir "$1/up" "$1/work" &&
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/up,workdir=$1/work" /etc &&
    shift && exec "$@"' sh "$WORK/ov" "$@"
}

# ---- the default configuration file ----------------------------------------

if ! private_etc true 2>"$WORK/unshare.err"; then
  skip "default configuration file" "no private mount namespace: $(cat "$WORK/unshare.err")"
else
  DP=$(free_port)
  printf '[listener:a]\nlisten = 127.0.0.1:%s\n[backend:app]\nserver = 127.0.0.1:%s\n' \
    "$DP" "$FB_PORT" >"$WORK/default.ini"
  private_etc sh -c 'mkdir -p /etc/herald && cp "$1" /etc/herald/herald.ini &&
    exec "$2"' sh "$WORK/default.ini" "$HERALD" >>"$HERALD_LOG" 2>&1 &
  DPID=$!
  track_pid "$DPID"
  if wait_port "$DP" 127.0.0.1 10 "$DPID"; then
    out=$(hcurl -w '%{http_code}' "http://127.0.0.1:$DP/ok" 2>&1)
    assert_eq "herald without -c serves from /etc/herald/herald.ini" ok200 "$out"
    assert_contains "it logs which file it read" \
      "configuration: /etc/herald/herald.ini" "$(cat "$HERALD_LOG")"
  else
    fail "herald without -c starts from /etc/herald/herald.ini" "$(tail -5 "$HERALD_LOG")"
  fi
  stop_pid "$DPID"

  out=$(private_etc sh -c 'rm -rf /etc/herald; exec "$1" -t' sh "$HERALD" 2>&1)
  assert_eq "without the file or flags, herald -t exits 1" 1 $?
  assert_contains "and says what is missing and what to do" \
    "no configuration: /etc/herald/herald.ini does not exist; give -c FILE, or --listen" "$out"
  out=$(private_etc sh -c 'rm -rf /etc/herald; exec "$1"' sh "$HERALD" 2>&1)
  assert_eq "without the file or flags, herald exits 1" 1 $?
  # A one-liner does not read the file even when it exists.
  DP2=$(free_port)
  out=$(private_etc sh -c 'mkdir -p /etc/herald && cp "$1" /etc/herald/herald.ini &&
    exec "$2" -t --listen "$3" --backend 127.0.0.1:1' sh "$WORK/default.ini" "$HERALD" "$DP2" 2>&1)
  assert_eq "a one-liner ignores the default file" \
    "herald: configuration (flags) is ok" "$out"
fi

finish
