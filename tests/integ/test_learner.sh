#!/usr/bin/env bash
# test_learner.sh: the learner inside herald. Browser-like visits of the demo
# shop through herald (with --db) until rules appear; the rules table and
# heraldctl show the page's stylesheet, scripts, images and font in
# discovery order; a restarted herald loads and serves them at once; a
# threshold stored in the settings table changes the rules within one
# learner interval; a pinned and a blocked resource behave.
. "$(dirname "$0")/lib.sh"

if [ "$HERALD_STANDIN" = nghttpx ]; then
  skip "learner" "herald's own feature; no stand-in"
  finish
fi
command -v sqlite3 >/dev/null 2>&1 || { fail "sqlite3 installed" "make deps"; finish; }

BROWSER=$ROOT/tests/integ/browser.sh
mkdir -p "$WORK/site"
cp -r "$ROOT/tools/demo/site/." "$WORK/site/"
chmod -R a+rX "$WORK"
start_nginx || finish

DB=$WORK/h.db
HP=$(free_port)
# Thresholds low enough for a short test; the learner runs every 300 ms.
# Shadow mode: a resource herald names in a 103 is no evidence while it
# does (learner/learn.h), so hints sent to these scripted clients, which
# ignore them, would hold the push rules back.
# Clients are networks: the scripted visitors come from three /24s, named
# in X-Forwarded-For by the "proxy" this machine plays.
LEARN=(-o record.window=1000 -o record.flush=100 -o learn.interval=300
  -o learn.min_visits=5 -o learn.min_clients=2 -o learn.hint_threshold=0.7
  -o learn.push_threshold=0.75 -o deliver.mode=shadow
  -o clients.trusted_proxies=127.0.0.1)
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" \
  --db "$DB" "${LEARN[@]}" --log-level debug || finish
BASE=http://127.0.0.1:$HP

visit() {
  "$BROWSER" --ua "learner-test-$1" --from "198.51.$((100 + $1)).7" "$BASE" "${2:-/}" \
    >/dev/null 2>&1
}

# Two visits are far too few for any rule.
visit 1; visit 2
sleep 1.5
assert_eq "no rule after 2 visits" 0 "$(sqlite3 "$DB" 'SELECT count(*) FROM rules')"

# 12 visits from 3 clients: every asset of the front page requested on
# every visit qualifies (Wilson bound of 12/12 at z 1.96 is 0.76 >= 0.75).
for i in $(seq 1 10); do visit $((i % 3)); done
ok=0
for _ in $(seq 1 40); do
  n=$(sqlite3 "$DB" "SELECT count(*) FROM rules WHERE channel = 'push'" 2>/dev/null)
  [ "${n:-0}" -ge 8 ] && ok=1 && break
  sleep 0.25
done
assert_eq "rules appear after enough visits (8 push rules)" 1 "$ok"

rules=$("$B/heraldctl" --db "$DB" rules / 2>&1)
assert_match "heraldctl rules lists the stylesheet" '/css/shop\.css +style' "$rules"
assert_match "heraldctl rules lists the font" '/fonts/shopsans\.woff2 +font' "$rules"
# ord_of RES: the resource's position in the front page's own list.
ord_of() {
  sqlite3 "$DB" "SELECT r.ord FROM rules r JOIN resources s ON s.id = r.resource_id JOIN pages p ON p.id = r.page_id WHERE p.key = '$BASE/' AND r.class = 'desktop' AND s.key LIKE '%$1'"
}
css_ord=$(ord_of /css/shop.css)
font_ord=$(ord_of /fonts/shopsans.woff2)
assert_eq "font ordered after the stylesheet that asks for it" 1 "$([ "${font_ord:-0}" -gt "${css_ord:-99}" ] && echo 1 || echo 0)"
# Critical first: the stylesheet, then the scripts, then the font, then
# the images (all 8 hinted, ranks from Sec-Fetch-Dest).
order=$(sqlite3 "$DB" "SELECT group_concat(r.rank, ' ') FROM (SELECT r.rank FROM rules r JOIN pages p ON p.id = r.page_id WHERE p.key = '$BASE/' AND r.class = 'desktop' AND r.ord >= 0 ORDER BY r.ord) r")
assert_eq "served critical first: style, scripts, font, the rest" "style script script font other other other other" "$order"
# The site learned the same from the same visits; the page's own list is
# stored too, and rules show the level each rule came from.
assert_match "the site's list, at the site level" 'site' \
  "$(sqlite3 "$DB" "SELECT r.level FROM rules r JOIN pages p ON p.id = r.page_id WHERE p.key = '$BASE/**' LIMIT 1")"
assert_match "snapshot published to the loop" 'rules: [1-9][0-9]* rules for [1-9][0-9]* pages now in force' "$(cat "$WORK/herald.log")"
n_before=$(sqlite3 "$DB" "SELECT count(*) FROM rules")

# Restart: the stored rules are served at once, before any new visit.
herald_graceful_stop
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" \
  --db "$DB" "${LEARN[@]}" --log-level debug || finish
ok=0
for _ in $(seq 1 20); do
  grep -Eq "learner: serving $n_before stored rules? for [0-9]+ pages?" "$WORK/herald.log" && ok=1 && break
  sleep 0.1
done
assert_eq "restarted herald serves the $n_before stored rules" 1 "$ok"

# The operator raises the push threshold in the settings table: within one
# interval the rules become hint-only.
sqlite3 "$DB" "INSERT OR REPLACE INTO settings VALUES ('global', 'push_threshold', '0.99')"
ok=0
for _ in $(seq 1 30); do
  n=$(sqlite3 "$DB" "SELECT count(*) FROM rules WHERE channel = 'push'")
  h=$(sqlite3 "$DB" "SELECT count(*) FROM rules WHERE channel = 'hint'")
  [ "$n" = 0 ] && [ "${h:-0}" -ge 8 ] && ok=1 && break
  sleep 0.2
done
assert_eq "a stored threshold turns push rules into hint rules" 1 "$ok"

# Pin a resource no visit requested, block one that qualifies.
PAGE=$(sqlite3 "$DB" "SELECT key FROM pages WHERE key LIKE '%:$HP/'")
sqlite3 "$DB" "INSERT INTO overrides VALUES ('$PAGE', '$BASE/js/extra.js', 'pin'), ('$PAGE', '$BASE/img/banner.png', 'block')"
ok=0
for _ in $(seq 1 30); do
  pin=$(sqlite3 "$DB" "SELECT r.state FROM rules r JOIN resources s ON s.id = r.resource_id JOIN pages p ON p.id = r.page_id WHERE p.key = '$PAGE' AND r.class = 'desktop' AND s.key = '$BASE/js/extra.js'")
  blk=$(sqlite3 "$DB" "SELECT r.state || ':' || r.channel FROM rules r JOIN resources s ON s.id = r.resource_id JOIN pages p ON p.id = r.page_id WHERE p.key = '$PAGE' AND r.class = 'desktop' AND s.key = '$BASE/img/banner.png'")
  [ "$pin" = pinned ] && [ "$blk" = blocked:none ] && ok=1 && break
  sleep 0.2
done
assert_eq "pinned resource served, blocked one not (state pinned / blocked:none)" 1 "$ok"

herald_graceful_stop
finish
