#!/usr/bin/env bash
# test_demo.sh: tools/demo/demo.sh in DEMO_ONESHOT mode starts nginx and
# herald, serves the sample site through herald, prints the instructions
# and stops everything it started.
#
# The demo gets its own ports and DEMO_RUN_DIR under $WORK, so the test
# never touches (or stops) an interactive demo using tools/demo/run.
. "$(dirname "$0")/lib.sh"

if [ "$HERALD_STANDIN" = nghttpx ]; then
  skip "demo" "runs herald itself; no stand-in"
  finish
fi

HP=$(free_port)
TP=$(free_port)
BP=$(free_port)
RUN=$WORK/demo-run

out=$(DEMO_ONESHOT=1 DEMO_RUN_DIR="$RUN" DEMO_HTTP_PORT=$HP DEMO_TLS_PORT=$TP \
  DEMO_BACKEND_PORT=$BP B="$B" timeout -k 5 60 "$ROOT/tools/demo/demo.sh" </dev/null 2>&1)
rc=$?
assert_eq "demo (oneshot) exits 0" 0 "$rc"
[ "$rc" = 0 ] || log "demo output: $out"

# ---- what it printed --------------------------------------------------------

assert_contains "prints the TLS curl command" "curl --http2 -k https://127.0.0.1:$TP/" "$out"
assert_contains "prints the h2c curl command" "curl --http2-prior-knowledge http://127.0.0.1:$HP/" "$out"
assert_contains "prints the command that shows the pushes, with a navigation's headers" \
  "nghttp -nv -H 'sec-fetch-mode: navigate' -H 'sec-fetch-dest: document' https://127.0.0.1:$TP/ | grep PUSH_PROMISE" "$out"
assert_contains "prints the access log path" "$RUN/access.log" "$out"
assert_contains "oneshot: says it stops instead of waiting for Ctrl-C" "DEMO_ONESHOT=1: stopping now" "$out"
assert_contains "front page check passed" "https://127.0.0.1:$TP/ -> 200 2" "$out"
assert_contains "the demo teaches herald and shows the learned rules" "learned (heraldctl" "$out"
assert_match "a push-capable client then gets 8 PUSH_PROMISEs" 'takes push: 8 PUSH_PROMISEs' "$out"
assert_match "a client without push then gets the 103 with the stylesheet" 'link: </css/shop\.css>; rel=preload; as=style' "$out"
assert_contains "stopped what it started" "stopped herald and nginx" "$out"

# ---- served through herald ----------------------------------------------------

alog=$(cat "$RUN/access.log" 2>/dev/null)
assert_match "access log: h2 GET / 200 over TLS" " h2 GET 127\.0\.0\.1:$TP / 200 " "$alog"
assert_match "access log: h2c GET / 200" " h2 GET 127\.0\.0\.1:$HP / 200 " "$alog"
blog=$(cat "$RUN/nginx/access.log" 2>/dev/null)
assert_match "backend nginx saw GET / over HTTP/1.1" '"GET / HTTP/1\.1" 200' "$blog"
check "front page came through intact" cmp -s "$RUN/checks/front-tls.out" "$ROOT/tools/demo/site/index.html"
check "certificate generated" test -s "$RUN/cert.pem"

# ---- nothing left running -----------------------------------------------------

for p in "$HP" "$TP" "$BP"; do
  check "port $p closed after the demo" wait_port_closed "$p" 127.0.0.1 5
done
check "herald pid file removed" test ! -e "$RUN/herald.pid"

# The demo's herald logs to its own file, which lib.sh does not scan.
if grep -Eq 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$RUN/herald.log" 2>/dev/null; then
  fail "sanitizer clean (demo herald.log)" "$(grep -E -m3 -A8 'Sanitizer|runtime error' "$RUN/herald.log")"
else
  ok "sanitizer clean (demo herald.log)"
fi

# ---- a second run keeps the certificate ---------------------------------------

sum1=$(sha256sum "$RUN/cert.pem" 2>/dev/null | cut -d' ' -f1)
out2=$(DEMO_ONESHOT=1 DEMO_RUN_DIR="$RUN" DEMO_HTTP_PORT=$HP DEMO_TLS_PORT=$TP \
  DEMO_BACKEND_PORT=$BP B="$B" timeout -k 5 60 "$ROOT/tools/demo/demo.sh" </dev/null 2>&1)
rc=$?
assert_eq "second run exits 0" 0 "$rc"
assert_not_contains "second run does not make a new certificate" "creating a self-signed" "$out2"
sum2=$(sha256sum "$RUN/cert.pem" 2>/dev/null | cut -d' ' -f1)
assert_eq "certificate kept across runs" "$sum1" "$sum2"

# ---- interactive mode: stays up until signalled, then cleans up --------------

# Started in the background a script cannot trap SIGINT (bash leaves it
# ignored), so SIGTERM stands in for Ctrl-C here.
DEMO_RUN_DIR="$RUN" DEMO_HTTP_PORT=$HP DEMO_TLS_PORT=$TP DEMO_BACKEND_PORT=$BP B="$B" \
  "$ROOT/tools/demo/demo.sh" </dev/null >"$WORK/interactive.out" 2>&1 &
DEMO_PID=$!
track_pid "$DEMO_PID"
for ((i = 0; i < 300; i++)); do
  grep -q "Ctrl-C to stop" "$WORK/interactive.out" 2>/dev/null && break
  kill -0 "$DEMO_PID" 2>/dev/null || break
  sleep 0.05
done
assert_contains "interactive: prints Ctrl-C to stop" "Ctrl-C to stop" "$(cat "$WORK/interactive.out")"
out=$(hcurl --http2 -k -o /dev/null -w '%{http_code} %{http_version}' "https://127.0.0.1:$TP/product/456.html" 2>&1)
assert_eq "interactive: product page over h2" "200 2" "$out"
# The banner's commands show what it says they show: run them as printed.
push_line=$(grep -E '^ +nghttp -nv -H .*grep PUSH_PROMISE$' "$WORK/interactive.out" | head -1)
hints_line=$(grep -E '^ +nghttp -nv --no-push .*link:.$' "$WORK/interactive.out" | head -1)
assert_eq "interactive: the banner's push command shows 8 PUSH_PROMISEs" 8 \
  "$(timeout 20 bash -c "$push_line" 2>&1 | grep -c 'recv PUSH_PROMISE')"
hints_out=$(timeout 20 bash -c "$hints_line" 2>&1)
assert_match "interactive: the banner's 103 command shows the 103" ':status: 103' "$hints_out"
assert_match "interactive: ... and its stylesheet" 'link: </css/shop\.css>; rel=preload; as=style' "$hints_out"
sleep 0.3
check "interactive: still running" kill -0 "$DEMO_PID"
kill -TERM "$DEMO_PID" 2>/dev/null
check "interactive: exits on SIGTERM" wait_pid_exit "$DEMO_PID" 10
for p in "$HP" "$TP" "$BP"; do
  check "interactive: port $p closed after SIGTERM" wait_port_closed "$p" 127.0.0.1 5
done
assert_contains "interactive: stopped what it started" "stopped herald and nginx" "$(cat "$WORK/interactive.out")"

finish
