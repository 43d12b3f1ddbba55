#!/usr/bin/env bash
# test_chromium.sh: a real browser uses herald's 103 Early Hints. After
# scripted visits (browser.sh) teach herald the demo shop's front page over
# TLS, headless Chromium loads that page through herald and the page
# reports, from its own Navigation and Resource Timing entries, that a 103
# arrived and that the hinted files were fetched from it (initiatorType
# "early-hints") before the HTML response started. With deliver.mode=off
# the same visit sees no 103 and no early-hints fetch.
#
# Four things make the browser's view deterministic (see README, Tests):
#   - the self-signed certificate is accepted by pinning its SPKI hash
#     (--ignore-certificate-errors-spki-list): with
#     --ignore-certificate-errors Chromium fetches the hinted files, then
#     throws them away;
#   - build/relay adds 40 ms of round-trip time between Chromium and
#     herald: on bare loopback the 103 arrives within a millisecond of the
#     request and Chromium sometimes loses that race;
#   - a second relay adds 300 ms between herald and nginx, a backend that
#     "thinks", so the 103 clearly precedes the HTML;
#   - nginx sends "expires 1h": Chromium reuses an early-hints preload only
#     while it is fresh in its HTTP cache.
# The page reports through an inline script that writes its timing entries
# into the DOM on load; `chromium --headless --dump-dom` prints that DOM.
. "$(dirname "$0")/lib.sh"

if [ "$HERALD_STANDIN" = nghttpx ]; then
  skip "chromium" "herald's own feature; no stand-in"
  finish
fi
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROMIUM" ]; then
  skip "chromium" "chromium not installed (make deps installs it)"
  finish
fi
if [ ! -x "$B/relay" ]; then
  fail "relay" "$B/relay not built (make $B/relay)"
  finish
fi

BROWSER=$ROOT/tests/integ/browser.sh
mkdir -p "$WORK/site"
cp -r "$ROOT/tools/demo/site/." "$WORK/site/"
# The test copy of the front page reports what the browser saw. Numbers
# are milliseconds since the navigation started; 0 means "did not happen".
# finalResponseHeadersStart is the 200's arrival where Chromium has it
# (there responseStart is the 103's), else responseStart is the 200's.
sed -i 's#</body>#<pre id="herald-timing"></pre>\
<script>\
window.addEventListener("load", function () {\
  var n = performance.getEntriesByType("navigation")[0];\
  var out = ["NAV " + (n.firstInterimResponseStart || 0) + " " +\
    n.responseStart + " " + (n.finalResponseHeadersStart || 0) + " " +\
    n.nextHopProtocol];\
  performance.getEntriesByType("resource").forEach(function (r) {\
    out.push("RES " + r.name + " " + (r.initiatorType || "-") + " " +\
      r.startTime + " " + r.responseEnd);\
  });\
  out.push("END");\
  document.getElementById("herald-timing").textContent = out.join("\\n");\
});\
</script>\
</body>#' "$WORK/site/index.html"
chmod -R a+rX "$WORK"
# Chromium keeps early-hints preloads in its HTTP cache, and the page's own
# request takes them from there only if they are fresh: without
# Cache-Control, the just-copied files (Last-Modified: now) have no
# heuristic freshness, and every hinted file is fetched, then revalidated
# (304), with initiatorType "link"/"script". Real static files are cacheable.
NGINX_SERVER_EXTRA='expires 1h;'
start_nginx || finish
gen_cert || finish

DB=$WORK/h.db
# Learner settings as in test_hints.sh: learn fast, then freeze.
LEARN=(--db "$DB" -o record.window=1000 -o record.flush=100
  -o learn.interval=300 -o learn.min_visits=5 -o learn.min_clients=2
  -o learn.hint_threshold=0.6 -o learn.push_threshold=0.65
  -o deliver.mode=shadow -o clients.trusted_proxies=127.0.0.1)
FROZEN=(--db "$DB" -o deliver.holdout=0 -o deliver.verify=0 -o learn.interval=3600000 -o learn.recompute_after=100000000
  -o learn.min_visits=5 -o learn.min_clients=2 -o learn.hint_threshold=0.6
  -o learn.push_threshold=0.65)

# The page key holds the authority, so Chromium must use the port the
# rules were learned on: herald learns on $HT, and later the front relay
# takes $HT while herald moves to $HT2 behind it.
HT=$(free_port)
HT2=$(free_port)
TB=https://127.0.0.1:$HT
start_herald --listen-tls "127.0.0.1:$HT" --cert "$CERT" --key "$KEY" \
  --backend "127.0.0.1:$NGINX_PORT" "${LEARN[@]}" || finish
