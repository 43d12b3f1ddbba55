#!/usr/bin/env bash
# test_heraldctl_tune.sh: heraldctl's operator commands against a running
# herald and on a database filled by a real proxied session (browser.sh
# visits of the test site's front page from four clients), then on an
# empty database:
#   - threshold/min-visits/budget/mode get|set|unset: the value in force
#     and where it comes from (default, config, global, route:R); a live
#     threshold change changes the next navigation's 103 Early Hints
#     (4 Link fields -> no 103 -> 4 again through a route setting);
#   - block and pin on the running herald: the blocked resource leaves the
#     rules and the 103, the pinned one appears in both;
#   - explain: served, near miss by threshold, cut by the budget, blocked;
#   - simulate: sane ranges, a higher threshold never pushes more bytes;
#   - export -> import into a fresh database reproduces rules, overrides
#     and settings;
#   - bad input: unknown page or resource (1), bad numbers (2), a missing
#     or foreign database (2, one line); --help lists every command.
. "$(dirname "$0")/lib.sh"

heraldctl_setup "heraldctl tune"

BROWSER=$ROOT/tests/integ/browser.sh
DB=$WORK/h.db
q() { sqlite3 -batch -noheader -cmd '.timeout 5000' "$DB" "$1" 2>&1; }
ctl() {
  "$CTL" "$@" >"$WORK/ctl.out" 2>"$WORK/ctl.err"
  RC=$?
  OUT=$(cat "$WORK/ctl.out")
  ERR=$(cat "$WORK/ctl.err")
}
json_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)" <"$WORK/ctl.out" 2>&1; }
# The learner writes the list of every key it knows: the page's own, and
# its site's ($BASE/**, learned from the same visits).
# served: rules of / with a push or hint channel, as the learner wrote them.
served() { q "SELECT count(*) FROM rules r JOIN pages p ON p.id = r.page_id WHERE p.key = '$BASE/' AND r.channel IN ('push','hint')"; }
# hints: rules of / with the hint channel only.
hints() { q "SELECT count(*) FROM rules r JOIN pages p ON p.id = r.page_id WHERE p.key = '$BASE/' AND r.channel = 'hint'"; }
# wait_eq WANT CMD...: until CMD prints WANT (run anew each time), at most
# 8 s (the learner runs every 300 ms).
wait_eq() {
  local want=$1 i
  shift
  for ((i = 0; i < 80; i++)); do
    [ "$("$@")" = "$want" ] && return 0
    sleep 0.1
  done
  return 1
}
NAV=(-H 'sec-fetch-mode: navigate' -H 'sec-fetch-dest: document')
# links: "STATUSES|N" for one navigation: its :status lines and the number
# of Link fields its 103 carried.
links() {
  local out
  out=$(timeout 10 nghttp -nv "${NAV[@]}" "$BASE/" 2>&1)
  printf '%s|%s' "$(printf '%s\n' "$out" | grep -o ':status: [0-9]*' | tr '\n' ' ' | sed 's/ $//')" \
    "$(printf '%s\n' "$out" | grep -c 'link: <')"
}

start_nginx || finish
HP=$(free_port)
AP=$(free_port)
BASE=http://127.0.0.1:$HP
cat >"$WORK/herald.ini" <<EOF
[listener:main]
listen = 127.0.0.1:$HP
[backend:app]
server = 127.0.0.1:$NGINX_PORT
[route:site]
prefix = /
backend = app
[store]
db = $DB
[record]
window = 1000
flush = 100
[learn]
interval = 300
min_visits = 5
min_clients = 2
hint_threshold = 0.5
push_threshold = 0.6
[deliver]
; the checks below read the 103 nghttp gets (it takes push)
mode = hints
; every navigation checked below must get what was learned
holdout = 0
verify = 0
[clients]
; the scripted visitors name their networks in X-Forwarded-For
trusted_proxies = 127.0.0.1
[admin]
listen = 127.0.0.1:$AP
EOF
start_herald -c "$WORK/herald.ini" || finish
for ((i = 0; i < 20; i++)); do
  "$BROWSER" --ua "tune-test-$((i % 4))" --from "198.51.$((100 + i % 4)).7" "$BASE" / \
    >/dev/null 2>>"$WORK/browser.err"
done
check "the learner serves 4 rules for /" wait_eq 4 served
CFG=(-c "$WORK/herald.ini")

# ---- settings: get, and where a value comes from ---------------------------------

