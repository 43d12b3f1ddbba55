#!/usr/bin/env bash
# test_lifetimes.sh: every connection and stream a client can hold ends
# whatever state the client leaves it in, and gives back what it held
# (its backend exchange, its connection slot).
#
#   - A client that closes its side (FIN, over h2c, TLS or HTTP/1.1) while
#     a stream waits on it (a response stalled by flow control, its own
#     request body unfinished) is cut off at once: no connection stays in
#     CLOSE-WAIT, no backend exchange stays open.
#   - While the connection lives, an HTTP/2 stream that gets no window for
#     timeouts.write, or no request body bytes for timeouts.idle, is reset
#     and counted in /metrics; streams that progress slowly are not.
#
# Driven by build/h2probe (frame-level client; --window 0 never opens a
# window, --half-close sends FIN and times the server's close) in front of
# build/fault_backend and nginx.
. "$(dirname "$0")/lib.sh"

if [ -n "$HERALD_STANDIN" ]; then
  skip "lifetimes" "herald's own metrics; no stand-in"
  finish
fi
PROBE=$B/h2probe
[ -x "$PROBE" ] || {
  fail "h2probe built" "$PROBE missing (make $PROBE)"
  finish
}

start_fault_backend || finish
start_nginx || finish
gen_cert || finish

# probe PORT MODE ARGS...: sets R (the RESULT line).
probe() {
  local port=$1 mode=$2
  shift 2
  R=$(timeout 60 "$PROBE" "$mode" 127.0.0.1 "$port" "$@" --timeout 30 2>&1 |
    grep '^RESULT ' | tail -n 1)
  [ -n "$R" ] || R="RESULT missing"
}
# f NAME: the value of NAME= in $R
f() { printf '%s\n' "$R" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }

