#!/usr/bin/env bash
# test_admin.sh: the admin listener. /metrics after a scripted session
# (counters equal what the clients saw, the histogram is well-formed and
# counts every backend response, gauges return to 0), the Prometheus text
# format itself, /healthz (200, then 503 while draining), 404 and 405, the
# connection cap and idle timeout, and per backend server: up/down,
# requests and errors, /healthz degraded while every server of a backend
# is down.
. "$(dirname "$0")/lib.sh"

if [ -n "$HERALD_STANDIN" ]; then
  skip "admin endpoint" "herald only"
  finish
fi

start_nginx || finish
HP=$(free_port)
AP=$(free_port)
start_herald --listen 127.0.0.1:$HP --backend 127.0.0.1:$NGINX_PORT \
  --admin 127.0.0.1:$AP -o timeouts.shutdown=3000 || finish
wait_port "$AP" 127.0.0.1 5 "$HERALD_PID" || fail "admin port listens" "$(tail -5 "$HERALD_LOG")"
FIRST_PID=$HERALD_PID
ADMIN=http://127.0.0.1:$AP

# metric NAME_WITH_LABELS: its value in the last $WORK/metrics.txt.
metric() {
  # ENVIRON, not -v: awk would read the backslashes of an escaped label.
  K=$1 awk '$1 == ENVIRON["K"] { print $2; found = 1 } END { if (!found) print "missing" }' "$WORK/metrics.txt"
}
scrape() { hcurl -o "$WORK/metrics.txt" -w '%{http_code}' "$ADMIN/metrics"; }

# ---- /healthz, 404, 405 -----------------------------------------------------

out=$(hcurl -i "$ADMIN/healthz" | tr -d '\r')
assert_match "/healthz answers 200" '^HTTP/1.1 200' "$out"
assert_eq "/healthz body is ok" ok "$(printf '%s' "$out" | tail -1)"
assert_eq "unknown path is 404" 404 "$(hcurl -o /dev/null -w '%{http_code}' "$ADMIN/nope")"
assert_eq "/metrics/ (a different path) is 404" 404 "$(hcurl -o /dev/null -w '%{http_code}' "$ADMIN/metrics/")"
assert_eq "POST /metrics is 405" 405 "$(hcurl -o /dev/null -w '%{http_code}' -X POST -d x "$ADMIN/metrics")"
bad=$(printf 'GARBAGE\r\n\r\n' | raw_http 127.0.0.1 "$AP" 2)
assert_match "a malformed request gets 400" '^HTTP/1.1 400' "$bad"

# ---- a scripted session --------------------------------------------------------

assert_eq "/metrics answers 200" 200 "$(scrape)"
base_resp=$(metric herald_backend_response_seconds_count)
assert_eq "no backend responses before the session" 0 "$base_resp"
# start_herald's port probe was a connection too.
base_acc=$(metric herald_connections_accepted_total)

# 5 HTTP/2 requests on one h2c connection, 3 HTTP/1.1 requests.
hnghttp -n "http://127.0.0.1:$HP/1k.bin" "http://127.0.0.1:$HP/100k.bin" \
  "http://127.0.0.1:$HP/index.html" "http://127.0.0.1:$HP/style.css" \
  "http://127.0.0.1:$HP/app.js" >"$WORK/nghttp.out" 2>&1
assert_eq "nghttp made its 5 requests" 0 $?
for p in 1k.bin index.html app.js; do
  hcurl --http1.1 -o /dev/null "http://127.0.0.1:$HP/$p"
done

# Connections close asynchronously: wait until the gauge is back at 0.
for _ in $(seq 1 50); do
  scrape >/dev/null
  [ "$(metric herald_connections_active)" = 0 ] && break
  sleep 0.1
