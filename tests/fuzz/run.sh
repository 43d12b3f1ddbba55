#!/usr/bin/env bash
# run.sh: runs each fuzz harness for a bounded time, as `make fuzz` does.
#
#   B=build/fuzz FUZZ_SECONDS=30 tests/fuzz/run.sh [NAME...]
#
# Each harness NAME (all of them by default) runs for FUZZ_SECONDS on a
# working copy of its corpus in $B/corpus/NAME (new inputs land there; the
# in-tree seeds in tests/fuzz/corpus/NAME are only read), with
# tests/fuzz/NAME.dict when there is one. A crash, a sanitizer report, a
# broken invariant, a leak or a slow input fails the run and leaves the
# input in $B/artifacts/NAME/. One line per harness reports the runs,
# executions per second and the coverage reached (libFuzzer's cov: edges
# and ft: features). To keep a found input as a regression test, copy it
# into tests/fuzz/corpus/NAME/: make test replays that directory.
set -u
cd "$(dirname "$0")/../.." || exit 2
B=${B:-build/fuzz}
SECS=${FUZZ_SECONDS:-30}
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(h1 h2 response config digest pagekey link)

failed=0
for n in "${names[@]}"; do
  bin=$B/fuzz_$n
  if [ ! -x "$bin" ]; then
    echo "fuzz $n: $bin not built (make fuzz)"
    failed=1
    continue
  fi
  work=$B/corpus/$n
  art=$B/artifacts/$n
  mkdir -p "$work" "$art"
  log=$B/fuzz-$n.log
  dict=()
  [ -f "tests/fuzz/$n.dict" ] && dict=("-dict=tests/fuzz/$n.dict")
  "$bin" -max_total_time="$SECS" -print_final_stats=1 -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$art/" "${dict[@]}" \
    "$work" "tests/fuzz/corpus/$n" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(printf '%s' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(printf '%s' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  corp=$(printf '%s' "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
  if [ "$rc" -eq 0 ]; then
    status=ok
  else
    status="FAILED (exit $rc; see $log and $art/)"
    failed=1
  fi
  printf 'fuzz %-8s %4ss %9s runs %7s exec/s  cov %5s  ft %6s  corpus %5s  %s\n' \
    "$n" "$SECS" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" \
    "${corp:-?}" "$status"
  if [ "$rc" -ne 0 ]; then
    grep -E 'ERROR|==fuzz==|SUMMARY|Test unit written|runtime error' "$log" | head -20
  fi
done
exit $failed
