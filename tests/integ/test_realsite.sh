#!/usr/bin/env bash
# test_realsite.sh: herald in front of a real documentation site (Debian's
# python-scrapy-doc), learning from headless Chromium with 30% of the
# navigations from HTML-only clients, then judged by what Chromium does:
# the hints it receives against what its pages load, on pages visited while
# learning and on pages never visited. A short run of tools/bench/realsite.sh
# (2 visited pages, 10 navigations each, one measuring visit to each and to
# 2 new pages, one load per arm);
# `make realsite` is the full measurement.
#
# Two kinds of checks:
#   - the harness: the analysis is right on a known visit; every Chromium
#     visit completed; the mix is 30% HTML-only, at most 50 a page; herald
#     saw the clients' many addresses; the HTML really waits for RTT and
#     think time; the off arm gets no 103; and in a short control run
#     without HTML-only clients (which today's learner passes) Chromium
#     receives the 103 and takes the hinted files from it.
#   - the issue's thresholds (issue 10, "Proof"): precision >= 0.95, recall
#     >= 0.9, no hinted URL with a query the page does not request,
#     stylesheets first, on visited and on new pages. Today's learner does
#     not meet them. With REALSITE_EXPECT_FAIL=1 a miss prints "xfail" and
#     is not counted as a failure (a pass still counts, and says so).
. "$(dirname "$0")/lib.sh"

# The learner of issue 10 is not there yet: remove this line when it lands.
REALSITE_EXPECT_FAIL=${REALSITE_EXPECT_FAIL:-1}

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
# (Wilson bound of 7/7 at z 1.96: 0.646) and a budget that fits the whole
# site (about 1.3 MB), so the thresholds are reachable.
LEARN_OPTS="-o learn.min_visits=5 -o learn.min_clients=2 -o learn.hint_threshold=0.6
 -o learn.push_threshold=0.65 -o learn.interval=500 -o record.flush=100
 -o record.window=3000 -o learn.budget=4000000 -o learn.max_resources=32"
OUT=$WORK/out
B="$B" BENCH_OUT="$OUT" RS_PAGES="/ /intro/overview.html" \
  RS_NEW_PAGES="/faq.html /topics/items.html" RS_VISITS=10 RS_HTML_ONLY=30 \
  RS_MEASURE=1 RS_LOADS=1 RS_NEW_LOADS=0 RS_SETTLE=4 RS_OPTS="$(echo $LEARN_OPTS)" \
  timeout -k 5 190 "$ROOT/tools/bench/realsite.sh" >"$WORK/realsite.out" 2>&1
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
assert_eq "20 learning navigations" 20 "$(v learn_navigations)"
assert_eq "30% of them HTML-only (6)" 6 "$(v learn_html_only)"
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
assert_eq "one load per arm and page" "2 2" "$(v load.visited.off.n) $(v load.visited.hints.n)"
assert_match "the page-load table is printed" '^visited +ratio ' "$(cat "$WORK/realsite.out")"

# A control that today's learner passes too: without HTML-only clients,
# one page, 7 Chromium visits. Its 103 must reach Chromium and Chromium
# must take the hinted copies (initiatorType early-hints): with the wrong
# certificate flag or no RTT it silently would not, and every figure above
# would be meaningless.
B="$B" BENCH_OUT="$WORK/control" RS_PAGES="/intro/overview.html" RS_NEW_PAGES="" \
  RS_VISITS=7 RS_HTML_ONLY=0 RS_MEASURE=1 RS_LOADS=0 RS_NEW_LOADS=0 RS_SETTLE=4 \
  RS_OPTS="$(echo $LEARN_OPTS)" timeout -k 5 90 "$ROOT/tools/bench/realsite.sh" \
  >"$WORK/control.out" 2>&1
rc=$?
assert_eq "control: realsite.sh exits 0" 0 "$rc"
sed 's/^/# control: /' "$WORK/control.out" | grep -E 'hint quality|^# control: (visited|pages|  visited)'
S=$WORK/control/run-1/summary.tsv
assert_eq "control: the measuring visit got a 103" 1 "$(v visited.with_103)"
assert_ge "control: at least 3 hinted files loaded" 3 "$(v visited.hits)"
if ge "$(v visited.used_ratio)" 0.9; then
  ok "control: Chromium took >= 90% of them from the 103 ($(v visited.used) of $(v visited.hits))"
else
  fail "control: Chromium took >= 90% of them from the 103" \
    "$(v visited.used) of $(v visited.hits) (initiatorType early-hints)"
fi
S=$OUT/run-1/summary.tsv

# ---- the issue's thresholds --------------------------------------------------
# threshold NAME OK DETAIL: a check REALSITE_EXPECT_FAIL=1 lets miss.
threshold() {
  if [ "$2" = 1 ]; then
    if [ "$REALSITE_EXPECT_FAIL" = 1 ]; then
      ok "$1 (passes although REALSITE_EXPECT_FAIL=1: $3)"
    else
      ok "$1 ($3)"
    fi
  elif [ "$REALSITE_EXPECT_FAIL" = 1 ]; then
    printf 'xfail - %s: %s\n' "$1" "$3"
  else
    fail "$1" "$3"
  fi
}
for g in visited unvisited; do
  d="$(v $g.visits) visits, $(v $g.with_103) with a 103, $(v $g.hinted) hinted, $(v $g.hits) of \
$(v $g.loaded) loaded; depth 1 P $(v $g.precision_d1) R $(v $g.recall_d1), depth 2 P \
$(v $g.precision_d2) R $(v $g.recall_d2)"
  p=$(v $g.precision)
  r=$(v $g.recall)
  threshold "$g pages: hint precision >= 0.95" "$(ge "$p" 0.95 && echo 1)" "precision $p; $d"
  threshold "$g pages: hint recall >= 0.9" "$(ge "$r" 0.9 && echo 1)" "recall $r; $d"
  n=$(v $g.wrong_query)
  threshold "$g pages: hints sent, none with a query the page does not request" \
    "$([ "$n" = 0 ] && [ "$(v $g.with_103)" -gt 0 ] 2>/dev/null && echo 1)" \
    "$n wrong-query hints in $(v $g.with_103) 103s"
  threshold "$g pages: every 103 lists the stylesheets first" \
    "$([ "$(v $g.styles_first)" = "$(v $g.visits)" ] && echo 1)" \
    "$(v $g.styles_first) of $(v $g.visits) visits"
done
finish
