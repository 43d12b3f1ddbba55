#!/usr/bin/env bash
# test_record.sh: recording (--db). Browser-like visits (tests/integ/
# browser.sh) through herald over TLS h2, h2c and HTTP/1.1 end up in the
# SQLite database as pages, visits and attributed requests: depth 1 by
# Referer, depth 2 (the font referenced by the stylesheet, parent_seq = the
# stylesheet's seq), no Referer on the same HTTP/2 connection; templates;
# mobile class; what is not a visit (404, Authorization, no navigation
# signals, cut short) and what is not attributed (another authority, past
# the window, a second navigation). Then the failure modes: missing
# directory, read-only, corrupt, locked database (one "recording off" line,
# proxying goes on), SIGKILL under heavy recording (integrity_check ok,
# recording resumes on restart), SIGTERM flushes, and responses identical
# with and without recording.
. "$(dirname "$0")/lib.sh"

if [ "$HERALD_STANDIN" = nghttpx ]; then
  skip "recording" "herald's own feature; no stand-in"
  finish
fi
for t in sqlite3 nghttp h2load; do
  command -v "$t" >/dev/null 2>&1 || {
    fail "$t installed" "make deps"
    finish
  }
done

BROWSER=$ROOT/tests/integ/browser.sh
SITE=$WORK/site
WINDOW=1500
FLUSH=200

# ---- site: the demo shop plus fixtures --------------------------------------

# lib.sh's make_site leaves an existing $WORK/site alone.
mkdir -p "$SITE"
cp -r "$ROOT/tools/demo/site/." "$SITE/"
for p in h1 cross mobile conn auth plain accept origin ignored; do cp "$SITE/index.html" "$SITE/$p.html"; done
printf '<!doctype html><html><head><title>second</title></head><body>second page</body></html>\n' >"$SITE/cross2.html"
for p in extra cross late conn conn2 origin origin2; do cp "$SITE/img/logo.png" "$SITE/img/$p.png"; done
cp "$SITE/fonts/shopsans.woff2" "$SITE/fonts/origin.woff2"
# Pages at all-digit paths (templates); the location below serves them as HTML.
cp "$SITE/product/123.html" "$SITE/product/123"
cp "$SITE/product/456.html" "$SITE/product/456"
# A page nginx sends at 20 KB/s (the location below): a client that gives
# up after a second cuts it short.
{
  printf '<!doctype html><html><head><title>slow</title></head><body>\n'
  head -c 200000 /dev/urandom | base64 -w 100
  printf '</body></html>\n'
} >"$SITE/slow.html"
chmod -R a+rX "$WORK"
NGINX_SERVER_EXTRA='location /product/ { default_type text/html; }
    location = /slow.html { limit_rate 20k; }'

start_nginx || finish
gen_cert || finish

DB=$WORK/h.db
HP=$(free_port)
HT=$(free_port)
start_herald --listen "127.0.0.1:$HP" --listen-tls "127.0.0.1:$HT" --cert "$CERT" --key "$KEY" \
  --backend "127.0.0.1:$NGINX_PORT" --db "$DB" -o record.window=$WINDOW -o record.flush=$FLUSH \
  -o clients.trusted_proxies=127.0.0.1 -o record.ignore_clients=192.0.2.0/24 || finish
MAIN_PID=$HERALD_PID
N=http://127.0.0.1:$HP
T=https://127.0.0.1:$HT

# ---- helpers ------------------------------------------------------------------

now_ms() { date +%s%3N; }
# q DB SQL: one query, rows "a|b", no header; waits for a writer's lock.
q() { sqlite3 -batch -noheader -cmd '.timeout 5000' "$1" "$2" 2>&1; }
# nav CURL_ARGS... URL: a navigation as a browser sends it (curl, h2 by the
# caller's flags), printing the status.
NAV_H=(-H 'Accept: text/html,application/xhtml+xml,*/*;q=0.8' -H 'Sec-Fetch-Dest: document'
  -H 'Sec-Fetch-Mode: navigate' -H 'Sec-Fetch-Site: none' -H 'Sec-Fetch-User: ?1')