for i in $(seq 1 14); do
  "$BROWSER" --ua "chromium-test-$((i % 3))" --from "198.51.$((100 + i % 3)).7" \
    "$TB" / >/dev/null 2>&1
done
rules_of() {
  sqlite3 "$DB" "SELECT count(*) FROM rules r JOIN pages p ON p.id = r.page_id WHERE r.channel IN ('push', 'hint') AND p.key = '$1'" 2>/dev/null
}
ok=0
for _ in $(seq 1 80); do
  [ "$(rules_of "$TB/")" = 8 ] && ok=1 && break
  sleep 0.25
done
assert_eq "rules learned for / (8 resources)" 1 "$ok"
herald_graceful_stop
wait_port_closed "$HT" 127.0.0.1 10

# start_relay NAME LISTEN_PORT CONNECT_PORT RTT: build/relay, ready once it
# says it listens.
start_relay() {
  local name=$1 lport=$2 cport=$3 rtt=$4 log=$WORK/relay-$1.log i
  "$B/relay" --listen "127.0.0.1:$lport" --connect "127.0.0.1:$cport" \
    --rtt "$rtt" 2>"$log" &
  local pid=$!
  track_pid "$pid"
  for ((i = 0; i < 100; i++)); do
    grep -q '^relay: listening on ' "$log" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  fail "start relay $name" "$(cat "$log")"
  return 1
}
BR=$(free_port)
start_relay backend "$BR" "$NGINX_PORT" 300 || finish
start_relay front "$HT" "$HT2" 40 || finish

# Chromium accepts the test certificate by its public key's hash only.
SPKI=$(openssl x509 -in "$CERT" -pubkey -noout | openssl pkey -pubin -outform der |
  openssl dgst -sha256 -binary | base64)

# visit NAME: one headless Chromium load of $TB/ with a fresh profile; the
# page's report goes to $WORK/NAME.report, the whole DOM to NAME.dom.
visit() {
  local name=$1
  timeout 40 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update \
    --disable-sync --disable-default-apps --disable-extensions \
    --user-data-dir="$WORK/profile-$name" \
    --ignore-certificate-errors-spki-list="$SPKI" \
    --host-resolver-rules='MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1' \
    --virtual-time-budget=10000 --dump-dom "$TB/" \
    >"$WORK/$name.dom" 2>"$WORK/$name.chromium.log"
  sed -n '/<pre id="herald-timing">/,/END/p' "$WORK/$name.dom" |
    sed 's/^.*<pre id="herald-timing">//' >"$WORK/$name.report"
}

# access_rows FILE: "START_MS END_MS PATH STATUS" per access-log line (the
# line is written when the response ends; MS is its duration).
access_rows() {
  local ts rest end
  while read -r ts rest; do
    end=$(date -u -d "$ts" +%s%3N 2>/dev/null) || continue
    # CLIENT PROTO METHOD AUTHORITY PATH STATUS BYTES MS BACKEND
    set -- $rest
    echo "$((end - $8)) $end $5 $6"
  done <"$1"
}

