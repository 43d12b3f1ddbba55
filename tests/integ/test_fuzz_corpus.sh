#!/usr/bin/env bash
# test_fuzz_corpus.sh: every fuzz harness replays its in-tree corpus
# (tests/fuzz/corpus/NAME: the seeds and each input that once found a bug)
# through the replay main, so those inputs are checked by make test and,
# under ASan and UBSan, by make asan, not only by a fuzz campaign.
. "$(dirname "$0")/lib.sh"

for n in h1 h2 response config digest pagekey link; do
  bin=$B/replay_$n
  dir=$ROOT/tests/fuzz/corpus/$n
  if [ ! -x "$bin" ]; then
    fail "replay $n" "$bin not built"
    continue
  fi
  want=$(find "$dir" -type f | wc -l)
  out=$(cd "$ROOT" && timeout 120 "$bin" "$dir" 2>"$WORK/$n.err")
  rc=$?
  if [ "$rc" -eq 0 ] && [ "$out" = "$want inputs" ]; then
    ok "fuzz corpus $n: $want inputs replayed clean"
  else
    fail "fuzz corpus $n" "exit $rc, '$out' of $want: $(tail -n 30 "$WORK/$n.err")"
  fi
done
finish
