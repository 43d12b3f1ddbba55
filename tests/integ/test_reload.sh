#!/usr/bin/env bash
# test_reload.sh: SIGHUP reload. A reload that adds a listener and moves
# the backend while a long download runs on an old connection (the
# download completes, byte for byte, from the old backend; new requests go
# to the new one); a bad file (logged with file:line and key, the old
# configuration keeps serving); a route change; a removed listener and a
# moved admin port; keys that need a restart are named; [learn] settings
# reach the learner thread; a request in flight keeps the configuration its
# connection was accepted under; a TLS listener gets its new certificate (and a
# mismatched key is rejected); and
# config/herald.ini.example passes herald -t.
. "$(dirname "$0")/lib.sh"

if [ -n "$HERALD_STANDIN" ]; then
  skip "reload" "herald only"
  finish
fi

HERALD=$B/herald
timeout 10 "$HERALD" -t -c "$ROOT/config/herald.ini.example" >"$WORK/example.out" 2>&1
assert_eq "herald -t -c config/herald.ini.example exits 0" 0 $?

start_nginx || finish
start_fault_backend || finish
P1=$(free_port)
P2=$(free_port)
AP=$(free_port)
AP2=$(free_port)
INI=$WORK/herald.ini

# write_ini EXTRA_LISTENER BACKEND_PORT ROUTE ADMIN_PORT [TAIL]
write_ini() {
  {
    echo "[listener:one]"
    echo "listen = 127.0.0.1:$P1"
    if [ -n "$1" ]; then
      echo "[listener:two]"
      echo "listen = 127.0.0.1:$1"
    fi
    echo "[backend:app]"
    echo "server = 127.0.0.1:$2"
    echo "[backend:files]"
    echo "server = 127.0.0.1:$NGINX_PORT"
    if [ -n "$3" ]; then
      echo "[route:r]"
      echo "prefix = $3"
      echo "backend = files"
    fi
    echo "[timeouts]"
    echo "shutdown = 3000"
    echo "[store]"
    echo "db = $WORK/herald.db"
    echo "[learn]"
    echo "min_visits = ${LEARN_MIN_VISITS:-20}"
    echo "[admin]"
    echo "listen = 127.0.0.1:$4"
    printf '%s' "${5:-}"
  } >"$INI"
}

scrape() { hcurl -o "$WORK/metrics.txt" "http://127.0.0.1:$1/metrics"; }
metric() {
  awk -v k="$1" '$1 == k { print $2; found = 1 } END { if (!found) print "missing" }' "$WORK/metrics.txt"
}
# reload_and_wait N: SIGHUP, then wait until the log holds N reload outcomes.
reload_and_wait() {
  kill -HUP "$HERALD_PID"
  for _ in $(seq 1 100); do
    [ "$(grep -cE 'reload: configuration .* in force|reload failed:' "$HERALD_LOG")" -ge "$1" ] && return 0
    sleep 0.05
  done
  return 1
}
body() { hcurl "http://127.0.0.1:$1$2"; }

# Start: everything goes to nginx (backend app = nginx, no routes).
write_ini "" "$NGINX_PORT" "" "$AP"
start_herald -c "$INI" || finish
wait_port "$AP" 127.0.0.1 5 "$HERALD_PID" || fail "admin listens" "$(tail -3 "$HERALD_LOG")"
assert_match "before: / served by nginx" 'herald test site' "$(body "$P1" /index.html)"

# ---- 1. add a listener, move the backend, during a long download ------------

want=$(sha256sum <"$WORK/site/50m.bin" | cut -d' ' -f1)
hcurl -m 60 --limit-rate 10M -o "$WORK/dl.bin" "http://127.0.0.1:$P1/50m.bin" 2>"$WORK/dl.err" &
DL=$!
sleep 1
write_ini "$P2" "$FB_PORT" "" "$AP"
reload_and_wait 1
assert_eq "reload 1 took effect" 0 $?
wait_port "$P2" 127.0.0.1 5 || fail "new listener accepts" "$(tail -3 "$HERALD_LOG")"
assert_eq "new listener serves, from the new backend" ok "$(body "$P2" /index.html)"
assert_eq "old listener, new connection: new backend" ok "$(body "$P1" /index.html)"
kill -0 "$DL" 2>/dev/null
assert_eq "the download is still running across the reload" 0 $?
wait "$DL"
assert_eq "the download completes (curl exit 0)" 0 $?
assert_eq "the download is intact (sha256)" "$want" "$(sha256sum <"$WORK/dl.bin" | cut -d' ' -f1)"
log=$(cat "$HERALD_LOG")
assert_contains "reload logs the listener added" "reload: listening on 127.0.0.1:$P2" "$log"
assert_contains "reload logs the new configuration" "2 listeners (1 added, 0 removed)" "$log"
scrape "$AP"
assert_eq "herald_config_reloads_total 1" 1 "$(metric herald_config_reloads_total)"