done
assert_eq "h2 requests counted" 5 "$(metric 'herald_requests_total{protocol="h2"}')"
assert_eq "h1 requests counted" 3 "$(metric 'herald_requests_total{protocol="h1"}')"
assert_eq "h2 2xx responses counted" 5 "$(metric 'herald_responses_total{protocol="h2",class="2xx"}')"
assert_eq "h1 2xx responses counted" 3 "$(metric 'herald_responses_total{protocol="h1",class="2xx"}')"
assert_eq "no 5xx" 0 "$(metric 'herald_responses_total{protocol="h2",class="5xx"}')"
assert_eq "connections accepted (1 h2c + 3 curl)" 4 "$(($(metric herald_connections_accepted_total) - base_acc))"
assert_eq "active connections back to 0" 0 "$(metric herald_connections_active)"
assert_eq "active h2 streams back to 0" 0 "$(metric herald_http2_streams_active)"
assert_eq "active backend exchanges back to 0" 0 "$(metric herald_backend_requests_active)"
assert_eq "histogram count = backend responses" 8 "$(metric herald_backend_response_seconds_count)"
assert_eq "+Inf bucket = count" 8 "$(metric 'herald_backend_response_seconds_bucket{le="+Inf"}')"
mono=$(awk '/^herald_backend_response_seconds_bucket/ { n++; if ($2 < prev) bad = 1; prev = $2 }
  END { print (n == 12 && !bad) ? "monotone" : "broken(" n ")" }' "$WORK/metrics.txt")
assert_eq "12 buckets, cumulative counts never decrease" monotone "$mono"
sum=$(metric herald_backend_response_seconds_sum)
assert_match "histogram sum is a positive number of seconds" '^[0-9]+\.[0-9]+$' "$sum"
assert_eq "backend errors 0" 0 "$(metric herald_backend_errors_total)"
SRV="backend=\"default\",server=\"127.0.0.1:$NGINX_PORT\""
assert_eq "per server: the requests it was sent" 8 "$(metric "herald_backend_server_requests_total{$SRV}")"
assert_eq "per server: no errors" 0 "$(metric "herald_backend_server_errors_total{$SRV}")"
assert_eq "per server: up" 1 "$(metric "herald_backend_server_up{$SRV}")"
for m in herald_pushes_promised_total herald_pushes_completed_total \
  herald_pushes_cancelled_total herald_pushes_wasted_total herald_push_bytes_total \
  herald_early_hints_sent_total herald_holdout_visits_total herald_rules \
  herald_recorder_queue_depth herald_recorder_dropped_total \
  herald_learner_cycles_total herald_learner_last_cycle_seconds; do
  assert_eq "$m exposed (0 in this session)" 0 "$(metric $m)"
done

# ---- the text format -------------------------------------------------------------

fmt=$(awk '
  /^# HELP / { help[$3] = 1; next }
  /^# TYPE / { if (!help[$3]) { print "TYPE without HELP: " $3 }
               type[$3] = $4
               if ($4 == "counter" && $3 !~ /_total$/) print "counter not _total: " $3
               next }
  /^#/ { next }
  {
    name = $1; sub(/\{.*/, "", name)
    base = name; sub(/_(bucket|sum|count)$/, "", base)
    if (!(name in type) && !(base in type && type[base] == "histogram")) print "no TYPE: " name
    if ($2 !~ /^[0-9.e+-]+$/) print "bad value: " $0
    if (NF != 2) print "bad line: " $0
  }' "$WORK/metrics.txt")
assert_eq "every sample has HELP and TYPE, counters end in _total, values numeric" "" "$fmt"
ctype=$(hcurl -o /dev/null -w '%{content_type}' "$ADMIN/metrics")
assert_contains "exposition content type" "text/plain; version=0.0.4" "$ctype"

# ---- connection cap and idle timeout ------------------------------------------------

# 16 silent connections fill the admin cap; a 17th is closed at once; the
# silent ones are dropped after the 10 s deadline and the endpoint serves
# again. Client traffic is unaffected throughout.
cat >"$WORK/idle.py" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
time.sleep(0.5)
t0 = time.time()
closed = 0
for s in socks:
    s.settimeout(15)
    try:
        if s.recv(1) == b"":
            closed += 1
    except OSError:
        closed += 1
print(closed, int(time.time() - t0 + 0.5))
EOF
python3 "$WORK/idle.py" "$AP" >"$WORK/idle.out" 2>&1 &
IDLE_PID=$!
sleep 1
code=$(curl -sS -m 3 -o /dev/null -w '%{http_code}' "$ADMIN/healthz" 2>/dev/null)
assert_ne "a 17th admin connection is refused while 16 are open" 200 "$code"
assert_eq "client traffic unaffected by a full admin port" 200 "$(hcurl -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/1k.bin")"
wait "$IDLE_PID"
read -r closed secs <"$WORK/idle.out"
assert_eq "all 16 silent admin connections closed by the deadline" 16 "$closed"
assert_le "closed within about 10 s" 11 "$secs"
assert_eq "/healthz serves again after the idle ones are gone" 200 "$(hcurl -o /dev/null -w '%{http_code}' "$ADMIN/healthz")"

# ---- every server of a backend down: /healthz degraded ------------------------------

start_fault_backend || finish
DEAD=$(free_port)
DEAD2=$(free_port)
HP2=$(free_port)
AP2=$(free_port)
cat >"$WORK/degraded.ini" <<EOF
[listener:a]
listen = 127.0.0.1:$HP2
[backend:app]
server = 127.0.0.1:$FB_PORT
server = 127.0.0.1:$DEAD2
[backend:dead"one]
server = 127.0.0.1:$DEAD
[route:dead]
prefix = /dead/
backend = dead"one
[admin]
listen = $AP2
[timeouts]
backend_retry_backoff = 100
EOF
start_herald -c "$WORK/degraded.ini" || finish
D=$HERALD_PID
ADMIN2=http://127.0.0.1:$AP2
assert_eq "/healthz is ok before any server failed" ok "$(hcurl "$ADMIN2/healthz")"
assert_eq "a request to the dead backend gets 502" 502 "$(hcurl -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP2/dead/x")"
# Round robin reaches app's dead server; herald retries the live one.
for i in 1 2 3 4; do
  assert_eq "app request $i is served" 200 "$(hcurl -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP2/ok")"
