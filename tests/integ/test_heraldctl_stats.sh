#!/usr/bin/env bash
# test_heraldctl_stats.sh: `heraldctl stats` on a database filled by real
# traffic, as test_push.sh makes it: a page whose backend thinks THINK_MS
# (the fault backend's /page behind nginx) is learned in push mode from
# browser-like visits (curl refuses push, so those are 'none' visits), then
# a herald with frozen rules serves nghttp navigations in four phases:
# pushes (one of them wasted by a stylesheet fetched anyway), hints (a
# 103), holdout (deliver.holdout=1) and, alongside, a page without rules.
#
# Checked: the visit count of every arm is the number of navigations made
# in it, visits of the page without rules are left out of the comparison;
# mean, median and 95% intervals agree with the same arithmetic done in
# Python on the rows; the holdout mean covers the think time; with fewer
# than 10 holdout visits the verdict says so; the outcome totals and the
# most wasted resource agree with sqlite3's sums; --since (a moment between
# phases, a duration, a future date) and --page filter; bad --since is exit
# 2, an unknown page 1; an empty database gives zeros and "no visits". A
# synthetic database with 12 visits per arm gets a conclusive verdict with
# the exact Welch interval.
. "$(dirname "$0")/lib.sh"

heraldctl_setup "heraldctl stats"

BROWSER=$ROOT/tests/integ/browser.sh
cat >"$WORK/slow.html" <<'HTML'
<!doctype html><html><head><title>slow</title>
<link rel="stylesheet" href="/css/shop.css">
<script src="/js/shop.js"></script></head>
<body><img src="/img/logo.png" alt=""><p>thought hard</p></body></html>
HTML
FB_PAGE=$WORK/slow.html start_fault_backend || finish
mkdir -p "$WORK/site"
cp -r "$ROOT/tools/demo/site/." "$WORK/site/"
chmod -R a+rX "$WORK"
THINK_MS=300
NGINX_SERVER_EXTRA="location = /slow { proxy_pass http://127.0.0.1:$FB_PORT/page?ms=$THINK_MS; }"
start_nginx || finish

DB=$WORK/s.db
HP=$(free_port)
BASE=http://127.0.0.1:$HP
PAGE=$BASE/slow
NAV=(-H 'sec-fetch-mode: navigate' -H 'sec-fetch-dest: document')
COMMON=(--listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" --db "$DB"
  -o learn.min_visits=5 -o learn.min_clients=2 -o learn.hint_threshold=0.45
  -o learn.push_threshold=0.5 -o deliver.holdout=0 -o deliver.verify=0 -o record.window=1000
  -o record.flush=100 -o record.ignore_agents= -o clients.trusted_proxies=127.0.0.1)
# (nghttp and h2probe stand for browsers here: their User-Agents are not
# left out of recording.)
FROZEN=("${COMMON[@]}" -o learn.interval=3600000 -o learn.recompute_after=100000000)
LEARN_VISITS=8 PUSH_VISITS=5 HINT_VISITS=3 HOLDOUT_VISITS=4 OTHER_VISITS=2

q() { sqlite3 -batch -noheader -cmd '.timeout 5000' "$DB" "$1" 2>&1; }
ctl() {
  "$CTL" "$@" >"$WORK/ctl.out" 2>"$WORK/ctl.err"
  RC=$?
  OUT=$(cat "$WORK/ctl.out")
  ERR=$(cat "$WORK/ctl.err")
}
json_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)" <"$WORK/ctl.out" 2>&1; }
# arms: the visit counts of push hints treated holdout none, then other.
arms() {
  json_py '" ".join(str(d["arms"][a]["visits"]) for a in ("push","hints","treated","holdout","none")) + " " + str(d["other_visits"])'
}
# nav [ARGS...]: one navigation of the slow page by nghttp (push accepted).
nav() { timeout 10 nghttp -nv "${NAV[@]}" "$@" "$PAGE" >>"$WORK/nghttp.log" 2>&1; }
stop_herald() {
  herald_graceful_stop
  wait_pid_exit "$HERALD_PID" 10 || fail "herald exits on SIGTERM"
}

# ---- the traffic -------------------------------------------------------------------

# Learning: browser visits (none: curl refuses push and the mode is push).
start_herald "${COMMON[@]}" -o learn.interval=300 -o deliver.mode=push || finish
for i in $(seq 1 $LEARN_VISITS); do
  "$BROWSER" --ua "stats-test-$((i % 3))" --from "198.51.$((100 + i % 3)).7" \
    "$BASE" /slow >/dev/null 2>&1
done
ok=0
for _ in $(seq 1 60); do
  n=$(q "SELECT count(*) FROM rules r JOIN pages p ON p.id = r.page_id WHERE p.key = '$PAGE' AND r.channel = 'push'")
  [ "$n" -ge 3 ] 2>/dev/null && ok=1 && break
  sleep 0.25
