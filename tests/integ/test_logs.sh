#!/usr/bin/env bash
# test_logs.sh: the error log and access log as logrotate sees them, and
# the access log format.
#
#   - [log] error_log sends the error log to a file;
#   - SIGUSR1 reopens both logs by name: after a rename, new lines go to
#     new files, and under steady traffic every request is logged exactly
#     once, in the old file or the new one;
#   - a reopen that fails (the directory is gone) keeps the old files;
#   - the shipped logrotate snippet, run by logrotate on a live herald;
#   - [log] access_format: nginx variables and herald's ($hints, $pushed
#     are checked in test_hints.sh, where there are rules), applied at
#     start and on SIGHUP; a bad one is refused by -t, naming the key.
. "$(dirname "$0")/lib.sh"

if [ "$HERALD_STANDIN" = nghttpx ]; then
  skip "log files" "herald's own signals and keys; no stand-in"
  finish
fi
start_fault_backend || finish
HP=$(free_port)
L=$WORK/logs
mkdir -p "$L"

# count FILE: lines in FILE (0 when it does not exist).
count() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$FB_PORT" \
  -o "log.error_log=$L/error.log" --access-log "$L/access.log" || finish
PID=$HERALD_PID

hcurl -o /dev/null "http://127.0.0.1:$HP/ok"
check "the error log goes to the file" wait_for "$L/error.log" "listening on 127.0.0.1:$HP"
check "the default access line is unchanged" wait_for "$L/access.log" " 127.0.0.1 http/1.1 GET 127.0.0.1:$HP /ok 200 2 "
assert_match "with time first and the backend last" \
  "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z .* 127\.0\.0\.1:$FB_PORT\$" "$(cat "$L/access.log")"

# ---- SIGUSR1 under traffic ------------------------------------------------------

# Two connections, under limits.max_requests_per_conn each.
N=16000
h2load -n $N -c 2 -m 1 "http://127.0.0.1:$HP/ok" >"$WORK/h2load.out" 2>&1 &
LOADPID=$!
track_pid "$LOADPID"
# Rotate once the run is well under way, as logrotate would.
for ((i = 0; i < 200; i++)); do
  [ "$(count "$L/access.log")" -ge 500 ] && break
  sleep 0.02
done
mv "$L/access.log" "$L/access.log.1"
mv "$L/error.log" "$L/error.log.1"
kill -USR1 "$PID"
check "SIGUSR1: the new error log says the logs were reopened" \
  wait_for "$L/error.log" "SIGUSR1: logs reopened (error log $L/error.log, access log $L/access.log)"
wait "$LOADPID"
assert_contains "h2load: every request answered" "$N started, $N done, $N succeeded" "$(cat "$WORK/h2load.out")"
hcurl -o /dev/null "http://127.0.0.1:$HP/after-rotate"
check "a request after the rotation is in the new access log" \
  wait_for "$L/access.log" "/after-rotate 200"
herald_graceful_stop
wait_pid_exit "$PID" 10
old=$(count "$L/access.log.1")
new=$(count "$L/access.log")
log "access lines: $old in the renamed file, $new in the new one"
assert_eq "every request is logged once across the two files" $((N + 2)) $((old + new))
assert_ge "the renamed file got the lines before the signal" 500 "$old"
assert_ge "the new file got lines of the same run" 2 "$new"
assert_contains "the renamed error log kept the start" "listening on 127.0.0.1:$HP" "$(cat "$L/error.log.1")"
assert_not_contains "and got nothing after the reopen" "logs reopened" "$(cat "$L/error.log.1")"
assert_contains "the new error log has the shutdown" "herald stopped" "$(cat "$L/error.log")"

# ---- a reopen that fails keeps the old files -----------------------------------

rm -rf "$L"
mkdir -p "$L"
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$FB_PORT" \
  -o "log.error_log=$L/error.log" --access-log "$L/access.log" || finish
PID=$HERALD_PID
mv "$L" "$L.moved"
kill -USR1 "$PID"
check "a failed reopen is logged, in the old error log" wait_for "$L.moved/error.log" \
  "SIGUSR1: cannot reopen the error log $L/error.log: No such file or directory; still writing to the old file; cannot reopen the access log $L/access.log"
hcurl -o /dev/null "http://127.0.0.1:$HP/still-logged"
check "and access lines still go to the old file" wait_for "$L.moved/access.log" "/still-logged 200"
check "herald keeps serving" herald_alive
stop_pid "$PID"
rm -rf "$L.moved"
mkdir -p "$L"

# ---- access_format -------------------------------------------------------------

