#!/usr/bin/env bash
# test_abuse.sh: attacks beyond test_h2_abuse.sh, each followed by the same
# after-check.
#
# One function per attack (attack_NAME), listed in ATTACKS at the bottom;
# run_attack runs one, then after_check asserts what an operator would
# want after any attack: herald still answers a plain request over HTTP/2
# and HTTP/1.1, its RSS is back near where it was before the first attack
# (skipped on sanitizer builds, whose shadow memory and quarantine make RSS
# meaningless), and no client connection is left open on herald's side
# (ss: nothing but LISTEN and TIME-WAIT on its port). To add an attack,
# write attack_NAME and add NAME to ATTACKS.
#
# herald is configured for what is checked: short header and idle timeouts
# so closing is quick, max_connections above the slowloris count, and the
# slowloris spread over 200 loopback source addresses (10 each), so a
# per-address connection cap does not decide the outcome.
. "$(dirname "$0")/lib.sh"

PROBE=$B/h2probe
[ -x "$PROBE" ] || { fail "h2probe built" "$PROBE missing"; finish; }

# 2000 client sockets here and 2000 in herald (which inherits the limit).
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"

SANITIZED=0
case $B in *asan*) SANITIZED=1 ;; esac
ldd "$B/herald" 2>/dev/null | grep -q libasan && SANITIZED=1
# Allowed RSS growth after an attack, over the RSS before the first one.
RSS_SLACK_KB=${ABUSE_RSS_SLACK_KB:-6144}
SETTLE_S=8 # how long connections may take to close after an attack

start_fault_backend || finish
HP=$(free_port)
AP=$(free_port)
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$FB_PORT" \
  --admin "127.0.0.1:$AP" -o limits.max_connections=4000 \
  -o timeouts.header=2000 -o timeouts.idle=3000 -o timeouts.write=3000 ||
  finish
F=http://127.0.0.1:$HP
AUTH=a.example

# probe MODE ARGS...: h2probe against herald; sets R (its RESULT line).
probe() {
  local mode=$1
  shift
  R=$(timeout 60 "$PROBE" "$mode" 127.0.0.1 "$HP" "$@" --timeout 30 2>&1 |
    grep '^RESULT ' | tail -n 1)
  [ -n "$R" ] || R="RESULT missing"
}
# f NAME: the value of NAME= in $R
f() { printf '%s\n' "$R" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }

