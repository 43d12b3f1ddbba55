#!/usr/bin/env bash
# test_bench.sh: make bench's tables have the shape the README promises
# (a short run: herald, herald-pipelined and nginx, h2c 1 KB, 1 s per run,
# idle h2c memory only). Checks the shape, never the speed: a row per cell
# with a figure per proxy and herald's and herald-pipelined's ratios to the
# best other proxy (never a herald configuration), the line saying what
# herald-pipelined is (with BENCH_PIPE's figures), the 2-worker section
# naming how herald ran, a memory row per proxy but herald-pipelined, and
# no failed request.
. "$(dirname "$0")/lib.sh"

skip_unless bench --no-standin "the bench starts its own proxies" \
  --built herald connhold fault_backend --cmd h2load nginx

OUT=$WORK/out
out=$(B="$B" BENCH_OUT="$OUT" BENCH_QUICK=1 BENCH_PROXIES="herald herald-pipelined nginx" \
  BENCH_PIPE="50 4" \
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
PIPE_LINE="herald-pipelined is the same herald binary with -o limits.backend_max_connections=50 -o limits.backend_pipeline=4 (opt-in backend pipelining, not the default)"
assert_contains "1 worker: says what herald-pipelined is" "$PIPE_LINE." "$one"
assert_match "1 worker: header names the proxies and both herald ratios" \
  '^\| Cell \| herald \| herald-pipelined \| nginx \| herald / best \| herald-pipelined / best \|$' "$one"
assert_match "1 worker: h2c 1 KB row, CPU us/req of each, nginx the best, two ratios" \
  "^\| h2c 1 KB \| $NUM \| $NUM \| \*\*$NUM\*\* \| $NUM \| $NUM \|$" "$one"
for h in herald herald-pipelined; do
  assert_match "1 worker: $h against nginx, with the p99 ratio" \
    "^\| h2c 1 KB \| $h \| $NUM \| nginx \| $NUM \| $NUM \| $NUM \|$" "$one"
  assert_match "1 worker: every figure of $h, with peak RSS" \
    "\| h2c 1 KB \| $h \| 1 \| $NUM \| $NUM \| $NUM \| $NUM \| $NUM \| $NUM \| 0 \|" "$one"
done
# what each herald ran with, as the kernel had its command line
cmd() { awk -F'\t' -v l="$1" -v w="$2" '$1 == l && $2 == w { print $3 }' "$OUT/commands.tsv" 2>/dev/null; }
PIPE_OPTS="-o limits.backend_max_connections=50 -o limits.backend_pipeline=4"
assert_contains "herald-pipelined ran with BENCH_PIPE's options" "$PIPE_OPTS" "$(cmd herald-pipelined 1)"
assert_match "herald ran with its defaults" '/herald --listen' "$(cmd herald 1)"
assert_not_contains "herald ran without pipelining" "backend_pipeline" "$(cmd herald 1)"
assert_eq "ratios.tsv: herald's and herald-pipelined's ratios to nginx" \
  "h2c:1k.bin nginx 12" \
  "$(awk -F'\t' 'NR == 2 && $5 != "NA" && $10 != "NA" { print $1, $3, NF }' "$OUT/ratios.tsv" 2>/dev/null)"
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
assert_contains "2 workers: says what herald-pipelined is" "$PIPE_LINE; the cap is per worker." "$two"
assert_match "2 workers: req/s (CPU) of each and both ratios" \
  "^\| h2c 1 KB \| $NUM \($NUM\) \| $NUM \($NUM\) \| \*\*$NUM \($NUM\)\*\* \| $NUM \| $NUM \|$" "$two"
assert_contains "2 workers: herald's columns are $h2 and ${h2/herald/herald-pipelined}" \
  "| Cell | $h2 | ${h2/herald/herald-pipelined} | nginx | $h2 / best | ${h2/herald/herald-pipelined} / best |" "$two"
assert_contains "2 workers: herald-pipelined ran with BENCH_PIPE's options" \
  "$PIPE_OPTS" "$(cmd "${h2/herald/herald-pipelined}" 2)"
assert_eq "2 workers: one run per proxy, recorded with 2 workers" \
  3 "$(awk -F'\t' '$1 == 2' "$OUT/attempts.tsv" 2>/dev/null | wc -l)"

mem=$(section "Memory per connection")
for p in herald nginx; do
  assert_match "memory: $p's KB for an idle h2c connection (other kinds not run)" \
    "^\| $p \| $NUM \| NA \| NA \| NA \| NA \| $NUM \|$" "$mem"
done
assert_no_match "memory: no herald-pipelined row" '^\| herald-pipelined ' "$mem"
assert_contains "memory: says herald-pipelined is left out" \
  "herald-pipelined is not measured here" "$mem"
finish
