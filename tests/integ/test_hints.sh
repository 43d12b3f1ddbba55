#!/usr/bin/env bash
# test_hints.sh: 103 Early Hints from the learned rules. After browser-like
# visits teach herald the demo shop's front page, an HTTP/2 navigation gets
# exactly one 103 before its 200, with one Link: rel=preload per hint rule
# in rule order (the font with crossorigin). Subresource requests,
# navigations with Authorization and HTTP/1.1 clients (unless
# deliver.hints_http1 is on) get none; deliver.mode shadow and off send
# none. A never-visited page of a learned template gets the template's.
# deliver.verify withholds whole navigations, not single resources.
. "$(dirname "$0")/lib.sh"

if [ "$HERALD_STANDIN" = nghttpx ]; then
  skip "hints" "herald's own feature; no stand-in"
  finish
fi

BROWSER=$ROOT/tests/integ/browser.sh
mkdir -p "$WORK/site"
cp -r "$ROOT/tools/demo/site/." "$WORK/site/"
# Pages at all-digit paths share the template /product/:id.
for id in 123 456 789; do cp "$WORK/site/product/123.html" "$WORK/site/product/$id"; done
chmod -R a+rX "$WORK"
NGINX_SERVER_EXTRA='location /product/ { default_type text/html; }'
start_nginx || finish

DB=$WORK/h.db
HP=$(free_port)
# The scripted visitors come from three /24s (clients are networks),
# named in X-Forwarded-For by the "proxy" this machine plays.
LEARN=(--db "$DB" -o record.window=1000 -o record.flush=100
  -o clients.trusted_proxies=127.0.0.1
  -o learn.interval=300 -o learn.min_visits=5 -o learn.min_clients=2
  -o learn.hint_threshold=0.6 -o learn.push_threshold=0.65 -o deliver.holdout=0 -o deliver.verify=0
  -o deliver.mode=shadow)
# Learning in shadow mode: these scripted clients ignore 103s, and what
# herald names in one is no evidence (learner/learn.h), so a 103 sent
# while learning would only slow it down.
# Once learned, the rules are frozen (no recompute for an hour): every
# check below is itself a navigation without subresources, a visit that
# would otherwise lower the very confidence it checks.
# nghttp takes push: the 103 checks say deliver.mode=hints (the default is
# both, checked below).
FROZEN=(--db "$DB" -o learn.interval=3600000 -o learn.recompute_after=100000000
  -o learn.min_visits=5 -o learn.min_clients=2 -o learn.hint_threshold=0.6
  -o learn.push_threshold=0.65 -o deliver.holdout=0 -o deliver.verify=0
  -o deliver.mode=hints)
BASE=http://127.0.0.1:$HP
NAV=(-H 'sec-fetch-mode: navigate' -H 'sec-fetch-dest: document')

# nav_frames PATH [nghttp args]: the :status and link lines of one request.
nav_frames() {
  local path=$1
  shift
  timeout 10 nghttp -nv "$@" "$BASE$path" 2>&1 | grep -E ':status: |link: ' |
    sed 's/^.*recv (stream_id=[0-9]*) //'
}

gen_cert || finish
HT=$(free_port)
TB=https://127.0.0.1:$HT
start_herald --listen "127.0.0.1:$HP" --listen-tls "127.0.0.1:$HT" --cert "$CERT" \
  --key "$KEY" --backend "127.0.0.1:$NGINX_PORT" "${LEARN[@]}" || finish
# 14 all-hit visits: the Wilson bound of 14/14 (about 0.76 with the decayed
# n) clears the test thresholds (hint 0.6, push 0.65) with room to spare.
for i in $(seq 1 14); do
  from=(--ua "hints-test-$((i % 3))" --from "198.51.$((100 + i % 3)).7")
  "$BROWSER" "${from[@]}" "$BASE" / >/dev/null 2>&1
  "$BROWSER" "${from[@]}" "$TB" / >/dev/null 2>&1
  "$BROWSER" "${from[@]}" "$BASE" /product/$((i % 2 ? 123 : 456)) >/dev/null 2>&1
done
# rules_of KEY: served rules of a page key.
rules_of() {
  sqlite3 "$DB" "SELECT count(*) FROM rules r JOIN pages p ON p.id = r.page_id WHERE r.channel IN ('push', 'hint') AND p.key = '$1'" 2>/dev/null
}
ok=0
for _ in $(seq 1 80); do
  # / has 8 assets (over http and over https); the product pages share
  # at least 5.
  [ "$(rules_of "$BASE/")" = 8 ] && [ "$(rules_of "$TB/")" = 8 ] &&
    [ "$(rules_of "$BASE/product/:id")" -ge 5 ] && ok=1 && break
  sleep 0.25