# ---- 2. a bad configuration keeps the running one -------------------------------

write_ini "$P2" "$FB_PORT" "" "$AP" $'[limits]\nno_such_key = 5\n'
line=$(grep -n no_such_key "$INI" | cut -d: -f1)
reload_and_wait 2
assert_eq "reload 2 finished" 0 $?
log=$(cat "$HERALD_LOG")
assert_contains "failure logged as file:line: key, keeping the old one" \
  "reload failed: $INI:$line: key 'limits.no_such_key': unknown key; keeping the running configuration" "$log"
assert_eq "old listener still serves" ok "$(body "$P1" /index.html)"
assert_eq "added listener still serves" ok "$(body "$P2" /index.html)"
scrape "$AP"
assert_eq "herald_config_reload_failures_total 1" 1 "$(metric herald_config_reload_failures_total)"

# A file that parses but does not bind (the new listener's port is taken)
# is rejected whole as well.
BP=$(free_port)
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); time.sleep(30)' "$BP" &
BLOCK=$!
track_pid "$BLOCK"
wait_port "$BP" 127.0.0.1 5
write_ini "$BP" "$FB_PORT" "" "$AP"
reload_and_wait 3
log=$(cat "$HERALD_LOG")
assert_contains "a listener that cannot bind fails the reload" "reload failed: listener 127.0.0.1:$BP" "$log"
assert_eq "listener two kept after a failed bind" ok "$(body "$P2" /index.html)"
stop_pid "$BLOCK"

# ---- 3. a route change ------------------------------------------------------------

assert_eq "before the route: /app.js goes to backend app" ok "$(body "$P1" /app.js)"
write_ini "$P2" "$FB_PORT" "/app" "$AP"
reload_and_wait 4
assert_eq "reload 4 took effect" 0 $?
assert_contains "after the route: /app.js goes to backend files" 'console.log' "$(body "$P1" /app.js)"
assert_eq "other paths still go to backend app" ok "$(body "$P1" /index.html)"

# ---- 4. remove a listener, move the admin port, a restart-only key ------------------

write_ini "" "$FB_PORT" "/app" "$AP2" $'[record]\nwindow = 3000\n'
reload_and_wait 5
assert_eq "reload 5 took effect" 0 $?
wait_port_closed "$P2" 127.0.0.1 5
assert_eq "the removed listener no longer accepts" 0 $?
wait_port "$AP2" 127.0.0.1 5
assert_eq "the admin endpoint moved" ok "$(hcurl "http://127.0.0.1:$AP2/healthz")"
wait_port_closed "$AP" 127.0.0.1 5
assert_eq "the old admin port is closed" 0 $?
log=$(cat "$HERALD_LOG")
assert_contains "restart-only keys are named" "take effect only after a restart (the running values stay): record.window" "$log"
assert_eq "still serving" ok "$(body "$P1" /index.html)"

# ---- 5. learner settings reach the recorder thread ---------------------------------

LEARN_MIN_VISITS=7 write_ini "" "$FB_PORT" "/app" "$AP2" $'[record]\nwindow = 3000\n'
reload_and_wait 6
assert_eq "reload 6 took effect" 0 $?
for _ in $(seq 1 60); do
  grep -q 'learner: reloaded settings apply' "$HERALD_LOG" && break
  sleep 0.1
done
assert_contains "the learner thread picked up the new [learn] settings" \
  "learner: reloaded settings apply from this recompute" "$(cat "$HERALD_LOG")"

# ---- 5b. a request in flight keeps its connection's configuration -------------
# A chunked upload is under way when a reload lowers limits.max_request_body
# below its size and routes its path to the other backend: the request was
# accepted under the old configuration and finishes under it (its whole body
# reaches the backend it was routed to), while a new connection gets the new
# limit and route.

