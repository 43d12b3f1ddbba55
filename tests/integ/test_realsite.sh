#!/usr/bin/env bash
# test_realsite.sh: herald in front of a real documentation site (Debian's
# python-scrapy-doc), learning from headless Chromium with 30% of the
# navigations from HTML-only clients, then judged by what Chromium does:
# the hints it receives against what its pages load, on pages visited while
# learning and on pages never visited. A short run of tools/bench/realsite.sh
# (3 visited pages, 10 navigations each: the root, one under /intro/ and
# one under /topics/, so every level has something to learn; one measuring
# visit to each and to 3 new pages, one of each kind; one load per arm);
# `make realsite` is the full measurement, with herald's defaults.
#
# Two kinds of checks:
#   - the harness: the analysis is right on a known visit; every Chromium
#     visit completed; the mix is 30% HTML-only, at most 50 a page; herald
#     saw the clients' many addresses; the HTML really waits for RTT and
#     think time; the off arm gets no 103; every measuring visit gets a
#     103 and Chromium takes the hinted files from it.
#   - the issue's thresholds (issue 10, "Proof"): precision >= 0.95, recall
#     >= 0.9, no hinted URL with a query the page does not request,
#     stylesheets first, on visited and on new pages.
. "$(dirname "$0")/lib.sh"

if [ "$HERALD_STANDIN" = nghttpx ]; then
  skip "realsite" "herald's own feature; no stand-in"
  finish
fi
for t in chromium nghttp nginx python3 sqlite3; do
  command -v "$t" >/dev/null 2>&1 || {
    fail "$t installed" "make deps"
    finish
  }
done
if [ ! -f /usr/share/doc/python-scrapy-doc/html/index.html ]; then
  fail "python-scrapy-doc installed" "make deps"
  finish
fi

out=$(python3 "$ROOT/tools/bench/realsite_report.py" --selftest 2>&1)
rc=$?
assert_eq "the report's analysis is right on a made-up visit" 0 "$rc"
[ "$rc" = 0 ] || log "$out"

# Learner settings that let rules form from 7 browser visits of a page
# (Wilson bound of 7/7 at z 1.96: 0.646) in a few minutes, and a budget
# that fits every page of the site (about 1.5 MB).
LEARN_OPTS="-o learn.min_visits=5 -o learn.min_clients=2 -o learn.hint_threshold=0.6
 -o learn.push_threshold=0.65 -o learn.interval=500 -o record.flush=100
 -o record.window=3000 -o learn.budget=4000000 -o learn.max_resources=32"
OUT=$WORK/out
B="$B" BENCH_OUT="$OUT" RS_PAGES="/ /intro/overview.html /topics/settings.html" \
  RS_NEW_PAGES="/faq.html /intro/install.html /topics/items.html" RS_VISITS=10 \
  RS_HTML_ONLY=30 RS_MEASURE=1 RS_LOADS=1 RS_NEW_LOADS=0 RS_SETTLE=4 RS_SWEEP= \
  RS_OPTS="$(echo $LEARN_OPTS)" timeout -k 5 240 "$ROOT/tools/bench/realsite.sh" \
  >"$WORK/realsite.out" 2>&1
rc=$?
assert_eq "realsite.sh exits 0" 0 "$rc"
sed 's/^/# /' "$WORK/realsite.out"
S=$OUT/run-1/summary.tsv
if [ ! -s "$S" ]; then
  fail "realsite.sh wrote a summary" "no $S"
  finish
fi
# v KEY: one value of the summary.
v() { awk -F'\t' -v k="$1" '$1 == k { print $2; exit }' "$S"; }
# ge A B: A >= B as numbers ("nan" is not).
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "nan" && a + 0 >= b + 0) }'; }

# ---- the harness -----------------------------------------------------------
assert_eq "every Chromium visit completed (load event, report collected)" 0 \
  "$(v chromium_failed)"
assert_eq "30 learning navigations" 30 "$(v learn_navigations)"
assert_eq "30% of them HTML-only (9)" 9 "$(v learn_html_only)"
assert_le "at most 50 navigations a page" 50 "$(v learn_max_per_page)"
assert_eq "every HTML-only navigation answered 200" 0 "$(v html_only_not_200)"
assert_ge "herald saw 12 client addresses" 12 "$(v client_addresses_seen)"
assert_ge "in 9 /24s" 9 "$(v client_nets_seen)"
resp=$(v load.visited.off.response)
if ge "$resp" 400; then
  ok "off: the HTML's headers come >= 400 ms after the navigation (RTT 100 + think 300): $resp"
else
  fail "off: the HTML's headers come >= 400 ms after the navigation" "got $resp"
fi
assert_eq "off: no 103" 0 "$(v load.visited.off.with_103)"
assert_eq "one load per arm and page" "3 3" "$(v load.visited.off.n) $(v load.visited.hints.n)"
assert_match "the page-load table is printed" '^visited +ratio ' "$(cat "$WORK/realsite.out")"

# Chromium must receive the 103 and take the hinted copies
# (initiatorType early-hints): with the wrong certificate flag or no RTT it
# silently would not, and every figure below would be meaningless.
for g in visited unvisited; do
  assert_eq "$g pages: every measuring visit got a 103" "$(v $g.visits)" "$(v $g.with_103)"
  if ge "$(v $g.used_ratio)" 0.9; then
    ok "$g pages: Chromium took >= 90% of the hinted files it loaded from the 103 ($(v $g.used) of $(v $g.hits))"
  else
    fail "$g pages: Chromium took >= 90% of the hinted files it loaded from the 103" \
      "$(v $g.used) of $(v $g.hits) (initiatorType early-hints)"
  fi
done

# ---- the issue's thresholds --------------------------------------------------
for g in visited unvisited; do
  d="$(v $g.visits) visits, $(v $g.with_103) with a 103, $(v $g.hinted) hinted, $(v $g.hits) of \
$(v $g.loaded) loaded; depth 1 P $(v $g.precision_d1) R $(v $g.recall_d1), depth 2 P \
$(v $g.precision_d2) R $(v $g.recall_d2)"
  p=$(v $g.precision)
  r=$(v $g.recall)
  if ge "$p" 0.95; then ok "$g pages: hint precision >= 0.95 (precision $p; $d)"
  else fail "$g pages: hint precision >= 0.95" "precision $p; $d"; fi
  if ge "$r" 0.9; then ok "$g pages: hint recall >= 0.9 (recall $r; $d)"
  else fail "$g pages: hint recall >= 0.9" "recall $r; $d"; fi
  n=$(v $g.wrong_query)
  if [ "$n" = 0 ] && [ "$(v $g.with_103)" -gt 0 ] 2>/dev/null; then
    ok "$g pages: hints sent, none with a query the page does not request"
  else
    fail "$g pages: hints sent, none with a query the page does not request" \
      "$n wrong-query hints in $(v $g.with_103) 103s"
  fi
  assert_eq "$g pages: every 103 lists the stylesheets first" "$(v $g.visits)" \
    "$(v $g.styles_first)"
done
finish