ctl "${CFG[@]}" threshold get
assert_eq "threshold get: exit 0" 0 "$RC"
assert_match "threshold get: push from the config" '^push_threshold +0\.6 +config$' "$OUT"
assert_match "threshold get: hint from the config" '^hint_threshold +0\.5 +config$' "$OUT"
ctl "${CFG[@]}" budget get --json
assert_eq "budget get --json: both channels' defaults" \
  "push_budget 102400 default None hint_budget 2097152 default None" \
  "$(json_py '" ".join(str(x) for e in d for x in [e["name"], e["value"], e["source"], e["route"]])')"
ctl --db "$DB" min-visits get
assert_match "min-visits get without the config: the default" '^min_visits +20 +default$' "$OUT"
ctl "${CFG[@]}" mode get
assert_match "mode get: hints from the configuration" '^mode +hints +config$' "$OUT"
ctl --db "$DB" mode get
assert_match "mode get without the configuration: both by default" '^mode +both +default$' "$OUT"

# ---- a live threshold change changes the next navigation's 103 ------------------------

assert_eq "before: a 103 with 4 Link fields, then 200" ":status: 103 :status: 200|4" "$(links)"
ctl "${CFG[@]}" threshold set --channel hint 0.999
assert_eq "threshold set hint: exit 0" 0 "$RC"
assert_match "threshold set: says where and when" '^hint_threshold = 0\.999 \(global\); a running herald applies it within one learner interval$' "$OUT"
ctl "${CFG[@]}" threshold set --channel push 0.999 --json
assert_eq "threshold set --json" "push_threshold global 0.999" \
  "$(json_py '" ".join(str(x) for x in [d["name"], d["scope"], d["value"]])')"
assert_eq "stored in settings" "global|hint_threshold|0.999 global|push_threshold|0.999" \
  "$(q "SELECT scope, name, value FROM settings ORDER BY name" | tr '\n' ' ' | sed 's/ $//')"
check "the running herald drops every rule within an interval" wait_eq 0 served
# audited: what changed, old and new value, scope, in herald's log
check "audit: the hint threshold change logged, old and new" \
  wait_for "$HERALD_LOG" "[info] operator change: hint_threshold 0.5 -> 0.999 (global)"
check "audit: the push threshold change logged" \
  wait_for "$HERALD_LOG" "[info] operator change: push_threshold 0.6 -> 0.999 (global)"
assert_eq "after: no 103, just 200" ":status: 200|0" "$(links)"
ctl "${CFG[@]}" threshold get --channel hint
assert_match "threshold get: the global setting" '^hint_threshold +0\.999 +global$' "$OUT"

ctl "${CFG[@]}" threshold set --route site --channel hint 0.5
assert_eq "threshold set --route site: exit 0" 0 "$RC"
assert_eq "stored under route:site" "0.5" "$(q "SELECT value FROM settings WHERE scope = 'route:site' AND name = 'hint_threshold'")"
ctl "${CFG[@]}" threshold get --route site
assert_match "threshold get --route: the route's hint" '^hint_threshold +0\.5 +route:site$' "$OUT"
assert_match "threshold get --route: push falls back to global" '^push_threshold +0\.999 +global$' "$OUT"
check "the route setting brings 4 hint rules back" wait_eq 4 hints
check "audit: a route's setting logged with its scope" \
  wait_for "$HERALD_LOG" "operator change: hint_threshold 0.999 -> 0.5 (route:site)"
assert_eq "route setting: a 103 with 4 Link fields again" ":status: 103 :status: 200|4" "$(links)"
ctl "${CFG[@]}" threshold set --route nosuch --channel hint 0.5
assert_eq "--route not in the config: exit 1" 1 "$RC"
assert_contains "--route not in the config: named" "no route 'nosuch'" "$ERR"

for ch in push hint; do ctl "${CFG[@]}" threshold unset --channel $ch; done
assert_eq "threshold unset: exit 0" 0 "$RC"
ctl "${CFG[@]}" threshold unset --route site --channel hint
ctl "${CFG[@]}" threshold unset --route site --channel hint
assert_eq "unset twice: nothing to unset, exit 1" 1 "$RC"
assert_eq "settings empty again" 0 "$(q 'SELECT count(*) FROM settings')"
ctl "${CFG[@]}" mode set both
assert_eq "mode set both" "0 both" "$RC $(q "SELECT value FROM settings WHERE name = 'mode'")"
check "audit: mode hints (the configuration's) -> both" \
  wait_for "$HERALD_LOG" "operator change: mode hints -> both (global)"
ctl "${CFG[@]}" mode get --json
assert_eq "mode get --json" "both global" "$(json_py 'd[0]["value"] + " " + d[0]["source"]')"
ctl "${CFG[@]}" mode unset
check "audit: mode unset, back to the configuration's" \
  wait_for "$HERALD_LOG" "operator change: mode both -> hints (global, unset)"