write_ini "" "$FB_PORT" "/app" "$AP2" $'[record]\nwindow = 3000\n[limits]\nmax_request_body = 10000000\n'
reload_and_wait 7
assert_eq "reload 7 took effect" 0 $?
head -c 400000 /dev/urandom >"$WORK/up.bin"
hcurl -m 30 --limit-rate 100K -H 'Transfer-Encoding: chunked' \
  --data-binary @"$WORK/up.bin" -o "$WORK/up.out" \
  "http://127.0.0.1:$P1/echo" 2>"$WORK/up.err" &
UP=$!
sleep 1
write_ini "" "$FB_PORT" "/echo" "$AP2" $'[record]\nwindow = 3000\n[limits]\nmax_request_body = 1000\n'
reload_and_wait 8
assert_eq "reload 8 took effect" 0 $?
kill -0 "$UP" 2>/dev/null
assert_eq "the upload is still running across the reload" 0 $?
wait "$UP"
assert_eq "the upload completes (curl exit 0)" 0 $?
assert_contains "the upload's whole body reached its old backend under its old limit" \
  '"body_length": 400000' "$(cat "$WORK/up.out")"
code=$(hcurl -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
  --data-binary @"$WORK/up.bin" "http://127.0.0.1:$P1/echo")
assert_eq "a new connection gets the new limit (413)" 413 "$code"

# ---- 5c. page keys outlive the configuration they were read from -------------------
# Every loop makes page keys with the [record] settings read at start
# (restart-only keys). The reloads above have freed the start configuration
# (its pools retired): a navigation whose query string is matched against
# record.keep_params must not read it (under make asan the old code died
# here with a heap-use-after-free, the configuration freed by main's thread
# and read by the loop serving the request). Both workers get one.

for i in 1 2 3 4; do
  code=$(hcurl -o /dev/null -w '%{http_code}' --http2-prior-knowledge \
    -H 'sec-fetch-dest: document' -H 'sec-fetch-mode: navigate' -H 'accept: text/html' \
    "http://127.0.0.1:$P1/index.html?page=$i&utm_source=x")
  assert_eq "navigation $i with a query string after the reloads: 200" 200 "$code"
done
check "herald alive after navigations with query strings" herald_alive

# ---- 6. graceful stop after reloads ------------------------------------------------

herald_graceful_stop
wait_pid_exit "$HERALD_PID" 6
assert_eq "herald stops after reloads" 0 $?
wait "$HERALD_PID" 2>/dev/null
assert_eq "exit status 0" 0 $?

# ---- 7. certificates: a TLS listener serves the new one after a reload ---------------

mkcert() { # mkcert NAME CN
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$2" \
    -keyout "$WORK/$1.key" -out "$WORK/$1.pem" \
    -addext "subjectAltName=IP:127.0.0.1" >>"$WORK/openssl.log" 2>&1
}
mkcert a herald-cert-a && mkcert b herald-cert-b
TP=$(free_port)
write_tls() {
  cat >"$INI" <<EOT
[listener:tls]
listen = 127.0.0.1:$TP
tls = on
cert = $WORK/$1.pem
key = $WORK/$1.key
[backend:app]
server = 127.0.0.1:$FB_PORT
EOT
}
subject() {
  timeout 10 openssl s_client -connect "127.0.0.1:$TP" </dev/null 2>/dev/null |
    sed -n 's/^subject=.*CN *= *//p'
}
write_tls a
: >"$HERALD_LOG"
start_herald -c "$INI" || finish
assert_eq "TLS listener starts with certificate a" herald-cert-a "$(subject)"
hcurl -k --http2 -m 30 --limit-rate 400K -o /dev/null "https://127.0.0.1:$TP/big?size=1000000" &
TDL=$!
sleep 0.5
write_tls b
reload_and_wait 1
assert_eq "TLS reload took effect" 0 $?
assert_eq "new connections get certificate b" herald-cert-b "$(subject)"
assert_eq "and are served" ok "$(hcurl -k --http2 "https://127.0.0.1:$TP/x")"
wait "$TDL"
assert_eq "a TLS download begun under certificate a completes" 0 $?
printf '[listener:tls]\nlisten = 127.0.0.1:%s\ntls = on\ncert = %s\nkey = %s\n[backend:app]\nserver = 127.0.0.1:%s\n' \
  "$TP" "$WORK/b.pem" "$WORK/a.key" "$FB_PORT" >"$INI"
reload_and_wait 2
assert_contains "a key that does not match its certificate fails the reload" \
  "reload failed: listener 'tls': key $WORK/a.key does not match cert $WORK/b.pem" "$(grep "reload failed" "$HERALD_LOG")"
assert_eq "certificate b stays in force" herald-cert-b "$(subject)"

finish
