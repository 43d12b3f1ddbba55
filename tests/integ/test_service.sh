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
# mktemp made $WORK private; the service user must reach its state dir.
chmod 755 "$WORK"

# status_field PID NAME: a line of /proc/PID/status without its name.
status_field() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }

# private_etc CMD...: becomes CMD (exec) in a private mount namespace
# whose /etc is an overlay on the real one, so it can have its own
# /etc/herald/herald.ini and nothing it writes there outlives it. Call it
# in a subshell, "(private_etc ...) &": every step execs, so $! is CMD's
# pid.
private_etc() {
  mkdir -p "$WORK/ov"
  exec unshare -m sh -c 'mount -t tmpfs tmpfs "$1" && mkdir "$1/up" "$1/work" &&
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/up,workdir=$1/work" /etc &&
    shift && exec "$@"' sh "$WORK/ov" "$@"
}

# ---- the default configuration file ----------------------------------------

if ! (private_etc true) 2>"$WORK/unshare.err"; then
  skip "default configuration file" "no private mount namespace: $(cat "$WORK/unshare.err")"
else
  DP=$(free_port)
  printf '[listener:a]\nlisten = 127.0.0.1:%s\n[backend:app]\nserver = 127.0.0.1:%s\n' \
    "$DP" "$FB_PORT" >"$WORK/default.ini"
  (private_etc sh -c 'mkdir -p /etc/herald && cp "$1" /etc/herald/herald.ini &&
    exec "$2"' sh "$WORK/default.ini" "$HERALD") >>"$HERALD_LOG" 2>&1 &
  DPID=$!
  track_pid "$DPID"
  if wait_port "$DP" 127.0.0.1 10 "$DPID"; then
    assert_eq "the pid is herald's" "$HERALD" "$(readlink "/proc/$DPID/exe")"
    out=$(hcurl -w '%{http_code}' "http://127.0.0.1:$DP/ok" 2>&1)
    assert_eq "herald without -c serves from /etc/herald/herald.ini" ok200 "$out"
    assert_contains "it logs which file it read" \
      "configuration: /etc/herald/herald.ini" "$(cat "$HERALD_LOG")"
  else
    fail "herald without -c starts from /etc/herald/herald.ini" "$(tail -5 "$HERALD_LOG")"
  fi
  stop_pid "$DPID"
  check "and it is gone once stopped" wait_pid_exit "$DPID" 5

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

# ---- sd_notify ----------------------------------------------------------------

# A stand-in for systemd's notification socket: every datagram, one line
# each (newlines inside shown as '|').
cat >"$WORK/notify.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
addr = sys.argv[1]
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
out = open(sys.argv[2], "a", buffering=1)
out.write("bound\n")
while True:
    out.write(s.recv(4096).decode().replace("\n", "|") + "\n")
PY
# notify_run SOCKET: the listener, logging to $NLOG; returns once bound.
notify_run() {
  NLOG=$WORK/notify.$RANDOM.log
  python3 "$WORK/notify.py" "$1" "$NLOG" &
  track_pid $!
  wait_for "$NLOG" bound
}

NP=$(free_port)
AP=$(free_port)
printf '[listener:a]\nlisten = 127.0.0.1:%s\n[backend:app]\nserver = 127.0.0.1:%s\n[admin]\nlisten = %s\n' \
  "$NP" "$FB_PORT" "$AP" >"$WORK/notify.ini"
notify_run "$WORK/notify.sock"
export NOTIFY_SOCKET=$WORK/notify.sock
start_herald -c "$WORK/notify.ini" || finish
check "READY=1 once serving, with the pid" wait_for "$NLOG" "READY=1|STATUS=serving|MAINPID=$HERALD_PID"
kill -HUP "$HERALD_PID"
check "SIGHUP: RELOADING=1 (with MONOTONIC_USEC)" wait_for "$NLOG" "RELOADING=1|MONOTONIC_USEC="
check "then READY=1 once the reload is in force" wait_for "$NLOG" "$(printf 'READY=1|STATUS=serving\n')"
sleep 0.2
assert_eq "in that order" "bound READY RELOADING READY" "$(cut -d= -f1 "$NLOG" | tr '\n' ' ' | sed 's/ $//')"
printf '[limits]\nno_such = key\n' >>"$WORK/notify.ini"
kill -HUP "$HERALD_PID"
check "a failed reload is READY=1 again, saying so" wait_for "$NLOG" \
  "READY=1|STATUS=serving; the last reload failed, the previous configuration stays"
kill -TERM "$HERALD_PID"
check "SIGTERM: STOPPING=1" wait_for "$NLOG" "STOPPING=1|STATUS=draining"
wait_pid_exit "$HERALD_PID" 10
# The abstract namespace ('@' names), as systemd may use it.
notify_run "@herald-test-$$"
export NOTIFY_SOCKET=@herald-test-$$
start_herald --listen "$NP" --backend "127.0.0.1:$FB_PORT" || finish
check "READY=1 on an abstract socket" wait_for "$NLOG" "READY=1|STATUS=serving|MAINPID=$HERALD_PID"
stop_pid "$HERALD_PID"
unset NOTIFY_SOCKET

# ---- one herald per database ---------------------------------------------------

DB=$WORK/one.db
P1=$(free_port)
P2=$(free_port)
start_herald --listen "$P1" --backend "127.0.0.1:$FB_PORT" --db "$DB" || finish
FIRST=$HERALD_PID
out=$(timeout 10 "$HERALD" --listen "$P2" --backend "127.0.0.1:$FB_PORT" --db "$DB" 2>&1)
assert_eq "a second herald on the same database exits 1" 1 $?
assert_contains "naming the database, the running pid and the lock file" \
  "database $DB is in use by herald pid $FIRST (lock file $DB.lock); one herald per database" "$out"
if (exec 3<>"/dev/tcp/127.0.0.1/$P2") 2>/dev/null; then
  fail "the second herald bound nothing" "port $P2 accepts"
else ok "the second herald bound nothing"; fi
assert_eq "the lock file holds the pid" "$FIRST" "$(cat "$DB.lock")"
check "the first herald keeps serving" herald_alive
# heraldctl reads and tunes the database of a running herald.
out=$("$B/heraldctl" --db "$DB" pages 2>&1)
assert_eq "heraldctl reads next to a running herald" 0 $?
out=$("$B/heraldctl" --db "$DB" threshold set --channel hint 0.9 2>&1)
assert_eq "heraldctl writes next to a running herald ($out)" 0 $?
assert_match "and the write is there" '0\.9' "$("$B/heraldctl" --db "$DB" threshold get --channel hint 2>&1)"
stop_pid "$FIRST"
# The kernel drops the lock with the process: no stale lock after a kill.
start_herald --listen "$P1" --backend "127.0.0.1:$FB_PORT" --db "$DB" || finish
kill -KILL "$HERALD_PID"
wait_pid_exit "$HERALD_PID" 5
start_herald --listen "$P2" --backend "127.0.0.1:$FB_PORT" --db "$DB" || finish
check "after a herald is killed, the next one starts on its database" herald_alive
assert_eq "and the lock names it" "$HERALD_PID" "$(cat "$DB.lock")"
stop_pid "$HERALD_PID"

# ---- root: bind 443, then run as [server] user ---------------------------------

SVC_USER=herald-t$$
if ! useradd --system --no-create-home --user-group --shell /usr/sbin/nologin \
  "$SVC_USER" 2>"$WORK/useradd.err"; then
  fail "create a service user" "$(cat "$WORK/useradd.err")"
  finish
fi
trap '_cleanup; userdel "$SVC_USER" 2>/dev/null' EXIT
SVC_UID=$(id -u "$SVC_USER")
SVC_GID=$(id -g "$SVC_USER")
# A loopback address of our own, so port 443 is free whoever else tests.
for _ in 1 2 3 4 5; do
  ADDR=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).1
  [ -z "$(ss -Htan "src $ADDR:443" 2>/dev/null)" ] && break
