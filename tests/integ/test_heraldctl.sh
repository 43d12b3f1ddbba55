#!/usr/bin/env bash
# test_heraldctl.sh: the operator CLI on a database filled by a real
# proxied session. Browser-like visits (tests/integ/browser.sh) of the test
# site's front page from four User-Agents on four networks (four clients) go through
# herald --db; then, with herald stopped and low thresholds written to the
# settings table, `heraldctl learn` replays them and `rules` / `pages` show
# the result: the stylesheet, script and font as push rules, the font after
# the stylesheet (served in discovery order), JSON that parses, a bare
# path matching the key, --class, overrides (blocked), -c CONFIG, options
# after the command. Then the failure modes: unknown page (1), no database
# argument (2), a missing file (1, and not created), bad usage (2), a bad
# setting (2), and a fresh empty database (header only / [], 0).
. "$(dirname "$0")/lib.sh"

heraldctl_setup "heraldctl"

BROWSER=$ROOT/tests/integ/browser.sh
VISITS=25
DB=$WORK/h.db

# q SQL: one query on $DB, rows "a|b", no header.
q() { sqlite3 -batch -noheader -cmd '.timeout 5000' "$DB" "$1" 2>&1; }
# ctl ARGS...: heraldctl with stdout in $OUT, stderr in $ERR, status in $RC.
ctl() {
  "$CTL" "$@" >"$WORK/ctl.out" 2>"$WORK/ctl.err"
  RC=$?
  OUT=$(cat "$WORK/ctl.out")
  ERR=$(cat "$WORK/ctl.err")
}
json_ok() { python3 -c 'import json,sys; json.load(sys.stdin)' <"$WORK/ctl.out"; }
# json_py EXPR: evaluates EXPR with the parsed output as d.
json_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)" <"$WORK/ctl.out" 2>&1; }

# ---- a recorded session --------------------------------------------------------

start_nginx || finish
HP=$(free_port)
# Four clients: four networks, named in X-Forwarded-For by the "proxy"
# this machine plays.
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" --db "$DB" \
  -o record.window=1000 -o record.flush=200 \
  -o clients.trusted_proxies=127.0.0.1 || finish
N=http://127.0.0.1:$HP
PAGE=$N/

bad=0
for ((i = 0; i < VISITS; i++)); do
  "$BROWSER" --ua "Mozilla/5.0 (X11; Linux x86_64) test-heraldctl $((i % 4))" \
    --from "198.51.$((100 + i % 4)).7" "$N" / \
    >/dev/null 2>>"$WORK/browser.err" || bad=$((bad + 1))
done
assert_eq "$VISITS browser visits of / answered" 0 "$bad"
# A visit is written once its window has closed; SIGTERM writes the rest.
sleep 1.5
herald_graceful_stop
check "herald exits on SIGTERM" wait_pid_exit "$HERALD_PID" 10
assert_eq "visits recorded" "$VISITS" "$(q 'SELECT count(*) FROM visits')"

q "INSERT INTO settings VALUES('global','min_visits','5'),('global','hint_threshold','0.5'),
   ('global','push_threshold','0.6')" >/dev/null

# ---- learn -----------------------------------------------------------------------

ctl --db "$DB" learn
assert_eq "learn exits 0" 0 "$RC"
assert_match "learn prints its counts, singular where one" "^learned [1-9][0-9]* rules for 2 keys \(1 page, 0 templates, 0 sections, 1 site\) from $VISITS visits$" "$OUT"
assert_eq "learn: nothing on stderr" "" "$ERR"
first=$OUT
assert_ge "rules rows written" 3 "$(q "SELECT count(*) FROM rules WHERE channel IN ('push','hint')")"
ctl --db "$DB" learn
assert_eq "learn again: same counts" "$first" "$OUT"
ctl learn "$DB"
assert_eq "learn DB (positional): same counts" "$first" "$OUT"
ctl --db "$DB" learn "$DB"
assert_eq "learn DB with --db too: usage error" 2 "$RC"

# ---- rules -----------------------------------------------------------------------

ctl --db "$DB" rules
assert_eq "rules exits 0" 0 "$RC"
log "rules:"
printf '%s\n' "$OUT" | sed 's/^/#   /'
assert_match "rules: header" '^PAGE +CLASS +ORD +RESOURCE +TYPE +RANK +LEVEL +CONFIDENCE +WILSON +N +K +CLIENTS +BYTES +DELAY +CHANNEL +STATE +PROMISED +COMPLETED +CANCELLED +WASTED +HINTED +HINTED_USED$' \
  "$(printf '%s\n' "$OUT" | head -1)"
