#!/usr/bin/env bash
# test_pageload.sh: the page-load benchmark's tooling, on a short link
# (tools/bench/pageload.sh with 20 ms RTT, 50 ms think, one load per arm).
# Checks what the benchmark's numbers rest on, not the numbers: every arm
# loads all 9 resources of the demo front page; direct uses HTTP/1.1 and
# more than one connection; herald with delivery off sends nothing; push
# delivers the 8 learned assets as pushes with only the page requested;
# hints names the 8 and the client requests them from the 103; push and
# hints beat off by at least the stylesheet -> font round trips.
. "$(dirname "$0")/lib.sh"

skip_unless pageload --no-standin "herald's own feature; no stand-in" \
  --built pageload relay fault_backend

out=$(B="$B" BENCH_OUT="$WORK/out" PL_PAGES=demo PL_RUNS=1 PL_RTT=20 PL_THINK=50 \
  timeout -k 5 120 "$ROOT/tools/bench/pageload.sh" 2>&1)
rc=$?
assert_eq "pageload.sh exits 0" 0 "$rc"
[ "$rc" = 0 ] || log "output: $(echo "$out" | tail -n 15)"
RAW=$WORK/out/pageload-demo.tsv
# field ARM COLUMN: one column of the arm's line (see the header of $RAW).
field() {
  awk -F'\t' -v a="$1" -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $1 == a { print $col[c]; exit }' "$RAW" 2>/dev/null
}
for arm in direct off push hints; do
  assert_eq "$arm: load complete" true "$(field $arm complete)"
  assert_eq "$arm: 9 resources (page, CSS, font, 2 scripts, 4 images)" 9 "$(field $arm resources)"
done
assert_ge "direct: more than one HTTP/1.1 connection" 2 "$(field direct conns)"
assert_eq "off: nothing pushed or hinted" "0 0" "$(field off pushed) $(field off hinted)"
assert_eq "off: 9 requests" 9 "$(field off requests)"
assert_eq "push: 8 pushed, only the page requested" "8 1" "$(field push pushed) $(field push requests)"
assert_eq "hints: 8 hinted, none pushed" "8 0" "$(field hints hinted) $(field hints pushed)"
# off needs two more round trips after the page (stylesheet, then font):
# push and hints have them in flight before it arrives.
for arm in push hints; do
  gain=$(awk -v a="$(field off ms)" -v b="$(field $arm ms)" 'BEGIN { printf "%d", a - b }')
  assert_ge "$arm: at least 1.5 RTT faster than off (${gain} ms)" 30 "$gain"
done
finish