# fl A OP B: floating-point comparison for the page's timings.
fl() { awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"; }

HINTED_PATHS="/css/shop.css /js/lib/minidom-1.2.js /js/shop.js /img/logo.png
/img/banner.png /img/product-123.png /img/product-456.png /fonts/shopsans.woff2"

# check_hinted FILE NAME T0 T1: the assertions for the hinted visit whose
# report is $WORK/FILE.report, made between T0 and T1 (epoch ms).
check_hinted() {
  local file=$1 name=$2 t0=$3 t1=$4 r=$WORK/$1.report
  if ! grep -q '^END' "$r"; then
    fail "$name: the page reported its timings" \
      "no report; chromium said: $(grep -v dbus "$WORK/$file.chromium.log" | tail -5)"
    return
  fi
  local fir final
  fir=$(awk '$1 == "NAV" {printf "%.1f", $2}' "$r")
  final=$(awk '$1 == "NAV" {printf "%.1f", ($4 > 0) ? $4 : $3}' "$r")
  if fl "$fir" '>' 0 && fl "$fir" '<' "$final"; then
    ok "$name: a 103 arrived before the 200 (firstInterimResponseStart $fir ms, 200 at $final ms)"
  else
    fail "$name: a 103 arrived before the 200" "$(cat "$r")"
  fi
  assert_match "$name: the stylesheet came from the 103 (initiatorType early-hints)" \
    '^RES https://[^ ]*/css/shop\.css early-hints ' "$(cat "$r")"
  assert_eq "$name: all 8 hinted files came from the 103" 8 \
    "$(grep -c '^RES [^ ]* early-hints ' "$r")"
  # Resource Timing's startTime of an early-hints entry is when the
  # document asked for it (after the HTML), not when the preload began;
  # what shows the early start is the end: a file requested after the HTML
  # would take the backend's 300 ms after it, the preloaded ones do not.
  local late
  late=$(awk -v f="$final" '$1 == "RES" && $3 == "early-hints" && $5 - f >= 200 {print $2, $5 - f}' "$r")
  assert_eq "$name: every hinted file was complete < 200 ms after the 200 (backend: 300 ms)" "" "$late"
  # herald's view: each hinted file was requested before the page's
  # response had ended, and only once (Chromium did not throw it away).
  local rows nav_end p n early=0 twice=
  rows=$(access_rows "$WORK/access.log" | awk -v a="$t0" -v b="$t1" '$1 >= a && $1 <= b')
  nav_end=$(echo "$rows" | awk '$3 == "/" {print $2; exit}')
  for p in $HINTED_PATHS; do
    n=$(echo "$rows" | awk -v p="$p" '$3 == p' | wc -l)
    [ "$n" = 1 ] || twice="$twice $p:$n"
    echo "$rows" | awk -v p="$p" -v e="${nav_end:-0}" '$3 == p && $1 < e {f=1} END {exit !f}' &&
      early=$((early + 1))
  done
  assert_eq "$name: herald had all 8 hinted requests before the page's response ended" 8 "$early"
  assert_eq "$name: each hinted file requested exactly once" "" "$twice"
}

start_herald --listen-tls "127.0.0.1:$HT2" --cert "$CERT" --key "$KEY" \
  --backend "127.0.0.1:$BR" --access-log "$WORK/access.log" "${FROZEN[@]}" || finish
for n in 1 2 3; do
  t0=$(date +%s%3N)
  visit "hinted$n"
  t1=$(date +%s%3N)
  # The access log is written by a thread: wait for this visit's lines.
  for _ in $(seq 1 40); do
    [ "$(grep -c ' /fonts/shopsans.woff2 ' "$WORK/access.log")" -ge "$n" ] && break
    sleep 0.05
  done
  check_hinted "hinted$n" "hinted visit $n" "$t0" "$t1"
done
herald_graceful_stop
wait_pid_exit "$HERALD_PID" 10
assert_match "herald counted three 103s sent" 'stats: [0-9]+ requests, 3 103 early hints sent' \
  "$(grep 'stats: ' "$HERALD_LOG" | tail -1)"

# Negative control: the same visit with deliver.mode=off.
start_herald --listen-tls "127.0.0.1:$HT2" --cert "$CERT" --key "$KEY" \
  --backend "127.0.0.1:$BR" "${FROZEN[@]}" -o deliver.mode=off || finish
visit off
r=$WORK/off.report
if grep -q '^END' "$r"; then
  assert_eq "mode off: no 103 (firstInterimResponseStart 0)" 0 \
    "$(awk '$1 == "NAV" {print $2}' "$r")"
  assert_eq "mode off: no early-hints fetch" 0 "$(grep -c '^RES [^ ]* early-hints ' "$r")"
  final=$(awk '$1 == "NAV" {print ($4 > 0) ? $4 : $3}' "$r")
  css_end=$(awk '$1 == "RES" && $2 ~ /\/css\/shop\.css$/ {print $5}' "$r")
  if fl "${css_end:-0}" '>=' "$(awk -v f="$final" 'BEGIN {print f + 300}')"; then
    ok "mode off: the stylesheet ends >= 300 ms after the 200 (the backend's delay)"
  else
    fail "mode off: the stylesheet ends >= 300 ms after the 200" "$(cat "$r")"
  fi
else
  fail "mode off: the page reported its timings" \
    "no report; chromium said: $(grep -v dbus "$WORK/off.chromium.log" | tail -5)"
fi
herald_graceful_stop
wait_pid_exit "$HERALD_PID" 10
# What Chromium states it needs first (RFC 9218 priority), as recorded:
# u=0 for the render-blocking stylesheet, the learner's first rank.
assert_eq "Chromium's urgency for the stylesheet recorded: u=0" 0 \
  "$(sqlite3 "$DB" "SELECT group_concat(DISTINCT q.urgency) FROM visit_requests q JOIN resources r ON r.id = q.resource_id WHERE r.key LIKE '%/css/shop.css' AND q.urgency IS NOT NULL")"
assert_match "mode off: herald sent no 103" 'stats: [0-9]+ requests, 0 103 early hints sent' \
  "$(grep 'stats: ' "$HERALD_LOG" | tail -1)"

finish