done
assert_eq "rules learned for / and /product/:id" 1 "$ok"
herald_graceful_stop

# The access log says which request got a 103 ($hints: its Link fields)
# and which response was pushed ($pushed).
ALOG=(-o 'log.access_format=$request_uri $status hints=$hints pushed=$pushed')
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" \
  "${FROZEN[@]}" --access-log "$WORK/hints-access.log" "${ALOG[@]}" || finish
out=$(nav_frames / "${NAV[@]}")
assert_match "h2 navigation gets a 103 once rules exist" ':status: 103' "$out"
assert_eq "exactly one 103, before the 200" ":status: 103|:status: 200" \
  "$(echo "$out" | grep ':status' | tr '\n' '|' | sed 's/|$//')"
links=$(echo "$out" | grep '^link: ')
assert_eq "one Link per learned resource (8)" 8 "$(echo "$links" | grep -c .)"
assert_match "stylesheet hinted as=style" '^link: </css/shop\.css>; rel=preload; as=style$' "$links"
assert_match "font hinted as=font with crossorigin" '^link: </fonts/shopsans\.woff2>; rel=preload; as=font; crossorigin$' "$links"
assert_eq "stylesheet hinted before the font" "/css/shop.css /fonts/shopsans.woff2" \
  "$(echo "$links" | grep -oE '/css/shop\.css|/fonts/shopsans\.woff2' | tr '\n' ' ' | sed 's/ $//')"

out=$(nav_frames /css/shop.css -H 'sec-fetch-dest: style' -H "referer: $BASE/")
assert_no_match "a subresource request gets no 103" ':status: 103' "$out"
out=$(nav_frames / "${NAV[@]}" -H 'authorization: Basic dTpw')
assert_no_match "a navigation with Authorization gets no 103" ':status: 103' "$out"
out=$(nav_frames /product/789 "${NAV[@]}")
assert_match "a new page of a learned template gets the template's hints" ':status: 103' "$out"
out=$(curl -s -D - -o /dev/null -m 10 --http1.1 -H 'sec-fetch-mode: navigate' "$BASE/")
assert_no_match "HTTP/1.1 gets no 103 by default" '103 Early Hints' "$out"

# HTTP/1.1 hints are opt-in.
herald_graceful_stop
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" \
  "${FROZEN[@]}" -o deliver.hints_http1=on || finish
alog=$(cat "$WORK/hints-access.log")
assert_match "access log: the navigation's 103 had 8 Link fields" '^/ 200 hints=8 pushed=0$' "$alog"
assert_match "access log: a subresource got no 103" '^/css/shop\.css 200 hints=0 pushed=0$' "$alog"
out=$(curl -s -D - -o /dev/null -m 10 --http1.1 -H 'sec-fetch-mode: navigate' "$BASE/" | tr -d '\r')
assert_match "HTTP/1.1 103 with deliver.hints_http1=on" '^HTTP/1\.1 103 Early Hints$' "$out"
assert_match "HTTP/1.1 103 carries the Link fields" '^Link: </css/shop\.css>; rel=preload; as=style$' "$out"
assert_match "then the 200" '^HTTP/1\.1 200 OK$' "$out"

for mode in shadow off; do
  herald_graceful_stop
  start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" \
    "${FROZEN[@]}" -o deliver.mode=$mode || finish
  out=$(nav_frames / "${NAV[@]}")
  assert_no_match "deliver.mode=$mode sends no 103" ':status: 103' "$out"
  assert_match "deliver.mode=$mode still answers 200" ':status: 200' "$out"
done

# deliver.verify leaves whole navigations out: each 103 names all 8
# resources or there is none (a page waits for the slowest of what it
# needs, so one left out would cost the navigation almost as much).
herald_graceful_stop
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" \
  "${FROZEN[@]}" -o deliver.verify=0.5 || finish
counts=
for i in $(seq 1 16); do
  counts="$counts $(nav_frames "/?v$i" "${NAV[@]}" | grep -c '^link: ')"
done
assert_eq "deliver.verify=0.5: every 103 has all 8 Links or there is none ($counts)" "" \
  "$(echo $counts | tr ' ' '\n' | grep -vxE '0|8')"
assert_match "deliver.verify=0.5: some navigations get them, some not" '(^| )8( |$).*(^| )0( |$)|(^| )0( |$).*(^| )8( |$)' \
  "$counts"

# ---- server push (deliver.mode both / push) -----------------------------------
herald_graceful_stop
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" \
  "${FROZEN[@]}" -o deliver.mode=both --access-log "$WORK/push-access.log" \
  "${ALOG[@]}" || finish
