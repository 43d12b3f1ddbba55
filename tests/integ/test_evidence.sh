#!/usr/bin/env bash
# test_evidence.sh: herald learns from real page loads, and from nothing
# it caused itself. A client that acts on 103 Early Hints the way a
# browser does (build/pageload: it fetches every hinted URL at once, then
# what the page references, once each) loads a page over TLS h2 through
# herald until the 103 names the page's stylesheet and font with their
# exact queries (theme.css?v=1, fa.woff2?v=4.7.0). Then:
#   - the page switches to theme.css?v=2: the next 103s name ?v=2 and no
#     longer ?v=1, within 50 visits, although every hinted visit fetched
#     ?v=1 again (the preload herald caused) and the page's own request
#     for ?v=2 came only after its HTML;
#   - HTML-only clients (curl and nghttp with their own User-Agents, and
#     one that sends Sec-Fetch-Mode: navigate with a browser's
#     User-Agent) change no count: the first are not recorded at all, the
#     last is recorded but does not count;
#   - a page of the site never visited gets the site's hints.
. "$(dirname "$0")/lib.sh"

if [ "$HERALD_STANDIN" = nghttpx ]; then
  skip "evidence" "herald's own feature; no stand-in"
  finish
fi
command -v sqlite3 >/dev/null 2>&1 || { fail "sqlite3 installed" "make deps"; finish; }
[ -x "$B/pageload" ] || { fail "pageload" "$B/pageload not built (make $B/pageload)"; finish; }

S=$WORK/site
mkdir -p "$S/css" "$S/js" "$S/fonts" "$S/docs"
page() { # page VERSION: the page, referencing theme.css?v=VERSION
  cat >"$S/index.html" <<EOF
<!doctype html>
<html><head><title>evidence</title>
<link rel="stylesheet" href="/css/theme.css?v=$1">
<script src="/js/app.js"></script>
</head><body><h1 class="t">evidence</h1></body></html>
EOF
}
page 1
cp "$S/index.html" "$S/docs/never-visited.html"
printf '@font-face { font-family: T; src: url(/fonts/fa.woff2?v=4.7.0); }\n.t { font-family: T; }\n' >"$S/css/theme.css"
printf 'var x = 1;\n' >"$S/js/app.js"
head -c 3000 /dev/urandom >"$S/fonts/fa.woff2"
chmod -R a+rX "$WORK"
NGINX_SERVER_EXTRA='expires 1h;'
start_nginx || finish
gen_cert || finish

DB=$WORK/h.db
HT=$(free_port)
TB=https://127.0.0.1:$HT
# One client (pageload's User-Agent) and quick thresholds; no holdout and
# no verification draws: the switch below is seen without them.
start_herald --listen-tls "127.0.0.1:$HT" --cert "$CERT" --key "$KEY" \
  --backend "127.0.0.1:$NGINX_PORT" --db "$DB" -o record.window=1000 \
  -o record.flush=100 -o learn.interval=200 -o learn.min_visits=5 \
  -o learn.min_clients=1 -o learn.hint_threshold=0.6 -o learn.push_threshold=0.7 \
  -o deliver.holdout=0 -o deliver.verify=0 -o deliver.mode=hints || finish

load() { timeout 20 "$B/pageload" --timeout 15000 "127.0.0.1:$HT" "${1:-/}" >>"$WORK/pageload.log" 2>&1; }
# links PATH: the Link fields of one navigation's 103 (nghttp: its
# User-Agent is a tool's, left out of recording).
links() {
  timeout 10 nghttp -nv -H 'sec-fetch-mode: navigate' -H 'sec-fetch-dest: document' \
    "$TB${1:-/}" 2>&1 | grep -o 'link: <[^>]*>' | sed 's/^link: //' | tr '\n' ' '
}
# wait_links PATH ERE: until the 103 for PATH matches (the learner runs
# every 200 ms and a visit is written a window after it started).
wait_links() {
  local i
  for ((i = 0; i < 40; i++)); do
    links "$1" | grep -Eq -- "$2" && return 0
    sleep 0.1
  done
  return 1
}

n=0
until links / | grep -q 'theme.css'; do
  load / || { fail "page load" "$(tail -3 "$WORK/pageload.log")"; break; }
  n=$((n + 1))
  [ $n -ge 40 ] && break
  sleep 0.3