done
assert_eq "push rules learned for /slow" 1 "$ok"
stop_herald

# Pushes: all but one plain; the last by 'waste-ua', whose stylesheet is
# then fetched anyway on another connection (a wasted push). Two
# navigations of / on another host go alongside: a page of a site herald
# knows nothing of (on this host, / would get the site's rules).
start_herald "${FROZEN[@]}" -o deliver.mode=push || finish
for _ in $(seq 2 $PUSH_VISITS); do nav; done
nav -H 'user-agent: waste-ua'
curl -s -o /dev/null -m 10 --http1.1 -A 'waste-ua' -H "referer: $PAGE" \
  -H 'sec-fetch-dest: style' "$BASE/css/shop.css"
for _ in $(seq 1 $OTHER_VISITS); do
  timeout 10 nghttp -nv "${NAV[@]}" -H ':authority: other.example' "$BASE/" \
    >>"$WORK/nghttp.log" 2>&1
done
stop_herald

start_herald "${FROZEN[@]}" -o deliver.mode=hints || finish
for _ in $(seq 1 $HINT_VISITS); do nav; done
stop_herald

sleep 0.05
MID=$(date +%s%3N)
start_herald "${FROZEN[@]}" -o deliver.mode=push -o deliver.holdout=1 || finish
for _ in $(seq 1 $HOLDOUT_VISITS); do nav; done
stop_herald

log "visits by delivery: $(q "SELECT group_concat(delivery || '=' || n, ' ') FROM (SELECT delivery, count(*) n FROM visits GROUP BY delivery)")"

# ---- the arms --------------------------------------------------------------------

TREATED=$((PUSH_VISITS + HINT_VISITS))
ctl --db "$DB" stats
assert_eq "stats exits 0" 0 "$RC"
log "stats:"
printf '%s\n' "$OUT" | sed 's/^/#   /'
assert_match "stats: the arms table" '^ARM +VISITS +MEDIAN MS +MEAN MS +95% CI MS +MEAN BYTES$' "$OUT"
assert_match "stats: the header says what is compared" \
  "^compared +1 page with rules \(a treated or holdout visit in the window\); $OTHER_VISITS visits of other pages not counted$" "$OUT"
assert_match "stats: push row" "^push +$PUSH_VISITS +[0-9]+ +[0-9.]+ +[0-9.]+\.\.[0-9.]+ +[0-9]+$" "$OUT"
assert_match "stats: the verdict refuses a holdout arm this small" \
  "^verdict +holdout arm too small to conclude: $HOLDOUT_VISITS visits, want at least 10" "$OUT"
assert_match "stats: waste ratio line" '^waste +[0-9]\.[0-9]{3} \(\(cancelled \+ wasted\) / promised\)$' "$OUT"

ctl --db "$DB" --json stats
assert_eq "stats --json exits 0" 0 "$RC"
assert_eq "stats --json parses" ok "$(json_py '"ok"')"
assert_eq "visits per arm (push hints treated holdout none, other pages)" \
  "$PUSH_VISITS $HINT_VISITS $TREATED $HOLDOUT_VISITS $LEARN_VISITS $OTHER_VISITS" "$(arms)"
assert_eq "holdout mean load covers the think time" True \
  "$(json_py "d['arms']['holdout']['mean_ms'] >= $THINK_MS")"
assert_eq "treated mean load covers the think time" True \
  "$(json_py "d['arms']['treated']['mean_ms'] >= $THINK_MS")"
assert_eq "not conclusive below 10 holdout visits" False "$(json_py 'd["conclusive"]')"

# The same figures, computed in Python straight from the rows.
cat >"$WORK/check.py" <<'PY'
import json, math, sqlite3, statistics, sys
d = json.load(open(sys.argv[2]))
db = sqlite3.connect(sys.argv[1])
ruled = {r[0] for r in db.execute(
    "SELECT page_id FROM visits WHERE delivery IN ('push','hints','holdout')")}
rows = [r for r in db.execute("SELECT page_id, delivery, load_ms, bytes FROM visits")
        if r[0] in ruled]
arms = {a: [r for r in rows if r[1] == a] for a in ("push", "hints", "holdout", "none")}
arms["treated"] = arms["push"] + arms["hints"]
bad = []
def near(what, got, want):
    if want is None or got is None:
        if got != want:
            bad.append(f"{what}: {got} != {want}")
    elif abs(got - want) > 0.01:
        bad.append(f"{what}: {got} != {want}")
def summary(v):
    m = statistics.mean(v)
    s = statistics.stdev(v) if len(v) > 1 else None
    ci = [m - 1.96 * s / math.sqrt(len(v)), m + 1.96 * s / math.sqrt(len(v))] if s is not None else None
    return m, s, ci