done
out=$(hcurl -i "$ADMIN2/healthz" | tr -d '\r')
assert_match "/healthz is 503 once every server of a backend is down" '^HTTP/1.1 503' "$out"
assert_contains "the body says degraded and which backend and server" \
  "$(printf 'degraded\nbackend '"'"'dead"one'"'"': its server is down: 127.0.0.1:%s' "$DEAD")" "$out"
assert_not_contains "a backend with a server up is not named" "backend 'app'" "$out"
hcurl -o "$WORK/metrics.txt" "$ADMIN2/metrics"
DLB="backend=\"dead\\\"one\",server=\"127.0.0.1:$DEAD\""
assert_eq "the dead server is down (label escaped)" 0 "$(metric "herald_backend_server_up{$DLB}")"
assert_eq "its refused connection is an error" 1 "$(metric "herald_backend_server_errors_total{$DLB}")"
assert_eq "and no request reached it" 0 "$(metric "herald_backend_server_requests_total{$DLB}")"
AL="backend=\"app\",server=\"127.0.0.1:$FB_PORT\""
AD="backend=\"app\",server=\"127.0.0.1:$DEAD2\""
assert_eq "app's live server is up" 1 "$(metric "herald_backend_server_up{$AL}")"
assert_eq "app's live server took the 4 requests" 4 "$(metric "herald_backend_server_requests_total{$AL}")"
assert_eq "app's dead server is down" 0 "$(metric "herald_backend_server_up{$AD}")"
assert_ge "app's dead server has errors" 1 "$(metric "herald_backend_server_errors_total{$AD}")"
# A reload keeps the counts and what is down.
kill -HUP "$D"
for _ in $(seq 1 50); do
  grep -q "reload: configuration" "$HERALD_LOG" && break
  sleep 0.1
done
hcurl -o "$WORK/metrics.txt" "$ADMIN2/metrics"
assert_eq "after a reload: the counts stay" 4 "$(metric "herald_backend_server_requests_total{$AL}")"
assert_eq "after a reload: the dead server is still down" 0 "$(metric "herald_backend_server_up{$DLB}")"
assert_eq "after a reload: /healthz still degraded" 503 "$(hcurl -o /dev/null -w '%{http_code}' "$ADMIN2/healthz")"
# The server comes back: the next request past its backoff succeeds.
"$B/fault_backend" --listen "127.0.0.1:$DEAD" >>"$WORK/fault_backend.log" 2>&1 &
track_pid $!
wait_port "$DEAD" || fail "second fault backend listens" ""
sleep 0.3
assert_eq "the revived server answers" 200 "$(hcurl -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP2/dead/x")"
assert_eq "/healthz is ok again" ok "$(hcurl "$ADMIN2/healthz")"
hcurl -o "$WORK/metrics.txt" "$ADMIN2/metrics"
assert_eq "the revived server is up" 1 "$(metric "herald_backend_server_up{$DLB}")"
assert_eq "and counted its request" 1 "$(metric "herald_backend_server_requests_total{$DLB}")"
stop_pid "$D"
HERALD_PID=$FIRST_PID

# ---- draining -------------------------------------------------------------------------

hcurl -m 30 --limit-rate 2M -o /dev/null "http://127.0.0.1:$HP/50m.bin" 2>/dev/null &
DL=$!
sleep 0.5
kill -TERM "$HERALD_PID"
sleep 0.3
out=$(hcurl -i "$ADMIN/healthz" | tr -d '\r')
assert_match "/healthz answers 503 while draining" '^HTTP/1.1 503' "$out"
scrape >/dev/null
assert_eq "herald_draining is 1" 1 "$(metric herald_draining)"
assert_eq "the download still counts as an active connection" 1 "$(metric herald_connections_active)"
wait_pid_exit "$HERALD_PID" 8
assert_eq "herald exits at the shutdown deadline" 0 $?
kill "$DL" 2>/dev/null
wait "$DL" 2>/dev/null

finish