done
gen_cert || finish
mkdir -p "$WORK/state"
chown "$SVC_USER:$SVC_USER" "$WORK/state"
SAP=$(free_port)
cat >"$WORK/svc.ini" <<INI
[listener:https]
listen = $ADDR:443
tls = on
cert = $CERT
key = $KEY
[backend:app]
server = 127.0.0.1:$FB_PORT
[store]
db = $WORK/state/herald.db
[record]
flush = 100
[admin]
listen = $SAP
[server]
user = $SVC_USER
INI
out=$(timeout 10 "$HERALD" -t -c "$WORK/svc.ini" 2>&1)
assert_eq "-t passes the service configuration" "herald: configuration $WORK/svc.ini is ok" "$out"
start_herald -c "$WORK/svc.ini" || finish
PID=$HERALD_PID
out=$(hcurl -k -w '%{http_code}' --resolve "localhost:443:$ADDR" "https://localhost/ok" 2>&1)
assert_eq "herald started as root serves on $ADDR:443" ok200 "$out"
assert_eq "real, effective, saved and fs uid are the user's" "$SVC_UID $SVC_UID $SVC_UID $SVC_UID" \
  "$(status_field "$PID" Uid | tr -s '\t ' ' ')"
assert_eq "and the gids the group's" "$SVC_GID $SVC_GID $SVC_GID $SVC_GID" \
  "$(status_field "$PID" Gid | tr -s '\t ' ' ')"
