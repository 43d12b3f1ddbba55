#!/usr/bin/env bash
# test_workers.sh: herald with workers = 2 (one process, two event-loop
# threads). /metrics sums both workers exactly (a known number of requests
# over many connections: the totals equal them, the per-worker families
# add up to them and both workers served some); long-lived connections
# are spread evenly; max_connections_per_client counts across workers; a
# backend server one worker finds down is down for both; SIGHUP moves
# every worker to the new backend and certificate; SIGUSR1 reopens the
# logs; SIGTERM drains a download on either worker and exits 0; out of
# descriptors, accepting pauses rather than spins.
# Connection ids are unique across workers (the log lines that name them).
. "$(dirname "$0")/lib.sh"

if [ -n "$HERALD_STANDIN" ]; then
  skip "workers" "herald only"
  finish
fi

start_nginx || finish
start_fault_backend || finish
gen_cert || finish
HP=$(free_port)
TP=$(free_port)
AP=$(free_port)
DEAD=$(free_port)
INI=$WORK/herald.ini
ACCESS=$WORK/access.log

# write_ini BACKEND_PORT CERT_NAME
write_ini() {
  cat >"$INI" <<EOT
[server]
workers = 2
[listener:plain]
listen = 127.0.0.1:$HP
[listener:tls]
listen = 127.0.0.1:$TP
tls = on
cert = $WORK/$2.pem
key = $WORK/$2.key
[backend:app]
server = 127.0.0.1:$1
[backend:mix]
server = 127.0.0.1:$DEAD
server = 127.0.0.1:$NGINX_PORT
[route:mix]
prefix = /mix/
backend = mix
[limits]
max_connections_per_client = 6
[timeouts]
shutdown = 15000
header = 2000
[log]
access_log = $ACCESS
[admin]
listen = 127.0.0.1:$AP
EOT
}
mkcert() { # mkcert NAME CN
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$2" \
    -keyout "$WORK/$1.key" -out "$WORK/$1.pem" \
    -addext "subjectAltName=IP:127.0.0.1" >>"$WORK/openssl.log" 2>&1
}
mkcert a herald-cert-a && mkcert b herald-cert-b
write_ini "$NGINX_PORT" a
# The file says 2; an explicit --workers (HERALD_WORKERS) would override it.
start_herald -c "$INI" --workers 2 || finish
wait_port "$AP" 127.0.0.1 5 "$HERALD_PID" || fail "admin port" "$(tail -5 "$HERALD_LOG")"
assert_contains "the log names the workers" "2 workers" "$(cat "$HERALD_LOG")"

scrape() { hcurl -o "$WORK/metrics.txt" "http://127.0.0.1:$AP/metrics"; }
metric() {
  K=$1 awk '$1 == ENVIRON["K"] { print $2; found = 1 } END { if (!found) print 0 }' "$WORK/metrics.txt"
}
requests() { echo $(($(metric 'herald_requests_total{protocol="h1"}') + $(metric 'herald_requests_total{protocol="h2"}'))); }
# wait_metric NAME VALUE TENTHS: scrape until NAME is VALUE, at most
# TENTHS tenths of a second (a worker publishes its counters before it
# next waits for events).
wait_metric() {
  local i
  for ((i = 0; i < $3; i++)); do
    scrape
    [ "$(metric "$1")" = "$2" ] && return 0
    sleep 0.1
  done
}
worker_sum() { awk -v f="$1{" 'index($1, f) == 1 { s += $2 } END { print s + 0 }' "$WORK/metrics.txt"; }

# ---- 1. /metrics: exact sums over many connections -------------------------

scrape
base_req=$(requests)
base_acc=$(metric herald_connections_accepted_total)
# 20 HTTP/1.1 connections of one request, 10 h2c connections of three.
for i in $(seq 20); do hcurl --http1.1 -o /dev/null "http://127.0.0.1:$HP/index.html"; done
for i in $(seq 10); do
  hnghttp -n "http://127.0.0.1:$HP/index.html" "http://127.0.0.1:$HP/style.css" \
    "http://127.0.0.1:$HP/app.js" >/dev/null 2>&1