for r in "/style.css +style" "/app.js +script" "/fonts/t.woff2 +font"; do
  assert_match "rules: ${r%% *} pushed" "^$PAGE +desktop +[0-9]+ +$r .* push +learned( +0){6}$" "$OUT"
done
css_line=$(printf '%s\n' "$OUT" | grep -n '/style.css' | head -1 | cut -d: -f1)
font_line=$(printf '%s\n' "$OUT" | grep -n '/fonts/t.woff2' | head -1 | cut -d: -f1)
if [ -n "$css_line" ] && [ -n "$font_line" ] && [ "$font_line" -gt "$css_line" ]; then
  ok "rules: the font (found by the stylesheet) comes after the stylesheet"
else
  fail "rules: the font comes after the stylesheet" "$OUT"
fi
# Columns line up: every row starts the RESOURCE column where the header does.
col=$(printf '%s\n' "$OUT" | head -1 | grep -bo 'RESOURCE' | cut -d: -f1)
misaligned=$(printf '%s\n' "$OUT" | tail -n +2 | awk -v c="$col" 'substr($0, c + 1, 1) != "/"' | wc -l)
assert_eq "rules: aligned columns" 0 "$misaligned"

ctl --db "$DB" rules --json
assert_eq "rules --json exits 0" 0 "$RC"
check "rules --json parses" json_ok
assert_eq "rules --json: ordered by delay, css before font" "True" \
  "$(json_py '[r["resource"] for r in d].index("'"$N"'/style.css") < [r["resource"] for r in d].index("'"$N"'/fonts/t.woff2")')"
assert_eq "rules --json: fields" "desktop push learned font" \
  "$(json_py '" ".join(str(x) for x in [d[-1]["class"], d[-1]["channel"], d[-1]["state"], [r["type"] for r in d if r["resource"].endswith(".woff2")][0]])')"
assert_eq "rules --json: push outcomes, zeros when none recorded" "promised completed cancelled wasted hinted hinted_used 0" \
  "$(json_py '" ".join(d[0]["outcomes"]) + " " + str(sum(sum(r["outcomes"].values()) for r in d))')"
assert_eq "rules --json: the page's rules by ord, critical first" "True" \
  "$(json_py '(lambda p, k: all(a["ord"] < b["ord"] and k.index(a["rank"]) <= k.index(b["rank"]) for a, b in zip(p, p[1:])) and len(p) > 2)([r for r in d if r["page"] == "'"$PAGE"'"], ["style", "script", "font", "other"])')"