ctl "${CFG[@]}" budget set --channel hint 1.5M
assert_eq "budget set 1.5M: stored in bytes" "1572864" \
  "$(q "SELECT value FROM settings WHERE scope = 'global' AND name = 'hint_budget'")"
assert_match "budget set 1.5M: says it as given" '^hint_budget = 1\.5M \(global\)' "$OUT"
check "audit: the budget change logged" \
  wait_for "$HERALD_LOG" "operator change: hint_budget 2097152 -> 1572864 (global)"
ctl "${CFG[@]}" budget set --channel push 100k
assert_eq "budget set 100k: 102400 bytes" "102400" \
  "$(q "SELECT value FROM settings WHERE scope = 'global' AND name = 'push_budget'")"
ctl "${CFG[@]}" budget set 1.5x
assert_eq "budget set 1.5x: exit 2" "2 heraldctl: budget '1.5x': want bytes (100k, 1.5M) from 0 to 1e+15" "$RC $ERR"
ctl "${CFG[@]}" budget set 0.5
assert_eq "budget set 0.5: not a whole byte, exit 2" 2 "$RC"
ctl "${CFG[@]}" budget set 30000
ctl "${CFG[@]}" budget get
assert_match "budget set/get: the push budget" '^push_budget +30000 +global$' "$OUT"
assert_match "budget set/get: the hint budget" '^hint_budget +30000 +global$' "$OUT"
ctl "${CFG[@]}" budget set --channel hint --route site 700000
ctl "${CFG[@]}" budget get --route site
assert_match "budget --channel hint --route: one channel, one route" \
  '^hint_budget +700000 +route:site$' "$OUT"
assert_match "budget --route: the other channel from global" \
  '^push_budget +30000 +global$' "$OUT"
ctl "${CFG[@]}" max-resources set --channel push 3
ctl "${CFG[@]}" max-resources get
assert_match "max-resources set/get" '^push_max_resources +3 +global$' "$OUT"
assert_match "max-resources get: the hint cap's default" '^hint_max_resources +32 +default$' "$OUT"
ctl "${CFG[@]}" max-resources unset --channel push
ctl "${CFG[@]}" budget unset --channel hint --route site
ctl "${CFG[@]}" budget unset
assert_eq "budget and max-resources unset" 0 \
  "$(q "SELECT count(*) FROM settings WHERE name LIKE '%budget' OR name LIKE '%max_resources'")"
ctl "${CFG[@]}" min-visits set 7
ctl "${CFG[@]}" min-visits get --json
assert_eq "min-visits set/get" "7 global" "$(json_py 'str(d[0]["value"]) + " " + d[0]["source"]')"
ctl "${CFG[@]}" min-visits unset

# ---- pin and block on the running herald ------------------------------------------

check "back to config thresholds: 4 rules" wait_eq 4 served
ctl "${CFG[@]}" block / /app.js
assert_eq "block: exit 0" 0 "$RC"
assert_match "block: says what it did" "^blocked /app.js on $BASE/; a running herald applies it" "$OUT"
assert_eq "block: stored" "$BASE/|$BASE/app.js|block" "$(q 'SELECT * FROM overrides')"
check "blocked: app.js leaves the served rules" wait_eq 3 served
check "audit: the block logged" \
  wait_for "$HERALD_LOG" "operator change: block $BASE/app.js on $BASE/ (was none)"
ctl "${CFG[@]}" rules /
assert_match "rules: app.js blocked" "^$BASE/ +desktop +- +/app.js +script .* none +blocked( +[0-9]+){6}$" "$OUT"
out=$(timeout 10 nghttp -nv "${NAV[@]}" "$BASE/" 2>&1)
assert_eq "blocked: 3 Link fields in the 103" 3 "$(printf '%s\n' "$out" | grep -c 'link: <')"
assert_not_contains "blocked: app.js not hinted" "app.js" "$(printf '%s\n' "$out" | grep 'link: <')"

ctl "${CFG[@]}" threshold set --channel hint 0.999
ctl "${CFG[@]}" threshold set --channel push 0.999
ctl "${CFG[@]}" pin "$BASE/" "$BASE/style.css" --json
assert_eq "pin (whole keys) --json" "pin None" "$(json_py 'd["action"] + " " + str(d["was"])')"
check "pinned: only the stylesheet is served" wait_eq 1 served
ctl "${CFG[@]}" rules / --json
assert_eq "pin makes the stylesheet appear in rules" "style.css push pinned" \
  "$(json_py '" ".join(" ".join([r["resource"].rsplit("/",1)[1], r["channel"], r["state"]]) for r in d if r["ord"] is not None)')"
