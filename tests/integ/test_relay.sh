#!/usr/bin/env bash
# test_relay.sh: build/relay, the delaying relay other tests and the
# benchmarks put between a client and a server. It must add the round-trip
# time it is asked for (and not much more), hold a bandwidth limit, deliver
# every byte in order, forward a half-close, keep its memory bounded when
# the reader stalls (and hold no more than --queue when asked), and exit 0
# on SIGTERM.
. "$(dirname "$0")/lib.sh"

if [ ! -x "$B/relay" ]; then
  fail "relay" "$B/relay not built (make $B/relay)"
  finish
fi
start_nginx || finish

# relay_up PORT ARGS...: a relay on PORT in front of nginx; sets RELAY_PID.
relay_up() {
  local port=$1 log=$WORK/relay-$1.log i
  shift
  "$B/relay" --listen "127.0.0.1:$port" --connect "127.0.0.1:$NGINX_PORT" "$@" \
    2>"$log" &
  RELAY_PID=$!
  track_pid "$RELAY_PID"
  for ((i = 0; i < 100; i++)); do
    grep -q "^relay: listening on 127.0.0.1:$port\$" "$log" && return 0
    kill -0 "$RELAY_PID" 2>/dev/null || break
    sleep 0.05
  done
  fail "relay on $port" "$(cat "$log")"
  return 1
}
# ms SECONDS: curl's seconds as integer milliseconds.
ms() { awk -v s="$1" 'BEGIN { printf "%d", s * 1000 }'; }

P0=$(free_port)
relay_up "$P0" || finish
assert_eq "no delay: the file arrives intact" "$(sha256sum <"$WORK/site/100k.bin")" \
  "$(hcurl "http://127.0.0.1:$P0/100k.bin" | sha256sum)"
t=$(hcurl -o /dev/null -w '%{time_starttransfer}' "http://127.0.0.1:$P0/1k.bin")
assert_le "no delay: first byte within 50 ms" 50 "$(ms "$t")"
stop_pid "$RELAY_PID"

# --rtt 200: the connection to the relay itself is local, so the request
# and its response are one round trip: 200 ms, plus at most a little.
P1=$(free_port)
relay_up "$P1" --rtt 200 || finish
t=$(hcurl -o /dev/null -w '%{time_starttransfer}' "http://127.0.0.1:$P1/1k.bin")
assert_ge "--rtt 200: first byte after >= 200 ms" 200 "$(ms "$t")"
assert_le "--rtt 200: first byte within 260 ms" 260 "$(ms "$t")"
# Connection: close makes nginx end with FIN: the relay must pass the EOF
# on, after the data, or raw_http would wait for its timeout.
out=$(printf 'GET /1k.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
  raw_http 127.0.0.1 "$P1" 3 | tr -d '\r\000')
assert_match "--rtt 200: response then EOF forwarded" '^HTTP/1\.1 200 OK' "$out"
assert_not_contains "--rtt 200: no wait for a timeout" '<<TIMEOUT>>' "$out"
stop_pid "$RELAY_PID"

# --rate 4000 (4 Mbit/s): 100 KB takes 102400*8/4e6 = 205 ms.
P2=$(free_port)
relay_up "$P2" --rate 4000 || finish
t=$(hcurl -o "$WORK/rate.out" -w '%{time_total}' "http://127.0.0.1:$P2/100k.bin")
assert_ge "--rate 4000: 100 KB takes >= 200 ms" 200 "$(ms "$t")"
assert_le "--rate 4000: 100 KB takes < 400 ms" 400 "$(ms "$t")"
assert_eq "--rate 4000: the file arrives intact" "$(sha256sum <"$WORK/site/100k.bin")" \
  "$(sha256sum <"$WORK/rate.out")"
stop_pid "$RELAY_PID"

