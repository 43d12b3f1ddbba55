#!/usr/bin/env bash
# coverage.sh: line coverage each fuzz harness reaches, as `make
# fuzz-coverage` runs it after `make fuzz`.
#
#   B=build/fuzzcov FUZZ_B=build/fuzz tests/fuzz/coverage.sh [NAME...]
#
# Replays the working corpus a campaign grew ($FUZZ_B/corpus/NAME) plus the
# in-tree one through the replay binaries built with clang's source-based
# coverage ($B/replay_NAME), and prints llvm-cov's report for the files
# that harness is about.
set -u
cd "$(dirname "$0")/../.." || exit 2
B=${B:-build/fuzzcov}
FUZZ_B=${FUZZ_B:-build/fuzz}
PROFDATA=${LLVM_PROFDATA:-llvm-profdata-14}
COV=${LLVM_COV:-llvm-cov-14}
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(h1 h2 response config digest pagekey link)

files_of() {
  case $1 in
  h1) echo proxy/h1.c base/http.c proxy/upstream.c ;;
  h2) echo proxy/h2.c base/http.c proxy/upstream.c proxy/hints.c \
    proxy/pushed.c ;;
  response) echo proxy/upstream.c base/http.c ;;
  config) echo config/config.c ;;
  digest) echo proxy/digest.c ;;
  pagekey) echo learner/pagekey.c ;;
  link) echo proxy/linkfield.c proxy/hints_declared.c ;;
  esac
}

mkdir -p "$B/cov"
for n in "${names[@]}"; do
  dirs=("tests/fuzz/corpus/$n")
  [ -d "$FUZZ_B/corpus/$n" ] && dirs+=("$FUZZ_B/corpus/$n")
  rm -f "$B/cov/$n".*
  LLVM_PROFILE_FILE="$B/cov/$n.profraw" "$B/replay_$n" "${dirs[@]}" \
    >"$B/cov/$n.out" 2>&1 || { echo "coverage $n: replay failed"; continue; }
  "$PROFDATA" merge -o "$B/cov/$n.profdata" "$B/cov/$n.profraw" || continue
  echo "== $n ($(cat "$B/cov/$n.out" | tail -n 1))"
  # shellcheck disable=SC2046
  "$COV" report "$B/replay_$n" -instr-profile="$B/cov/$n.profdata" \
    $(files_of "$n") | awk '/\.c / || /^TOTAL/' |
    awk '{f = $1; sub(/.*\//, "", f);
          printf "  %-12s lines %5d of %5d covered (%s)\n", f, $8 - $9, $8,
                 $10}'
done