# metric ADMIN_PORT NAME_WITH_LABELS: its value in /metrics, or "none".
metric() {
  local v
  v=$(hcurl "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m { print $2 }')
  echo "${v:-none}"
}

# held PORT: connections on herald's side of PORT that are neither
# listening nor already closed by herald (TIME-WAIT): an ESTAB or
# CLOSE-WAIT here is a connection herald still holds.
held() { ss -Htan "sport = :$1" | grep -Evc '^(LISTEN|TIME-WAIT)'; }

# settled PORT ADMIN: waits up to 3 s for nothing held on PORT and no
# backend exchange in progress; prints "held/active".
settled() {
  local i h a
  for i in $(seq 1 30); do
    h=$(held "$1")
    a=$(metric "$2" herald_backend_requests_active)
    [ "$h" = 0 ] && [ "$a" = 0 ] && break
    sleep 0.1
  done
  echo "$h/$a"
}

# start_fb_herald ARGS...: herald on fresh ports $HP (admin $AP) in front
# of the fault backend.
start_fb_herald() {
  HP=$(free_port)
  AP=$(free_port)
  start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$FB_PORT" \
    --admin "127.0.0.1:$AP" "$@"
}
# h2_status [CURL_ARGS...]: the status of an h2c GET /echo ("000" when
# the connection is refused).
h2_status() {
  hcurl --http2-prior-knowledge -o /dev/null -w '%{http_code}' "$@" \
    "http://127.0.0.1:$HP/echo" 2>/dev/null
}

# ---- a client that closes its side: default timeouts, so only the FIN
# can explain a prompt close ---------------------------------------------------
HP=$(free_port)
HT=$(free_port)
AP=$(free_port)
start_herald --listen "127.0.0.1:$HP" --listen-tls "127.0.0.1:$HT" --cert "$CERT" \
  --key "$KEY" --backend "127.0.0.1:$FB_PORT" --admin "127.0.0.1:$AP" || finish

BIG=(-H ':method: GET' -H ':authority: a.example' -H ':path: /big?size=10000000')
POST=(-H ':method: POST' -H ':authority: a.example' -H ':path: /echo'
  -H 'content-length: 100000')

# gone NAME PORT SCHEME ARGS...: the probe stalls a stream, then sends FIN
# (ARGS may add --tls, --close-notify); herald must close at once.
gone() {
  local name=$1 port=$2 scheme=$3
  shift 3
  probe "$port" req -H ":scheme: $scheme" "$@" --wait 500 --half-close 3000
  assert_eq "$name: herald closes the connection after the FIN" 1 "$(f closed)"
  assert_le "$name: within 2 s of the FIN (ms)" 2000 "$(f halfclose_ms)"
  assert_eq "$name: nothing held, no backend exchange left (held/active)" \
    "0/0" "$(settled "$port" "$AP")"
}

gone "h2c, response stalled by flow control" "$HP" http "${BIG[@]}" --window 0
gone "h2c, request body unfinished" "$HP" http "${POST[@]}" --data 1000 --no-end
gone "TLS, response stalled by flow control, FIN" "$HT" https "${BIG[@]}" --window 0 --tls
gone "TLS, request body unfinished, FIN" "$HT" https "${POST[@]}" --data 1000 --no-end --tls
gone "TLS, response stalled, close_notify" "$HT" https "${BIG[@]}" --window 0 --tls --close-notify
# A half-closed client still reads what it asked for (h2load half-closes
# after its last request): a response that fits the window it has is
# finished, not cut.
probe "$HP" req -H ':scheme: http' -H ':method: GET' -H ':authority: a.example' \
  -H ':path: /big?size=60000' --wait 0 --half-close 5000
assert_eq "h2c, FIN with a response in flight: the response completes" 60000 "$(f body)"
assert_eq "h2c, FIN with a response in flight: then the connection closes" 1 "$(f closed)"

# HTTP/1.1: a client that goes away mid-body is cut off, also when its
# response went out early (nginx answers a POST to a file with 405 before
# reading the body) and herald was still reading the body to its end.
# half_close_h1 PORT: sends stdin, reads the response for 1 s, sends FIN,
# prints how long until herald closed ("none" after 5 s).
half_close_h1() {
  timeout 20 python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.stdin.buffer.read())
s.settimeout(1)
try:
    while s.recv(65536):
        pass
    print("closed-before-fin"); sys.exit()
except socket.timeout:
    pass
s.shutdown(socket.SHUT_WR)
t0 = time.monotonic()
s.settimeout(5)
try:
    while s.recv(65536):
        pass
    print(int((time.monotonic() - t0) * 1000))
except socket.timeout:
    print("none")
except ConnectionResetError:
    print(int((time.monotonic() - t0) * 1000))
' "$1"
}
# gone_h1 NAME PORT ADMIN PATH: a POST of 1000 of its 100000 bytes, then FIN.
gone_h1() {
  local out body
  body=$(head -c 1000 /dev/zero | tr '\0' a)
  out=$(printf 'POST %s HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n%s' "$4" "$body" |
    half_close_h1 "$2")
  assert_le "$1: closed within 2 s of the FIN (ms)" 2000 "$out"
  assert_eq "$1: nothing held (held/active)" "0/0" "$(settled "$2" "$3")"
}
gone_h1 "h1, request body unfinished" "$HP" "$AP" /echo
stop_pid "$HERALD_PID"

HN=$(free_port)
AN=$(free_port)
start_herald --listen "127.0.0.1:$HN" --backend "127.0.0.1:$NGINX_PORT" \
  --admin "127.0.0.1:$AN" || finish
gone_h1 "h1, answered early, body unfinished" "$HN" "$AN" /index.html
stop_pid "$HERALD_PID"

# Clients that stall a stream and leave must not lock others out: 12 of
# them against max_connections = 10, then an ordinary request.
start_fb_herald -o limits.max_connections=10 || finish
pids=()
for i in $(seq 1 12); do
  timeout 30 "$PROBE" req 127.0.0.1 "$HP" -H ':scheme: http' "${BIG[@]}" --window 0 \
    --wait 300 --half-close 2000 --timeout 20 >/dev/null 2>&1 &
  pids+=($!)