out=$(timeout 10 nghttp -nv "${NAV[@]}" "$BASE/" 2>&1)
assert_eq "pinned: one Link field, the stylesheet" "link: </style.css>; rel=preload; as=style" \
  "$(printf '%s\n' "$out" | grep -o 'link: <.*')"
ctl "${CFG[@]}" unpin / /app.js
assert_match "unpin a block" "^unblocked /app.js on $BASE/" "$OUT"
check "audit: the unblock logged" \
  wait_for "$HERALD_LOG" "operator change: unblock $BASE/app.js on $BASE/ (was block)"
ctl "${CFG[@]}" unpin / /style.css
assert_match "unpin a pin" "^unpinned /style.css on $BASE/" "$OUT"
ctl "${CFG[@]}" unpin / /style.css
assert_eq "unpin with no override: exit 1" 1 "$RC"
assert_contains "unpin with no override: says so" "no pin or block of /style.css" "$ERR"
ctl "${CFG[@]}" pin / /nope.js
assert_eq "pin an unknown resource: exit 1" 1 "$RC"
assert_eq "pin an unknown resource: one line" "heraldctl: unknown resource /nope.js on $BASE/" "$ERR"
ctl "${CFG[@]}" pin /nope.html /app.js
assert_eq "pin on an unknown page: exit 1" 1 "$RC"
assert_eq "pin on an unknown page: one line" "heraldctl: unknown page /nope.html" "$ERR"

# Scopes: a route, a path pattern, a whole host.
ctl "${CFG[@]}" pin route:site /app.js
assert_eq "pin route:site: exit 0" 0 "$RC"
assert_eq "pin route:site: stored with the route scope" "route:site|$BASE/app.js|pin" "$(q 'SELECT * FROM overrides')"
# pinned_on_page: the pinned resources of /, as the learner wrote them.
pinned_on_page() { q "SELECT group_concat(s.key) FROM rules r JOIN pages p ON p.id = r.page_id JOIN resources s ON s.id = r.resource_id WHERE p.key = '$BASE/' AND r.state = 'pinned'"; }
check "pinned on the route: app.js served on /" wait_eq "$BASE/app.js" pinned_on_page
assert_eq "pinned on the route: the 103 names it" "link: </app.js>; rel=preload; as=script" \
  "$(timeout 10 nghttp -nv "${NAV[@]}" "$BASE/" 2>&1 | grep -o 'link: <.*')"
ctl "${CFG[@]}" unpin route:site /app.js
assert_match "unpin route:site" "^unpinned $BASE/app.js on route:site" "$OUT"
ctl "${CFG[@]}" pin '/**' /style.css
assert_eq "pin a bare path pattern: stored under the one origin" "$BASE/**|$BASE/style.css|pin" "$(q 'SELECT * FROM overrides')"
check "pinned on every page: the stylesheet served on /" wait_eq "$BASE/style.css" pinned_on_page
ctl "${CFG[@]}" unpin '/**' /style.css
ctl "${CFG[@]}" pin route:nosuch /app.js
assert_eq "pin on a route not in the config: exit 1" 1 "$RC"
ctl "${CFG[@]}" pin site:nosuch.example /app.js
assert_eq "pin on a host without pages: exit 1" 1 "$RC"
ctl "${CFG[@]}" pin 'ftp://x/*' /app.js
assert_eq "pin on a bad pattern: exit 2" 2 "$RC"
check "scoped pins gone: nothing served" wait_eq 0 served
for ch in push hint; do ctl "${CFG[@]}" threshold unset --channel $ch; done
check "thresholds back: 4 served" wait_eq 4 served
ctl "${CFG[@]}" block "site:127.0.0.1:$HP" /app.js
assert_eq "block site:HOST: stored for every page of the host" "$BASE/**|$BASE/app.js|block" "$(q 'SELECT * FROM overrides')"
check "blocked on the whole host: app.js leaves the served rules" wait_eq 3 served
assert_eq "blocked on the whole host: 3 Link fields" 3 \
  "$(timeout 10 nghttp -nv "${NAV[@]}" "$BASE/" 2>&1 | grep -c 'link: <')"
ctl "${CFG[@]}" block '/docs/*' /style.css
assert_eq "a pattern elsewhere leaves / alone" 0 "$RC"
sleep 0.7
assert_eq "a pattern elsewhere leaves / alone: still 3" 3 "$(served)"
ctl "${CFG[@]}" unpin '/docs/*' /style.css
ctl "${CFG[@]}" unpin "site:127.0.0.1:$HP" /app.js
assert_match "unpin site:HOST" "^unblocked /app.js on $BASE/\*\*" "$OUT"