nav() { hcurl -o /dev/null -w '%{http_code}' "${NAV_H[@]}" "$@"; }
# sub UA REFERER URL [CURL_ARGS...]: a subresource request (image).
sub() {
  local ua=$1 ref=$2 url=$3
  shift 3
  hcurl -o /dev/null -w '%{http_code}' -A "$ua" -H "Referer: $ref" -H 'Sec-Fetch-Dest: image' \
    -H 'Sec-Fetch-Mode: no-cors' -H 'Sec-Fetch-Site: same-origin' "$@" "$url"
}
# dest_of URL: enum obs_dest the store writes for the asset's kind.
dest_of() {
  case ${1%%\?*} in
  *.css) echo 2 ;; *.js) echo 3 ;; *.woff2 | *.woff | *.ttf) echo 4 ;;
  *.png | *.jpg | *.gif | *.svg) echo 5 ;; *) echo 0 ;;
  esac
}
# expected_rows URL...: "key depth dest pushable status bytes" per asset the
# browser fetched (depth 2 for fonts: they come from the stylesheet), sorted.
# A resource's key is the URL as requested, query included.
expected_rows() {
  local u path
  for u in "$@"; do
    path=/${u#*://*/}
    path=${path%%\?*}
    local depth=1
    [ "$(dest_of "$u")" = 4 ] && depth=2
    echo "$u $depth $(dest_of "$u") 1 200 $(stat -c %s "$SITE$path")"
  done | sort
}
# visit_ids PAGE_KEY: ids of the visits of the page with that key.
visit_ids() { q "$DB" "SELECT v.id FROM visits v JOIN pages p ON p.id = v.page_id WHERE p.key = '$1' ORDER BY v.id" | tr '\n' ' ' | sed 's/ $//'; }
# visit_rows VISIT_ID: the stored requests in expected_rows' format.
visit_rows() {
  q "$DB" "SELECT r.key || ' ' || vr.depth || ' ' || vr.dest || ' ' || vr.pushable || ' ' || vr.status || ' ' || vr.bytes
           FROM visit_requests vr JOIN resources r ON r.id = vr.resource_id WHERE vr.visit_id = $1" | sort
}
# wait_count DB SQL WANT SECONDS: poll until the query answers WANT.
wait_count() {
  local i got
  for ((i = 0; i < $4 * 10; i++)); do
    got=$(q "$1" "$2")
    [ "$got" = "$3" ] && break
    sleep 0.1
  done
  echo "$got"
}
# wait_log FILE ERE SECONDS: until a line of FILE matches.
wait_log() {
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -Eqi -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
# log_since MARK_FILE: the herald log written since mark_log.
mark_log() { wc -c <"$HERALD_LOG"; }
log_since() { tail -c +$(($1 + 1)) "$HERALD_LOG"; }

# ---- visits -------------------------------------------------------------------

T0=$(now_ms)

# D: a page, then (inside its window) a request for another authority with
# the page as Referer and a second navigation, then (past the window) a
# request with the page as Referer. Only the browser's own requests count.
UA_D='Mozilla/5.0 (X11; Linux x86_64) test-record cross'
D_START=$(now_ms)
out=$("$BROWSER" --ua "$UA_D" "$N" /cross.html 2>&1)
assert_eq "h2c browser visit of /cross.html" 0 $?
mapfile -t D_URLS <<<"$out"
out=$(sub "$UA_D" "$N/cross.html" "$N/img/cross.png" --http2-prior-knowledge -H "Host: other.example:$HP")
assert_eq "cross-origin request (Host other.example) answered" 200 "$out"
out=$(nav --http2-prior-knowledge -A "$UA_D" -H "Referer: $N/cross.html" "$N/cross2.html")
assert_eq "second navigation (link from /cross.html) answered" 200 "$out"

# A: the front page over TLS h2 (phases share a connection).
UA_A='Mozilla/5.0 (X11; Linux x86_64) test-record tls'
A_START=$(now_ms)
out=$("$BROWSER" --report --ua "$UA_A" "$T" / 2>&1)
assert_eq "TLS h2 browser visit of / answered 200 throughout" "" "$(printf '%s\n' "$out" | awk '$1 != 200')"
assert_eq "TLS h2: the subresources of a phase share one connection" "1 1 0 0 0 0 0 0 1" \
  "$(printf '%s\n' "$out" | awk '{printf "%s%s", sep, $3; sep = " "}')"
mapfile -t A_URLS < <(printf '%s\n' "$out" | awk '{print $5}')
if [ $(($(now_ms) - A_START)) -lt $((WINDOW - 300)) ]; then
  assert_eq "no visit written while its window is open" 0 \
    "$(q "$DB" "SELECT count(*) FROM visits v JOIN pages p ON p.id = v.page_id WHERE p.key = '$T/'")"
else
  skip "no visit written while its window is open" "the visit took too long to check"
fi

# B: the front page over h2c, plus an asset with a query string.
UA_B='Mozilla/5.0 (X11; Linux x86_64) test-record h2c'
out=$("$BROWSER" --ua "$UA_B" "$N" / 2>&1)
assert_eq "h2c browser visit of /" 0 $?
mapfile -t B_URLS <<<"$out"
out=$(sub "$UA_B" "$N/" "$N/img/extra.png?v=123" --http2-prior-knowledge)
assert_eq "asset with ?v=123 answered" 200 "$out"
B_URLS+=("$N/img/extra.png?v=123")

# C: HTTP/1.1, every request on a new connection.
UA_C='Mozilla/5.0 (X11; Linux x86_64) test-record h1'
out=$("$BROWSER" --http1.1 --new-conn --report --ua "$UA_C" "$N" /h1.html 2>&1)
assert_eq "HTTP/1.1 browser visit answered 200 throughout" "" "$(printf '%s\n' "$out" | awk '$1 != 200 || $2 != "1.1"')"
assert_eq "HTTP/1.1: a new connection per request" "" "$(printf '%s\n' "$out" | awk '$3 != 1')"
mapfile -t C_URLS < <(printf '%s\n' "$out" | awk '{print $5}')

# E: a mobile browser.
UA_E='Mozilla/5.0 (Linux; Android 13; Pixel 7) Mobile test-record mobile'
out=$("$BROWSER" --mobile --ua "$UA_E" "$T" /mobile.html 2>&1)
assert_eq "mobile browser visit" 0 $?
mapfile -t E_URLS <<<"$out"

# F: two product pages at all-digit paths, one client.
UA_F='Mozilla/5.0 (X11; Linux x86_64) test-record template'
out=$("$BROWSER" --ua "$UA_F" "$N" /product/123 2>&1)
assert_eq "visit of /product/123" 0 $?
mapfile -t F1_URLS <<<"$out"
out=$("$BROWSER" --ua "$UA_F" "$N" /product/456 2>&1)
assert_eq "visit of /product/456" 0 $?
mapfile -t F2_URLS <<<"$out"

# G: no Referer, same HTTP/2 connection (one curl, --next) -> attributed;
# no Referer on another connection -> not.
UA_G='Mozilla/5.0 (X11; Linux x86_64) test-record conn'
out=$(hcurl --http2 -k -A "$UA_G" "${NAV_H[@]}" -o /dev/null -w '%{http_code} %{num_connects} ' "$T/conn.html" \
  --next --http2 -k -m 10 -A "$UA_G" -H 'Sec-Fetch-Dest: image' -H 'Sec-Fetch-Mode: no-cors' \
  -o /dev/null -w '%{http_code} %{num_connects}' "$T/img/conn.png" 2>&1)
assert_eq "page and Referer-less image on one h2 connection" "200 1 200 0" "$out"
out=$(hcurl --http2 -k -A "$UA_G" -H 'Sec-Fetch-Dest: image' -H 'Sec-Fetch-Mode: no-cors' \
  -o /dev/null -w '%{http_code} %{num_connects}' "$T/img/conn2.png" 2>&1)
assert_eq "Referer-less image on a second connection" "200 1" "$out"

# G2: Referrer-Policy strict-origin: every Referer is the origin, the
# font's too. Same connection as the page: attributed (like no Referer);
# another connection: not.
UA_G2='Mozilla/5.0 (X11; Linux x86_64) test-record origin'
out=$(hcurl --http2 -k -A "$UA_G2" "${NAV_H[@]}" -o /dev/null -w '%{http_code} %{num_connects} ' "$T/origin.html" \
  --next --http2 -k -m 10 -A "$UA_G2" -H "Referer: $T/" -H 'Sec-Fetch-Dest: image' -H 'Sec-Fetch-Mode: no-cors' \
  -o /dev/null -w '%{http_code} %{num_connects} ' "$T/img/origin.png" \
  --next --http2 -k -m 10 -A "$UA_G2" -H "Referer: $T/" -H 'Sec-Fetch-Dest: font' -H 'Sec-Fetch-Mode: cors' \
  -o /dev/null -w '%{http_code} %{num_connects}' "$T/fonts/origin.woff2" 2>&1)
assert_eq "page, image and font with an origin-only Referer on one h2 connection" "200 1 200 0 200 0" "$out"
out=$(hcurl --http2 -k -A "$UA_G2" -H "Referer: $T/" -H 'Sec-Fetch-Dest: image' -H 'Sec-Fetch-Mode: no-cors' \
  -o /dev/null -w '%{http_code} %{num_connects}' "$T/img/origin2.png" 2>&1)
assert_eq "origin-only Referer on a second connection" "200 1" "$out"

# H: Accept: text/html without Sec-Fetch-* is a navigation (query dropped
# from the page key); Accept */* without Sec-Fetch-* is not.
out=$(hcurl --http1.1 -A 'test-record accept' -H 'Accept: text/html' -o /dev/null -w '%{http_code}' "$N/accept.html?from=test")
assert_eq "Accept: text/html navigation answered" 200 "$out"
out=$(hcurl --http1.1 -A 'test-record plain' -H 'Accept: */*' -o /dev/null -w '%{http_code}' "$N/plain.html")
assert_eq "plain GET of a page answered" 200 "$out"
# I: curl with its own User-Agent, navigation headers and all: a tool on
# [record] ignore_agents' default list, never a visit.
out=$(nav --http2-prior-knowledge "$N/cross2.html")
assert_eq "curl navigation (its own User-Agent) answered" 200 "$out"
# J: a browser behind the trusted proxy (this machine), from an address in
# [record] ignore_clients: the client is the forwarded address, so never a
# visit, although the proxy's own address is not on the list.
out=$("$BROWSER" --from 192.0.2.9 "$N" /ignored.html 2>&1)
assert_match "navigation from an ignored client (X-Forwarded-For) answered" 'ignored\.html' "$out"

# Not visits: 404, Authorization, cut short.
UA_X='Mozilla/5.0 (X11; Linux x86_64) test-record not-a-visit'
out=$("$BROWSER" --report --ua "$UA_X" "$N" /missing.html 2>&1)
assert_eq "navigation to a missing page answered 404" 404 "$(printf '%s\n' "$out" | awk 'NR == 1 {print $1}')"
out=$(nav --http2-prior-knowledge -A "$UA_X" -H 'Authorization: Basic dXNlcjpwYXNz' "$N/auth.html")
assert_eq "navigation with Authorization answered" 200 "$out"
out=$(nav --http2-prior-knowledge -A "$UA_X" -m 1 "$N/slow.html" 2>/dev/null)
assert_eq "navigation given up mid-body (curl timeout)" 200 "$out"
out=$(nav --http1.1 -A "$UA_X" -m 1 "$N/slow.html?h1" 2>/dev/null)
assert_eq "HTTP/1.1 navigation given up mid-body (curl timeout)" 200 "$out"

# Past D's window: a request with /cross.html as Referer.
left=$((D_START + WINDOW + 300 - $(now_ms)))
[ "$left" -gt 0 ] && sleep "$(awk -v l="$left" 'BEGIN {printf "%.3f", l / 1000}')"
out=$(sub "$UA_D" "$N/cross.html" "$N/img/late.png" --http2-prior-knowledge)
assert_eq "request past the window answered" 200 "$out"

# Visits: D, D's second navigation, A, B, C, E, F x2, G, G2, H = 11 (not I,
# not J).
WANT_VISITS=11
got=$(wait_count "$DB" 'SELECT count(*) FROM visits' $WANT_VISITS 6)
assert_eq "visits written once their windows closed" $WANT_VISITS "$got"
sleep 0.5 # anything late would show up now
assert_eq "exactly the expected visits" $WANT_VISITS "$(q "$DB" 'SELECT count(*) FROM visits')"
assert_eq "no page row for the ignored client's navigation" 0 \
  "$(q "$DB" "SELECT count(*) FROM pages WHERE key = '$N/ignored.html'")"
T1=$(now_ms)

# ---- what was written -----------------------------------------------------------

# A: TLS h2, front page.
vid=$(visit_ids "$T/")
assert_match "one visit of $T/" '^[0-9]+$' "$vid"
vid=${vid:-0}
assert_eq "TLS visit: the page's stylesheet, scripts, images (depth 1) and font (depth 2)" \
  "$(expected_rows "${A_URLS[@]:1}")" "$(visit_rows "$vid")"
css_seq=$(q "$DB" "SELECT vr.seq FROM visit_requests vr JOIN resources r ON r.id = vr.resource_id WHERE vr.visit_id = $vid AND r.key = '$T/css/shop.css'")
font_parent=$(q "$DB" "SELECT ifnull(vr.parent_seq, 'NULL') FROM visit_requests vr JOIN resources r ON r.id = vr.resource_id WHERE vr.visit_id = $vid AND r.key = '$T/fonts/shopsans.woff2'")
assert_match "TLS visit: stylesheet has a seq" '^[0-9]+$' "$css_seq"
assert_eq "TLS visit: the font's parent_seq is the stylesheet's seq" "$css_seq" "$font_parent"
assert_eq "TLS visit: depth-1 requests have no parent" 0 \
  "$(q "$DB" "SELECT count(*) FROM visit_requests WHERE visit_id = $vid AND depth = 1 AND parent_seq IS NOT NULL")"
assert_eq "TLS visit: seq runs 0..n-1" "0 $((${#A_URLS[@]} - 2)) $((${#A_URLS[@]} - 1))" \
  "$(q "$DB" "SELECT min(seq) || ' ' || max(seq) || ' ' || count(*) FROM visit_requests WHERE visit_id = $vid")"
assert_eq "TLS visit: class desktop, template = page, 16-byte client token, not holdout" "desktop 1 16 0" \
  "$(q "$DB" "SELECT class || ' ' || (template_id = page_id) || ' ' || length(client_token) || ' ' || holdout FROM visits WHERE id = $vid")"
sum=$(stat -c %s "$SITE/index.html")
for u in "${A_URLS[@]:1}"; do
  p=/${u#*://*/}
  sum=$((sum + $(stat -c %s "$SITE${p%%\?*}")))
done
assert_eq "TLS visit: bytes = page + its subresources" "$sum" "$(q "$DB" "SELECT bytes FROM visits WHERE id = $vid")"
assert_eq "TLS visit: started_at during the test, 0 <= load_ms <= window" 1 \
  "$(q "$DB" "SELECT started_at >= $T0 AND started_at <= $T1 AND load_ms >= 0 AND load_ms <= $WINDOW FROM visits WHERE id = $vid")"
assert_eq "TLS visit: 0 <= delay_ms <= window, method GET" 0 \
  "$(q "$DB" "SELECT count(*) FROM visit_requests WHERE visit_id = $vid AND (delay_ms < 0 OR delay_ms > $WINDOW OR method != 'GET')")"
assert_eq "TLS visit: page row" "0 1" "$(q "$DB" "SELECT is_template || ' ' || visits FROM pages WHERE key = '$T/'")"
assert_eq "resources: content types" "text/css application/javascript image/png font/woff2" \
  "$(for k in css/shop.css js/shop.js img/logo.png fonts/shopsans.woff2; do q "$DB" "SELECT content_type FROM resources WHERE key = '$T/$k'"; done | tr '\n' ' ' | sed 's/ $//')"

# B: h2c front page; the ?v=123 asset is stored with its query.
vid=$(visit_ids "$N/")
assert_match "one visit of $N/" '^[0-9]+$' "$vid"
vid=${vid:-0}
assert_eq "h2c visit: subresources, depths, dests, pushable (query kept)" \
  "$(expected_rows "${B_URLS[@]:1}")" "$(visit_rows "$vid")"
assert_match "the versioned asset's key is the URL requested" '\?v=123$' \
  "$(q "$DB" "SELECT key FROM resources WHERE key LIKE '%?v=123'")"
assert_eq "no page key has a query string (none kept)" 0 \
  "$(q "$DB" "SELECT count(*) FROM pages WHERE key LIKE '%?%'")"
assert_eq "h2c and TLS visitors (different User-Agents) have different client tokens" 1 \
  "$(q "$DB" "SELECT count(DISTINCT client_token) = 2 FROM visits v JOIN pages p ON p.id = v.page_id WHERE p.key IN ('$T/', '$N/')")"

# C: HTTP/1.1, a connection per request: Referer attribution still works.
vid=$(visit_ids "$N/h1.html")
assert_match "one visit of /h1.html" '^[0-9]+$' "$vid"
assert_eq "HTTP/1.1 visit: every subresource attributed" "$(expected_rows "${C_URLS[@]:1}")" "$(visit_rows "${vid:-0}")"

# D: neither the other authority, nor the second navigation, nor the late
# request; the second navigation is a visit of its own.
vid=$(visit_ids "$N/cross.html")
assert_match "one visit of /cross.html" '^[0-9]+$' "$vid"
assert_eq "/cross.html: only the browser's requests (not other.example, not /cross2.html, not past the window)" \
  "$(expected_rows "${D_URLS[@]:1}")" "$(visit_rows "${vid:-0}")"
assert_eq "nothing from another authority, or past the window, is stored" 0 \
  "$(q "$DB" "SELECT count(*) FROM resources WHERE key LIKE '%other.example%' OR key LIKE '%/img/late.png' OR key LIKE '%/img/cross.png' OR key LIKE '%/cross2.html'")"
assert_eq "the second navigation is its own visit" "1 0" \
  "$(q "$DB" "SELECT p.visits || ' ' || (SELECT count(*) FROM visit_requests vr WHERE vr.visit_id = v.id) FROM visits v JOIN pages p ON p.id = v.page_id WHERE p.key = '$N/cross2.html'")"

# E: mobile.
assert_eq "mobile visit: class mobile" mobile \
  "$(q "$DB" "SELECT v.class FROM visits v JOIN pages p ON p.id = v.page_id WHERE p.key = '$T/mobile.html'")"
vid=$(visit_ids "$T/mobile.html")
assert_eq "mobile visit: subresources attributed" "$(expected_rows "${E_URLS[@]:1}")" "$(visit_rows "${vid:-0}")"
assert_eq "every other visit is desktop" "desktop" "$(q "$DB" "SELECT DISTINCT v.class FROM visits v JOIN pages p ON p.id = v.page_id WHERE p.key != '$T/mobile.html'")"

# F: templates.
tpl=$(q "$DB" "SELECT id || ' ' || is_template || ' ' || visits FROM pages WHERE key = '$N/product/:id'")
assert_match "template page row for /product/:id (is_template 1, 2 visits)" '^[0-9]+ 1 2$' "$tpl"
tpl_id=${tpl%% *}
assert_eq "both product visits point at the template row" "$tpl_id $tpl_id" \
  "$(q "$DB" "SELECT v.template_id FROM visits v JOIN pages p ON p.id = v.page_id WHERE p.key IN ('$N/product/123', '$N/product/456') ORDER BY p.key" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "product pages keep their own rows" "0 1 0 1" \
  "$(q "$DB" "SELECT is_template || ' ' || visits FROM pages WHERE key IN ('$N/product/123', '$N/product/456') ORDER BY key" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "one template row made by visits in all" 1 \
  "$(q "$DB" "SELECT count(*) FROM pages WHERE is_template = 1 AND visits > 0")"
vid=$(visit_ids "$N/product/456")
assert_eq "/product/456 visit: its own subresources" "$(expected_rows "${F2_URLS[@]:1}")" "$(visit_rows "${vid:-0}")"
assert_eq "one client, two visits: one client token" 1 \
  "$(q "$DB" "SELECT count(DISTINCT client_token) FROM visits v JOIN pages p ON p.id = v.page_id WHERE p.key IN ('$N/product/123', '$N/product/456')")"

# G: same-connection rule.
vid=$(visit_ids "$T/conn.html")
assert_eq "Referer-less request on the page's h2 connection attributed; on another connection not" \
  "$T/img/conn.png 1 5 1 200 $(stat -c %s "$SITE/img/conn.png")" "$(visit_rows "${vid:-0}")"

# G2: origin-only Referers.
vid=$(visit_ids "$T/origin.html")
assert_eq "origin-only Referer on the page's h2 connection attributed (font too); on another connection not" \
  "$(printf '%s\n' "$T/fonts/origin.woff2 1 4 1 200 $(stat -c %s "$SITE/fonts/origin.woff2")" "$T/img/origin.png 1 5 1 200 $(stat -c %s "$SITE/img/origin.png")" | sort)" \
  "$(visit_rows "${vid:-0}")"

# H: Accept-only navigation; not visits.
assert_eq "Accept: text/html navigation recorded (query dropped from the key)" 1 \
  "$(q "$DB" "SELECT visits FROM pages WHERE key = '$N/accept.html'")"
for p in plain.html missing.html auth.html slow.html; do
  assert_eq "no page row for /$p" 0 "$(q "$DB" "SELECT count(*) FROM pages WHERE key LIKE '%/$p'")"
done

assert_eq "schema_version is 5" 5 "$(q "$DB" 'SELECT version FROM schema_version')"
assert_eq "every visit recorded with exact URLs" 0 \
  "$(q "$DB" 'SELECT count(*) FROM visits WHERE exact_urls = 0')"
assert_no_match "main herald: no recording errors or drops" 'recording off|observations dropped|database busy' "$(cat "$HERALD_LOG")"
check "main herald still running" herald_alive

# ---- responses are the same with and without recording -------------------------

HP0=$(free_port)
start_herald --listen "127.0.0.1:$HP0" --backend "127.0.0.1:$NGINX_PORT" || finish
for p in / /css/shop.css /fonts/shopsans.woff2 /product/123; do
  a=$(hcurl --http2-prior-knowledge -A "$UA_B" "${NAV_H[@]}" "$N$p" | sha256sum | cut -d' ' -f1)
  b=$(hcurl --http2-prior-knowledge -A "$UA_B" "${NAV_H[@]}" "http://127.0.0.1:$HP0$p" | sha256sum | cut -d' ' -f1)
  f=$p
  [ "$f" = / ] && f=/index.html
  assert_eq "$p: same body with and without --db" "$b" "$a"
  assert_eq "$p: body is the file's" "$(sha256sum <"$SITE$f" | cut -d' ' -f1)" "$a"
done
h_on=$(hcurl --http2-prior-knowledge -A "$UA_B" "${NAV_H[@]}" -D - -o /dev/null "$N/css/shop.css" | tr -d '\r' | grep -vi '^date:' | sort)
h_off=$(hcurl --http2-prior-knowledge -A "$UA_B" "${NAV_H[@]}" -D - -o /dev/null "http://127.0.0.1:$HP0/css/shop.css" | tr -d '\r' | grep -vi '^date:' | sort)
assert_eq "same response headers with and without --db (Date aside)" "$h_off" "$h_on"
stop_pid "$HERALD_PID"

# ---- SIGTERM writes visits whose window is still open ----------------------------

DB2=$WORK/term.db
HP2=$(free_port)
start_herald --listen "127.0.0.1:$HP2" --backend "127.0.0.1:$NGINX_PORT" --db "$DB2" \
  -o record.window=60000 -o record.flush=$FLUSH || finish
out=$("$BROWSER" --ua 'test-record sigterm' "http://127.0.0.1:$HP2" / 2>&1)
assert_eq "visit before SIGTERM" 0 $?
n_sub=$(($(printf '%s\n' "$out" | wc -l) - 1))
sleep 0.3
assert_eq "60 s window: nothing written yet" 0 "$(q "$DB2" 'SELECT count(*) FROM visits')"
herald_graceful_stop
check "herald exits on SIGTERM" wait_pid_exit "$HERALD_PID" 10
assert_eq "SIGTERM wrote the open visit and its requests" "1 $n_sub" \
  "$(q "$DB2" "SELECT (SELECT count(*) FROM visits) || ' ' || (SELECT count(*) FROM visit_requests)")"

# ---- databases that cannot be used ------------------------------------------------

# bad_db NAME PATH [SECONDS]: herald with --db PATH proxies (200) and logs
# exactly one "recording off" line that names PATH.
bad_db() {
  local name=$1 path=$2 secs=${3:-3} mark port lines
  mark=$(mark_log)
  port=$(free_port)
  start_herald --listen "127.0.0.1:$port" --backend "127.0.0.1:$NGINX_PORT" --db "$path" \
    -o record.window=300 -o record.flush=50 || return 1
  "$BROWSER" --ua "test-record $name" "http://127.0.0.1:$port" / >/dev/null 2>&1
  assert_eq "$name: browser visit still answered" 0 $?
  assert_eq "$name: h2c GET 200" "200" "$(hcurl --http2-prior-knowledge -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/css/shop.css")"
  assert_eq "$name: HTTP/1.1 GET 200" "200" "$(hcurl --http1.1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")"
  for ((i = 0; i < secs * 10; i++)); do
    log_since "$mark" | grep -q 'recording off' && break
    sleep 0.1
  done
  sleep 0.5 # a second line would come now
  lines=$(log_since "$mark" | grep 'recording off')
  assert_eq "$name: exactly one 'recording off' line" 1 "$(printf '%s' "$lines" | grep -c .)"
  assert_contains "$name: the line names the path" "$path" "$lines"
  check "$name: herald still running" herald_alive
  LAST_BAD_LINES=$lines
  stop_pid "$HERALD_PID"
}

bad_db "missing directory" /nonexistent-dir/h.db
check "missing directory: not created" test ! -e /nonexistent-dir

head -c 65536 /dev/urandom >"$WORK/corrupt.db"
sum_before=$(sha256sum <"$WORK/corrupt.db")
bad_db "corrupt file" "$WORK/corrupt.db"
assert_eq "corrupt file: left as it was" "$sum_before" "$(sha256sum <"$WORK/corrupt.db")"

# Read-only: permissions for an ordinary user; root ignores them, so there
# the file and the directory are made immutable (chattr +i) for the check.
RO_UNDO=()
ro_undo() {
  local f
  for f in "${RO_UNDO[@]}"; do chattr -i "$f" 2>/dev/null || chmod u+w "$f" 2>/dev/null; done
  RO_UNDO=()
}
trap 'ro_undo; _cleanup' EXIT
mkdir -p "$WORK/ro"
q "$WORK/ro/h.db" "PRAGMA journal_mode=WAL" >/dev/null # an empty database
if [ "$(id -u)" = 0 ]; then
  if chattr +i "$WORK/ro/h.db" 2>/dev/null && chattr +i "$WORK/ro" 2>/dev/null; then
    RO_UNDO=("$WORK/ro" "$WORK/ro/h.db")
    bad_db "read-only file (immutable)" "$WORK/ro/h.db"
    bad_db "read-only directory (immutable)" "$WORK/ro/new.db"
  else
    skip "read-only database" "running as root and chattr +i is not available"
  fi
  ro_undo
else
  chmod 444 "$WORK/ro/h.db" && chmod 555 "$WORK/ro"
  RO_UNDO=("$WORK/ro" "$WORK/ro/h.db")
  bad_db "read-only file" "$WORK/ro/h.db"
  bad_db "read-only directory" "$WORK/ro/new.db"
  ro_undo
fi

# Locked: a herald database (the SIGTERM one) held by another process.
cp "$DB2" "$WORK/lock.db"
# (1) exclusive locking mode: nobody else may even read it, so herald cannot
# open it. The lock holder prints "locked" once it holds the lock.
(
  printf 'PRAGMA locking_mode=EXCLUSIVE;\nBEGIN EXCLUSIVE;\nSELECT count(*) FROM visits;\nSELECT '"'"'locked'"'"';\n'
  sleep 5
) | sqlite3 "$WORK/lock.db" >"$WORK/lock1.out" 2>&1 &
LOCK_PID=$!
track_pid "$LOCK_PID"
wait_log "$WORK/lock1.out" '^locked' 5 || fail "exclusive lock taken" "$(cat "$WORK/lock1.out")"
bad_db "database locked exclusively" "$WORK/lock.db" 6
assert_match "locked exclusively: the line says busy/locked" 'busy|lock' "$LAST_BAD_LINES"
# The holder lets go by itself (its stdin ends after the sleep).
wait "$LOCK_PID" 2>/dev/null

# (2) BEGIN EXCLUSIVE on a WAL database: readers go on, writers wait. herald
# opens it, proxies, reports the lock in one clear line (not one per batch:
# the lock is held for 7 s, several busy timeouts), keeps running, and
# records again once the lock is gone.
(
  printf 'BEGIN EXCLUSIVE;\nSELECT '"'"'locked'"'"';\n'
  sleep 7
) | sqlite3 "$WORK/lock.db" >"$WORK/lock2.out" 2>&1 &
LOCK_PID=$!
track_pid "$LOCK_PID"
wait_log "$WORK/lock2.out" '^locked' 5 || fail "write lock taken" "$(cat "$WORK/lock2.out")"
mark=$(mark_log)
HP3=$(free_port)
start_herald --listen "127.0.0.1:$HP3" --backend "127.0.0.1:$NGINX_PORT" --db "$WORK/lock.db" \
  -o record.window=300 -o record.flush=50 || finish
"$BROWSER" --ua 'test-record locked' "http://127.0.0.1:$HP3" / >/dev/null 2>&1
assert_eq "write-locked: browser visit answered" 0 $?
for ((i = 0; i < 40; i++)); do
  log_since "$mark" | grep -Eqi 'busy|locked' && break
  sleep 0.1
done
assert_match "write-locked: a clear busy/locked line" 'busy|locked' "$(log_since "$mark")"
assert_eq "write-locked: HTTP/1.1 GET 200 meanwhile" 200 "$(hcurl --http1.1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP3/")"
# Wait out the lock (7 s from when it was taken), then visit again.
wait "$LOCK_PID" 2>/dev/null
lines=$(log_since "$mark" | grep -Ei 'busy|locked')
assert_eq "write-locked: one busy/locked line for the whole lock (7 s)" 1 "$(printf '%s\n' "$lines" | grep -c .)"
"$BROWSER" --ua 'test-record unlocked' "http://127.0.0.1:$HP3" /about.html >/dev/null 2>&1
got=$(wait_count "$WORK/lock.db" "SELECT count(*) FROM visits v JOIN pages p ON p.id = v.page_id WHERE p.key = 'http://127.0.0.1:$HP3/about.html'" 1 4)
assert_eq "write-locked: records again once the lock is released" 1 "$got"
check "write-locked: herald still running" herald_alive
stop_pid "$HERALD_PID"
assert_eq "lock.db passes integrity_check" ok "$(q "$WORK/lock.db" 'PRAGMA integrity_check')"

# ---- SIGKILL under heavy recording --------------------------------------------------

DB3=$WORK/crash.db
HP4=$(free_port)
# h2load's User-Agent (nghttp2/...) is a tool the default ignore list
# leaves out; this load stands for browsers.
start_herald --listen "127.0.0.1:$HP4" --backend "127.0.0.1:$NGINX_PORT" --db "$DB3" \
  -o record.window=300 -o record.flush=20 -o record.ignore_agents= || finish
C=http://127.0.0.1:$HP4
# Navigations to / and, from the same client (h2load's User-Agent), assets
# with / as Referer: every visit collects many requests.
timeout 30 h2load -n 1000000 -c 4 -m 4 -H 'sec-fetch-dest: document' -H 'sec-fetch-mode: navigate' \
  -H 'accept: text/html' "$C/" >"$WORK/h2load-nav.out" 2>&1 &
L1=$!
track_pid "$L1"
timeout 30 h2load -n 1000000 -c 6 -m 10 -H 'sec-fetch-dest: image' -H 'sec-fetch-mode: no-cors' \
  -H "referer: $C/" "$C/img/logo.png" "$C/css/shop.css" "$C/js/shop.js" "$C/fonts/shopsans.woff2" \
  >"$WORK/h2load-sub.out" 2>&1 &
L2=$!
track_pid "$L2"
# The loads run 30 s; under ASan on a busy machine the first visits can
# take longer than 5 s to reach the disk (measured: one run in two).
got=$(wait_count "$DB3" 'SELECT count(*) > 0 FROM visits' 1 20)
assert_eq "heavy load: visits being written" 1 "$got"
sleep 0.7
check "herald alive under heavy recording" herald_alive
# (wait right away, stderr away: bash reports a killed job otherwise)
{ kill -KILL "$HERALD_PID" && wait "$HERALD_PID"; } 2>/dev/null
kill "$L1" "$L2" 2>/dev/null
wait "$L1" "$L2" 2>/dev/null
assert_eq "after SIGKILL: integrity_check ok" ok "$(q "$DB3" 'PRAGMA integrity_check')"
nv=$(q "$DB3" 'SELECT count(*) FROM visits')
assert_match "after SIGKILL: visits readable" '^[0-9]+$' "$nv"
nr=$(q "$DB3" 'SELECT count(*) FROM visit_requests')
assert_match "after SIGKILL: visit_requests readable" '^[0-9]+$' "$nr"
log "after SIGKILL: $nv visits, $nr attributed requests"
assert_eq "after SIGKILL: every request belongs to a visit" 0 \
  "$(q "$DB3" 'SELECT count(*) FROM visit_requests WHERE visit_id NOT IN (SELECT id FROM visits)')"
HP5=$(free_port)
mark=$(mark_log)
start_herald --listen "127.0.0.1:$HP5" --backend "127.0.0.1:$NGINX_PORT" --db "$DB3" \
  -o record.window=300 -o record.flush=50 || finish
"$BROWSER" --ua 'test-record after crash' "http://127.0.0.1:$HP5" /about.html >/dev/null 2>&1
assert_eq "restart on the crashed database: visit answered" 0 $?
got=$(wait_count "$DB3" "SELECT count(*) FROM visits v JOIN pages p ON p.id = v.page_id WHERE p.key = 'http://127.0.0.1:$HP5/about.html'" 1 4)
assert_eq "restart on the crashed database: records again" 1 "$got"
assert_no_match "restart: no recording errors" 'recording off' "$(log_since "$mark")"
stop_pid "$HERALD_PID"
assert_eq "after restart and SIGTERM: integrity_check ok" ok "$(q "$DB3" 'PRAGMA integrity_check')"

# By now nginx would have finished sending /slow.html (13 s at 20 KB/s):
# still no visit for it, however late herald hears of the end.
assert_eq "main herald: still no page row for the cut-short /slow.html" 0 \
  "$(q "$DB" "SELECT count(*) FROM pages WHERE key LIKE '%/slow.html'")"
check "main herald still running at the end" kill -0 "$MAIN_PID"

finish