# The nginx "combined" format; the value starts and ends with a quote, so
# it is wrapped in one more pair.
cat >"$WORK/fmt.ini" <<EOF
[listener:a]
listen = 127.0.0.1:$HP
[backend:app]
server = 127.0.0.1:$FB_PORT
[log]
access_log = $L/fmt.log
access_format = "\$remote_addr - - [\$time_local] "\$request" \$status \$body_bytes_sent "\$http_referer" "\$http_user_agent" \$upstream_addr \$request_time"
EOF
out=$(timeout 10 "$B/herald" -t -c "$WORK/fmt.ini" 2>&1)
assert_eq "-t accepts the combined format" "herald: configuration $WORK/fmt.ini is ok" "$out"
start_herald -c "$WORK/fmt.ini" || finish
hcurl -o /dev/null -A 'Test "Agent"' -e 'http://ref.example/' "http://127.0.0.1:$HP/ok?x=1"
hcurl -o /dev/null --http2-prior-knowledge "http://127.0.0.1:$HP/ok"
check "an HTTP/1.1 request in the combined format" wait_for "$L/fmt.log" \
  "\"GET /ok?x=1 HTTP/1.1\" 200 2 \"http://ref.example/\" \"Test \\x22Agent\\x22\" 127.0.0.1:$FB_PORT 0."
check "an HTTP/2 request, its referer absent" wait_for "$L/fmt.log" \
  "\"GET /ok HTTP/2.0\" 200 2 \"-\" \"curl/"
assert_match "the client address and time_local open the line" \
  '^127\.0\.0\.1 - - \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} \+0000\] "GET /ok\?x=1' "$(head -1 "$L/fmt.log")"

# A reload puts a new format in force for the next request.
sed -i 's/^access_format = .*/access_format = fmt2 $status $request_method $http_x_trace/' "$WORK/fmt.ini"
kill -HUP "$HERALD_PID"
check "the reload is in force" wait_for "$HERALD_LOG" "reload: configuration $WORK/fmt.ini in force"
hcurl -o /dev/null -H 'X-Trace: t-42' "http://127.0.0.1:$HP/ok"
check "after SIGHUP lines use the new format" wait_for "$L/fmt.log" "fmt2 200 GET t-42"

# A bad format is refused, naming the file, line and key; a reload with it
# keeps the running format.
sed -i 's/^access_format = .*/access_format = $status $no_such_var/' "$WORK/fmt.ini"
out=$(timeout 10 "$B/herald" -t -c "$WORK/fmt.ini" 2>&1)
assert_eq "-t refuses an unknown variable" 1 $?
assert_contains "naming file, line and key" \
  "fmt.ini:7: key 'log.access_format': unknown variable '\$no_such_var'" "$out"
kill -HUP "$HERALD_PID"
check "the reload fails" wait_for "$HERALD_LOG" "unknown variable '\$no_such_var' (see \"Access log\" in README.md); keeping the running configuration"
hcurl -o /dev/null -H 'X-Trace: t-43' "http://127.0.0.1:$HP/ok"
check "the running format stays" wait_for "$L/fmt.log" "fmt2 200 GET t-43"
stop_pid "$HERALD_PID"

# ---- the shipped logrotate snippet, run for real ---------------------------------

# Its paths, owner and signal pointed at this test's herald.
if ! command -v logrotate >/dev/null 2>&1; then
  fail "logrotate installed" "make deps"
  finish
fi
rm -rf "$L"
mkdir -p "$L"
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$FB_PORT" \
  -o "log.error_log=$L/error.log" --access-log "$L/access.log" || finish
PID=$HERALD_PID
sed -e "s|/var/log/herald/|$L/|" -e 's|create 0640 herald herald|create 0640 root root|' \
  -e "s|systemctl kill .*|kill -USR1 $PID|" "$ROOT/tools/logrotate/herald" >"$WORK/logrotate.conf"
hcurl -o /dev/null "http://127.0.0.1:$HP/before-logrotate"
check "a line before logrotate" wait_for "$L/access.log" "/before-logrotate 200"
out=$(logrotate -f -s "$WORK/logrotate.state" "$WORK/logrotate.conf" 2>&1)
assert_eq "logrotate runs the snippet" "0:" "$?:$out"
check "the old lines are in access.log.1" wait_for "$L/access.log.1" "/before-logrotate 200"
check "herald reopened on the snippet's signal" wait_for "$L/error.log" "SIGUSR1: logs reopened"
hcurl -o /dev/null "http://127.0.0.1:$HP/after-logrotate"
check "new lines go to the new access.log" wait_for "$L/access.log" "/after-logrotate 200"
assert_not_contains "and not to the rotated one" "/after-logrotate" "$(cat "$L/access.log.1")"
assert_eq "the new file has logrotate's mode" 640 "$(stat -c %a "$L/access.log")"
stop_pid "$PID"

finish
