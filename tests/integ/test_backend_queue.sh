#!/usr/bin/env bash
# test_backend_queue.sh: limits.backend_max_connections caps the
# connections one worker opens to one backend server, and requests beyond
# it wait in a bounded FIFO queue (limits.backend_queue,
# timeouts.backend_queue). Checked from the backend's side (fault_backend
# /conns: the most connections it had open at once; its request log: what
# reached it) and from the client's (statuses, timing, /metrics):
# - 8 concurrent streams, cap 2, 300 ms responses: all 200, never more
#   than 2 backend connections;
# - a wait past timeouts.backend_queue: 503, a log line naming the server,
#   never sent; a full queue: 503 at once; the counters and the gauge;
# - a waiter whose client resets its stream (RST_STREAM) or closes its
#   connection leaves the queue unsent, and the waiter behind it is served;
# - a graceful shutdown serves the queued requests within its drain, and
#   after a reload the old pool serves the requests queued on it;
# - with 2 workers the queue counters sum over both;
# - a bad value for each key gives file:line:key.
# Scenarios whose requests come over several client connections run one
# worker (--workers 1 after lib.sh's): the cap and the queue are per worker.
. "$(dirname "$0")/lib.sh"

if [ -n "$HERALD_STANDIN" ]; then
  skip "backend queue" "herald only"
  finish
fi
command -v nghttp >/dev/null 2>&1 || {
  fail "nghttp installed" "make deps"
  finish
}

start_fault_backend || finish
HP=$(free_port)
AP=$(free_port)
HERALD=$B/herald
BASE=(--listen "127.0.0.1:$HP" --backend "127.0.0.1:$FB_PORT"
  -o "admin.listen=127.0.0.1:$AP" -o "log.access_log=$WORK/access.log")

scrape() { hcurl -o "$WORK/metrics.txt" "http://127.0.0.1:$AP/metrics"; }
metric() {
  K=$1 awk '$1 == ENVIRON["K"] { print $2; found = 1 } END { if (!found) print "missing" }' "$WORK/metrics.txt"
}
fb_conns() { curl -sS -m 5 "http://127.0.0.1:$FB_PORT/conns${1:-}"; }
restart() {
  if [ -n "$HERALD_PID" ] && herald_alive; then
    kill "$HERALD_PID"
    wait_pid_exit "$HERALD_PID" 10
  fi
  start_herald "${BASE[@]}" "$@" || finish
  wait_port "$AP" 127.0.0.1 5 "$HERALD_PID" || fail "admin port" "$(tail -5 "$HERALD_LOG")"
}
# status_of ID FILE: the status nghttp's -s table shows for the request
# whose path has id=ID.
status_of() { awk -v id="id=$1" '$NF ~ id"$" { print $5 }' "$2"; }

# ms_of SECONDS: curl's time_total in whole milliseconds.
ms_of() { awk -v s="$1" 'BEGIN { printf "%d", s * 1000 }'; }
# hold_then_queue TAG MS: a request holding the only backend connection
# for MS ms (TAG1), then one queued behind it (TAG2); pids in HOLDER and
# WAITER.
hold_then_queue() {
  hcurl -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/delay?ms=$2&id=${1}1" \
    >"$WORK/${1}1.code" &
  HOLDER=$!
  wait_for "$FB_LOG" "id=${1}1"
  hcurl -o /dev/null -w '%{http_code} %{time_total}' \
    "http://127.0.0.1:$HP/delay?ms=1&id=${1}2" >"$WORK/${1}2.code" &
  WAITER=$!
  sleep 0.2
}
# both_served TAG WHAT: both got 200, the waiter as soon as the holder's
# connection came back (not at its deadline).
both_served() {
  local code secs
  wait "$HOLDER" "$WAITER"
  assert_eq "$2: the request in progress is served" 200 "$(cat "$WORK/${1}1.code")"
  read -r code secs <"$WORK/${1}2.code"
  assert_eq "$2: the queued request is served" 200 "$code"
  assert_le "$2: as soon as the connection is free (ms)" 2000 "$(ms_of "$secs")"
}

