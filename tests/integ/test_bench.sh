#!/usr/bin/env bash
# test_bench.sh: make bench's tables have the shape the README promises
# (a short run: herald and nginx, h2c 1 KB, 1 s per run, idle h2c memory
# only). Checks the shape, never the speed: a row per cell with a figure
# per proxy and herald's ratio to the best other, the 2-worker section
# naming how herald ran, a memory row per proxy, and no failed request.
. "$(dirname "$0")/lib.sh"

skip_unless bench --no-standin "the bench starts its own proxies" \
  --built herald connhold fault_backend --cmd h2load nginx

OUT=$WORK/out
out=$(B="$B" BENCH_OUT="$OUT" BENCH_QUICK=1 BENCH_PROXIES="herald nginx" \
  BENCH_CELLS="h2c:1k.bin" BENCH_DURATION=1 BENCH_WARMUP=1 \
  BENCH_CONN_N=20 BENCH_CONN_WARM=4 BENCH_CONN_KINDS=h2c-idle \
  BENCH_RECORD=0 BENCH_LEARN=0 BENCH_PAGELOAD=0 \
  timeout -k 5 90 "$ROOT/tools/bench/bench.sh" 2>"$WORK/bench.err")
rc=$?
assert_eq "bench.sh exits 0" 0 "$rc"
[ "$rc" = 0 ] || log "stderr: $(tail -n 15 "$WORK/bench.err")"
assert_eq "what is printed is tables.md" "$(cat "$OUT/tables.md" 2>/dev/null)" "$out"

NUM='[0-9]+(\.[0-9]+)?'
# section TITLE: the lines of the printed section headed "### TITLE"
section() {
  printf '%s\n' "$out" | awk -v t="### $1" '/^### / { on = ($0 == t); next } on'
}
one=$(section "One worker each")
assert_match "1 worker: header names herald, nginx and the ratio" \
  '\| Cell \| herald \| nginx \| herald / best \|' "$one"
assert_match "1 worker: h2c 1 KB row, CPU us/req of both and a ratio" \
  "\| h2c 1 KB \| $NUM \| \*\*$NUM\*\* \| $NUM \|" "$one"
assert_match "1 worker: herald against the best, with the p99 ratio" \
  "\| h2c 1 KB \| nginx \| $NUM \| $NUM \| $NUM \| $NUM \|" "$one"
assert_match "1 worker: every figure, with peak RSS" \
  "\| h2c 1 KB \| herald \| 1 \| $NUM \| $NUM \| $NUM \| $NUM \| $NUM \| $NUM \| 0 \|" "$one"
assert_no_match "1 worker: no failed or empty run" 'WARNING' "$one"

two=$(section "Two workers each")
if "$B/herald" -t --listen 127.0.0.1:1 --backend 127.0.0.1:1 --workers 2 \
  >/dev/null 2>&1; then
  h2=herald
  assert_no_match "2 workers: herald runs with --workers" 'no workers yet' "$two"
else
  h2=herald-1loop
  assert_contains "2 workers: says herald has no workers yet" \
    "herald has no workers yet" "$two"
fi
assert_match "2 workers: req/s (CPU) of both and the ratio" \
  "\| h2c 1 KB \| $NUM \($NUM\) \| \*\*$NUM \($NUM\)\*\* \| $NUM \|" "$two"
assert_contains "2 workers: herald's column is $h2" "| Cell | $h2 | nginx |" "$two"
assert_eq "2 workers: one run per proxy, recorded with 2 workers" \
  2 "$(awk -F'\t' '$1 == 2' "$OUT/attempts.tsv" 2>/dev/null | wc -l)"

mem=$(section "Memory per connection")
for p in herald nginx; do
  assert_match "memory: $p's KB for an idle h2c connection (other kinds not run)" \
    "^\| $p \| $NUM \| NA \| NA \| NA \| NA \| $NUM \|$" "$mem"
done
finish