done
# A worker publishes its counters before it next waits for events: poll.
want=$((base_req + 50))
for i in $(seq 50); do
  scrape
  [ "$(requests)" = "$want" ] && [ "$(metric herald_connections_active)" = 0 ] && break
  sleep 0.1
done
assert_eq "herald_requests_total sums both workers: 50 more" "$want" "$(requests)"
assert_eq "30 more connections accepted" $((base_acc + 30)) "$(metric herald_connections_accepted_total)"
assert_eq "the per-worker requests add up to the total" "$(requests)" "$(worker_sum herald_worker_requests_total)"
w0=$(metric 'herald_worker_requests_total{worker="0"}')
w1=$(metric 'herald_worker_requests_total{worker="1"}')
assert_ge "worker 0 served some" 10 "$w0"
assert_ge "worker 1 served some" 10 "$w1"
assert_eq "responses: 50 more 2xx" "$want" \
  "$(($(metric 'herald_responses_total{protocol="h1",class="2xx"}') + $(metric 'herald_responses_total{protocol="h2",class="2xx"}')))"
assert_eq "/healthz is ok" ok "$(hcurl "http://127.0.0.1:$AP/healthz")"

# ---- 2. long-lived connections spread evenly; per-client limit across workers

declare -a FDS=()
for i in $(seq 6); do
  exec {fd}<>"/dev/tcp/127.0.0.1/$HP" && FDS+=("$fd")