metric() {
  curl -sS -m 5 "http://127.0.0.1:$AP/metrics" 2>/dev/null |
    awk -v m="$1" '$1 == m {print $2}'
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$HERALD_PID/status" 2>/dev/null; }
# open_conns: herald's sockets on its port other than LISTEN and TIME-WAIT
# (ESTAB, CLOSE-WAIT, FIN-WAIT, LAST-ACK...: a connection not yet let go).
open_conns() {
  ss -Htan "( sport = :$HP )" 2>/dev/null | grep -Evc '^(LISTEN|TIME-WAIT)'
}

# backend_released TAG: the backend exchange of the attacked stream ended
# at once (the /delay it asked for would hold it 3 s).
backend_released() {
  local i n
  for i in $(seq 1 10); do
    n=$(metric herald_backend_requests_active)
    [ "${n:-1}" = 0 ] && break
    sleep 0.1
  done
  assert_eq "$1: its backend exchange ended within 1 s" 0 "${n:-none}"
}

after_check() {
  local tag=$1 out n i rss states
  check "$tag: herald still running" herald_alive
  out=$(hcurl --http2-prior-knowledge -w '%{http_code}' "$F/ok" 2>&1)
  assert_eq "$tag: still serves HTTP/2" "ok200" "$out"
  out=$(hcurl --http1.1 -w '%{http_code}' "$F/ok" 2>&1)
  assert_eq "$tag: still serves HTTP/1.1" "ok200" "$out"
  for i in $(seq 1 $((SETTLE_S * 5))); do
    n=$(open_conns)
    [ "$n" -eq 0 ] && break
    sleep 0.2
  done
  if [ "$n" -eq 0 ]; then
    ok "$tag: no client connection left open (ss)"
  else
    states=$(ss -Htan "( sport = :$HP )" | awk '{print $1}' | sort | uniq -c | tr '\n' ' ')
    fail "$tag: no client connection left open (ss)" \
      "$n still open ${SETTLE_S}s after the attack: $states"
  fi
  n=$(metric herald_connections_active)
  assert_le "$tag: herald_connections_active back to 0" 0 "${n:-none}"
  if [ "$SANITIZED" = 1 ]; then
    skip "$tag: RSS back near the start" "sanitizer build"
  else
    rss=$(rss_kb)
    log "$tag: RSS $rss KB"
    assert_le "$tag: RSS back near the start (KB, start $RSS0 + $RSS_SLACK_KB)" \
      $((RSS0 + RSS_SLACK_KB)) "$rss"
  fi
}

# ---- attacks -----------------------------------------------------------------

# PRIORITY frames get no answer, so a flood costs the client nothing to
# read: herald's glitch budget must end it (GOAWAY ENHANCE_YOUR_CALM).
attack_priority_flood() {
  probe frame 50000 --type 2 --stream 3 --stream-step 2 --payload 0000000010
  assert_eq "priority flood: GOAWAY" ENHANCE_YOUR_CALM "$(f goaway)"
  assert_le "priority flood: stopped well before 50000 frames" 20000 "$(f sent)"
}

attack_window_update_flood() {
  probe frame 50000 --type 8 --stream 0 --payload 00000001
  assert_eq "connection WINDOW_UPDATE flood: GOAWAY" ENHANCE_YOUR_CALM "$(f goaway)"
  assert_le "connection WINDOW_UPDATE flood: stopped well before 50000" 20000 "$(f sent)"
  probe frame 50000 --type 8 --stream 1 --payload 00000001 --open \
    --path '/delay?ms=300' --authority "$AUTH"
  assert_eq "stream WINDOW_UPDATE flood: GOAWAY" ENHANCE_YOUR_CALM "$(f goaway)"
  assert_le "stream WINDOW_UPDATE flood: stopped well before 50000" 20000 "$(f sent)"
}

# RFC 9113 6.9: an increment of 0 is a PROTOCOL_ERROR (for a stream, a
# stream error, which an endpoint may treat as a connection error).
attack_window_update_zero() {
  probe frame 1 --type 8 --stream 0 --payload 00000000
  assert_eq "WINDOW_UPDATE 0 on the connection: GOAWAY" PROTOCOL_ERROR "$(f goaway)"
  check "WINDOW_UPDATE 0 on the connection: closed" test "$(f closed)" = 1
  probe frame 1 --type 8 --stream 1 --payload 00000000 --open \
    --path '/delay?ms=3000' --authority "$AUTH"
  if [ "$(f rst)" = PROTOCOL_ERROR ] || [ "$(f goaway)" = PROTOCOL_ERROR ]; then
    ok "WINDOW_UPDATE 0 on a stream: PROTOCOL_ERROR"
  else
    fail "WINDOW_UPDATE 0 on a stream: PROTOCOL_ERROR" "$R"
  fi
  backend_released "WINDOW_UPDATE 0 on a stream"
}

# RFC 9113 6.9.1: a window above 2^31-1 is a FLOW_CONTROL_ERROR, of the
# connection or of the stream.
attack_window_overflow() {
  probe frame 2 --type 8 --stream 0 --payload 7fffffff
  assert_eq "connection window overflow: GOAWAY" FLOW_CONTROL_ERROR "$(f goaway)"
  probe frame 2 --type 8 --stream 1 --payload 7fffffff --open \
    --path '/delay?ms=3000' --authority "$AUTH"
  assert_eq "stream window overflow: RST_STREAM" FLOW_CONTROL_ERROR "$(f rst)"
  backend_released "stream window overflow"
}

# 2000 HTTP/1.1 connections, 10 from each of 200 loopback addresses, each
# sending a partial head and then one byte a second: timeouts.header
# (2 s) must close every one however it trickles, and a normal client must
# be served meanwhile.
attack_slowloris() {
  cat >"$WORK/slowloris.py" <<'EOF'
import socket, sys, time
port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = []
for i in range(n):
    s = socket.socket()
    s.bind(("127.1.%d.1" % (i // 10 + 1), 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
    s.setblocking(False)
    socks.append(s)
t0 = time.time()
print("opened %d" % len(socks), flush=True)
live = set(range(n))
while live and time.time() - t0 < secs:
    for i in list(live):
        try:
            if socks[i].recv(4096) == b"":
                live.discard(i)
                continue
        except BlockingIOError:
            pass
        except OSError:
            live.discard(i)
            continue
        try:
            socks[i].send(b"a")
        except BlockingIOError:
            pass
        except OSError:
            live.discard(i)
    time.sleep(1)
print("closed %d of %d in %.0f s" % (n - len(live), n, time.time() - t0),
      flush=True)
EOF
  python3 "$WORK/slowloris.py" "$HP" 2000 12 >"$WORK/slowloris.out" 2>&1 &
  local pid=$! i out
  for i in $(seq 1 50); do
    grep -q '^opened' "$WORK/slowloris.out" && break
    sleep 0.1
  done
  assert_eq "slowloris: 2000 connections open" "opened 2000" \
    "$(head -n 1 "$WORK/slowloris.out")"
  out=$(hcurl --http1.1 -w '%{http_code}' "$F/ok" 2>&1)
  assert_eq "slowloris: a normal client is served during the attack" "ok200" "$out"
  wait "$pid"
  out=$(tail -n 1 "$WORK/slowloris.out")
  case $out in
  "closed 2000 of 2000 in "[0-6]" s") ok "slowloris: herald closed all 2000 ($out)" ;;
  *) fail "slowloris: herald closed all 2000 within ~timeouts.header" "$out" ;;
  esac
}

# Interim responses from the backend: 100, 102 (with a Content-Length),
# 103 with Link, several in a row, then the final response; and 10000
# 103s in a row. The client gets the final response whole, and an
# HTTP/1.1 connection carries the next request (curl 7.88 cannot reuse an
# HTTP/2 prior-knowledge connection for a second URL, against any server).
attack_backend_interim() {
  local v out
  for v in --http2-prior-knowledge --http1.1; do
    out=$(hcurl "$v" -w ' %{http_code}' "$F/interim" 2>&1)
    assert_eq "backend 1xx ($v): the final response" "final ok 200" "$out"
    out=$(hcurl "$v" -w ' %{http_code}' "$F/interim?n=10000" 2>&1)
    assert_eq "backend 10000 x 103 ($v): the final response" "final ok 200" \
      "$out"
  done
  out=$(hcurl --http1.1 -w ' %{http_code} %{num_connects} ' "$F/interim" "$F/ok" 2>&1)
  assert_eq "backend 1xx (--http1.1): then the next request on the connection" \
    "final ok 200 1 ok 200 0 " "$out"
}

# A 101 to a request that asked for no upgrade: 502, never a switch.
attack_backend_101() {
  local v out
  for v in --http2-prior-knowledge --http1.1; do
    out=$(hcurl "$v" -w '%{http_code}' -o "$WORK/101" "$F/101" 2>&1)
    assert_eq "backend 101 to a GET ($v): 502" 502 "$out"
  done
}

# ---- run -----------------------------------------------------------------------

run_attack() {
  log "attack: $1"
  "attack_$1"
  after_check "$1"
}

# Warm up (pool, free lists, TLS-free code paths) before the baseline.
for i in 1 2 3; do
  hcurl --http2-prior-knowledge -o /dev/null "$F/ok"
  hcurl --http1.1 -o /dev/null "$F/ok"
done
RSS0=$(rss_kb)
log "RSS before the attacks: $RSS0 KB"

ATTACKS=(priority_flood window_update_flood window_update_zero
  window_overflow slowloris backend_interim backend_101)
for a in "${ATTACKS[@]}"; do
  run_attack "$a"
done
finish