done
out=$(links /)
log "learned in $n loads: $out"
assert_match "the 103 names the stylesheet with its query" '</css/theme\.css\?v=1>' "$out"
assert_match "the 103 names the font with its query" '</fonts/fa\.woff2\?v=4\.7\.0>' "$out"
assert_no_match "no query-less URL is named" '</css/theme\.css>|</fonts/fa\.woff2>' "$out"
assert_match "the stylesheet comes first" '^</css/theme\.css\?v=1> </js/app\.js> </fonts/' "$out"

# ---- the page moves to theme.css?v=2 ---------------------------------------------
page 2
gone=0 in=0
for m in $(seq 1 50); do
  load / || fail "page load $m" "$(tail -3 "$WORK/pageload.log")"
  sleep 1.3 # a window and a learner cycle: the visit is in the rules
  out=$(links /)
  [ $gone = 0 ] && ! printf '%s' "$out" | grep -q 'theme.css?v=1' && gone=$m
  [ $in = 0 ] && printf '%s' "$out" | grep -q 'theme.css?v=2' && in=$m
  [ $gone != 0 ] && [ $in != 0 ] && break
done
log "after the switch: ?v=1 no longer hinted after $gone load(s), ?v=2 hinted after $in"
assert_ge "?v=1 left the hints" 1 "$gone"
assert_le "?v=1 left the hints within 50 loads" 50 "$gone"
assert_ge "?v=2 entered the hints" 1 "$in"
assert_le "?v=2 entered the hints within 50 loads" 50 "$in"
out=$(links /)
assert_match "the 103 now names ?v=2" '</css/theme\.css\?v=2>' "$out"
assert_no_match "and no longer ?v=1" 'theme\.css\?v=1' "$out"
assert_eq "every hinted load fetched ?v=1 once, herald's preload; never counted" 0 \
  "$(sqlite3 "$DB" "SELECT count(*) FROM visit_requests q JOIN visits v ON v.id = q.visit_id JOIN resources r ON r.id = q.resource_id JOIN visit_named n ON n.visit_id = v.id AND n.resource_id = r.id WHERE r.key = '$TB/css/theme.css?v=1' AND q.hinted = 0")"
assert_ge "the preloads of ?v=1 were recorded as named" 1 \
  "$(sqlite3 "$DB" "SELECT count(*) FROM visit_named n JOIN resources r ON r.id = n.resource_id WHERE r.key = '$TB/css/theme.css?v=1' AND n.channel = 'hint'")"

# ---- HTML-only clients change no count -------------------------------------------
snapshot() {
  sqlite3 "$DB" "SELECT group_concat(s.key || '=' || printf('%.3f/%.3f', r.k, r.n), ' ') FROM rules r JOIN pages p ON p.id = r.page_id JOIN resources s ON s.id = r.resource_id WHERE p.key = '$TB/' AND r.class = 'desktop' ORDER BY s.key"
}
before=$(snapshot)
nv=$(sqlite3 "$DB" "SELECT count(*) FROM visits")
NAVH=(-H 'Sec-Fetch-Mode: navigate' -H 'Sec-Fetch-Dest: document' -H 'Accept: text/html')
for i in 1 2 3; do
  curl -sk -o /dev/null --http2 "${NAVH[@]}" "$TB/"
  timeout 10 nghttp -n "${NAVH[@]}" "$TB/" >/dev/null 2>&1
done
# A browser's User-Agent, but only the HTML: recorded, not counted.
curl -sk -o /dev/null --http2 -A 'Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36' \
  "${NAVH[@]}" "$TB/"
sleep 2
assert_eq "curl and nghttp navigations are not recorded; the browser-like one is" \
  $((nv + 1)) "$(sqlite3 "$DB" "SELECT count(*) FROM visits")"
assert_eq "no count moved" "$before" "$(snapshot)"

# ---- a page never visited gets the site's hints -----------------------------------
check "a never-visited page of the site gets a 103 naming the stylesheet" \
  wait_links /docs/never-visited.html 'theme\.css\?v=2'
assert_match "the site's list is stored at the site level" 'site' \
  "$(sqlite3 "$DB" "SELECT group_concat(DISTINCT r.level) FROM rules r JOIN pages p ON p.id = r.page_id WHERE p.key = '$TB/**'")"

herald_graceful_stop
finish