done
wait_metric herald_connections_active 6 50
assert_eq "6 idle connections open" 6 "$(metric herald_connections_active)"
assert_eq "worker 0 holds 3 of them" 3 "$(metric 'herald_worker_connections_active{worker="0"}')"
assert_eq "worker 1 holds 3 of them" 3 "$(metric 'herald_worker_connections_active{worker="1"}')"
limited=$(metric herald_connections_client_limited_total)
code=$(hcurl -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/index.html" 2>/dev/null)
assert_ne "a 7th connection from the address is refused (limit 6, across workers)" 200 "$code"
scrape
assert_eq "counted as client-limited" $((limited + 1)) "$(metric herald_connections_client_limited_total)"
# They send nothing: timeouts.header closes them, each logged with its
# connection id, which must be unique across the workers.
wait_metric herald_connections_active 0 80
assert_eq "timeouts.header closed them" 0 "$(metric herald_connections_active)"
for fd in "${FDS[@]}"; do exec {fd}>&-; done
ids=$(sed -n 's/.*conn \([0-9]*\) 127.0.0.1: preface timeout.*/\1/p' "$HERALD_LOG")
assert_eq "6 timeouts logged" 6 "$(printf '%s\n' $ids | grep -c .)"
assert_eq "6 distinct connection ids" 6 "$(printf '%s\n' $ids | sort -u | wc -l)"

# ---- 3. a server down for one worker is down for both -----------------------

# Backend mix: a dead server first, then nginx. Each worker's pool starts
# its round robin at the dead one; the first request marks it down (and
# is retried on nginx); the next connections go to the other worker,
# which must skip it too.
for i in 1 2 3 4; do
  code=$(hcurl --http1.1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/mix/index.html")
  assert_eq "mix request $i is served by nginx" 404 "$code"
done
scrape
MIXD='backend="mix",server="127.0.0.1:'"$DEAD"'"'
assert_eq "the dead server is down" 0 "$(metric "herald_backend_server_up{$MIXD}")"
assert_eq "one worker found it down, the other never tried it: 1 error" 1 \
  "$(metric "herald_backend_server_errors_total{$MIXD}")"
assert_eq "/healthz is ok: mix has a server up" ok "$(hcurl "http://127.0.0.1:$AP/healthz")"

# ---- 4. SIGHUP: every worker gets the new backend and certificate ------------

subject() {
  timeout 10 openssl s_client -connect "127.0.0.1:$TP" </dev/null 2>/dev/null |
    sed -n 's/^subject=.*CN *= *//p'
}
assert_eq "TLS listener starts with certificate a" herald-cert-a "$(subject)"
write_ini "$FB_PORT" b
fb_reset
kill -HUP "$HERALD_PID"
wait_for "$HERALD_LOG" "reload: configuration"
ok=0
for i in $(seq 10); do
  body=$(hcurl --http1.1 "http://127.0.0.1:$HP/echo")
  case $body in *'"path": "/echo"'*) ok=$((ok + 1)) ;; esac
done
assert_eq "10 new connections (both workers) reach the new backend" 10 "$ok"
assert_eq "the new backend saw them" 10 "$(fb_count)"
n=0
for i in 1 2 3 4; do [ "$(subject)" = herald-cert-b ] && n=$((n + 1)); done
assert_eq "4 new TLS connections get certificate b" 4 "$n"
code=$(hcurl -k --http2 -o /dev/null -w '%{http_code}' "https://127.0.0.1:$TP/echo")
assert_eq "TLS requests are served after the reload" 200 "$code"

# ---- 5. SIGUSR1 -----------------------------------------------------------------

mv "$ACCESS" "$ACCESS.1"
kill -USR1 "$HERALD_PID"
wait_for "$HERALD_LOG" "SIGUSR1: logs reopened"
for i in 1 2 3 4; do hcurl --http1.1 -o /dev/null "http://127.0.0.1:$HP/echo"; done
for i in $(seq 50); do [ "$(grep -c ' 200 ' "$ACCESS" 2>/dev/null)" -ge 4 ] && break; sleep 0.1; done
assert_ge "both workers log to the reopened access log" 4 "$(grep -c ' 200 ' "$ACCESS")"

# ---- 6. SIGTERM drains both workers --------------------------------------------

for i in 1 2; do
  # 30 chunks of 1 KB, one every 100 ms: 3 s.
  hcurl --http1.1 -m 30 -o "$WORK/dl$i" "http://127.0.0.1:$HP/slowbody?ms=100&n=30" &
  eval "DL$i=\$!"
done
wait_metric herald_connections_active 2 50
assert_eq "one download on each worker" "1 1" \
  "$(metric 'herald_worker_connections_active{worker="0"}') $(metric 'herald_worker_connections_active{worker="1"}')"
kill -TERM "$HERALD_PID"
wait "$DL1"
assert_eq "the download on worker 0 completes" 0 $?
wait "$DL2"
assert_eq "the download on worker 1 completes" 0 $?
assert_eq "both got every byte" "30720 30720" "$(stat -c %s "$WORK/dl1") $(stat -c %s "$WORK/dl2")"
wait_pid_exit "$HERALD_PID" 10
wait "$HERALD_PID"
assert_eq "herald exits 0" 0 $?
assert_contains "herald stopped" "herald stopped" "$(tail -3 "$HERALD_LOG")"

# ---- 7. out of descriptors: accepting pauses instead of spinning ---------------

: >"$HERALD_LOG"
old_nofile=$(ulimit -Sn)
ulimit -Sn 64
start_herald --workers 2 --listen 127.0.0.1:$HP --backend 127.0.0.1:$NGINX_PORT \
  -o limits.max_connections_per_client=1000
ulimit -Sn "$old_nofile"
declare -a MORE=()
for i in $(seq 80); do
  exec {fd}<>"/dev/tcp/127.0.0.1/$HP" && MORE+=("$fd")
done
sleep 1
pauses=$(grep -c "accept: Too many open files; pausing accepts" "$HERALD_LOG")
assert_ge "accept failing for want of descriptors is logged" 1 "$pauses"
assert_le "at most one line per pause (100 ms), no spinning" 15 "$pauses"
for fd in "${MORE[@]}"; do exec {fd}>&-; done
code=$(hcurl -o /dev/null -w '%{http_code}' -m 20 "http://127.0.0.1:$HP/index.html")
assert_eq "descriptors free again: requests are served" 200 "$code"
finish