# Each navigation above was a visit without subresources; a few full
# visits more make every resource a push rule again for what follows.
for ((i = 0; i < 10; i++)); do
  "$BROWSER" --ua "tune-test-$((i % 4))" --from "198.51.$((100 + i % 4)).7" "$BASE" / \
    >/dev/null 2>>"$WORK/browser.err"
done
check "4 push rules again" wait_eq 4 q "SELECT count(*) FROM rules r JOIN pages p ON p.id = r.page_id WHERE p.key = '$BASE/' AND r.channel = 'push'"

# ---- the rules in force: GET /rules and rules --live ----------------------------------

# live_same: what rules --live --json says of herald against the database.
live_same() { "$CTL" "${CFG[@]}" rules --live "$AP" --json 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["same"])'; }
check "rules --live: herald serves what the database holds" wait_eq True live_same
hcurl -D "$WORK/rules.head" -o "$WORK/rules.json" "http://127.0.0.1:$AP/rules"
assert_match "GET /rules: 200, JSON" '^content-type: application/json' "$(tr -d '\r' <"$WORK/rules.head" | tr A-Z a-z)"
assert_eq "GET /rules: the site key's 4 push rules, on the origin" "4 push True False" "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
k = [x for x in d["keys"] if x["key"] == sys.argv[2] + "/**" and x["class"] == "desktop"][0]
print(len(k["rules"]), k["rules"][0]["channel"],
      all(r["resource"].startswith(sys.argv[2] + "/") for r in k["rules"]), d["truncated"])' \
  "$WORK/rules.json" "$BASE")"
assert_eq "GET /rules?key=: that key only" "1" "$(hcurl "http://127.0.0.1:$AP/rules?key=$BASE/**" |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["keys"]))')"
ctl "${CFG[@]}" rules --live "$AP"
assert_eq "rules --live: exit 0" 0 "$RC"
assert_match "rules --live: the rules, each found in the database" "/style\.css +push +same$" "$OUT"
assert_match "rules --live: says they agree" "^the database holds the same lists for these keys$" "$OUT"
# The database diverges (as after heraldctl learn or import under a running
# herald): the site's list loses its push channel there, not in herald.
# A copy diverges, so the running learner (every 300 ms) cannot rewrite
# the list back between the change and the checks.
sqlite3 -cmd '.timeout 5000' "$DB" ".backup '$WORK/diverged.db'"
sqlite3 "$WORK/diverged.db" "UPDATE rules SET channel = 'none' WHERE page_id = (SELECT id FROM pages WHERE key = '$BASE/**')"
ctl --db "$WORK/diverged.db" rules --live "$AP"
assert_match "rules --live: says they differ" "^it differs from the database on 1 key " "$OUT"
assert_match "rules --live: the rows not there" "/style\.css +push +not there$" "$OUT"
ctl --db "$WORK/diverged.db" rules --live "$AP" --json
assert_eq "rules --live --json: same false, the key" "False $BASE/**" "$(json_py 'str(d["same"]) + " " + d["differs"][0]["key"]')"
ctl "${CFG[@]}" rules --live 127.0.0.1:1
assert_eq "rules --live on nothing: exit 2, one line" "2 1" "$RC $(printf '%s\n' "$ERR" | wc -l)"
assert_contains "rules --live on nothing: says why" "is herald running" "$ERR"
ctl "${CFG[@]}" rules --live "$HP"
assert_eq "rules --live on a client listener: exit 2" 2 "$RC"
# heraldctl learn under the running herald: logged when herald sees it.
ctl "${CFG[@]}" learn
check "audit: heraldctl learn logged by the running herald" \
  wait_for "$HERALD_LOG" "operator change: heraldctl learn: "
herald_graceful_stop
check "herald exits on SIGTERM" wait_pid_exit "$HERALD_PID" 10

# ---- explain ---------------------------------------------------------------------

