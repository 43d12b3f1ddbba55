#!/usr/bin/env bash
# test_hint_paths.sh: only safe same-origin paths are ever hinted or pushed.
# A backend answers 200 for paths that, printed into a Link, would send
# every visitor elsewhere: "//evil.example/x.js" (another host to a
# browser), "/a.js>;rel=preload,<//evil.example/b.js" (closes the <...> and
# adds a second link) and "/\evil.example/c.js" (a browser reads '\' as
# '/'). A client requests them from the page on every visit, so they reach
# the learner's thresholds like the page's real assets. The learner makes
# no rule of them, no 103 names them and no PUSH_PROMISE promises them,
# while the real assets are hinted and pushed. Rules for such paths (and
# for another origin) written straight into the database are not served
# after a restart either, and herald says so in its log.
. "$(dirname "$0")/lib.sh"

if [ "$HERALD_STANDIN" = nghttpx ]; then
  skip "hint paths" "herald's own feature; no stand-in"
  finish
fi
for t in sqlite3 nghttp python3; do
  command -v "$t" >/dev/null 2>&1 || { fail "$t installed" "make deps"; finish; }
done

BROWSER=$ROOT/tests/integ/browser.sh
# nginx merges slashes, so every hostile path below lands here.
NGINX_SERVER_EXTRA='location ~ evil { default_type application/javascript; return 200 "var x;\n"; }'
start_nginx || finish

DB=$WORK/h.db
HP=$(free_port)
BASE=http://127.0.0.1:$HP
UA='hint-paths-test'
# One client is enough here (min_clients 1): this test is about paths.
# A window wide enough for a loaded machine: every visit's requests count.
# Learning in shadow mode: what a 103 names is no evidence, and this
# scripted client ignores 103s. Frozen, every navigation gets every rule
# (no holdout, no verification draws).
LEARN=(--db "$DB" -o record.window=3000 -o record.flush=100 -o learn.interval=300
  -o learn.min_visits=5 -o learn.min_clients=1 -o learn.hint_threshold=0.6
  -o learn.push_threshold=0.65 -o deliver.holdout=0 -o deliver.mode=shadow)
FROZEN=(--db "$DB" -o learn.interval=3600000 -o learn.recompute_after=100000000
  -o learn.min_visits=5 -o learn.min_clients=1 -o learn.hint_threshold=0.6
  -o learn.push_threshold=0.65 -o deliver.holdout=0 -o deliver.verify=0)
NAV=(-H 'sec-fetch-mode: navigate' -H 'sec-fetch-dest: document')
HOSTILE=('//evil.example/x.js' '/a.js>;rel=preload,<//evil.example/b.js'
  '/\evil.example/c.js')

# fetch_raw PATH: one HTTP/1.1 script request for PATH exactly as written,
# from the page, as the same client; prints the status line.
fetch_raw() {
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUser-Agent: %s\r\nReferer: %s/\r\nSec-Fetch-Dest: script\r\nSec-Fetch-Mode: no-cors\r\nConnection: close\r\n\r\n' \
    "$1" "$HP" "$UA" "$BASE" | raw_http 127.0.0.1 "$HP" 2 | head -1 | tr -d '\r'
}

start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" \
  "${LEARN[@]}" || finish
for p in "${HOSTILE[@]}"; do
  assert_eq "backend answers 200 for $p through herald" "HTTP/1.1 200 OK" "$(fetch_raw "$p")"
done
for _ in $(seq 1 9); do
  "$BROWSER" --ua "$UA" "$BASE" / >/dev/null 2>&1
  for p in "${HOSTILE[@]}"; do fetch_raw "$p" >/dev/null; done
done
# served_like PATTERN [CHANNELS]: served rules of / whose resource key
# matches.
served_like() {
  sqlite3 "$DB" "SELECT count(*) FROM rules r JOIN resources s ON s.id = r.resource_id
    JOIN pages p ON p.id = r.page_id WHERE p.key = '$BASE/'
    AND r.channel IN (${2:-"'push', 'hint'"}) AND s.key LIKE '$1'" 2>/dev/null
}
ok=0
for _ in $(seq 1 100); do
  [ "$(served_like '%/style.css' "'push'")" = 1 ] && [ "$(served_like '%/app.js' "'push'")" = 1 ] &&
    ok=1 && break
  sleep 0.25
done
assert_eq "the page's real assets became push rules" 1 "$ok"
recorded=$(sqlite3 "$DB" "SELECT count(DISTINCT vr.resource_id) FROM visit_requests vr
  JOIN resources s ON s.id = vr.resource_id WHERE s.key LIKE '%evil%'")
assert_eq "the hostile requests were recorded as the page's (3 resources)" 3 "$recorded"
assert_eq "no rule names a hostile path" 0 "$(served_like '%evil%')"
herald_graceful_stop

# start_frozen MODE: herald on the rules learned, with deliver.mode MODE.
start_frozen() {
  start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" \
    "${FROZEN[@]}" -o deliver.mode="$1" || finish
}
# check_served WHAT: one navigation under hints (herald runs in that mode)
# and one under push: the stylesheet is hinted and pushed, and no Link or
# PUSH_PROMISE names anything hostile. The request's own :path is sent,
# so every :path nghttp receives is a promise's.
check_served() {
  local out links promises
  out=$(timeout 10 nghttp -nv "${NAV[@]}" "$BASE/" 2>&1)
  links=$(echo "$out" | grep 'link: ')
  assert_match "$1: 103 hints the stylesheet" 'link: </style\.css>; rel=preload; as=style' "$links"
  assert_no_match "$1: no 103 Link names a hostile path" 'evil|db[0-9]*\.js' "$links"
  assert_eq "$1: every Link is one <...> of a path on this origin" 0 \
    "$(echo "$links" | grep -cvE 'link: </[^/<>][^<>]*>; rel=preload; as=[a-z]+(; crossorigin)?$')"
  herald_graceful_stop
  start_frozen push
  out=$(timeout 10 nghttp -nv "${NAV[@]}" "$BASE/" 2>&1)
  promises=$(echo "$out" | grep -E 'recv \(stream_id=[0-9]+\) :path: ')
  assert_match "$1: the stylesheet is pushed" ':path: /style\.css' "$promises"
  assert_no_match "$1: no PUSH_PROMISE names a hostile path" 'evil|db[0-9]*\.js' "$promises"
  herald_graceful_stop
  wait_pid_exit "$HERALD_STOPPING" 15
  HERALD_STOPPING=
}
start_frozen hints
check_served "learned rules"

# A poisoned database: rules for hostile paths and for another origin,
# written where the learner keeps its own, are refused when loaded.
sqlite3 "$DB" <<EOF
INSERT INTO resources(key, dest, bytes) VALUES
  ('$BASE//evil.example/db.js', 3, 10),
  ('$BASE/db.js>;rel=preload,<//evil.example/db2.js', 3, 10),
  ('http://evil.example/db3.js', 3, 10);
INSERT INTO rules(page_id, class, resource_id, ord, channel, confidence, wilson, n, k,
  clients, bytes, state, updated_at)
  SELECT p.id, 'desktop', s.id, -5, 'push', 1, 1, 50, 50, 5, 10, 'pinned', 0
  FROM pages p, resources s WHERE p.key = '$BASE/' AND s.key LIKE '%evil%db%';
EOF
assert_eq "poisoned rules are in the database" 3 "$(served_like '%db%.js')"
start_frozen hints
check_served "poisoned database"
assert_match "herald logs the stored rules it refused" \
  'learner: 3 stored rules not served: their resource is not a safe path on the page' \
  "$(cat "$HERALD_LOG")"
finish
