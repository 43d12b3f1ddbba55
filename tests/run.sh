#!/usr/bin/env bash
# run.sh: herald's whole test suite, as "make test" runs it (B=build
# tests/run.sh; B=build/asan for the sanitizer build).
#
#   1. every $B/tests/test_* cmocka unit binary
#   2. every tests/integ/test_*.sh integration script
#
# The last line printed is exactly "N passed, N failed" (totals over both);
# the exit status is non-zero if anything failed.
#
#   TESTS=ERE        run only tests whose name matches, e.g. TESTS=basic,
#                    TESTS='test_config|bad_input'
#   UNIT_TIMEOUT=S   per unit binary (default 120)
#   INTEG_TIMEOUT=S  per integration script (default 300)
#   SUITES=integ     only the integration scripts (default: "unit integ")
#   HERALD_WORKERS=N the integration scripts' herald runs N workers
#                    (tests/integ/lib.sh; make integ-workers2)
set -u

cd "$(dirname "$0")/.." || exit 2
B=${B:-build}
export B
TESTS=${TESTS:-}
SUITES=${SUITES:-unit integ}
UNIT_TIMEOUT=${UNIT_TIMEOUT:-120}
INTEG_TIMEOUT=${INTEG_TIMEOUT:-300}

total_pass=0
total_fail=0
failed_names=()

selected() { [ -z "$TESTS" ] || printf '%s\n' "$1" | grep -Eq -- "$TESTS"; }

# ---- unit tests -------------------------------------------------------------

for t in "$B"/tests/test_*; do
  case " $SUITES " in *" unit "*) ;; *) break ;; esac
  [ -f "$t" ] && [ -x "$t" ] || continue
  name=$(basename "$t")
  selected "$name" || continue
  echo "=== unit: $name"
  out=$(CMOCKA_MESSAGE_OUTPUT=STDOUT timeout "$UNIT_TIMEOUT" "$t" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  # A binary may run several groups: sum every summary line.
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
  # A crash, timeout or sanitizer abort leaves no (or a short) summary:
  # a non-zero exit with nothing counted as failed is one failure.
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "FAIL - $name exited with status $rc"
    f=1
  fi
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
  [ "$f" -gt 0 ] && failed_names+=("$name")
done

# ---- integration tests ------------------------------------------------------

for s in tests/integ/test_*.sh; do
  [ -f "$s" ] || continue
  name=$(basename "$s" .sh)
  selected "$name" || continue
  echo "=== integ: $name"
  log=$(mktemp "/tmp/herald-run-$name.XXXXXX")
  # Streamed as it runs; the script's own last count line is its result.
  timeout -k 10 "$INTEG_TIMEOUT" bash "$s" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
  rm -f "$log"
  if [ -n "$counts" ]; then
    p=${counts%% passed*}
    f=${counts#*, }
    f=${f%% failed}
  else
    p=0
    f=0
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    if [ "$rc" -eq 124 ]; then
      echo "FAIL - $name timed out after ${INTEG_TIMEOUT}s"
    else
      echo "FAIL - $name exited with status $rc"
    fi
    f=1
  fi
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
  [ "$f" -gt 0 ] && failed_names+=("$name")
done

if [ ${#failed_names[@]} -gt 0 ]; then
  echo "failing: ${failed_names[*]}"
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
