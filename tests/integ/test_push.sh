#!/usr/bin/env bash
# test_push.sh: server push as a push-capable client sees it, in front of a
# legacy page that thinks for 700 ms before answering (the fault backend's
# /page behind nginx; the shop's assets come from nginx at once).
#
# After browser-like visits teach herald the page:
#   - the PUSH_PROMISEs leave at once and every pushed response is complete
#     before the page's own HEADERS arrive (the think time is filled);
#   - the page response sets the herald_pd digest cookie, and a visit that
#     carries it back gets no duplicate pushes (a malformed one is ignored);
#   - the client's SETTINGS_MAX_CONCURRENT_STREAMS caps the pushes, and a
#     zero initial window stops them; in mode both, what they keep out of
#     the pushes goes out in a 103 instead;
#   - a holdout visit gets neither pushes nor hints, and is recorded so;
#   - per-route modes from the config and the live mode setting in the
#     database switch delivery without a restart;
#   - what became of pushes and hints lands in push_outcomes and visits.
. "$(dirname "$0")/lib.sh"

if [ "$HERALD_STANDIN" = nghttpx ]; then
  skip "push" "herald's own feature; no stand-in"
  finish
fi

BROWSER=$ROOT/tests/integ/browser.sh
cat >"$WORK/slow.html" <<'HTML'
<!doctype html><html><head><title>slow</title>
<link rel="stylesheet" href="/css/shop.css">
<script src="/js/shop.js"></script></head>
<body><img src="/img/logo.png" alt=""><img src="/slowimg" alt="">
<p>thought hard</p></body></html>
HTML
FB_PAGE=$WORK/slow.html start_fault_backend || finish
mkdir -p "$WORK/site"
cp -r "$ROOT/tools/demo/site/." "$WORK/site/"
chmod -R a+rX "$WORK"
THINK_MS=700
# /slowimg streams for a second (10 chunks 100 ms apart): a push still
# being fetched when the client resets it.
NGINX_SERVER_EXTRA="location = /slow { proxy_pass http://127.0.0.1:$FB_PORT/page?ms=$THINK_MS; }
  location = /slowimg { proxy_buffering off;
    proxy_pass http://127.0.0.1:$FB_PORT/slowbody?n=10&ms=100; }"
start_nginx || finish

DB=$WORK/p.db
HP=$(free_port)
AP=$(free_port)
BASE=http://127.0.0.1:$HP
PAGE=$BASE/slow
NAV=(-H 'sec-fetch-mode: navigate' -H 'sec-fetch-dest: document')
# Low thresholds: the live checks below are visits that fetch nothing
# (misses) and must not unlearn the page. nghttp stands for a push-capable
# browser here, so its User-Agent is not left out of recording.
# The scripted visitors come from three /24s (clients are networks),
# named in X-Forwarded-For by the "proxy" this machine plays.
COMMON=(-o learn.min_visits=5 -o learn.min_clients=2 -o learn.hint_threshold=0.35
  -o learn.push_threshold=0.4 -o deliver.holdout=0 -o deliver.verify=0 -o record.window=3000
  -o record.flush=100 -o record.ignore_agents= -o clients.trusted_proxies=127.0.0.1)
# Rules frozen once learned: an hour between recomputes.
FROZEN=(--db "$DB" "${COMMON[@]}" -o learn.interval=3600000
  -o learn.recompute_after=100000000)

q() { sqlite3 "$DB" "$1" 2>/dev/null; }
push_rules() {
  q "SELECT count(*) FROM rules r JOIN pages p ON p.id = r.page_id WHERE p.key = '$PAGE' AND r.channel = 'push'"
}

# Learning in push mode: browser.sh's page client (curl) refuses push,
# so its visits request everything and teach herald.
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" \
  --db "$DB" "${COMMON[@]}" -o learn.interval=300 -o deliver.mode=push || finish
for i in $(seq 1 10); do
  "$BROWSER" --ua "push-test-$((i % 3))" --from "198.51.$((100 + i % 3)).7" \
    "$BASE" /slow >/dev/null 2>&1
done
ok=0
for _ in $(seq 1 60); do
  [ "$(push_rules)" -ge 5 ] 2>/dev/null && ok=1 && break
  sleep 0.25
done
assert_eq "push rules learned for /slow" 1 "$ok"
N=$(push_rules)
log "push rules for /slow: $N"

# promises CLIENT_OUTPUT: PUSH_PROMISE frames received.
promises() { grep -c 'recv PUSH_PROMISE frame' <<<"$1"; }
# ---- live mode from the database (what heraldctl mode set writes) ---------------
# On the learning herald (interval 300 ms): a setting in the database
# reaches the next visits without a restart.
out=$(timeout 10 nghttp -nv "${NAV[@]}" "$PAGE" 2>&1)
assert_eq "live mode: pushes before the change" "$N" "$(promises "$out")"
# visit_until PROMISES [103]: navigations 250 ms apart (10 s at most)
# until one gets PROMISES pushes (and a 103, when asked): prints 1, else 0.
visit_until() {
  local out
  for _ in $(seq 1 40); do
    sleep 0.25
    out=$(timeout 10 nghttp -nv "${NAV[@]}" "$PAGE" 2>&1)
    [ "$(promises "$out")" = "$1" ] || continue
    [ -z "${2:-}" ] || grep -q ':status: 103' <<<"$out" || continue
    echo 1
    return
  done
  echo 0
}
q "INSERT INTO settings(scope, name, value) VALUES('global', 'mode', 'hints')"
assert_eq "live mode=hints: the next visit gets a 103 instead of pushes" 1 "$(visit_until 0 103)"
q "DELETE FROM settings WHERE scope = 'global' AND name = 'mode'"
assert_eq "live mode removed: pushes again" 1 "$(visit_until "$N")"
# The operator raises the push threshold above every rule's bound.
"$B/heraldctl" --db "$DB" threshold set --channel push 0.99 >/dev/null
assert_eq "heraldctl threshold set --channel push 0.99: the next visit gets no pushes" 1 \
  "$(visit_until 0)"
"$B/heraldctl" --db "$DB" threshold unset --channel push >/dev/null
assert_eq "threshold unset: pushes again" 1 "$(visit_until "$N")"

herald_graceful_stop

start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" \
  "${FROZEN[@]}" -o deliver.mode=push --admin "127.0.0.1:$AP" || finish
# page_status CLIENT_OUTPUT: the :status line of the first request nghttp
# sent (nghttp numbers it after its PRIORITY anchor streams).
# With a second argument N: its Nth :status line (the final after a 103).
page_status() {
  local sid
  sid=$(grep -m1 -o 'send HEADERS frame <[^>]*stream_id=[0-9]*' <<<"$1" | grep -o '[0-9]*$')
  grep "recv (stream_id=$sid) :status: " <<<"$1" | sed -n "${2:-1}p"
}

# ---- pushes fill the backend's think time --------------------------------------
out=$(timeout 10 nghttp -nv "${NAV[@]}" "$PAGE" 2>&1)
assert_eq "every push rule promised" "$N" "$(promises "$out")"
first_promise=$(grep -m1 'recv PUSH_PROMISE frame' <<<"$out" | sed 's/^\[ *\([0-9.]*\)\].*/\1/')
page_head=$(page_status "$out" | sed 's/^\[ *\([0-9.]*\)\].*/\1/')
log "first PUSH_PROMISE at ${first_promise}s, page HEADERS at ${page_head}s"
assert_eq "PUSH_PROMISEs leave before the backend answers" 1 \
  "$(awk -v p="$first_promise" -v h="$page_head" -v t="$THINK_MS" \
      'BEGIN { print (p < 0.2 && h >= t / 1000 - 0.05) ? 1 : 0 }')"
head_line=$(grep -n -m1 -F "$(page_status "$out")" <<<"$out" | cut -d: -f1)
done_before=$(head -n "$head_line" <<<"$out" |
  grep -A1 -E 'recv DATA frame <length=[0-9]+, flags=0x01, stream_id=[0-9]*[02468]>' |
  grep -c 'END_STREAM')
assert_eq "every pushed response but /slowimg complete before the page's HEADERS" \
  "$((N - 1))" "$done_before"
assert_match "page response sets the herald_pd digest cookie" \
  'recv \(stream_id=[0-9]+\) set-cookie: herald_pd=[A-Za-z0-9_-]+; Path=/; Max-Age=604800; HttpOnly; SameSite=Lax$' "$out"
cookie=$(grep -m1 -o 'set-cookie: herald_pd=[A-Za-z0-9_-]*' <<<"$out" | sed 's/^set-cookie: //')

# ---- the digest cookie: no duplicate pushes across connections ---------------
out=$(timeout 10 nghttp -nv "${NAV[@]}" -H "cookie: $cookie" "$PAGE" 2>&1)
assert_eq "a visit carrying the digest cookie gets no duplicate pushes" 0 "$(promises "$out")"
assert_match "  and still gets its page" ':status: 200' "$(page_status "$out")"
out=$(timeout 10 nghttp -nv "${NAV[@]}" -H "cookie: a=1; $cookie; b=2" "$PAGE" 2>&1)
assert_eq "the digest is found among other cookies" 0 "$(promises "$out")"
out=$(timeout 10 nghttp -nv "${NAV[@]}" -H "cookie: herald_pd=!!notbase64" "$PAGE" 2>&1)
assert_eq "a malformed digest is ignored: everything pushed" "$N" "$(promises "$out")"

# ---- the client's limits ----------------------------------------------------
out=$(timeout 10 nghttp -nv --max-concurrent-streams=2 "${NAV[@]}" "$PAGE" 2>&1)
assert_eq "SETTINGS_MAX_CONCURRENT_STREAMS=2: two pushes" 2 "$(promises "$out")"
out=$(timeout 10 nghttp -nv --no-push "${NAV[@]}" "$PAGE" 2>&1)
assert_eq "ENABLE_PUSH=0: no pushes" 0 "$(promises "$out")"
assert_match "  and the page" ':status: 200' "$(page_status "$out")"

# ---- a client reset stops the pushed fetch -----------------------------------
# 300 ms in, the page (700 ms think) is still at the backend; so is
# /slowimg (1 s) unless the client's RST_STREAM cancelled it.
backend_active() {
  curl -s -m 5 "http://127.0.0.1:$AP/metrics" |
    awk '$1 == "herald_backend_requests_active" { print $2 }'
}
timeout 10 nghttp -n "${NAV[@]}" "$PAGE" >/dev/null 2>&1 &
probe=$!
sleep 0.3
active_taken=$(backend_active)
wait "$probe"
log "backend exchanges 300 ms in, pushes taken: $active_taken"
assert_eq "control, pushes taken: the page and /slowimg are at the backend" 2 "$active_taken"
"$B/h2probe" req 127.0.0.1 "$HP" -H ':method: GET' -H ':scheme: http' \
  -H ":authority: 127.0.0.1:$HP" -H ':path: /slow' -H 'sec-fetch-mode: navigate' \
  --reset-pushes --wait 1500 >"$WORK/probe.out" 2>&1 &
probe=$!
sleep 0.3
active_reset=$(backend_active)
wait "$probe"
assert_match "the probe cancelled every push" "pushes_reset=$N " "$(tail -1 "$WORK/probe.out")"
log "backend exchanges 300 ms in, pushes reset: $active_reset"
assert_eq "pushes reset by the client: only the page is still at the backend" 1 "$active_reset"
# (The small pushes may be complete before the reset arrives; /slowimg is
# not.)
assert_ge "herald counts the cancelled push" 1 \
  "$(curl -s -m 5 "http://127.0.0.1:$AP/metrics" | awk '$1 == "herald_pushes_cancelled_total" { print $2 }')"

# ---- what became of the pushes -------------------------------------------------
# The page with pushes, then the stylesheet asked for anyway by the same
# browser on another connection (nghttp sends one header set for all its
# URLs, so its second URL would look like a navigation): wasted.
since=$(date +%s%3N)
out=$(timeout 10 nghttp -nv "${NAV[@]}" -H 'user-agent: waste-ua' "$PAGE" 2>&1)
assert_eq "page with pushes" "$N" "$(promises "$out")"
curl -s -o /dev/null -m 10 --http1.1 -A 'waste-ua' -H "referer: $PAGE" \
  -H 'sec-fetch-dest: style' "$BASE/css/shop.css"
ok=0
for _ in $(seq 1 40); do
  w=$(q "SELECT o.wasted FROM push_outcomes o JOIN pages p ON p.id = o.page_id JOIN resources r ON r.id = o.resource_id WHERE p.key = '$PAGE' AND r.key = '$BASE/css/shop.css'")
  [ "${w:-0}" -ge 1 ] && ok=1 && break
  sleep 0.25
done
assert_eq "a pushed resource requested anyway is counted wasted" 1 "$ok"
assert_ge "pushes counted promised" "$N" \
  "$(q "SELECT sum(o.promised) FROM push_outcomes o JOIN pages p ON p.id = o.page_id WHERE p.key = '$PAGE'")"
assert_ge "pushes counted completed" "$N" \
  "$(q "SELECT sum(o.completed) FROM push_outcomes o JOIN pages p ON p.id = o.page_id WHERE p.key = '$PAGE'")"
assert_ge "pushed bytes counted" 1000 \
  "$(q "SELECT sum(o.pushed_bytes) FROM push_outcomes o JOIN pages p ON p.id = o.page_id WHERE p.key = '$PAGE'")"
assert_ge "visits recorded as pushed" 3 \
  "$(q "SELECT count(*) FROM visits v JOIN pages p ON p.id = v.page_id WHERE p.key = '$PAGE' AND v.delivery = 'push'")"
assert_ge "a pushed visit's load time covers the think time" "$THINK_MS" \
  "$(q "SELECT min(v.load_ms) FROM visits v JOIN pages p ON p.id = v.page_id WHERE p.key = '$PAGE' AND v.delivery = 'push' AND v.started_at >= $since")"
assert_ge "pushes the client took count as its requests (delivered)" 1 \
  "$(q "SELECT count(*) FROM visit_requests q JOIN visits v ON v.id = q.visit_id WHERE v.delivery = 'push' AND q.delivered = 1")"
herald_graceful_stop

# ---- push cut by the client's limits: the rest goes out in the 103 ------------
# Mode both: what the client's stream limit or window keeps out of the
# pushes is named in a 103 instead of being dropped (links: the 103's).
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" \
  "${FROZEN[@]}" -o deliver.mode=both || finish
links_103() { grep -c 'recv (stream_id=[0-9]*) link: <' <<<"$1"; }
# named_since MS: what the pushed visits since MS were named, by channel.
named_since() {
  q "SELECT n.channel || ':' || count(*) FROM visit_named n JOIN visits v ON v.id = n.visit_id JOIN pages p ON p.id = v.page_id WHERE p.key = '$PAGE' AND v.delivery = 'push' AND v.started_at >= $1 GROUP BY n.channel ORDER BY n.channel" | tr '\n' ' '
}
since=$(date +%s%3N)
out=$(timeout 10 nghttp -nv --max-concurrent-streams=2 "${NAV[@]}" "$PAGE" 2>&1)
assert_eq "mode both, SETTINGS_MAX_CONCURRENT_STREAMS=2: two pushes" 2 "$(promises "$out")"
assert_match "  and a 103 for the rest" ':status: 103' "$out"
assert_eq "  which names each resource not pushed" "$((N - 2))" "$(links_103 "$out")"
assert_match "  then the page" ':status: 103 .* :status: 200$' \
  "$(page_status "$out") $(page_status "$out" 2)"
named=
for _ in $(seq 1 60); do
  named=$(named_since "$since")
  [ -n "$named" ] && break
  sleep 0.25
done
assert_eq "  the visit counts as pushed, named: its 103's and its pushes" \
  "hint:$((N - 2)) push:2 " "$named"
out=$(timeout 10 nghttp -nv "${NAV[@]}" "$PAGE" 2>&1)
assert_eq "mode both, room for every push: all pushed" "$N" "$(promises "$out")"
assert_no_match "  and no 103" ':status: 103' "$out"
# A zero initial window: no push could send a byte, so none is promised;
# everything goes in the 103 (the page's body waits for a window the
# probe never opens, so only its head is read).
res=$("$B/h2probe" req 127.0.0.1 "$HP" -H ':method: GET' -H ':scheme: http' \
  -H ":authority: 127.0.0.1:$HP" -H ':path: /slow' -H 'sec-fetch-mode: navigate' \
  --window 0 --reset-pushes --wait 1500 2>/dev/null | tail -1)
assert_match "mode both, initial window 0: no pushes" "pushes_reset=0 " "$res"
assert_match "  a 103 instead" " interim=1$" "$res"
assert_match "  then the page's head" " status=200 " "$res"
herald_graceful_stop

# ---- holdout ------------------------------------------------------------------
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" \
  "${FROZEN[@]}" -o deliver.mode=both -o deliver.holdout=1 || finish
since=$(date +%s%3N)
out=$(timeout 10 nghttp -nv "${NAV[@]}" "$PAGE" 2>&1)
assert_eq "holdout: no pushes" 0 "$(promises "$out")"
out=$(timeout 10 nghttp -nv --no-push "${NAV[@]}" "$PAGE" 2>&1)
assert_no_match "holdout: no 103 either" ':status: 103' "$out"
assert_match "holdout: the page as usual" ':status: 200' "$(page_status "$out")"
ok=0
for _ in $(seq 1 40); do
  [ "$(q "SELECT count(*) FROM visits WHERE delivery = 'holdout' AND holdout = 1 AND started_at >= $since AND load_ms >= $THINK_MS")" = 2 ] && ok=1 && break
  sleep 0.25
done
assert_eq "holdout visits recorded with their load time" 1 "$ok"
herald_graceful_stop

# ---- per-route mode (config) -----------------------------------------------------
cat >"$WORK/route.ini" <<EOF
[listener:main]
listen = 127.0.0.1:$HP

[backend:app]
server = 127.0.0.1:$NGINX_PORT

[route:slow]
prefix = /slow
backend = app
deliver = off

[route:all]
prefix = /
backend = app

[deliver]
mode = push
EOF
start_herald -c "$WORK/route.ini" "${FROZEN[@]}" || finish
out=$(timeout 10 nghttp -nv "${NAV[@]}" "$PAGE" 2>&1)
assert_eq "route deliver=off beats [deliver] mode=push" 0 "$(promises "$out")"
herald_graceful_stop
sed -i 's/^deliver = off$/deliver = push/; s/^mode = push$/mode = off/' "$WORK/route.ini"
start_herald -c "$WORK/route.ini" "${FROZEN[@]}" || finish
out=$(timeout 10 nghttp -nv "${NAV[@]}" "$PAGE" 2>&1)
assert_eq "route deliver=push beats [deliver] mode=off" "$N" "$(promises "$out")"
herald_graceful_stop

# ---- HTTP/1.1 hints are marked across connections --------------------------------
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" \
  "${FROZEN[@]}" -o deliver.mode=hints -o deliver.hints_http1=on || finish
since=$(date +%s%3N)
out=$(curl -s -D - -o /dev/null -m 10 --http1.1 -A 'h1-hinted' -H 'sec-fetch-mode: navigate' \
  -H 'sec-fetch-dest: document' "$PAGE" | tr -d '\r')
assert_match "HTTP/1.1 navigation gets the 103" '^HTTP/1\.1 103 Early Hints$' "$out"
# The stylesheet on a second connection, as a browser's other socket would.
curl -s -o /dev/null -m 10 --http1.1 -A 'h1-hinted' -H "referer: $PAGE" \
  -H 'sec-fetch-dest: style' "$BASE/css/shop.css"
ok=0
for _ in $(seq 1 40); do
  h=$(q "SELECT q.hinted FROM visit_requests q JOIN visits v ON v.id = q.visit_id JOIN resources r ON r.id = q.resource_id WHERE v.started_at >= $since AND v.delivery = 'hints' AND r.key = '$BASE/css/shop.css'")
  [ -n "$h" ] && ok=1 && break
  sleep 0.25
done
assert_eq "the hinted stylesheet, fetched on another HTTP/1.1 connection, is recorded hinted" "1:1" "$ok:$h"
assert_ge "push_outcomes counts it hinted and used" 1 \
  "$(q "SELECT o.hinted_used FROM push_outcomes o JOIN pages p ON p.id = o.page_id JOIN resources r ON r.id = o.resource_id WHERE p.key = '$PAGE' AND r.key = '$BASE/css/shop.css'")"
assert_ge "hinted resources the visit did not fetch count hinted, not used" 1 \
  "$(q "SELECT sum(o.hinted) - sum(o.hinted_used) FROM push_outcomes o JOIN pages p ON p.id = o.page_id WHERE p.key = '$PAGE'")"
assert_eq "herald still running" 1 "$(herald_alive && echo 1)"
finish