ctl "${CFG[@]}" explain / /app.js
assert_eq "explain: exit 0" 0 "$RC"
log "explain / /app.js:"
printf '%s\n' "$OUT" | sed 's/^/#   /'
assert_match "explain: names the resource" "^resource +$BASE/app.js \(script, rank script, [0-9]+ bytes" "$OUT"
assert_match "explain: the decision and the level that made it" '^decision +push and hint, position [0-9], page level$' "$OUT"
assert_match "explain: the page level's numbers" "^page +$BASE/ +[0-9.]+ +[0-9.]+ +[0-9.]+ +0\.[0-9]{3} +[01]\.[0-9]{3} +4 +yes +yes$" "$OUT"
assert_match "explain: the site level's numbers" "^site +$BASE/\*\* +[0-9.]+ +[0-9.]+ +[0-9.]+ +0\.[0-9]{3} +[01]\.[0-9]{3} +4 +yes +yes$" "$OUT"
assert_match "explain: wilson against the hint threshold" '^wilson/hint +0\.[0-9]{3} \(k [0-9.]+ of n [0-9.]+\) +>= 0\.5 \(hint_threshold\) +yes$' "$OUT"
assert_match "explain: clients" '^clients +4 +>= 2 \(min_clients\) +yes$' "$OUT"
assert_match "explain: why" '^why: served as push and hint at position [0-9], decided at the page level: every check passes there\.$' "$OUT"
ctl "${CFG[@]}" explain / /app.js --json
assert_eq "explain --json: numbers" "push and hint 4 0.6 True" \
  "$(json_py '" ".join(str(x) for x in [d[0]["decision"], d[0]["clients"], d[0]["params"]["push_threshold"], 0 < d[0]["wilson"] <= d[0]["confidence"] <= 1])')"
wil=$(json_py 'd[0]["wilson"]')
# Just above the bound: a near miss by the hint threshold, in plain words.
over=$(python3 -c "print(round($wil + 0.01, 4))")
ctl "${CFG[@]}" threshold set --channel hint "$over"
ctl "${CFG[@]}" threshold set --channel push 0.99
ctl "${CFG[@]}" explain / /app.js
assert_match "explain near miss: not served" '^decision +not served$' "$OUT"
assert_match "explain near miss: which threshold, by how much, how many samples" \
  "^why: not served: no level has the evidence to decide yet: its Wilson bound 0\.[0-9]{3} is below hint_threshold $over \(short by 0\.01[0-9]; about [0-9]+ more samples that all fetch it would lift it\)\.$" "$OUT"
for ch in push hint; do ctl "${CFG[@]}" threshold unset --channel $ch; done
# A budget that fits only the stylesheet (the first in serving order).
css=$(q "SELECT bytes FROM resources WHERE key = '$BASE/style.css'")
ctl "${CFG[@]}" budget set "$css"
ctl "${CFG[@]}" explain / /app.js
assert_match "explain cut by the budget" "^why: not served: it qualifies for push and hint \(at the page level\), but does not fit the budget of that channel; it is skipped and the list goes on\.$" "$OUT"
assert_match "explain: the hint budget check" "^hint budget +$css \+ [0-9]+ bytes, #2 +<= $css \(hint_budget\), <= 32 \(hint_max_resources\) +no$" "$OUT"
ctl "${CFG[@]}" budget unset
ctl "${CFG[@]}" block / /img/a.png
ctl "${CFG[@]}" explain / /img/a.png
assert_match "explain blocked" '^why: not served: an operator blocked it' "$OUT"
ctl "${CFG[@]}" explain / /nope.js
assert_eq "explain unknown resource: exit 1" 1 "$RC"
assert_contains "explain unknown resource: one line" "/nope.js was never requested with $BASE/" "$ERR"
ctl "${CFG[@]}" explain /nope.html /app.js
assert_eq "explain unknown page: exit 1" 1 "$RC"
ctl "${CFG[@]}" explain / /app.js --class mobile
assert_eq "explain --class mobile (no mobile visits): exit 1" 1 "$RC"

# ---- simulate ---------------------------------------------------------------------

ctl "${CFG[@]}" simulate
assert_eq "simulate: exit 0" 0 "$RC"
log "simulate:"
printf '%s\n' "$OUT" | sed 's/^/#   /'
nv=$(q 'SELECT count(*) FROM visits')
assert_match "simulate: what it replayed" "^replayed $nv visits of 1 page in order" "$OUT"
assert_match "simulate: header" '^THRESHOLD +PRECISION +RECALL +BYTES/VISIT +PAGES +VISITS$' "$OUT"
assert_eq "simulate: 10 thresholds from 0.5 to 0.95" "0.500 0.950 10" \
  "$(printf '%s\n' "$OUT" | awk '/^by the level/{exit} /^ *0\.[0-9][0-9][0-9] /{n++; if (!f) f=$1; l=$1} END {print f, l, n}')"
assert_match "simulate: precision/recall by the level that decided" \
  '^THRESHOLD +PAGE +TEMPLATE +SECTION +SITE$' "$OUT"
assert_match "simulate: a level row" '^ +0\.500 +([0-9.]+|-)/[0-9.]+ +-/0\.000 +-/0\.000 +([0-9.]+|-)/[0-9.]+$' "$OUT"
ctl "${CFG[@]}" simulate --json --threshold 0.2..0.9 --step 0.1 --min-visits 3
assert_eq "simulate --json: exit 0" 0 "$RC"
assert_eq "simulate --json: 8 thresholds, chronological, min_visits 3" "8 chronological 3" \
  "$(json_py '" ".join(str(x) for x in [len(d["thresholds"]), d["method"], d["params"]["min_visits"]])')"