assert_eq "rules --json: the site's rules, learned from the same visits" "site" \
  "$(json_py '[r["level"] for r in d if r["page"] == "'"$N"'/**"][0]')"

# Push outcomes recorded for a rule show in its row.
q "INSERT INTO push_outcomes(page_id, class, resource_id, promised, completed, cancelled, wasted, hinted, hinted_used)
   SELECT p.id, 'desktop', r.id, 7, 5, 2, 1, 9, 4 FROM pages p, resources r
   WHERE p.key = '$PAGE' AND r.key = '$N/style.css'" >/dev/null
ctl --db "$DB" rules /
assert_match "rules: the stylesheet's push outcomes" "/style.css .* push +learned +7 +5 +2 +1 +9 +4$" "$OUT"
assert_match "rules: others still zeros" "/app.js .* push +learned( +0){6}$" "$OUT"
ctl --db "$DB" rules / --json
assert_eq "rules --json: the stylesheet's outcomes" "7 5 2 1 9 4" \
  "$(json_py '" ".join(str(v) for r in d if r["resource"].endswith("style.css") for v in r["outcomes"].values())')"
q "DELETE FROM push_outcomes" >/dev/null

ctl --db "$DB" rules "$PAGE"
assert_eq "rules PAGE (exact key) exits 0" 0 "$RC"
assert_contains "rules PAGE lists the stylesheet" "/style.css" "$OUT"
ctl rules / --db "$DB" --json
assert_eq "rules / (bare path, options after the command) exits 0" 0 "$RC"
assert_eq "rules / matches the same rules" "$(q "SELECT count(*) FROM rules r JOIN pages p ON p.id = r.page_id WHERE p.key = '$PAGE'")" "$(json_py 'len(d)')"
ctl --db "$DB" rules /nope.html
assert_eq "unknown page: exit 1" 1 "$RC"
assert_eq "unknown page: one line, as every command says it" "heraldctl: unknown page /nope.html" "$ERR"
assert_eq "unknown page: nothing on stdout" "" "$OUT"
ctl --db "$DB" --class mobile rules /
assert_eq "rules --class mobile (none recorded): exit 1" 1 "$RC"
assert_contains "rules --class mobile: says so" "no rules for / (mobile)" "$ERR"
ctl --db "$DB" --class desktop rules /
assert_eq "rules --class desktop: exit 0" 0 "$RC"

# ---- on a terminal: 100 columns, the page a heading -----------------------------

# tty ARGS...: heraldctl on a pseudo-terminal (script(1)), output in $OUT.
tty() {
  OUT=$(script -qec "$(printf '%q ' "$CTL" "$@")" /dev/null </dev/null | tr -d '\r')
}
# widest: the longest line of $OUT, in characters.
widest() { printf '%s\n' "$OUT" | awk '{ if (length($0) > w) w = length($0) } END { print w + 0 }'; }
# A resource with a long path, as deep asset trees have, on the page.
LONG=$N/static/$(printf 'build-%s/' a1b2c3d4 e5f6a7b8 c9d0e1f2 a3b4c5d6 e7f8a9b0)app.bundle.min.js
q "INSERT INTO resources(key, dest, bytes) VALUES('$LONG', 3, 123456);
   INSERT INTO rules(page_id, class, resource_id, ord, channel, confidence, wilson, n, k, clients, bytes, state)
   SELECT p.id, 'desktop', r.id, 99, 'hint', 1, 0.9, 30, 30, 4, 123456, 'learned'
   FROM pages p, resources r WHERE p.key = '$PAGE' AND r.key = '$LONG'" >/dev/null
tty --db "$DB" rules
log "rules on a terminal:"
printf '%s\n' "$OUT" | sed 's/^/#   /'
assert_le "rules on a terminal: at most 100 columns" 100 "$(widest)"
assert_match "rules on a terminal: the default columns" \
  '^  ORD +RESOURCE +TYPE +WILSON +N +CLIENTS +BYTES +CHANNEL +STATE$' "$(printf '%s\n' "$OUT" | head -1)"
assert_eq "rules on a terminal: the page is a heading, once" 1 \
  "$(printf '%s\n' "$OUT" | grep -c "^$PAGE (desktop)$")"
assert_match "rules on a terminal: rows under it, without the page" '^  +[0-9]+ +/style\.css +style ' "$OUT"
assert_match "rules on a terminal: a long path shortened in its middle" \
  '^ +99 +/static/.*\.\.\..*app\.bundle\.min\.js +script ' "$OUT"
assert_match "rules on a terminal: sizes for a person" ' 121k +hint +learned$' "$OUT"
tty --db "$DB" rules --wide
assert_ge "rules --wide: every column, wider than 100" 101 "$(widest)"
assert_contains "rules --wide: the long path whole" "${LONG#$N}" "$OUT"
assert_match "rules --wide: the outcome columns" 'HINTED_USED$' "$(printf '%s\n' "$OUT" | head -1)"
tty --db "$DB" rules -o resource,ord,wilson
assert_match "rules -o: those columns in that order" '^RESOURCE +ORD +WILSON$' \
  "$(printf '%s\n' "$OUT" | head -1)"
ctl --db "$DB" rules -o resource,channel
assert_match "rules -o piped: the same columns" '^RESOURCE +CHANNEL$' "$(printf '%s\n' "$OUT" | head -1)"
assert_contains "rules -o piped: nothing shortened" "${LONG#$N}" "$OUT"
ctl --db "$DB" rules -o resource,colour
assert_eq "rules -o with an unknown column: exit 2" 2 "$RC"
assert_match "rules -o: names the column and lists the others" "no column 'colour'; the columns: page, class, ord, resource" "$ERR"
ctl --db "$DB" rules
assert_contains "rules piped: the long path whole" "${LONG#$N}" "$OUT"
ctl --db "$DB" explain / /app.js --wide
assert_eq "--wide applies to tables it selects (pages, rules): exit 2" 2 "$RC"
for cmd in "pages" "explain / /app.js" "stats" "simulate" "threshold get"; do
  # shellcheck disable=SC2086
  tty --db "$DB" $cmd
  assert_le "$cmd on a terminal: at most 100 columns" 100 "$(widest)"
done
q "DELETE FROM rules WHERE ord = 99; DELETE FROM resources WHERE key = '$LONG'" >/dev/null

# ---- pages -----------------------------------------------------------------------

ctl --db "$DB" pages
assert_eq "pages exits 0" 0 "$RC"
log "pages:"
printf '%s\n' "$OUT" | sed 's/^/#   /'
assert_match "pages: header" '^PAGE +TEMPLATE +CLASS +VISITS +RULES +LAST SEEN$' "$(printf '%s\n' "$OUT" | head -1)"
nrules=$(q "SELECT count(*) FROM rules r JOIN pages p ON p.id = r.page_id WHERE p.key = '$PAGE' AND r.channel IN ('push','hint')")
assert_match "pages: the page, its visits and rules" \
  "^$PAGE +no +desktop +$VISITS +$nrules +20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$" "$OUT"
assert_eq "pages: the page and its site" 3 "$(printf '%s\n' "$OUT" | wc -l)"
assert_match "pages: the site's key, a template of sorts" "^$N/\*\* +yes +desktop +0 +$nrules " "$OUT"
ctl pages --json --db "$DB"
check "pages --json parses" json_ok
assert_eq "pages --json: fields" "$PAGE False desktop $VISITS $nrules" \
  "$(json_py '" ".join(str(x) for x in [d[0]["page"], d[0]["is_template"], d[0]["class"], d[0]["visits"], d[0]["rules"]])')"

# ---- -c CONFIG: the database of herald's configuration ------------------------------

printf '[store]\ndb = %s\n' "$DB" >"$WORK/herald.ini"
ctl -c "$WORK/herald.ini" pages
assert_eq "-c CONFIG: pages exit 0" 0 "$RC"
assert_contains "-c CONFIG: reads [store] db" "$PAGE" "$OUT"
printf '[store]\n' >"$WORK/nodb.ini"
ctl -c "$WORK/nodb.ini" pages
assert_eq "-c CONFIG without [store] db: exit 2" 2 "$RC"
assert_contains "-c CONFIG without [store] db: says so" "no database" "$ERR"
ctl --config "$WORK/missing.ini" pages
assert_eq "-c missing file: exit 2" 2 "$RC"
assert_eq "-c missing file: one line" 1 "$(printf '%s\n' "$ERR" | wc -l)"

# Parameters: the defaults, then [learn] of -c CONFIG, then the settings.
cp "$DB" "$WORK/cfg.db"
sqlite3 "$WORK/cfg.db" "DELETE FROM settings"
ctl --db "$WORK/cfg.db" learn
assert_eq "default thresholds: no rules from $VISITS visits" "learned 0 rules for 2 keys (1 page, 0 templates, 0 sections, 1 site) from $VISITS visits" "$OUT"
printf '[store]\ndb = %s\n[learn]\nmin_visits = 5\nhint_threshold = 0.5\npush_threshold = 0.6\n' \
  "$WORK/cfg.db" >"$WORK/learn.ini"
ctl -c "$WORK/learn.ini" learn
assert_match "[learn] of -c CONFIG lowers the thresholds" "^learned [1-9][0-9]* rules for 2 keys" "$OUT"
sqlite3 "$WORK/cfg.db" "INSERT INTO settings VALUES('global', 'min_visits', '1000')"
ctl -c "$WORK/learn.ini" learn
assert_eq "a setting beats the configuration" "learned 0 rules for 2 keys (1 page, 0 templates, 0 sections, 1 site) from $VISITS visits" "$OUT"

# ---- overrides: a blocked resource is never served ------------------------------------

q "INSERT INTO overrides VALUES('$PAGE', '$N/app.js', 'block')" >/dev/null
ctl --db "$DB" learn
assert_eq "learn with an override exits 0" 0 "$RC"
ctl --db "$DB" rules /
assert_match "blocked: app.js listed as blocked, no channel" "^$PAGE +desktop +- +/app.js .* none +blocked( +0){6}$" "$OUT"
assert_match "blocked: the stylesheet still pushed" "/style.css .* push +learned( +0){6}$" "$OUT"
q "DELETE FROM overrides" >/dev/null

# ---- learn drops the rules of pages no retained visit has -------------------------------

q "INSERT INTO pages(key, is_template, first_seen, last_seen, visits) VALUES('http://gone.example/', 0, 1, 1, 0);
   INSERT INTO rules(page_id, class, resource_id, ord, channel, state)
   SELECT p.id, 'desktop', r.id, 0, 'push', 'learned' FROM pages p, resources r
   WHERE p.key = 'http://gone.example/' LIMIT 1" >/dev/null
ctl --db "$DB" rules http://gone.example/
assert_eq "a stale rule is listed before learn" 0 "$RC"
ctl --db "$DB" learn
ctl --db "$DB" rules http://gone.example/
assert_eq "learn removed the stale rule" 1 "$RC"
ctl --db "$DB" rules /
assert_eq "learn kept the page's rules" 0 "$RC"

# ---- errors ------------------------------------------------------------------------

ctl pages
assert_eq "no database argument: exit 2" 2 "$RC"
assert_eq "no database argument: message" "heraldctl: no database: use --db PATH or -c CONFIG" "$ERR"
ctl --db "$WORK/nodir/x.db" pages
assert_eq "--db missing file: exit 2" 2 "$RC"
assert_contains "--db missing file: clear message" "no database at $WORK/nodir/x.db" "$ERR"
ctl --db /nonexistent/x.db pages
assert_eq "--db /nonexistent/x.db: exit 2" 2 "$RC"
ctl --db "$WORK/gone.db" rules
assert_eq "--db missing file (rules): exit 2" 2 "$RC"
check "a missing file is not created" test ! -e "$WORK/gone.db"
ctl --db "$DB" frobnicate
assert_eq "unknown command: exit 2" 2 "$RC"
assert_contains "unknown command: named" "unknown command 'frobnicate'" "$ERR"
ctl --db "$DB" --bogus pages
assert_eq "unknown option: exit 2" 2 "$RC"
ctl --db "$DB" --class tablet pages
assert_eq "bad --class: exit 2" 2 "$RC"
ctl --db "$DB" pages extra
assert_eq "extra argument: exit 2" 2 "$RC"
ctl --db
assert_eq "--db without a value: exit 2" 2 "$RC"
printf 'not a database, just text\n%.0s' {1..200} >"$WORK/junk.db"
ctl --db "$WORK/junk.db" pages
assert_eq "not a database: exit 2" 2 "$RC"
assert_eq "not a database: one line" 1 "$(printf '%s\n' "$ERR" | wc -l)"
cp "$DB" "$WORK/badset.db"
sqlite3 "$WORK/badset.db" "UPDATE settings SET value = 'lots' WHERE name = 'min_visits'"
ctl --db "$WORK/badset.db" learn
assert_eq "bad setting: exit 2" 2 "$RC"
assert_contains "bad setting: named" "global.min_visits = 'lots'" "$ERR"

# ---- help and version -------------------------------------------------------------

ctl --help
assert_eq "--help exits 0" 0 "$RC"
for w in pages rules learn --db --config --json --help --version "COMMAND --help"; do
  assert_contains "--help mentions $w" "$w" "$OUT"
done
assert_le "--help: the commands in one line each, not every option" 40 \
  "$(printf '%s\n' "$OUT" | wc -l)"
for cmd in pages rules explain simulate stats threshold min-visits budget \
  max-resources mode pin block unpin learn export import; do
  ctl "$cmd" --help
  assert_eq "$cmd --help: exit 0" 0 "$RC"
  assert_match "$cmd --help: its own usage" "^usage: heraldctl $cmd" "$(printf '%s\n' "$OUT" | head -1)"
  assert_contains "$cmd --help: an example" "Example:" "$OUT"
  assert_le "$cmd --help: short, not the global help" 30 "$(printf '%s\n' "$OUT" | wc -l)"
done
ctl help budget
assert_contains "help COMMAND: the command's" "100k, 1.5M" "$OUT"
ctl rules --help --db /nonexistent.db
assert_eq "COMMAND --help opens nothing" "0 " "$RC $ERR"
ctl frobnicate --help
assert_eq "--help of an unknown command: exit 2" 2 "$RC"
ctl --version
assert_match "--version" '^heraldctl [0-9]+\.[0-9]+\.[0-9]+$' "$OUT"

# ---- a fresh, empty database ----------------------------------------------------------

: >"$WORK/empty.db"
ctl --db "$WORK/empty.db" pages
assert_eq "empty db: pages exit 0" 0 "$RC"
assert_match "empty db: pages prints only the header" '^PAGE +TEMPLATE +CLASS +VISITS +RULES +LAST SEEN$' "$OUT"
ctl --db "$WORK/empty.db" pages --json
assert_eq "empty db: pages --json is []" "[]" "$OUT"
ctl --db "$WORK/empty.db" rules --json
assert_eq "empty db: rules --json is []" "0 []" "$RC $OUT"
ctl --db "$WORK/empty.db" learn
assert_eq "empty db: learn" "0 learned 0 rules for 0 keys (0 pages, 0 templates, 0 sections, 0 sites) from 0 visits" "$RC $OUT"

finish