for a, rs in arms.items():
    got = d["arms"][a]
    loads = [r[2] for r in rs]
    if not loads:
        near(a + " mean", got["mean_ms"], None)
        continue
    m, s, ci = summary(loads)
    near(a + " mean", got["mean_ms"], m)
    near(a + " median", got["median_ms"], statistics.median(loads))
    near(a + " bytes", got["mean_bytes"], statistics.mean(r[3] for r in rs))
    if ci is None:
        near(a + " ci", got["ci95_ms"], None)
    else:
        near(a + " ci lo", got["ci95_ms"][0], ci[0])
        near(a + " ci hi", got["ci95_ms"][1], ci[1])
for a in ("treated", "push", "hints"):
    t = [r[2] for r in arms[a]]
    h = [r[2] for r in arms["holdout"]]
    got = d["vs_holdout"][a]
    diff = statistics.mean(t) - statistics.mean(h)
    se = math.sqrt(statistics.variance(t) / len(t) + statistics.variance(h) / len(h))
    near(a + " diff", got["diff_ms"], diff)
    near(a + " diff lo", got["ci95_ms"][0], diff - 1.96 * se)
    near(a + " diff hi", got["ci95_ms"][1], diff + 1.96 * se)
    near(a + " relative", got["relative"], diff / statistics.mean(h))
print(" ".join(bad) or "ok")
PY
cp "$WORK/ctl.out" "$WORK/stats.json"
assert_eq "means, medians, bytes and 95% intervals match Python's arithmetic" ok \
  "$(python3 "$WORK/check.py" "$DB" "$WORK/stats.json" 2>&1)"

# ---- outcomes --------------------------------------------------------------------

SUMS="SELECT total(o.promised), total(o.completed), total(o.cancelled), total(o.wasted),
  total(o.pushed_bytes), total(o.hinted), total(o.hinted_used)
  FROM push_outcomes o JOIN pages p ON p.id = o.page_id WHERE p.is_template = 0"
want=$(q "$SUMS" | tr '|' ' ' | sed 's/\.0\b//g')
got=$(json_py '" ".join(str(d["outcomes"][k]) for k in ("promised","completed","cancelled","wasted","pushed_bytes","hinted","hinted_used"))')
assert_eq "outcome totals equal sqlite3's sums" "$want" "$got"
log "outcomes: $got"
N=$(q "SELECT count(*) FROM rules r JOIN pages p ON p.id = r.page_id WHERE p.key = '$PAGE' AND r.channel = 'push'")
assert_ge "every push visit's promises counted" $((N * PUSH_VISITS)) "$(json_py 'd["outcomes"]["promised"]')"
assert_ge "hints counted" "$HINT_VISITS" "$(json_py 'd["outcomes"]["hinted"]')"
assert_eq "waste ratio = (cancelled + wasted) / promised" True \
  "$(json_py 'abs(d["outcomes"]["waste_ratio"] - (d["outcomes"]["cancelled"] + d["outcomes"]["wasted"]) / d["outcomes"]["promised"]) < 1e-4')"
assert_eq "the wasted stylesheet heads the most wasted" "$PAGE $BASE/css/shop.css" \
  "$(json_py 'd["most_wasted"][0]["page"] + " " + d["most_wasted"][0]["resource"]')"
assert_match "stats: most wasted table" "^$PAGE +/css/shop.css +[0-9]+ +[0-9]+ +[1-9][0-9]* +[0-9.]+$" \
  "$(ctl --db "$DB" stats; printf '%s\n' "$OUT")"

# ---- --since and --page -------------------------------------------------------------

ctl --db "$DB" --json stats --since "$MID"
assert_eq "--since MS: only the holdout phase" "0 0 0 $HOLDOUT_VISITS 0 0" "$(arms)"
want=$(q "SELECT total(o.promised) FROM push_outcomes o JOIN pages p ON p.id = o.page_id WHERE p.is_template = 0 AND o.updated_at >= $MID" | sed 's/\.0$//')
assert_eq "--since MS: outcomes of rows updated since" "$want" "$(json_py 'd["outcomes"]["promised"]')"
ctl --db "$DB" --json stats --since 1h
assert_eq "--since 1h: everything" \
  "$PUSH_VISITS $HINT_VISITS $TREATED $HOLDOUT_VISITS $LEARN_VISITS $OTHER_VISITS" "$(arms)"