out=$(timeout 10 nghttp -nv "${NAV[@]}" "$BASE/" 2>&1)
assert_eq "mode both, push-capable client: 8 PUSH_PROMISEs" 8 \
  "$(echo "$out" | grep -c 'recv PUSH_PROMISE frame')"
assert_no_match "mode both, push-capable client: no 103" ':status: 103' "$out"
assert_match "the stylesheet is promised" 'recv \(stream_id=[0-9]*\) :path: /css/shop\.css' "$out"
assert_eq "every pushed stream answered 200" 9 "$(echo "$out" | grep -c ':status: 200')"
out=$(timeout 10 nghttp -nv "${NAV[@]}" "$BASE/" "$BASE/?again" 2>&1)
assert_eq "two navigations on one connection: each resource pushed once" 8 \
  "$(echo "$out" | grep -c 'recv PUSH_PROMISE frame')"
out=$(timeout 10 nghttp -nv --no-push "${NAV[@]}" "$BASE/" 2>&1)
assert_match "mode both, client without push: 103 instead" ':status: 103' "$out"
assert_eq "mode both, client without push: no PUSH_PROMISE" 0 \
  "$(echo "$out" | grep -c 'recv PUSH_PROMISE frame')"
# A learned resource that now answers 404 is promised, then reset: never
# delivered as a push.
mv "$WORK/site/img/banner.png" "$WORK/banner.png"
out=$(timeout 10 nghttp -nv "${NAV[@]}" "$BASE/" 2>&1)
id=$(echo "$out" | grep -B1 -A8 'recv PUSH_PROMISE' | grep -A6 'promised_stream_id' |
  awk '/promised_stream_id/ {sid=$0} /:path: \/img\/banner.png/ {print sid; exit}' |
  grep -o 'promised_stream_id=[0-9]*' | cut -d= -f2)
assert_match "banner.png (now 404) was promised" '^[0-9]+$' "$id"
# nghttp may finish before the reset arrives; herald's log says it sent it.
assert_match "the 404 push is reset" 'pushed /img/banner\.png answered 404 or not cacheable; reset' \
  "$(cat "$WORK/herald.log")"
assert_no_match "the 404 is never delivered" ':status: 404' "$out"
mv "$WORK/banner.png" "$WORK/site/img/banner.png"

herald_graceful_stop
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" \
  "${FROZEN[@]}" -o deliver.mode=push || finish
alog=$(cat "$WORK/push-access.log")
assert_match "access log: a pushed response is pushed=1" '^/css/shop\.css 200 hints=0 pushed=1$' "$alog"
assert_match "access log: the page that got pushes had no 103" '^/ 200 hints=0 pushed=0$' "$alog"
out=$(timeout 10 nghttp -nv --no-push "${NAV[@]}" "$BASE/" 2>&1)
assert_no_match "mode push, client without push: no 103" ':status: 103' "$out"
assert_eq "mode push, client without push: nothing pushed" 0 \
  "$(echo "$out" | grep -c 'recv PUSH_PROMISE frame')"

# ---- a hinted resource the client then requests is recorded as hinted ----------
herald_graceful_stop
start_herald --listen "127.0.0.1:$HP" --listen-tls "127.0.0.1:$HT" --cert "$CERT" \
  --key "$KEY" --backend "127.0.0.1:$NGINX_PORT" "${FROZEN[@]}" \
  -o record.window=1000 -o record.flush=100 || finish
since=$(date +%s%3N)
# One curl invocation, one TLS h2 connection: the page (gets the 103), then
# the stylesheet it names, as a browser would.
out=$(curl -sk --http2 -m 10 -o /dev/null -w '%{num_connects} ' \
  -H 'sec-fetch-mode: navigate' -H 'sec-fetch-dest: document' -H 'user-agent: hinted-ua' "$TB/" \
  --next -sk --http2 -m 10 -o /dev/null -w '%{num_connects}' \
  -H "referer: $TB/" -H 'sec-fetch-dest: style' -H 'sec-fetch-mode: no-cors' \
  -H 'user-agent: hinted-ua' "$TB/css/shop.css")
assert_eq "page and stylesheet on one connection" "1 0" "$out"
ok=0
for _ in $(seq 1 30); do
  h=$(sqlite3 "$DB" "SELECT q.hinted FROM visit_requests q JOIN visits v ON v.id = q.visit_id JOIN pages p ON p.id = v.page_id JOIN resources r ON r.id = q.resource_id WHERE p.key = '$TB/' AND r.key = '$TB/css/shop.css' AND v.started_at >= $since ORDER BY v.started_at DESC LIMIT 1" 2>/dev/null)
  [ -n "$h" ] && ok=1 && break
  sleep 0.2
done
assert_eq "the stylesheet request after the 103 is recorded hinted=1" "1:1" "$ok:$h"

herald_graceful_stop
finish