assert_eq "simulate: precision and recall within 0..1" "True" \
  "$(json_py 'all((t["precision"] is None or 0 <= t["precision"] <= 1) and 0 <= t["recall"] <= 1 for t in d["thresholds"])')"
assert_eq "simulate: a higher threshold pushes no more bytes" "True" \
  "$(json_py 'all(a["pushed_bytes"] >= b["pushed_bytes"] for a, b in zip(d["thresholds"], d["thresholds"][1:]))')"
assert_eq "simulate: a low threshold pushes something and is used" "True" \
  "$(json_py 'd["thresholds"][0]["pushed_bytes"] > 0 and d["thresholds"][0]["used_bytes"] > 0 and d["thresholds"][0]["pages_covered"] == 1')"
assert_eq "simulate: a threshold no bound reaches pushes nothing" "0 None" \
  "$(json_py 'str(d["thresholds"][-1]["pushed_bytes"]) + " " + str(d["thresholds"][-1]["precision"])')"
assert_eq "simulate: the first visits learn, they are not scored as covered" "True" \
  "$(json_py 'd["thresholds"][0]["visits_covered"] < d["visits"]')"
ctl "${CFG[@]}" simulate --threshold 0.9..0.2
assert_eq "simulate --threshold B < A: exit 2" 2 "$RC"
ctl "${CFG[@]}" simulate --threshold 1.5
assert_eq "simulate --threshold 1.5: exit 2" 2 "$RC"
ctl "${CFG[@]}" simulate --step 0
assert_eq "simulate --step 0: exit 2" 2 "$RC"

# ---- export and import --------------------------------------------------------------

"$CTL" --db "$DB" learn >/dev/null
ctl "${CFG[@]}" threshold set --route site --channel push 0.7
ctl "${CFG[@]}" export
assert_eq "export: exit 0" 0 "$RC"
cp "$WORK/ctl.out" "$WORK/export.json"
assert_eq "export: parses, with what the database holds" "1 1 $(q 'SELECT count(*) FROM rules')" \
  "$(json_py '" ".join(str(len(d[k])) for k in ["settings", "overrides", "rules"])')"
: >"$WORK/fresh.db"
ctl --db "$WORK/fresh.db" import "$WORK/export.json"
assert_eq "import: exit 0" 0 "$RC"
assert_match "import: counts, singular where one" '^imported 1 setting, 1 override, [1-9][0-9]* rules? for [1-9][0-9]* pages? ' "$OUT"
"$CTL" --db "$DB" rules --json >"$WORK/a.json"
"$CTL" --db "$WORK/fresh.db" rules --json >"$WORK/b.json"
# Outcomes are measurements of the old instance, not rules: not exported.
strip_outcomes() {
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))
for x in r: x.pop("outcomes", None)
print(json.dumps(r, sort_keys=True))' "$1"
}
check "import reproduces the rules exactly (outcomes aside)" \
  cmp -s <(strip_outcomes "$WORK/a.json") <(strip_outcomes "$WORK/b.json")
"$CTL" --db "$WORK/fresh.db" export >"$WORK/export2.json"
check "export of the imported database is the same document" cmp -s "$WORK/export.json" "$WORK/export2.json"
ctl --db "$WORK/fresh.db" threshold get --route site --channel push
assert_match "import: the route setting" '^push_threshold +0\.7 +route:site$' "$OUT"
"$CTL" --db "$WORK/fresh.db" import --json <"$WORK/export.json" >"$WORK/ctl.out"
assert_eq "import from stdin, again: idempotent" "1 $(q 'SELECT count(*) FROM rules')" \
  "$(json_py 'str(d["overrides"]) + " " + str(d["rules"])')"
