#!/usr/bin/env bash
# bench.sh -- herald beside nghttpx, h2o and nginx as HTTP/2 front proxies
# on loopback, every proxy in front of the same nginx backend.
#
# Usage: B=build tools/bench/bench.sh        (what "make bench" runs)
#
# Method (as ../shared/peers measures): an nginx backend (1 worker, static
# 1k.bin and 100k.bin, keep-alive) and, for every cell (h2c 1 KB, h2c
# 100 KB, TLS 1 KB, TLS 100 KB), h2load -c 100 -m 10 against each proxy in
# turn, interleaved: repetition r runs every cell against every proxy, the
# proxies' order rotated by one each repetition. Each proxy is started
# afresh for each run, so its peak RSS is that run's. One worker each:
# proxies pinned to CPU 1, the backend and h2load to CPU 0. Each run is
# fixed-duration (-D) after a warm-up (--warm-up-time).
#
# Per run: req/s (h2load), p50/p99 latency (from h2load's per-request
# --log-file), proxy CPU time over the measured window (utime+stime of the
# proxy's process tree from /proc/PID/stat) divided by the requests done,
# peak RSS (sum of VmHWM over the tree), and the CPU the rest of the
# machine used meanwhile (all CPUs' busy time from /proc/stat minus proxy,
# backend, h2load and ksoftirqd; in % of one core). The machine may be
# shared: before a run the bench waits (BENCH_QUIET_WAIT s at most) until
# others use less than BENCH_OTHER_MAX % of a core, and a run during which
# they used more is retried (BENCH_RETRIES times), keeping the quietest
# attempt. Tables
# show medians; the key one is CPU µs per request with herald's ratio to
# the best other proxy per cell (lower is better), and herald-pipelined's.
#
# Two herald configurations: herald is herald as shipped (its defaults);
# herald-pipelined is the same binary tuned with opt-in backend
# pipelining, -o limits.backend_max_connections=CAP
# -o limits.backend_pipeline=DEPTH (BENCH_PIPE), not the default. "The
# best other proxy" is always nghttpx, h2o or nginx, never a herald
# configuration.
#
# 2 workers (unless BENCH_WORKERS2=0): the same cells with every proxy at
# 2 workers and nothing pinned; req/s (and CPU/req). herald runs with
# --workers 2 (or -o server.workers=2) as soon as herald -t accepts it;
# until then it runs its one event loop, unpinned, in a column labelled
# herald-1loop, and the section says so.
#
# Memory per connection (unless BENCH_CONNMEM=0): tools/bench/connmem.sh;
# the RSS an idle HTTP/2 connection (h2c and TLS), an idle HTTP/1.1
# connection and one stream in flight cost each proxy.
#
# Recording overhead (unless BENCH_RECORD=0): herald with --db against
# herald without, interleaved rec-on rec-off rec-on ..., on a page mix over
# h2c: the demo shop's front page and its eight assets (tools/demo/site),
# h2load cycling through the nine URLs with "sec-fetch-dest: document",
# "sec-fetch-mode: navigate" and "referer: <front page>" on every request
# (h2load has no per-URL headers), so every request is a navigation and
# every front page a visit. Same columns, a ratio row rec-on/rec-off, and
# per run the recorder's dropped observations (herald logs the exact count
# when it stops) and the visits written (heraldctl stats: every visit is
# in one arm or among the other pages' visits; treated is push + hints).
#
# Page load (unless BENCH_PAGELOAD=0): tools/bench/pageload.sh, run last.
# Cold-cache loads of the demo shop's front page by build/pageload over an
# emulated link (build/relay: 100 ms RTT, 10 Mbit/s; 200 ms backend think
# time): straight to the backend over HTTP/1.1, and through herald with
# delivery off, push and 103 Early Hints, against the physical limit. Its
# own PL_* settings are documented in that script.
#
# Environment:
#   B=build               where herald is ($B/herald)
#   BENCH_ONLY=pageload   run only the page-load section
#   BENCH_QUICK=1         a sanity run of every section: one short
#                         repetition per cell, 200 connections for memory,
#                         one page load per arm
#   BENCH_PROXIES="herald herald-pipelined nghttpx h2o nginx"   the
#                         proxies compared, in order; a name given twice
#                         runs twice (NAME-2), which shows the noise of one
#                         proxy against itself (BENCH_A/BENCH_B, if set,
#                         are the first two)
#   BENCH_PIPE="100 10"   herald-pipelined's CAP and DEPTH: herald with
#                         -o limits.backend_max_connections=CAP
#                         -o limits.backend_pipeline=DEPTH (DEPTH > 1; in
#                         the 2-worker section CAP is per worker, as
#                         herald counts it)
#   BENCH_HERALD2=PATH    herald-2 (herald's second appearance in
#                         BENCH_PROXIES; herald-pipelined-2 likewise) runs
#                         this binary: an interleaved A/B of two builds,
#                         e.g. BENCH_PROXIES="herald herald"
#                         BENCH_HERALD2=/tmp/herald-before; the matrix then
#                         has a herald / herald-2 column
#   BENCH_REPS=3 BENCH_DURATION=8 BENCH_WARMUP=2 BENCH_C=100 BENCH_M=10
#   BENCH_THREADS=1       h2load -t
#   BENCH_CELLS="h2c:1k.bin h2c:100k.bin tls:1k.bin tls:100k.bin"
#                         (BENCH_CELLS= runs no throughput cell)
#   BENCH_WORKERS2=1      the 2-worker section (0: skip); BENCH_W2_REPS
#                         (default BENCH_REPS)
#   BENCH_HERALD_WORKERS=0  run herald with one loop even if it has
#                         workers (unset: herald -t decides)
#   BENCH_CONNMEM=1       the memory section (0: skip); BENCH_CONN_KINDS
#                         (default "h2c-idle tls-idle h1-idle h2c-stream");
#                         BENCH_CONN_N=1000
#                         connections measured (quick: 200) after
#                         BENCH_CONN_WARM=64; BENCH_CONN_REPS=1
#   BENCH_OTHER_MAX=50 BENCH_RETRIES=1 BENCH_QUIET_WAIT=5   (quick: 0 retries,
#                         no wait)
#   BENCH_RECORD=1        the recording-overhead section (0: skip it)
#   BENCH_LEARN=1         the learner section: learnbench (BENCH_LEARN_VISITS,
#                         default 1000000 visits over 10000 pages; quick:
#                         100000) and loop latency while herald replays
#                         BENCH_LEARN_DB_VISITS (100000; quick: 20000) and
#                         recomputes (0: skip)
#   BENCH_RECORD_REPS=2 BENCH_RECORD_DURATION=6   (quick: 1 and 3)
#   BENCH_PAGELOAD=1      the page-load section (0: skip it)
#   BENCH_OUT=DIR         results (default $B/bench/<timestamp>): raw*.tsv
#                         (every run), summary*.tsv (medians), ratios.tsv,
#                         attempts.tsv, commands.tsv (each label's proxy
#                         command line), tables.md (what is printed),
#                         h2load/*.txt, logs
#   BENCH_PIN=0           do not pin to CPUs
#   BENCH_PROFILE=1       profile herald instead of comparing: only
#                         herald, only the throughput cells (other sections
#                         off unless asked for); during each measured
#                         window perf samples herald (perf record -e
#                         cpu-clock, $OUT/profile/CELL.repN.data) and
#                         counts its system calls (perf stat on the
#                         raw_syscalls and syscalls tracepoints); the
#                         report gives syscalls per request and each
#                         cell's hottest symbols and libraries. Its CPU
#                         figures include the sampling's cost: compare
#                         them with nothing.
#
# Everything started here is stopped at exit, by the PIDs recorded here.
set -uo pipefail