done
wait "${pids[@]}"
assert_eq "12 stalled clients gone: nothing held (held/active)" "0/0" "$(settled "$HP" "$AP")"
out=$(h2_status)
assert_eq "12 stalled clients gone: a new client is served" 200 "$out"
stop_pid "$HERALD_PID"

# ---- connection slots: per client address, and idle ones make room ------------
# hold_conns N SECS SRC PORT OUT: N HTTP/2 connections from address SRC,
# each idle once herald's SETTINGS arrived; OUT.ready appears when all are
# up, and after SECS OUT gets each one's fate in opening order ("open" or
# "closed").
hold_conns() {
  timeout $(($2 + 20)) python3 -c '
import socket, sys, time
n, secs, src, port, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
socks, state = [], []
for i in range(n):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(hello)
    s.settimeout(2)
    try:
        state.append("open" if s.recv(65536) else "closed")
    except OSError:
        state.append("closed")
    s.setblocking(False)
    socks.append(s)
    time.sleep(0.05)
open(out + ".ready", "w").close()
end = time.monotonic() + secs
while time.monotonic() < end:
    for i, s in enumerate(socks):
        if state[i] != "open":
            continue
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    state[i] = "closed"
                    break
        except BlockingIOError:
            pass
        except OSError:
            state[i] = "closed"
    time.sleep(0.05)
open(out, "w").write(" ".join(state) + "\n")
' "$@"
}
# hold_idle N OUT: hold_conns N 3 127.0.0.1 "$HP" OUT in the background
# (HOLD_PID), returning once all N are up.
hold_idle() {
  local i
  hold_conns "$1" 3 127.0.0.1 "$HP" "$2" &
  HOLD_PID=$!
  for i in $(seq 1 100); do
    [ -e "$2.ready" ] && return 0
    sleep 0.1
  done
  fail "$1 idle connections opened" "no $2.ready"
}

start_fb_herald -o limits.max_connections_per_client=3 || finish
hold_idle 3 "$WORK/held3"
assert_ne "per client: a 4th connection from 127.0.0.1 is refused" 200 "$(h2_status)"
assert_eq "per client: counted" 1 "$(metric "$AP" herald_connections_client_limited_total)"
assert_eq "per client: another address (127.0.0.2) is served" 200 \
  "$(h2_status --interface 127.0.0.2)"
wait "$HOLD_PID"
assert_eq "per client: the 3 held connections were left alone" "open open open" "$(cat "$WORK/held3")"
assert_eq "per client: all closed, nothing held" "0/0" "$(settled "$HP" "$AP")"
assert_eq "per client: once they closed, 127.0.0.1 is served again" 200 "$(h2_status)"
stop_pid "$HERALD_PID"

# At max_connections the connection idle longest makes room; busy ones
# never do.
start_fb_herald -o limits.max_connections=4 || finish
hold_idle 4 "$WORK/held4"
assert_eq "full of idle connections: a new client is served" 200 "$(h2_status)"
assert_eq "full of idle connections: one evicted" 1 "$(metric "$AP" herald_connections_evicted_total)"
wait "$HOLD_PID"
assert_eq "full of idle connections: the oldest one was closed, the rest kept" \
  "closed open open open" "$(cat "$WORK/held4")"
pids=()
for i in 1 2 3 4; do
  timeout 30 "$PROBE" req 127.0.0.1 "$HP" -H ':scheme: http' -H ':method: GET' \
    -H ':authority: a.example' -H ':path: /delay?ms=2000' --timeout 20 >"$WORK/busy$i" 2>&1 &
  pids+=($!)
done
for i in $(seq 1 50); do
  [ "$(metric "$AP" herald_http2_streams_active)" = 4 ] && break
  sleep 0.1