assert_eq "import again: no duplicate rules" "$(q 'SELECT count(*) FROM rules')" "$(sqlite3 "$WORK/fresh.db" 'SELECT count(*) FROM rules')"
printf '{"herald_export": 1, "rules": [{"page": "x"}]}' >"$WORK/bad.json"
ctl --db "$WORK/fresh.db" import "$WORK/bad.json"
assert_eq "import: a bad rule, exit 2" "2 heraldctl: import: rules[0]: missing, unexpected or bad fields" "$RC $ERR"
printf '{"herald_export": 1, "settings": [{"scope": "global", "name": "budget", "value": "-5"}]}' >"$WORK/bad.json"
ctl --db "$WORK/fresh.db" import "$WORK/bad.json"
assert_eq "import: a bad setting value, exit 2" 2 "$RC"
printf 'not json' | "$CTL" --db "$WORK/fresh.db" import - 2>"$WORK/ctl.err"
assert_eq "import: not JSON, exit 2" "2 heraldctl: import: not a JSON document" "$? $(cat "$WORK/ctl.err")"
ctl --db "$WORK/fresh.db" import "$WORK/nofile.json"
assert_eq "import: a missing file, exit 2" 2 "$RC"
assert_eq "a refused import changes nothing" "$(q 'SELECT count(*) FROM rules')" "$(sqlite3 "$WORK/fresh.db" 'SELECT count(*) FROM rules')"

# ---- bad numbers and usage ----------------------------------------------------------

for bad in "threshold set --channel hint 1.5" "threshold set --channel push -0.1" \
  "threshold set --channel hint abc" "budget set -5" "budget set 1.5" \
  "min-visits set -1" "mode set turbo" "threshold set 0.5" "threshold get 0.5" \
  "threshold frob" "threshold get --channel both" "explain /"; do
  # shellcheck disable=SC2086
  ctl --db "$DB" $bad
  assert_eq "heraldctl $bad: exit 2" 2 "$RC"
  assert_eq "heraldctl $bad: one line" 1 "$(printf '%s\n' "$ERR" | wc -l)"
done
assert_eq "nothing stored by the refused values" "1" "$(q "SELECT count(*) FROM settings WHERE scope <> 'heraldctl'")"
ctl --db "$WORK/none.db" threshold get
assert_eq "missing database: exit 2" 2 "$RC"
assert_eq "missing database: one clear line" "heraldctl: no database at $WORK/none.db (no such file)" "$ERR"
sqlite3 "$WORK/foreign.db" 'CREATE TABLE t(x)'
ctl --db "$WORK/foreign.db" explain / /app.js
assert_eq "not a herald database: exit 2" 2 "$RC"
assert_contains "not a herald database: says so" "not a herald database" "$ERR"
ctl --help
for w in pages rules learn explain simulate threshold min-visits budget mode pin block unpin \
  export import --json; do
  assert_contains "--help mentions $w" "$w" "$OUT"
done
# Each option is in the help of the commands that take it.
for cw in "threshold --route" "threshold --channel" "budget --channel" "mode --route" \
  "simulate --threshold" "simulate --step" "simulate --min-visits" "rules --class" \
  "explain --class" "stats --since" "stats --page" "rules --live"; do
  ctl ${cw%% *} --help
  assert_contains "${cw%% *} --help mentions ${cw#* }" "${cw#* }" "$OUT"
done

# ---- an empty database ------------------------------------------------------------

E=$WORK/empty.db
: >"$E"
ctl --db "$E" rules --json
assert_eq "empty: rules --json" "0 []" "$RC $OUT"
ctl --db "$E" explain / /app.js
assert_eq "empty: explain, unknown page" "1 heraldctl: unknown page /" "$RC $ERR"
ctl --db "$E" simulate --json
assert_eq "empty: simulate replays nothing" "0 0 None" "$RC $(json_py 'str(d["visits"]) + " " + str(d["thresholds"][0]["precision"])')"
ctl --db "$E" threshold get --json
assert_eq "empty: threshold get, the defaults" "0 0.95 default 0.9 default" \
  "$RC $(json_py '" ".join(str(x) for r in d for x in [r["value"], r["source"]])')"
ctl --db "$E" threshold set --channel hint 0.8
assert_eq "empty: threshold set" 0 "$RC"
ctl --db "$E" pin / /app.js
assert_eq "empty: pin, unknown page" 1 "$RC"
ctl --db "$E" export
assert_eq "empty: export" "0 1 0 0" "$RC $(json_py '" ".join(str(len(d[k])) for k in ["settings", "overrides", "rules"])')"
ctl --db "$E" import "$WORK/export.json"
assert_eq "empty: import" 0 "$RC"
ctl --db "$E" rules --json
assert_eq "empty: the imported rules" "$(q 'SELECT count(*) FROM rules')" "$(json_py 'len(d)')"
# learn rebuilds from retained visits only: imported rules of pages with
# none are dropped (README: seed, then let herald learn; do not run learn).
ctl --db "$E" learn --json
assert_eq "empty: learn --json (imported rules, no visits)" "0 0 0 0" \
  "$RC $(json_py '" ".join(str(d[k]) for k in ["rules", "pages", "visits"])')"
ctl --db "$E" rules --json
assert_eq "empty: learn dropped the imported rules" "0 []" "$RC $OUT"

finish