B=${B:-build}
QUICK=${BENCH_QUICK:-0}
PROFILE=${BENCH_PROFILE:-0}
if [[ $PROFILE == 1 ]]; then
  BENCH_PROXIES=${BENCH_PROXIES:-herald}
  BENCH_WORKERS2=${BENCH_WORKERS2:-0} BENCH_CONNMEM=${BENCH_CONNMEM:-0}
  BENCH_RECORD=${BENCH_RECORD:-0} BENCH_LEARN=${BENCH_LEARN:-0}
  BENCH_PAGELOAD=${BENCH_PAGELOAD:-0}
fi
if [[ -n ${BENCH_PROXIES:-} ]]; then
  read -r -a PROXIES <<<"$BENCH_PROXIES"
elif [[ -n ${BENCH_A:-}${BENCH_B:-} ]]; then
  PROXIES=("${BENCH_A:-herald}" "${BENCH_B:-nghttpx}")
else
  PROXIES=(herald herald-pipelined nghttpx h2o nginx)
fi
read -r PIPE_CAP PIPE_DEPTH PIPE_REST <<<"${BENCH_PIPE:-100 10}"

if [[ $QUICK == 1 ]]; then
  REPS=${BENCH_REPS:-1}; DUR=${BENCH_DURATION:-2}; WARM=${BENCH_WARMUP:-1}
  CONN_N=${BENCH_CONN_N:-200}; RETRIES=${BENCH_RETRIES:-0}; QUIET_WAIT=${BENCH_QUIET_WAIT:-0}
  REC_REPS=${BENCH_RECORD_REPS:-1}; REC_DUR=${BENCH_RECORD_DURATION:-3}
else
  REPS=${BENCH_REPS:-3}; DUR=${BENCH_DURATION:-8}; WARM=${BENCH_WARMUP:-2}
  CONN_N=${BENCH_CONN_N:-1000}; RETRIES=${BENCH_RETRIES:-1}; QUIET_WAIT=${BENCH_QUIET_WAIT:-5}
  REC_REPS=${BENCH_RECORD_REPS:-2}; REC_DUR=${BENCH_RECORD_DURATION:-6}
fi
C=${BENCH_C:-100}; M=${BENCH_M:-10}; THREADS=${BENCH_THREADS:-1}
CELLS=${BENCH_CELLS-"h2c:1k.bin h2c:100k.bin tls:1k.bin tls:100k.bin"}
W2=${BENCH_WORKERS2:-1}; W2_REPS=${BENCH_W2_REPS:-$REPS}
CONNMEM=${BENCH_CONNMEM:-1}; CONN_WARM=${BENCH_CONN_WARM:-64}; CONN_REPS=${BENCH_CONN_REPS:-1}
OTHER_MAX=${BENCH_OTHER_MAX:-50}
REC=${BENCH_RECORD:-1}
LEARN=${BENCH_LEARN:-1}
if [[ $QUICK == 1 ]]; then
  LEARN_VISITS=${BENCH_LEARN_VISITS:-100000}; LEARN_DB_VISITS=${BENCH_LEARN_DB_VISITS:-20000}
else
  LEARN_VISITS=${BENCH_LEARN_VISITS:-1000000}; LEARN_DB_VISITS=${BENCH_LEARN_DB_VISITS:-100000}
fi
PIN=${BENCH_PIN:-1}
HZ=$(getconf CLK_TCK)
PAGELOAD=${BENCH_PAGELOAD:-1}
if [[ ${BENCH_ONLY:-} == pageload ]]; then
  exec env B="$B" "$(dirname "$0")/pageload.sh"