done
out=$(h2_status)
assert_ne "full of busy connections: a new client is refused" 200 "$out"
# A flood at the limit is logged one line a second, not one per refusal.
for i in $(seq 20); do h2_status >/dev/null; done
lines=$(grep -c 'refusing connection: .* none idle' "$HERALD_LOG")
assert_ge "full: refusals are logged" 1 "$lines"
assert_le "full: 21 refusals, at most one line a second" 3 "$lines"
wait "${pids[@]}"
assert_eq "full of busy connections: none evicted" 1 "$(metric "$AP" herald_connections_evicted_total)"
assert_eq "full of busy connections: their 4 requests completed" "200 200 200 200" \
  "$(for i in 1 2 3 4; do R=$(grep '^RESULT' "$WORK/busy$i"); f status; done | tr '\n' ' ' | sed 's/ $//')"
stop_pid "$HERALD_PID"

# ---- streams stalled while the connection lives --------------------------------
start_fb_herald -o timeouts.write=1000 -o timeouts.idle=1500 || finish

probe "$HP" req -H ':scheme: http' "${BIG[@]}" --window 0 --wait 5000
assert_eq "no window for timeouts.write: stream reset (CANCEL)" CANCEL "$(f rst)"
assert_le "no window for timeouts.write: reset within 2.5 s (ms)" 2500 "$(f elapsed_ms)"
assert_eq "no window: counted" 1 "$(metric "$AP" 'herald_http2_stream_timeouts_total{kind="send"}')"
assert_eq "no window: backend exchange released" 0 "$(metric "$AP" herald_backend_requests_active)"

probe "$HP" req -H ':scheme: http' "${POST[@]}" --data 1000 --no-end --wait 5000
assert_eq "no request body for timeouts.idle: stream reset (CANCEL)" CANCEL "$(f rst)"
assert_le "no request body for timeouts.idle: reset within 3 s (ms)" 3000 "$(f elapsed_ms)"
assert_eq "no request body: counted" 1 \
  "$(metric "$AP" 'herald_http2_stream_timeouts_total{kind="request_body"}')"
assert_eq "no request body: backend exchange released" 0 "$(metric "$AP" herald_backend_requests_active)"

# The same stall after the response was complete (the backend answered
# before the body ended): the half-open stream is reset all the same.
probe "$HP" req -H ':scheme: http' -H ':method: POST' -H ':authority: a.example' \
  -H ':path: /big?size=10' --data 0 --no-end --wait 5000
assert_eq "answered, request body never ends: reset" CANCEL "$(f rst)"

# Slow is not stalled: a client reading at 400 KB/s, an upload at
# 400 KB/s and a backend taking 2.5 s all finish.
out=$(hcurl -m 20 --http2-prior-knowledge --limit-rate 400k -o /dev/null \
  -w '%{http_code} %{size_download}' "http://127.0.0.1:$HP/big?size=2000000" 2>&1)
assert_eq "slow reader (5 s at 400 KB/s) is served whole" "200 2000000" "$out"
head -c 2000000 /dev/zero >"$WORK/2m"
out=$(hcurl -m 20 --http2-prior-knowledge --limit-rate 400k --data-binary @"$WORK/2m" \
  "http://127.0.0.1:$HP/echo" 2>&1 | tr -d ' ,"' | grep body_length)
assert_eq "slow uploader (5 s at 400 KB/s) is served" "body_length:2000000" "$out"
out=$(hcurl --http2-prior-knowledge -w '%{http_code}' "http://127.0.0.1:$HP/delay?ms=2500" 2>&1)
assert_eq "slow backend (2.5 s) is waited for" "ok200" "$out"
assert_eq "slow clients: no stream timed out (send)" 1 \
  "$(metric "$AP" 'herald_http2_stream_timeouts_total{kind="send"}')"
assert_eq "slow clients: no stream timed out (request_body)" 2 \
  "$(metric "$AP" 'herald_http2_stream_timeouts_total{kind="request_body"}')"
assert_eq "all done: nothing held (held/active)" "0/0" "$(settled "$HP" "$AP")"

finish