assert_eq "no supplementary group of root's is kept" "$SVC_GID" "$(status_field "$PID" Groups | tr -d ' ')"
assert_eq "no capability is left" 0000000000000000 "$(status_field "$PID" CapEff)"
bad=
for t in /proc/"$PID"/task/*; do
  [ "$(status_field "$PID/task/${t##*/}" Uid | tr -s '\t ' ' ')" = "$SVC_UID $SVC_UID $SVC_UID $SVC_UID" ] ||
    bad="$bad ${t##*/}"
done
assert_eq "every thread runs as the user ($(ls /proc/"$PID"/task | wc -l) threads)" "" "$bad"
assert_contains "the log says who it runs as" \
  "running as user $SVC_USER (uid $SVC_UID), group $SVC_USER (gid $SVC_GID)" "$(cat "$HERALD_LOG")"
assert_eq "the database and its files belong to the user" "$SVC_USER $SVC_USER $SVC_USER $SVC_USER" \
  "$(stat -c %U "$WORK/state/herald.db" "$WORK/state/herald.db-wal" "$WORK/state/herald.db-shm" \
    "$WORK/state/herald.db.lock" | tr '\n' ' ' | sed 's/ $//')"
m=$(hcurl "http://127.0.0.1:$SAP/metrics")
assert_match "the recorder is on" '^herald_recorder_enabled 1$' "$m"
# A reload runs as the user: a key only root can read fails it, saying so;
# once the user's group may read it, the reload goes through.
kill -HUP "$PID"
check "a reload as the user cannot read a root-only key" \
  wait_for "$HERALD_LOG" "reload failed: listener 'https': key '$KEY': Permission denied; keeping the running configuration"
chgrp "$SVC_USER" "$KEY"
chmod 640 "$KEY"
kill -HUP "$PID"
check "with the key readable by the user's group, the reload is in force" \
  wait_for "$HERALD_LOG" "reload: configuration $WORK/svc.ini in force"
stop_pid "$PID"

# The user cannot use a database directory that is not theirs: -t and the
# start both say so, naming the key, the directory and the user.
mkdir -p "$WORK/rootonly"
chmod 755 "$WORK/rootonly"
sed -i "s|^db = .*|db = $WORK/rootonly/herald.db|" "$WORK/svc.ini"
out=$(timeout 10 "$HERALD" -t -c "$WORK/svc.ini" 2>&1)
assert_eq "-t: a database directory the user cannot write fails" 1 $?
assert_contains "naming key, file, user and directory" \
  "store.db $WORK/rootonly/herald.db: user '$SVC_USER' cannot create files in $WORK/rootonly: Permission denied" "$out"
out=$(timeout 10 "$HERALD" -c "$WORK/svc.ini" 2>&1)
assert_eq "and the start refuses it too" 1 $?
assert_contains "with the same words" "user '$SVC_USER' cannot create files in $WORK/rootonly" "$out"
# A database left behind by a root run is not the user's to write.
sed -i "s|^db = .*|db = $WORK/state/root.db|" "$WORK/svc.ini"
touch "$WORK/state/root.db"
out=$(timeout 10 "$HERALD" -c "$WORK/svc.ini" 2>&1)
assert_eq "a root-owned database refuses the start" 1 $?
assert_contains "naming the file and the user" \
  "store.db $WORK/state/root.db: user '$SVC_USER' cannot write it: Permission denied" "$out"

finish