ctl --db "$DB" --json stats --since 2099-01-01
assert_eq "--since in the future: no visits" "0 0 0 0 0 0 0" "$(arms) $(json_py 'd["outcomes"]["promised"]')"
assert_eq "  and the verdict says so" "no visits" "$(json_py 'd["verdict"]')"
ctl --db "$DB" stats --since 2099-01-01T00:00:00
assert_match "--since ISO date and time, text" '^verdict +no visits$' "$OUT"
ctl --db "$DB" --json stats --page /slow
assert_eq "--page /slow: resolved, same arms" \
  "$PAGE $PUSH_VISITS $HINT_VISITS $TREATED $HOLDOUT_VISITS $LEARN_VISITS 0" "$(json_py 'd["page"]') $(arms)"
ctl --db "$DB" --json stats --page /
assert_eq "--page /: a page without rules: only other visits" "0 0 0 0 0 $OTHER_VISITS" "$(arms)"
ctl --db "$DB" stats --page /nope
assert_eq "--page unknown: exit 1" "1" "$RC"
for bad in 5x -1h 2026-13-01 2026-02-30 1700000000 1h30m ""; do
  ctl --db "$DB" stats --since "$bad"
  assert_eq "--since '$bad': exit 2 with a message" "2 1" "$RC $(grep -c 'heraldctl: --since' <<<"$ERR")"
done
ctl --db "$DB" rules --since 1h
assert_eq "--since outside stats: exit 2" 2 "$RC"
ctl --db "$WORK/missing.db" stats
assert_eq "missing database: exit 2" 2 "$RC"
[ -e "$WORK/missing.db" ] && fail "missing database not created" || ok "missing database not created"

# ---- an empty database ---------------------------------------------------------

: >"$WORK/empty.db"
ctl --db "$WORK/empty.db" stats
assert_eq "empty db: exit 0" 0 "$RC"
assert_match "empty db: no visits" '^verdict +no visits$' "$OUT"
assert_match "empty db: zero outcomes" '^pushes +promised 0, completed 0, cancelled 0, wasted 0, pushed bytes 0$' "$OUT"
ctl --db "$WORK/empty.db" --json stats
assert_eq "empty db --json: zeros, null means" "0 0 0 0 0 0 None 0" \
  "$(arms) $(json_py 'd["arms"]["holdout"]["mean_ms"]') $(json_py 'len(d["most_wasted"])')"

# ---- a conclusive difference (synthetic visits) ------------------------------------

SYN=$WORK/syn.db
: >"$SYN"
"$CTL" --db "$SYN" stats >/dev/null 2>&1
now=$(date +%s%3N)
{
  echo "BEGIN; INSERT INTO pages(id, key, is_template, first_seen, last_seen, visits)
        VALUES(1, 'http://s/', 0, $now, $now, 24);"
  for i in $(seq 0 11); do
    echo "INSERT INTO visits(page_id, template_id, class, client_token, started_at,
          load_ms, bytes, holdout, delivery)
          VALUES(1, 1, 'desktop', x'00', $now, $((500 + i * 10)), 1000, 0, 'push'),
                (1, 1, 'desktop', x'00', $now, $((1000 + i * 10)), 900, 1, 'holdout');"
  done
  echo "COMMIT;"
} | sqlite3 "$SYN"
ctl --db "$SYN" --json stats
cp "$WORK/ctl.out" "$WORK/syn.json"
assert_eq "synthetic: conclusive, 500 ms faster" "True -500.0 -0.4739" \
  "$(json_py 'd["conclusive"], round(d["vs_holdout"]["treated"]["diff_ms"], 1), round(d["vs_holdout"]["treated"]["relative"], 4)' | tr -d '(),')"
assert_eq "synthetic: Welch interval and arm CIs as Python computes them" ok \
  "$(python3 - "$SYN" "$WORK/syn.json" <<'PY' 2>&1
import json, math, statistics, sys
d = json.load(open(sys.argv[2]))
t = [500 + i * 10 for i in range(12)]
h = [1000 + i * 10 for i in range(12)]
se = math.sqrt(statistics.variance(t) / 12 + statistics.variance(h) / 12)
lo, hi = d["vs_holdout"]["treated"]["ci95_ms"]
half = 1.96 * statistics.stdev(h) / math.sqrt(12)
clo, chi = d["arms"]["holdout"]["ci95_ms"]
ok = (abs(lo - (-500 - 1.96 * se)) < 1e-3 and abs(hi - (-500 + 1.96 * se)) < 1e-3
      and abs(clo - (1055 - half)) < 1e-3 and abs(chi - (1055 + half)) < 1e-3
      and d["arms"]["holdout"]["median_ms"] == 1055)
print("ok" if ok else json.dumps(d["vs_holdout"]) + json.dumps(d["arms"]["holdout"]))
PY
)"
ctl --db "$SYN" stats
assert_match "synthetic: the verdict in words" \
  '^verdict +treated pages loaded 500 ms \(47\.4%\) faster than holdout; the 95% interval of the difference excludes 0$' "$OUT"
log "synthetic stats:"
printf '%s\n' "$OUT" | sed 's/^/#   /'
finish