# A client that asks for 50 MB and reads nothing: the relay stops reading
# from nginx past ~1 MB queued, so its memory stays far below 50 MB.
P3=$(free_port)
relay_up "$P3" --rtt 10 || finish
python3 - "$P3" >"$WORK/stall.out" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(b"GET /50m.bin HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(5)
EOF
STALL=$!
sleep 2
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$RELAY_PID/status")
assert_le "a stalled reader: relay RSS stays under 25 MB (${rss:-?} KB)" 25000 "${rss:-999999}"
# SIGTERM with that connection still open and data queued.
kill -TERM "$RELAY_PID"
wait "$RELAY_PID"
assert_eq "SIGTERM with a live connection: exit status 0" 0 "$?"
assert_eq "SIGTERM: nothing accepts on the port" closed \
  "$(wait_port_closed "$P3" 127.0.0.1 2 && echo closed)"
kill "$STALL" 2>/dev/null
wait "$STALL" 2>/dev/null

# pair.py SERVER_PORT RELAY_PORT RELAY_PID (python, stdin after it): a
# server socket on SERVER_PORT (srv) and a client connected to the relay
# (c), for the checks below to go on with.
cat >"$WORK/pair.py" <<'EOF'
import socket, sys, time
sp, rp, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", sp))
srv.listen(1)
for _ in range(100):
    try:
        c = socket.create_connection(("127.0.0.1", rp))
        break
    except OSError:
        time.sleep(0.05)
EOF

# Many small writes toward a server that reads nothing, through a slow
# link: the 1 MB cap counts payload, so each queued 100-byte chunk must not
# keep a whole read buffer (that was 160 MB here before the fix).
SP=$(free_port)
P4=$(free_port)
# (Under ASan every free goes to a 256 MB quarantine first; RSS would count
# that, not the relay's own memory.)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1" \
  "$B/relay" --listen "127.0.0.1:$P4" --connect "127.0.0.1:$SP" --rate 100 \
  2>"$WORK/relay-small.log" &
RELAY_PID=$!
track_pid "$RELAY_PID"
out=$(cat "$WORK/pair.py" - <<'EOF' | timeout 20 python3 - "$SP" "$P4" "$RELAY_PID" 2>&1
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
c.settimeout(1)
peer, _ = srv.accept()
sent, t = 0, time.time()
try:
    while time.time() - t < 2:
        sent += c.send(b"p" * 100)
        time.sleep(0.00002)
except socket.timeout:
    pass
rss = [l.split()[1] for l in open("/proc/%d/status" % pid) if l.startswith("VmRSS")][0]
print(sent // 1024, rss)
EOF
)
assert_ge "small writes: over 1 MB accepted before the relay pushed back" 1024 \
  "$(echo "$out" | awk '{print $1}')"
assert_le "small writes: relay RSS stays under 25 MB" 25000 "$(echo "$out" | awk '{print $2}')"
stop_pid "$RELAY_PID"

# --queue 65536: what a sender can put onto a slow link stays near the
# queue (plus the small socket buffers on both sides), as with a TCP
# sender's window, where the default lets it hand over about 1 MB at once;
# what it sent still arrives whole and in order.
SP=$(free_port)
P6=$(free_port)
"$B/relay" --listen "127.0.0.1:$P6" --connect "127.0.0.1:$SP" --rate 100 --queue 65536 \
  2>"$WORK/relay-queue.log" &
RELAY_PID=$!
track_pid "$RELAY_PID"
out=$(cat "$WORK/pair.py" - <<'EOF' | timeout 25 python3 - "$SP" "$P6" "$RELAY_PID" 2>&1
import hashlib, threading
c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
peer, _ = srv.accept()
got, n = hashlib.sha256(), [0]
def drain():
    while True:
        d = peer.recv(65536)
        if not d:
            return
        got.update(d)
        n[0] += len(d)
threading.Thread(target=drain, daemon=True).start()
c.setblocking(False)
sent, t, want = 0, time.time(), hashlib.sha256()
while time.time() - t < 1:
    try:
        chunk = bytes([sent // 1000 % 251]) * 1000
        k = c.send(chunk)
        want.update(chunk[:k])
        sent += k
    except BlockingIOError:
        time.sleep(0.001)
# 100 kbit/s is 12.5 KB/s: wait for all of it.
t = time.time()
while n[0] < sent and time.time() - t < 20:
    time.sleep(0.05)
print(sent // 1024, "same" if got.hexdigest() == want.hexdigest() else "differ")
EOF
)
kb=$(echo "$out" | awk '{print $1}')
assert_ge "--queue 65536: the sender put >= 64 KB onto the link" 64 "$kb"
assert_le "--queue 65536: and at most 200 KB (got $kb KB)" 200 "$kb"
assert_eq "--queue 65536: every byte arrives, in order" same "$(echo "$out" | awk '{print $2}')"
stop_pid "$RELAY_PID"
out=$("$B/relay" --listen "127.0.0.1:$(free_port)" --connect "127.0.0.1:1" --queue 100 2>&1)
assert_eq "--queue below two reads: exit status 2" 2 "$?"

# --bind: the server sees the chosen source address (the real-site test
# makes herald see several clients through relays bound to 127.0.x.y).
P5=$(free_port)
relay_up "$P5" --bind 127.0.7.9 || finish
hcurl -o /dev/null "http://127.0.0.1:$P5/1k.bin"
hcurl -o /dev/null "http://127.0.0.1:$P5/1k.bin?again"
assert_eq "--bind 127.0.7.9: nginx saw both requests come from 127.0.7.9" 2 \
  "$(grep -c '^127\.0\.7\.9 .*GET /1k\.bin' "$WORK/nginx/access.log")"
stop_pid "$RELAY_PID"
out=$("$B/relay" --listen "127.0.0.1:$(free_port)" --connect "127.0.0.1:$NGINX_PORT" \
  --bind ::1 2>&1)
assert_eq "--bind of another family than --connect: exit status 2" 2 "$?"
assert_match "--bind of another family: says why" "^relay: --bind ::1: a numeric address" "$out"

out=$("$B/relay" --listen 127.0.0.1:1 2>&1)
assert_eq "usage error: exit status 2" 2 "$?"
assert_match "usage error: says how" '^usage: relay --listen' "$out"

finish
