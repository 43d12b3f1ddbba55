# common.sh: process and port helpers shared by the benchmark scripts
# (sourced by bench.sh and pageload.sh after they define log, die,
# stop_pid, STARTED and WORK).

cleanup() {
  local pid
  trap - EXIT INT TERM
  for pid in "${STARTED[@]}"; do stop_pid "$pid"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

listening() { (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }

# wait_port PORT PID: until PORT accepts connections (max 10 s) while PID lives
wait_port() {
  local i
  for i in $(seq 1 200); do
    listening "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# pick_port VAR: set VAR to a port nothing listens on, from a random base
# (so concurrent runs and shared/peers' fixed ports are left alone), below
# the ephemeral range (32768+) so an outgoing connection never holds it.
NEXT_PORT=$((20000 + RANDOM % 10000))
pick_port() {
  local i
  for i in $(seq 1 200); do
    NEXT_PORT=$((NEXT_PORT + 1))
    if ! listening "$NEXT_PORT"; then printf -v "$1" '%s' "$NEXT_PORT"; return 0; fi
  done
  die "no free port found"
}