elif [[ -n ${BENCH_ONLY:-} ]]; then
  echo "bench.sh: BENCH_ONLY must be pageload" >&2
  exit 2
fi

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
. "$BENCH_DIR/proxies.sh"
. "$BENCH_DIR/tables.sh"
. "$BENCH_DIR/connmem.sh"
. "$BENCH_DIR/profile.sh"

# Labels: the proxy names; a name's second appearance is NAME-2, and so on.
LABELS=()
declare -A SEEN=()
for p in "${PROXIES[@]}"; do
  case $p in herald | herald-pipelined | nghttpx | h2o | nginx) ;;
    *) die "unknown proxy '$p' (herald|herald-pipelined|nghttpx|h2o|nginx)" ;; esac
  SEEN[$p]=$(( ${SEEN[$p]:-0} + 1 ))
  if (( SEEN[$p] == 1 )); then LABELS+=("$p"); else LABELS+=("$p-${SEEN[$p]}"); fi
done
# H_LABEL, P_LABEL: the first herald and herald-pipelined, the ones whose
# ratios to the best other proxy are shown (empty when not compared).
H_LABEL= P_LABEL=
[[ -n ${SEEN[herald]:-} ]] && H_LABEL=herald
[[ -n ${SEEN[herald-pipelined]:-} ]] && P_LABEL=herald-pipelined
[[ $PIPE_CAP =~ ^[1-9][0-9]*$ && $PIPE_DEPTH =~ ^[1-9][0-9]*$ && -z $PIPE_REST ]] &&
  (( PIPE_DEPTH > 1 )) || die "BENCH_PIPE must be \"CAP DEPTH\", two integers, DEPTH > 1 (got '${BENCH_PIPE:-}')"
PIPE_OPTS=(-o "limits.backend_max_connections=$PIPE_CAP" -o "limits.backend_pipeline=$PIPE_DEPTH")
PIPE_NOTE="herald-pipelined is the same herald binary with ${PIPE_OPTS[*]} (opt-in backend pipelining, not the default)"
PROFILE_TOOLS=; [[ $PROFILE == 1 ]] && PROFILE_TOOLS=perf
for t in nginx h2load openssl awk ss $PROFILE_TOOLS; do
  command -v "$t" >/dev/null 2>&1 || die "$t not found (make deps)"
done
for p in nghttpx h2o; do
  if [[ " ${PROXIES[*]} " == *" $p "* ]]; then
    command -v "$p" >/dev/null 2>&1 || die "$p not found (make deps)"
  fi
done
if [[ -n $H_LABEL$P_LABEL || $REC != 0 || $LEARN != 0 ]]; then
  [[ -x $B/herald ]] || die "$B/herald not built (make), or leave herald out"
  HERALD=$(cd "$(dirname "$B/herald")" && pwd)/herald
  HERALD_WORKERS=$(herald_workers_style)
  if [[ -n $P_LABEL ]] && ! "$HERALD" -t --listen 127.0.0.1:1 --backend 127.0.0.1:1 \
      "${PIPE_OPTS[@]}" >/dev/null 2>&1; then
    die "$B/herald -t refuses ${PIPE_OPTS[*]}: leave herald-pipelined out"
  fi
else
  HERALD_WORKERS=none
fi
if [[ $CONNMEM != 0 ]]; then
  for b in connhold fault_backend; do
    [[ -x $B/$b ]] || die "$B/$b not built (make $B/$b)"
  done
fi
if [[ $REC != 0 && ! -f $ROOT/tools/demo/site/index.html ]]; then
  log "no tools/demo/site: recording-overhead section skipped"; REC=0
fi
if [[ $PIN == 1 ]] && command -v taskset >/dev/null 2>&1 && (( $(nproc) >= 2 )); then
  PIN_PROXY="taskset -c 1"; PIN_LOAD="taskset -c 0"
else
  PIN_PROXY=""; PIN_LOAD=""; PIN=0
fi

OUT=${BENCH_OUT:-$B/bench/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/h2load" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
# nginx workers (not root) must read the site, so the work dir is world-readable.
WORK=$(mktemp -d /tmp/herald-bench.XXXXXX) || die "mktemp failed"
chmod 755 "$WORK"
mkdir -p "$WORK/site" "$WORK/backend" "$WORK/run"

NOFILE=$(ulimit -Hn); [[ $NOFILE == unlimited ]] && NOFILE=65536
ulimit -n "$NOFILE" 2>/dev/null || true

# ----------------------------------------------------------- process control
STARTED=()   # every PID we started and have not yet stopped

# tree PID: the PID and all its descendants
tree() {
  local c
  echo "$1"
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do tree "$c"; done
}

# forget PID: drop PID from STARTED
forget() {
  local p keep=()
  for p in "${STARTED[@]}"; do [[ $p != "$1" ]] && keep+=("$p"); done
  STARTED=("${keep[@]}")
}

# stop_pid PID: SIGTERM the PID and its children, SIGKILL survivors after 3 s
stop_pid() {
  local pid=$1 all p i alive
  kill -0 "$pid" 2>/dev/null || { forget "$pid"; return 0; }
  all=$(tree "$pid" | tr '\n' ' ')
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 30); do
    alive=0
    for p in $all; do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && break
    sleep 0.1
  done
  for p in $all; do kill -KILL "$p" 2>/dev/null; done
  wait "$pid" 2>/dev/null
  forget "$pid"
}

. "$BENCH_DIR/common.sh"