# ---- a bad value for each key: file, line and key ----------------------
# ini FILE SECTION LINE...: a file with a listener and a backend, then
# SECTION with the LINEs (the last on line 5 + the number of LINEs).
ini() {
  local f=$1 sec=$2
  shift 2
  printf '[listener:plain]\nlisten = 127.0.0.1:%s\n[backend:app]\nserver = 127.0.0.1:%s\n[%s]\n' \
    "$HP" "$FB_PORT" "$sec" >"$WORK/$f"
  printf '%s\n' "$@" >>"$WORK/$f"
}
ini bad1.ini limits "backend_max_connections = 0"
ini bad2.ini limits "backend_keepalive = 4" "backend_queue = many"
ini bad3.ini timeouts "backend_queue = 0"
for spec in "bad1.ini:6:limits.backend_max_connections" \
  "bad2.ini:7:limits.backend_queue" "bad3.ini:6:timeouts.backend_queue"; do
  file=${spec%%:*} key=${spec##*:}
  out=$(timeout 10 "$HERALD" -t -c "$WORK/$file" 2>&1)
  assert_eq "-t fails: bad $key" 1 $?
  assert_contains "the error names file:line:key ($key)" \
    "$file:$(echo "$spec" | cut -d: -f2): key '$key'" "$out"
done
out=$(timeout 10 "$HERALD" -t --listen "127.0.0.1:$HP" --backend "127.0.0.1:$FB_PORT" \
  -o limits.backend_max_connections=2000000 2>&1)
assert_eq "-o with an out-of-range backend_max_connections fails" 1 $?
assert_contains "-o names the key and the range" \
  "key 'limits.backend_max_connections': '2000000' is out of range (1..1000000)" "$out"
out=$(timeout 10 "$HERALD" -t --listen "127.0.0.1:$HP" --backend "127.0.0.1:$FB_PORT" \
  -o limits.backend_max_connections=2 -o limits.backend_queue=0 \
  -o timeouts.backend_queue=100 2>&1)
assert_eq "-o with good values passes -t" 0 $?

# ---- the cap: 8 streams, 2 connections -----------------------------------
# One client connection: one worker, whatever HERALD_WORKERS says.
restart -o limits.backend_max_connections=2
fb_conns '?reset=1' >/dev/null
t0=$(date +%s%N)
hnghttp -n -s -m 8 "http://127.0.0.1:$HP/delay?ms=300&id=cap" >"$WORK/cap.out" 2>&1
ms=$((($(date +%s%N) - t0) / 1000000))
assert_eq "8 concurrent streams all get 200" 8 "$(grep -c ' 200 .*id=cap$' "$WORK/cap.out")"
conns=$(fb_conns)
assert_eq "the backend never had more than 2 connections open" "peak 2" "${conns#open * }"
# 8 responses of 300 ms over 2 connections take 4 rounds.
assert_ge "the requests took turns (ms)" 1150 "$ms"
scrape
assert_eq "metrics: the server's open connections" 2 \
  "$(metric "herald_backend_server_connections{backend=\"default\",server=\"127.0.0.1:$FB_PORT\"}")"
assert_eq "metrics: nothing queued after" 0 "$(metric herald_backend_requests_queued)"

# ---- queue timeout and queue full -----------------------------------------
# One connection, streams in order: a holds the only connection for 1 s,
# b waits 300 ms and gets 503, c finds the queue (1) full and gets 503 at
# once.
restart -o limits.backend_max_connections=1 -o limits.backend_queue=1 \
  -o timeouts.backend_queue=300
: >"$FB_LOG"
hnghttp -n -s "http://127.0.0.1:$HP/delay?ms=1000&id=a" \
  "http://127.0.0.1:$HP/delay?ms=1&id=b" "http://127.0.0.1:$HP/delay?ms=1&id=c" \
  >"$WORK/q.out" 2>&1
assert_eq "the first request is served" 200 "$(status_of a "$WORK/q.out")"
assert_eq "a wait past timeouts.backend_queue: 503" 503 "$(status_of b "$WORK/q.out")"
assert_eq "a full queue: 503" 503 "$(status_of c "$WORK/q.out")"
# nghttp -s lists responses in the order they ended.
assert_eq "the full-queue 503 came first (at once)" "c" \
  "$(awk '/id=/ { sub(/.*id=/, "", $NF); print $NF; exit }' "$WORK/q.out")"
assert_not_contains "the timed-out request never reached the backend" "id=b" "$(cat "$FB_LOG")"
assert_not_contains "the rejected request never reached the backend" "id=c" "$(cat "$FB_LOG")"
assert_contains "the timeout is logged with the server" \
  "backend 127.0.0.1:$FB_PORT: no connection free within timeouts.backend_queue" "$(cat "$HERALD_LOG")"
assert_contains "the full queue is logged with the server" \
  "backend 127.0.0.1:$FB_PORT: queue full" "$(cat "$HERALD_LOG")"
scrape
assert_eq "metrics: one queue timeout" 1 "$(metric herald_backend_queue_timeouts_total)"
assert_eq "metrics: one queue-full rejection" 1 "$(metric herald_backend_queue_full_total)"
assert_eq "metrics: 503s are no backend errors" 0 "$(metric herald_backend_errors_total)"

# ---- cancelled waiters leave the queue; the next one is served -----------
# Several client connections: one worker (the cap is per worker).
restart --workers 1 -o limits.backend_max_connections=1 -o timeouts.backend_queue=5000
: >"$FB_LOG"
hcurl -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/delay?ms=1500&id=hold" \
  >"$WORK/hold.code" &
HOLD=$!
wait_for "$FB_LOG" "id=hold"
# Queued first: a stream reset (RST_STREAM CANCEL) after 700 ms.
"$B/h2probe" frame 127.0.0.1 "$HP" 1 --open --path '/delay?ms=1&id=reset' \
  --after 700 --type 3 --flags 0 --stream 1 --payload 00000008 --wait 100 \
  >"$WORK/probe.out" 2>&1 &
PROBE=$!
sleep 0.1
# Second: a client that drops its connection (RST) after 0.5 s. (A FIN
# is a half-close, after which the answer is still owed: a request whose
# client half-closed stays queued, as one in progress goes on.)
"$B/h2probe" frame 127.0.0.1 "$HP" 0 --open --path '/delay?ms=1&id=closed' \
  --after 500 --abort --type 3 >"$WORK/abort.out" 2>&1 &
GONE=$!
sleep 0.1
# Third: the one that must still be served.
hcurl -o /dev/null -w '%{http_code} %{time_total}' "http://127.0.0.1:$HP/delay?ms=1&id=next" \
  >"$WORK/next.code" &
NEXT=$!
sleep 0.2
scrape
assert_eq "metrics: three requests queued" 3 "$(metric herald_backend_requests_queued)"
wait "$PROBE" "$GONE"
sleep 0.1
scrape
assert_eq "metrics: the reset and closed ones left the queue" 1 \
  "$(metric herald_backend_requests_queued)"
wait "$HOLD" "$NEXT"
assert_eq "the holder is served" 200 "$(cat "$WORK/hold.code")"
read -r code secs <"$WORK/next.code"
assert_eq "the waiter behind the cancelled ones is served" 200 "$code"
# Started ~0.4 s in, served when the holder's connection comes back at
# 1.5 s: not at its 5 s deadline.
assert_le "it is served when the connection comes back (ms)" 2500 "$(ms_of "$secs")"
assert_not_contains "a reset waiter never reaches the backend" "id=reset" "$(cat "$FB_LOG")"
assert_not_contains "a closed waiter never reaches the backend" "id=closed" "$(cat "$FB_LOG")"
scrape
assert_eq "metrics: nothing queued at the end" 0 "$(metric herald_backend_requests_queued)"
assert_eq "metrics: cancelled waiters are no timeouts" 0 "$(metric herald_backend_queue_timeouts_total)"

# ---- a graceful shutdown serves the queue within its drain ----------------
: >"$FB_LOG"
hold_then_queue d 600
herald_graceful_stop
both_served d draining
wait_pid_exit "$HERALD_PID" 10
wait "$HERALD_PID"
assert_eq "herald exits 0 after the drain" 0 $?
HERALD_PID=

# ---- a reload: queued requests finish on the pool they started with ------
# The old pool is retired, not closed: its waiters hold it, and its
# connection, released, goes to them.
ini reload.ini limits "backend_max_connections = 1" "[admin]" "listen = 127.0.0.1:$AP"
start_herald --workers 1 -c "$WORK/reload.ini" || finish
wait_port "$AP" 127.0.0.1 5 "$HERALD_PID" || fail "admin port" "$(tail -5 "$HERALD_LOG")"
: >"$FB_LOG"
hold_then_queue r 800
sed -i 's/backend_max_connections = 1/backend_max_connections = 4/' "$WORK/reload.ini"
kill -HUP "$HERALD_PID"
wait_for "$HERALD_LOG" "reload: configuration"
both_served r "reload (old pool)"
scrape
assert_eq "reload: nothing left queued" 0 "$(metric herald_backend_requests_queued)"

# ---- two workers: the counters sum over both -----------------------------
# Six connections, each a 800 ms holder and a waiter; each worker has one
# backend connection, so whatever the spread every request but the first
# on each worker waits 300 ms and gets 503. The metric must count exactly
# the 503s the clients saw.
restart --workers 2 -o limits.backend_max_connections=1 -o limits.backend_queue=64 \
  -o timeouts.backend_queue=300
pids=()
for i in 1 2 3 4 5 6; do
  hnghttp -n -s "http://127.0.0.1:$HP/delay?ms=800&id=h$i" \
    "http://127.0.0.1:$HP/delay?ms=1&id=v$i" >"$WORK/w$i.out" 2>&1 &
  pids+=($!)
done
wait "${pids[@]}"
seen=$(cat "$WORK"/w?.out | grep -c ' 503 ')
ok200=$(cat "$WORK"/w?.out | grep -c ' 200 ')
assert_eq "two workers: every request answered" 12 $((seen + ok200))
assert_ge "two workers: most waited and got 503" "$seen" 10
scrape
assert_eq "two workers: queue timeouts sum to the 503s clients saw" "$seen" \
  "$(metric herald_backend_queue_timeouts_total)"
assert_eq "two workers: nothing left queued" 0 "$(metric herald_backend_requests_queued)"
w0=$(metric 'herald_worker_requests_total{worker="0"}')
w1=$(metric 'herald_worker_requests_total{worker="1"}')
check "two workers: both served some ($w0, $w1)" test "$w0" -gt 0 -a "$w1" -gt 0

finish