# ticks PID...: summed utime+stime (clock ticks) of the given processes
ticks() {
  local p s=0 f
  for p in "$@"; do
    f=$(sed 's/^.*) //' /proc/"$p"/stat 2>/dev/null) || continue
    set -- $f
    s=$((s + ${12} + ${13}))  # stat fields 14 and 15 once "pid (comm) " is cut
  done
  echo "$s"
}
# status_kb FIELD PID...: FIELD of /proc/PID/status (VmHWM: peak RSS,
# VmRSS: RSS now) summed over the PIDs, in KB
status_kb() {
  local f=$1 p s=0 v
  shift
  for p in "$@"; do
    v=$(awk -v f="$f:" '$1 == f { print $2 }' /proc/"$p"/status 2>/dev/null)
    s=$((s + ${v:-0}))
  done
  echo "$s"
}
# busy_ticks: busy time of all CPUs (user nice system irq softirq steal)
# less the kernel's softirq threads, which mostly carry our own loopback
# traffic
busy_ticks() {
  local all
  all=$(awk '/^cpu /{ print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)
  echo $(( all - $(ticks $(ps -eo pid=,comm= | awk '$2 ~ /^ksoftirqd/ { print $1 }')) ))
}

# wait_quiet: until the rest of the machine uses under OTHER_MAX % of a
# core (1 s samples; nothing of ours runs now but the idle backend), at
# most QUIET_WAIT seconds
wait_quiet() {
  local i a b pct
  for (( i = 0; i < QUIET_WAIT; i++ )); do
    a=$(busy_ticks); sleep 1; b=$(busy_ticks)
    pct=$(( 100 * (b - a) / HZ ))
    (( pct < OTHER_MAX )) && return 0
    (( i == 0 )) && log "machine busy (others use ${pct}% of a core), waiting up to ${QUIET_WAIT}s"
  done
  return 0
}

# backend_cpus CPUS: move the backend's threads to CPUS
backend_cpus() {
  local p
  [[ $PIN == 1 ]] || return 0
  for p in $(tree "$BACKEND_PID"); do taskset -a -p -c "$1" "$p" >/dev/null 2>&1; done
}

# ------------------------------------------------------------- site, certs
head -c 1024 /dev/urandom >"$WORK/site/1k.bin"
head -c 102400 /dev/urandom >"$WORK/site/100k.bin"
# The page mix of the recording section: the demo shop at the site's root.
# Front page, stylesheet, scripts, images, then the font the stylesheet loads.
PAGE_MIX=(/ /css/shop.css /js/lib/minidom-1.2.js /js/shop.js /img/logo.png /img/banner.png
  /img/product-123.png /img/product-456.png /fonts/shopsans.woff2)
[[ $REC != 0 ]] && cp -r "$ROOT/tools/demo/site/." "$WORK/site/"
chmod -R a+rX "$WORK/site"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null ||
  die "openssl could not make a certificate"

# ------------------------------------------------------------------ backend
# Same choices as shared/peers: 1 worker, no access log, sendfile, open file
# cache, keep-alive effectively unlimited so the proxies' pools stay warm.
pick_port BP
cat >"$WORK/backend.conf" <<EOF2
worker_processes 1;
worker_rlimit_nofile $NOFILE;
pid $WORK/run/backend.pid;
error_log $WORK/run/backend.err warn;
daemon off;
events { worker_connections 16384; }
http {
  default_type application/octet-stream;
  # The page mix needs real types (a visit is a text/html answer).
  types {
    text/html html; text/css css; application/javascript js; image/png png;
    font/woff2 woff2; application/octet-stream bin;
  }
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  open_file_cache max=100 inactive=60s;
  keepalive_timeout 65s;
  keepalive_requests 100000000;
  client_body_temp_path $WORK/backend/body;
  proxy_temp_path $WORK/backend/proxy;
  fastcgi_temp_path $WORK/backend/fcgi;
  uwsgi_temp_path $WORK/backend/uwsgi;
  scgi_temp_path $WORK/backend/scgi;
  server {
    listen 127.0.0.1:$BP backlog=4096;
    root $WORK/site;
  }
}
EOF2
$PIN_LOAD nginx -p "$WORK/backend" -c "$WORK/backend.conf" >>"$OUT/backend.log" 2>&1 &
BACKEND_PID=$!
STARTED+=("$BACKEND_PID")
wait_port "$BP" "$BACKEND_PID" || die "backend nginx did not start (see $OUT/backend.log)"
BACKEND_PORT=$BP
log "backend nginx pid $BACKEND_PID on :$BP"

# ------------------------------------------------------------------- runs
# wait_line FILE PATTERN SECONDS: until PATTERN appears in FILE (or timeout)
wait_line() {
  local i n=$(( $3 * 50 ))
  for i in $(seq 1 "$n"); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$GEN_PID" 2>/dev/null || return 1
    sleep 0.02
  done
  return 1
}

RAW_HDR='cell\tproxy\trep\treq_s\tdone\tfailed\tp50_ms\tp99_ms\tcpu_us_req\tproxy_cpu_pct\tpeak_rss_mb\tother_cpu_pct\ttry\n'
RAW=$OUT/raw.tsv
printf "$RAW_HDR" >"$RAW"
printf "workers\t$RAW_HDR" >"$OUT/attempts.tsv"
WORKERS=1

# attempt CELL LABEL PROXY REP TRY: one measured h2load run against a fresh
# proxy with $WORKERS workers; its line goes to attempts.tsv and
# $WORK/run/attempt.tsv. CELL is MODE:FILE (MODE h2c or tls), or page:h2c
# for the page mix.
attempt() {
  local cell=$1 label=$2 proxy=$3 rep=$4 try=$5 mode=${1%%:*} file=${1#*:}
  local url of lf pids bpids t0 t1 b0 b1 g0 g1 s0 s1 rss rps done failed p50 p99 opt=() p
  local -a urls=()
  local gen_pin=$PIN_LOAD
  [[ $WORKERS == 1 ]] || gen_pin=""
  wait_quiet
  herald_for "$label"
  # The profile is herald's as shipped: herald-pipelined is not sampled.
  local prof=0
  [[ $PROFILE == 1 && $proxy == herald && $label != herald-pipelined* ]] && prof=1
  start_proxy "$proxy" "$WORKERS"
  command_note "$label"
  if [[ $mode == page ]]; then
    for p in "${PAGE_MIX[@]}"; do urls+=("http://127.0.0.1:$H2C_PORT$p"); done
    opt=(-H 'sec-fetch-dest: document' -H 'sec-fetch-mode: navigate'
      -H "referer: http://127.0.0.1:$H2C_PORT/")
    file=mix
  elif [[ $mode == tls ]]; then
    urls=("https://127.0.0.1:$TLS_PORT/$file")
    opt=(--tls13-ciphers=TLS_AES_128_GCM_SHA256)
  else
    urls=("http://127.0.0.1:$H2C_PORT/$file")
  fi
  of=$OUT/h2load/${mode}_${file%.bin}.$label.w$WORKERS.rep$rep.try$try.txt
  lf=$WORK/run/latency.log
  rm -f "$lf"
  sleep 0.3
  $gen_pin h2load -c "$C" -m "$M" -t "$THREADS" "${opt[@]}" -D "$DUR" --warm-up-time "$WARM" \
    --log-file="$lf" "${urls[@]}" >"$of" 2>&1 &
  GEN_PID=$!
  STARTED+=("$GEN_PID")
  # CPU is counted over the measured window only: from the end of warm-up
  # to the end of the main duration, as h2load reports them.
  wait_line "$of" 'Main benchmark duration is started' $((WARM + 15))
  pids=$(tree "$PROXY_PID" | tr '\n' ' ')
  bpids=$(tree "$BACKEND_PID" | tr '\n' ' ')
  t0=$(ticks $pids); b0=$(ticks $bpids); g0=$(ticks "$GEN_PID"); s0=$(busy_ticks)
  [[ $prof == 1 ]] && profile_start "${mode}_${file%.bin}.rep$rep.try$try"
  wait_line "$of" 'Main benchmark duration is over' $((DUR + 15))
  t1=$(ticks $pids); b1=$(ticks $bpids); g1=$(ticks "$GEN_PID"); s1=$(busy_ticks)
  wait "$GEN_PID" 2>/dev/null
  forget "$GEN_PID"
  [[ $prof == 1 ]] && profile_stop
  rss=$(status_kb VmHWM $pids)
  stop_pid "$PROXY_PID"

  rps=$(awk '/^finished in/{gsub(",", "", $4); print $4}' "$of")
  read -r done failed < <(awk '/^requests:/{print $8, $12}' "$of")
  # percentiles: successful requests' latency (3rd column, us), sorted,
  # nearest rank
  read -r p50 p99 < <(awk -F'\t' '$2 != -1 {print $3}' "$lf" 2>/dev/null | sort -n |
    awk '{ v[NR] = $1 }
         END { if (NR == 0) { print "NA NA"; exit }
               a = int(NR * 0.50 + 0.999); b = int(NR * 0.99 + 0.999)
               printf "%.3f %.3f\n", v[a] / 1000, v[b] / 1000 }')
  rm -f "$lf"
  awk -v OFS='\t' -v cell="$cell" -v label="$label" -v rep="$rep" -v rps="${rps:-0}" \
      -v done="${done:-0}" -v failed="${failed:-NA}" -v p50="$p50" -v p99="$p99" \
      -v dt=$((t1 - t0)) -v db=$((b1 - b0)) -v dg=$((g1 - g0)) -v ds=$((s1 - s0)) \
      -v hz="$HZ" -v dur="$DUR" -v rss="$rss" -v try="$try" 'BEGIN {
      us = done > 0 ? sprintf("%.2f", 1e6 * dt / hz / done) : "NA"
      other = 100 * (ds - dt - db - dg) / hz / dur; if (other < 0) other = 0
      print cell, label, rep, rps, done, failed, p50, p99, us,
            sprintf("%.1f", 100 * dt / hz / dur), sprintf("%.1f", rss / 1024),
            sprintf("%.1f", other), try }' >"$WORK/run/attempt.tsv"
  [[ $prof == 1 ]] && profile_note "$WORK/run/attempt.tsv"
  printf '%s\t' "$WORKERS" >>"$OUT/attempts.tsv"
  cat "$WORK/run/attempt.tsv" >>"$OUT/attempts.tsv"
  awk -F'\t' -v w="$WORKERS" '{ printf "[bench] %-14s %-16s w%s rep %s.%s %9s req/s  p50 %7s ms  p99 %7s ms  cpu %7s us/req (%s%%)  rss %6s MB  other %5s%%  failed %s\n",
                                $1, $2, w, $3, $13, $4, $7, $8, $9, $10, $11, $12, $6 }' "$WORK/run/attempt.tsv" >&2
}

# command_note LABEL: the proxy's command line as the kernel has it (so
# what herald-pipelined really ran with), once per label and worker count,
# in commands.tsv
command_note() {
  local c
  grep -q "^$1	$WORKERS	" "$OUT/commands.tsv" 2>/dev/null && return 0
  c=$(tr '\0' ' ' <"/proc/$PROXY_PID/cmdline" 2>/dev/null)
  printf '%s\t%s\t%s\n' "$1" "$WORKERS" "${c% }" >>"$OUT/commands.tsv"
}

# one_run CELL LABEL PROXY REP: attempt, again while others used more than
# OTHER_MAX % of a core (at most RETRIES times); the quietest goes to $RAW
one_run() {
  local try best="" other best_other=
  for (( try = 1; try <= RETRIES + 1; try++ )); do
    attempt "$@" "$try"
    other=$(cut -f 12 "$WORK/run/attempt.tsv")
    if [[ -z $best ]] || awk -v a="$other" -v b="$best_other" 'BEGIN { exit !(a < b) }'; then
      best=$(cat "$WORK/run/attempt.tsv"); best_other=$other
    fi
    awk -v o="$other" -v m="$OTHER_MAX" 'BEGIN { exit !(o > m) }' || break
    (( try <= RETRIES )) && log "others used ${other}% of a core during the run: again"
  done
  printf '%s\n' "$best" >>"$RAW"
}

# matrix REPS LABEL...: every cell against every proxy given (by label),
# interleaved, the proxies' order rotated by one each repetition
matrix() {
  local reps=$1 rep cell i j n; shift
  local -a labels=("$@")
  n=${#labels[@]}
  for rep in $(seq 1 "$reps"); do
    for cell in $CELLS; do
      for (( j = 0; j < n; j++ )); do
        i=$(( (j + rep - 1) % n ))
        one_run "$cell" "${labels[$i]}" "$(proxy_of "${labels[$i]}")" "$rep"
      done
    done
  done
}
# proxy_of LABEL: the proxy a label runs; herald-pipelined is herald
# (its options come from herald_for)
proxy_of() {
  local p=${1%%-[0-9]*}
  [[ $p == herald-pipelined ]] && p=herald
  echo "$p"
}
# herald_for LABEL: set HERALD_BIN and HERALD_CONF (herald's options, for
# start_herald) for a run labelled LABEL: herald's second appearance runs
# BENCH_HERALD2, if set; herald-pipelined* adds PIPE_OPTS.
herald_for() {
  HERALD_BIN=$HERALD HERALD_CONF=()
  [[ $1 == herald-2* || $1 == herald-pipelined-2* ]] && [[ -n ${BENCH_HERALD2:-} ]] &&
    HERALD_BIN=$BENCH_HERALD2
  [[ $1 == herald-pipelined* ]] && HERALD_CONF=("${PIPE_OPTS[@]}")
  return 0
}

# Without workers herald's 2-worker column is its one loop, and says so
# (herald-pipelined's too).
W2_LABELS=() W2_H_LABEL= W2_P_LABEL=
for l in "${LABELS[@]}"; do
  w2=$l
  [[ $(proxy_of "$l") == herald && $HERALD_WORKERS == none ]] && w2=$l-1loop
  W2_LABELS+=("$w2")
  [[ $l == "$H_LABEL" ]] && W2_H_LABEL=$w2
  [[ $l == "$P_LABEL" ]] && W2_P_LABEL=$w2
done
# ratio_spec H P LABELS...: md_matrix's ratio columns: H and P (each over
# the best other proxy) and, for an A/B of two builds, each over its
# second appearance (herald/herald-2, herald-pipelined/herald-pipelined-2)
ratio_spec() {
  local h=$1 p=$2 x l spec; shift 2
  spec="$h $p"
  for x in $h $p; do
    for l in "$@"; do
      [[ $l == "${x%-1loop}-2" || $l == "${x%-1loop}-2-1loop" ]] && spec="$spec $x/$l"
    done
  done
  echo $spec
}
ncells=$(wc -w <<<"$CELLS")
runs=$(( ncells * ${#LABELS[@]} * REPS ))
[[ $W2 != 0 ]] && runs="$runs + $(( ncells * ${#W2_LABELS[@]} * W2_REPS )) (2 workers)"
log "output in $OUT; proxies: ${LABELS[*]}; cells: $CELLS; $REPS reps x ${DUR}s (+${WARM}s warm-up); h2load -c $C -m $M -t $THREADS; $runs runs"
{
  echo "date: $(date -Is)"
  echo "h2load: $(h2load --version 2>&1 | head -n 1)"
  for p in "${PROXIES[@]}"; do echo "$p: $(proxy_version "$(proxy_of "$p")")"; done | sort -u
  [[ -n $P_LABEL ]] && echo "herald-pipelined options: ${PIPE_OPTS[*]}"
  echo "herald workers: $HERALD_WORKERS"
  echo "PROXIES=${PROXIES[*]} REPS=$REPS DUR=$DUR WARM=$WARM C=$C M=$M THREADS=$THREADS PIN=$PIN cpus=$(nproc)"
  echo "W2=$W2 W2_REPS=$W2_REPS CONNMEM=$CONNMEM CONN_N=$CONN_N CONN_WARM=$CONN_WARM OTHER_MAX=$OTHER_MAX RETRIES=$RETRIES"
  echo "load before: $(cat /proc/loadavg)"
} >"$OUT/params.txt"

RAW_RECORD=$OUT/raw-record.tsv
RAW_LEARN=$OUT/raw-learn.tsv
EXTRA_RECORD=$OUT/record-extra.tsv

# rec_extra LABEL REP DB: the recorder's dropped observations (herald logs
# the exact count when it stops) and the visits written.
rec_extra() {
  local label=$1 rep=$2 db=$3 dropped visits=NA off
  dropped=$(grep -o '[0-9]* dropped (queue full)' "$PROXY_LOG" 2>/dev/null |
    awk '$1 > m { m = $1 } END { print m + 0 }')
  if [[ -n $db ]] && command -v python3 >/dev/null 2>&1; then
    visits=$("$B/heraldctl" --db "$db" --json stats 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(d["arms"][a]["visits"] for a in ("push", "hints", "holdout", "none"))
      + d["other_visits"])' 2>/dev/null || echo NA)
  elif [[ -z $db ]]; then
    visits=-
  fi
  off=$(grep -c 'recording off' "$PROXY_LOG" 2>/dev/null)
  [[ ${off:-0} != 0 ]] && log "WARNING: $label rep $rep: $(grep -m1 'recording off' "$PROXY_LOG")"
  printf '%s\t%s\t%s\t%s\n' "$label" "$rep" "$dropped" "$visits" >>"$EXTRA_RECORD"
  log "  $label rep $rep: observations dropped $dropped, visits written $visits"
}

# ---------------------------------------------------------------- sections
if [[ -n $CELLS ]]; then
  log "1 worker each: proxies on CPU 1, backend and h2load on CPU 0"
  matrix "$REPS" "${LABELS[@]}"
  summarize "$RAW" >"$OUT/summary.tsv"
  [[ -n $H_LABEL$P_LABEL ]] && ratios "$OUT/summary.tsv" "$H_LABEL" "$P_LABEL" >"$OUT/ratios.tsv"
fi

if [[ -n $CELLS && $W2 != 0 && ${#W2_LABELS[@]} -gt 0 ]]; then
  log "2 workers each: nothing pinned"
  MAIN_RAW=$RAW RAW=$OUT/raw-w2.tsv WORKERS=2
  printf "$RAW_HDR" >"$RAW"
  backend_cpus 0,1
  matrix "$W2_REPS" "${W2_LABELS[@]}"
  backend_cpus 0
  summarize "$RAW" >"$OUT/summary-w2.tsv"
  RAW=$MAIN_RAW WORKERS=1
fi

if [[ $CONNMEM != 0 ]]; then
  log "memory per connection: $CONN_N connections after $CONN_WARM, per proxy and kind"
  connmem_section
fi

if [[ $REC != 0 ]]; then
  # Each run gets a fresh database and its own log. DUR is attempt's.
  MAIN_DUR=$DUR MAIN_RAW=$RAW
  DUR=$REC_DUR RAW=$RAW_RECORD
  printf "$RAW_HDR" >"$RAW"
  printf 'proxy\trep\tdropped\tvisits\n' >"$EXTRA_RECORD"
  log "recording overhead: $((2 * REC_REPS)) runs of ${REC_DUR}s, herald --db vs none, page mix over h2c"
  for rep in $(seq 1 "$REC_REPS"); do
    HERALD_EXTRA=(--db "$WORK/run/record.$rep.db") PROXY_LOG=$OUT/herald-rec-on.rep$rep.log
    rm -f "$WORK/run/record.$rep.db"
    one_run page:h2c rec-on herald "$rep"
    rec_extra rec-on "$rep" "$WORK/run/record.$rep.db"
    HERALD_EXTRA=() PROXY_LOG=$OUT/herald-rec-off.rep$rep.log
    one_run page:h2c rec-off herald "$rep"
    rec_extra rec-off "$rep" ""
  done
  HERALD_EXTRA=() PROXY_LOG=
  DUR=$MAIN_DUR RAW=$MAIN_RAW
  summarize "$RAW_RECORD" >"$OUT/summary-record.tsv"
fi

if [[ $LEARN != 0 ]]; then
  # 1. The learner alone: digest synthetic visits, recompute every rule.
  [[ -x $B/learnbench ]] || die "$B/learnbench not built (make $B/learnbench)"
  log "learner: learnbench, $LEARN_VISITS visits"
  LEARN_OUT=$("$B/learnbench" --visits "$LEARN_VISITS" --pages 10000 \
    --db "$WORK/run/learn.db" --db-visits "$LEARN_DB_VISITS")
  # 2. The loop while the learner works: herald starts on a database of
  # LEARN_DB_VISITS retained visits (it replays them on its learner
  # thread) and then recomputes every page's rules every 100 ms, against
  # herald without a database; h2c 1 KB, interleaved.
  MAIN_DUR=$DUR MAIN_RAW=$RAW
  DUR=$REC_DUR RAW=$RAW_LEARN
  printf "$RAW_HDR" >"$RAW"
  for rep in $(seq 1 "$REC_REPS"); do
    cp "$WORK/run/learn.db" "$WORK/run/learn.$rep.db"
    HERALD_EXTRA=(--db "$WORK/run/learn.$rep.db" -o learn.interval=100
      -o learn.recompute_after=1) PROXY_LOG=$OUT/herald-learn-on.rep$rep.log
    one_run h2c:1k.bin learner-on herald "$rep"
    HERALD_EXTRA=() PROXY_LOG=$OUT/herald-learn-off.rep$rep.log
    one_run h2c:1k.bin learner-off herald "$rep"
  done
  HERALD_EXTRA=() PROXY_LOG=
  DUR=$MAIN_DUR RAW=$MAIN_RAW
  summarize "$RAW_LEARN" >"$OUT/summary-learn.tsv"
fi
echo "load after: $(cat /proc/loadavg)" >>"$OUT/params.txt"

# ------------------------------------------------------------------ report
# other_note RAW: the median CPU the rest of the machine used during runs
other_note() {
  awk -F'\t' "$TABLES_AWK"'NR > 1 { s = s " " $12 } END {
    printf "Others on the machine used a median %s%% of a core during these runs.\n", fmt("%.0f", med(s)) }' "$1"
}

report() {
  local pin_note="proxies pinned to CPU 1, nginx backend and h2load to CPU 0"
  [[ $PIN == 1 ]] || pin_note="nothing pinned (BENCH_PIN=0)"
  if [[ -n $CELLS ]]; then
    echo
    echo "### One worker each"
    echo
    echo "$(nproc) CPUs, $pin_note; h2load -c $C -m $M -t $THREADS, ${DUR}s after ${WARM}s warm-up;"
    echo "medians of $REPS interleaved run(s), each proxy freshly started for each run. $(other_note "$RAW")"
    echo
    [[ -n $P_LABEL ]] && echo "$PIPE_NOTE."
    echo
    echo "CPU µs per request (lower is better; best of the others, herald configurations aside, in bold):"
    echo
    md_matrix "$OUT/summary.tsv" cpu_us_req "$(ratio_spec "$H_LABEL" "$P_LABEL" "${LABELS[@]}")" "${LABELS[@]}"
    if [[ -s $OUT/ratios.tsv ]]; then
      echo
      echo "$(echo $H_LABEL $P_LABEL | sed 's/ / and /') against the best other proxy (not herald) per cell (CPU/request and p99: lower is better):"
      echo
      md_ratios "$OUT/ratios.tsv" "$H_LABEL" "$P_LABEL"
    fi
    echo
    echo "Every figure (peak RSS: VmHWM summed over the process tree, fresh process per run):"
    echo
    md_detail "$OUT/summary.tsv"
    warn_bad "$RAW"
  fi
  if [[ -s $OUT/summary-w2.tsv ]]; then
    echo
    echo "### Two workers each"
    echo
    echo "Nothing pinned (proxy, backend and h2load share both CPUs); medians of $W2_REPS run(s)."
    echo "$(other_note "$OUT/raw-w2.tsv")"
    if [[ $HERALD_WORKERS == none && -n $W2_H_LABEL$W2_P_LABEL ]]; then
      local is=is; [[ -n $W2_H_LABEL && -n $W2_P_LABEL ]] && is=are
      echo "herald has no workers yet (herald -t refuses --workers 2): $(echo $W2_H_LABEL $W2_P_LABEL | sed 's/ / and /') $is"
      echo "herald with its one event loop, unpinned, against the others' two workers."
    fi
    [[ -n $W2_P_LABEL ]] && echo "$PIPE_NOTE; the cap is per worker."
    echo
    echo "req/s (CPU µs per request), higher is better; best of the others, herald configurations aside, in bold:"
    echo
    md_matrix "$OUT/summary-w2.tsv" req_s "$(ratio_spec "$W2_H_LABEL" "$W2_P_LABEL" "${W2_LABELS[@]}")" "${W2_LABELS[@]}"
    echo
    md_detail "$OUT/summary-w2.tsv"
    warn_bad "$OUT/raw-w2.tsv"
  fi
  if [[ $CONNMEM != 0 ]]; then
    echo
    echo "### Memory per connection"
    echo
    echo "KB of RSS per connection: (RSS after $CONN_N more connections - RSS before) / $CONN_N,"
    echo "after $CONN_WARM warm-up connections, one worker, fresh process per figure; medians of $CONN_REPS."
    echo "A stream in flight: its h2c connection's cost minus an idle one's; it includes the"
    echo "backend connection the proxy holds for it."
    [[ -n $P_LABEL ]] && echo "herald-pipelined is not measured here: its options change only how herald uses backend connections."
    echo
    md_connmem "$OUT/summary-connmem.tsv"
    awk -F'\t' 'NR > 1 && $8 != "ok" { printf "WARNING: %s %s rep %s: %s\n", $1, $2, $3, $8 }' "$OUT/raw-connmem.tsv"
  fi
  if [[ $REC != 0 ]]; then
    echo
    echo "### Recording overhead"
    echo
    echo "herald --db vs no --db, medians of $REC_REPS run(s); ${REC_DUR}s each after ${WARM}s warm-up; h2load -c $C -m $M."
    echo "Page mix over h2c: ${PAGE_MIX[*]} (every request a navigation with Referer /)."
    echo
    md_pair "$OUT/summary-record.tsv" rec-on rec-off
    echo
    awk -F'\t' 'NR > 1 && $1 == "rec-on" { d = d sep "rep " $2 ": " $3; v = v sep "rep " $2 ": " $4; sep = ", " }
      END { print "Recorder: observations dropped " d "; visits written " v "." }' "$EXTRA_RECORD"
    warn_bad "$RAW_RECORD"
  fi
  if [[ $LEARN != 0 ]]; then
    echo
    echo "### The learner"
    echo
    echo "$LEARN_VISITS synthetic visits over 10000 pages (targets: under 10 s and 200 MB):"
    echo
    sed 's/^/    /' <<<"$LEARN_OUT"
    echo
    echo "Loop latency while the learner replays $LEARN_DB_VISITS visits and recomputes all rules every 100 ms,"
    echo "vs no database; h2c 1 KB, medians of $REC_REPS run(s), ${REC_DUR}s each:"
    echo
    md_pair "$OUT/summary-learn.tsv" learner-on learner-off
    warn_bad "$RAW_LEARN"
  fi
}
{ report; [[ $PROFILE == 1 ]] && profile_report; } | tee "$OUT/tables.md"
echo
log "tables: $OUT/tables.md  raw and summary TSVs: $OUT"
if [[ $PAGELOAD != 0 ]]; then
  # Its own processes and ports; the backend above is idle by now.
  # A quick run loads each page once per arm.
  [[ $QUICK == 1 ]] && export PL_RUNS=${PL_RUNS:-1}
  B=$B BENCH_OUT=$OUT "$ROOT/tools/bench/pageload.sh"
fi
