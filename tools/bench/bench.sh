#!/usr/bin/env bash
# bench.sh -- herald and nghttpx side by side, one worker each, on loopback.
#
# Usage: B=build tools/bench/bench.sh        (what "make bench" runs)
#
# Starts its own nginx backend (1 worker, static 1k.bin and 100k.bin,
# keep-alive), then for every cell (h2c 1 KB, h2c 100 KB, TLS 1 KB, TLS
# 100 KB) runs h2load against the two proxies interleaved A B A B ..., each
# proxy freshly started for each run so its peak RSS is per run.  Proxies
# are pinned to CPU 1, the backend and h2load to CPU 0 (as shared/peers
# does).  Each run is fixed-duration (-D) after a warm-up.
#
# Per run: req/s (h2load), p50/p99 latency (from h2load's per-request
# --log-file), proxy CPU time over the measured window (utime+stime of the
# proxy's process tree from /proc/PID/stat) divided by the requests done,
# and peak RSS (sum of VmHWM over the tree).  The table shows medians over
# the repetitions and a ratio row A/B per cell.
#
# Recording overhead (unless BENCH_RECORD=0): herald with --db against
# herald without, interleaved rec-on rec-off rec-on ..., on a page mix over
# h2c: the demo shop's front page and its eight assets (tools/demo/site),
# h2load cycling through the nine URLs with "sec-fetch-dest: document",
# "sec-fetch-mode: navigate" and "referer: <front page>" on every request
# (h2load has no per-URL headers), so every request is a navigation and
# every front page a visit.  Same columns, a ratio row rec-on/rec-off, and
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
#   BENCH_PAGELOAD=1      the page-load section (0: skip it)
#   BENCH_QUICK=1         one short rep per cell (about a minute)
#   BENCH_A=herald BENCH_B=nghttpx   the two proxies (herald|nghttpx; the
#                         same name twice compares a proxy with itself)
#   BENCH_REPS=3 BENCH_DURATION=8 BENCH_WARMUP=2 BENCH_C=32 BENCH_M=10
#   BENCH_CELLS="h2c:1k.bin h2c:100k.bin tls:1k.bin tls:100k.bin"
#                         (BENCH_CELLS= runs no A/B cell: the recording
#                         section alone)
#   BENCH_RECORD=1        the recording-overhead section (0: skip it)
#   BENCH_LEARN=1         the learner section: learnbench (BENCH_LEARN_VISITS,
#                         default 1000000 visits over 10000 pages) and loop
#                         latency while herald replays and recomputes (0: skip)
#   BENCH_RECORD_REPS=2 BENCH_RECORD_DURATION=6   (quick: 1 and 3)
#   BENCH_OUT=DIR         results (default $B/bench/<timestamp>): raw.tsv,
#                         summary.tsv, h2load/*.txt, logs
#   BENCH_PIN=0           do not pin to CPUs
#
# Everything started here is stopped at exit, by the PIDs recorded here.
set -uo pipefail

B=${B:-build}
QUICK=${BENCH_QUICK:-0}
A=${BENCH_A:-herald}
BB=${BENCH_B:-nghttpx}
if [[ $QUICK == 1 ]]; then
  REPS=${BENCH_REPS:-1}; DUR=${BENCH_DURATION:-4}; WARM=${BENCH_WARMUP:-1}
else
  REPS=${BENCH_REPS:-3}; DUR=${BENCH_DURATION:-8}; WARM=${BENCH_WARMUP:-2}
fi
C=${BENCH_C:-32}; M=${BENCH_M:-10}
CELLS=${BENCH_CELLS-"h2c:1k.bin h2c:100k.bin tls:1k.bin tls:100k.bin"}
REC=${BENCH_RECORD:-1}
LEARN=${BENCH_LEARN:-1}
LEARN_VISITS=${BENCH_LEARN_VISITS:-1000000}
if [[ $QUICK == 1 ]]; then
  REC_REPS=${BENCH_RECORD_REPS:-1}; REC_DUR=${BENCH_RECORD_DURATION:-3}
else
  REC_REPS=${BENCH_RECORD_REPS:-2}; REC_DUR=${BENCH_RECORD_DURATION:-6}
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

for p in "$A" "$BB"; do
  case $p in herald|nghttpx) ;; *) die "unknown proxy '$p' (herald|nghttpx)" ;; esac
done
for t in nginx h2load openssl awk; do
  command -v "$t" >/dev/null 2>&1 || die "$t not found (make deps)"
done
if [[ $A == nghttpx || $BB == nghttpx ]]; then
  command -v nghttpx >/dev/null 2>&1 || die "nghttpx not found (make deps)"
fi
if [[ $A == herald || $BB == herald ]]; then
  [[ -x $B/herald ]] || die "$B/herald not built (make), or run with BENCH_A=nghttpx"
  HERALD=$(cd "$(dirname "$B/herald")" && pwd)/herald
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [[ $REC != 0 ]]; then
  if [[ ! -x $B/herald ]]; then
    log "no $B/herald: recording-overhead section skipped"; REC=0
  elif [[ ! -f $ROOT/tools/demo/site/index.html ]]; then
    log "no tools/demo/site: recording-overhead section skipped"; REC=0
  else
    HERALD=$(cd "$(dirname "$B/herald")" && pwd)/herald
  fi
fi
if [[ $PIN == 1 ]] && command -v taskset >/dev/null 2>&1 && (( $(nproc) >= 2 )); then
  PIN_PROXY="taskset -c 1"; PIN_LOAD="taskset -c 0"
else
  PIN_PROXY=""; PIN_LOAD=""
fi

# Labels: the proxy names, told apart when both sides run the same proxy.
LA=$A LB=$BB
if [[ $A == "$BB" ]]; then LA=$A-a; LB=$BB-b; fi

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
  kill -0 "$pid" 2>/dev/null || return 0
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

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

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
# hwm_kb PID...: summed VmHWM
hwm_kb() {
  local p s=0 v
  for p in "$@"; do
    v=$(awk '/^VmHWM/{print $2}' /proc/"$p"/status 2>/dev/null)
    s=$((s + ${v:-0}))
  done
  echo "$s"
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
cat >"$WORK/backend.conf" <<EOF
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
EOF
$PIN_LOAD nginx -p "$WORK/backend" -c "$WORK/backend.conf" >>"$OUT/backend.log" 2>&1 &
BACKEND_PID=$!
STARTED+=("$BACKEND_PID")
wait_port "$BP" "$BACKEND_PID" || die "backend nginx did not start (see $OUT/backend.log)"
log "backend nginx pid $BACKEND_PID on :$BP"

# -------------------------------------------------------------------- proxies
# start_proxy NAME: fresh proxy on new ports; sets PROXY_PID, H2C_PORT, TLS_PORT.
# HERALD_EXTRA (array) is added to herald's arguments; PROXY_LOG, if set,
# is the log file instead of $OUT/NAME.log.
HERALD_EXTRA=()
PROXY_LOG=
start_proxy() {
  local name=$1 logf=${PROXY_LOG:-$OUT/$1.log}
  pick_port H2C_PORT; pick_port TLS_PORT
  case $name in
    herald)
      # One event-loop thread by design. h2load's timed mode never
      # reconnects after a GOAWAY, and nghttpx has no per-connection
      # request cap, so lift herald's (default 10000) for the comparison.
      $PIN_PROXY "$HERALD" --listen "127.0.0.1:$H2C_PORT" --listen-tls "127.0.0.1:$TLS_PORT" \
        --cert "$WORK/cert.pem" --key "$WORK/key.pem" --backend "127.0.0.1:$BP" \
        -o limits.max_requests_per_conn=100000000 "${HERALD_EXTRA[@]}" \
        >>"$logf" 2>&1 &
      ;;
    nghttpx)
      # shared/peers' choices: one worker, h2c + TLS frontends, no OCSP,
      # backend keep-alive 60 s, no access log, fd limit raised.
      $PIN_PROXY nghttpx --conf=/dev/null -n1 \
        --backend="127.0.0.1,$BP" \
        --frontend="127.0.0.1,$H2C_PORT;no-tls" --frontend="127.0.0.1,$TLS_PORT" \
        --no-ocsp --backend-keep-alive-timeout=60s \
        --errorlog-file="$logf" --rlimit-nofile="$NOFILE" \
        "$WORK/key.pem" "$WORK/cert.pem" >>"$logf" 2>&1 &
      ;;
  esac
  PROXY_PID=$!
  STARTED+=("$PROXY_PID")
  if ! wait_port "$H2C_PORT" "$PROXY_PID" || ! wait_port "$TLS_PORT" "$PROXY_PID"; then
    tail -n 5 "$logf" >&2
    die "$name did not start (see $logf)"
  fi
}

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

RAW=$OUT/raw.tsv
printf 'cell\tproxy\trep\treq_s\tdone\tfailed\tp50_ms\tp99_ms\tcpu_us_req\tproxy_cpu_pct\tpeak_rss_mb\n' >"$RAW"

# one_run CELL LABEL PROXY REP: one measured h2load run, one line in $RAW.
# CELL is MODE:FILE (MODE h2c or tls), or page:h2c for the page mix.
one_run() {
  local cell=$1 label=$2 proxy=$3 rep=$4 mode=${1%%:*} file=${1#*:}
  local url of lf pids t0 t1 rss rps done failed p50 p99 tls_opt=() p
  local -a urls=()
  start_proxy "$proxy"
  if [[ $mode == page ]]; then
    for p in "${PAGE_MIX[@]}"; do urls+=("http://127.0.0.1:$H2C_PORT$p"); done
    tls_opt=(-H 'sec-fetch-dest: document' -H 'sec-fetch-mode: navigate'
      -H "referer: http://127.0.0.1:$H2C_PORT/")
    file=mix
  elif [[ $mode == tls ]]; then
    urls=("https://127.0.0.1:$TLS_PORT/$file")
    tls_opt=(--tls13-ciphers=TLS_AES_128_GCM_SHA256)
  else
    urls=("http://127.0.0.1:$H2C_PORT/$file")
  fi
  of=$OUT/h2load/${mode}_${file%.bin}.$label.rep$rep.txt
  lf=$WORK/run/latency.log
  rm -f "$lf"
  sleep 0.3
  $PIN_LOAD h2load -c "$C" -m "$M" -t 1 "${tls_opt[@]}" -D "$DUR" --warm-up-time "$WARM" \
    --log-file="$lf" "${urls[@]}" >"$of" 2>&1 &
  GEN_PID=$!
  STARTED+=("$GEN_PID")
  # CPU is counted over the measured window only: from the end of warm-up
  # to the end of the main duration, as h2load reports them.
  wait_line "$of" 'Main benchmark duration is started' $((WARM + 15))
  pids=$(tree "$PROXY_PID" | tr '\n' ' ')
  t0=$(ticks $pids)
  wait_line "$of" 'Main benchmark duration is over' $((DUR + 15))
  t1=$(ticks $pids)
  wait "$GEN_PID" 2>/dev/null
  forget "$GEN_PID"
  rss=$(hwm_kb $pids)
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
  awk -v OFS='\t' -v cell="$cell" -v label="$label" -v rep="$rep" -v rps="${rps:-0}" \
      -v done="${done:-0}" -v failed="${failed:-NA}" -v p50="$p50" -v p99="$p99" \
      -v dt=$((t1 - t0)) -v hz="$HZ" -v dur="$DUR" -v rss="$rss" 'BEGIN {
      us = done > 0 ? sprintf("%.2f", 1e6 * dt / hz / done) : "NA"
      print cell, label, rep, rps, done, failed, p50, p99, us,
            sprintf("%.1f", 100 * dt / hz / dur), sprintf("%.1f", rss / 1024) }' >>"$RAW"
  tail -n 1 "$RAW" | awk -F'\t' '{ printf "[bench] %-14s %-10s rep %s  %10s req/s  p50 %7s ms  p99 %7s ms  cpu %7s us/req (%s%%)  rss %6s MB  failed %s\n",
                                   $1, $2, $3, $4, $7, $8, $9, $10, $11, $6 }' >&2
  rm -f "$lf"
}

runs=$(( $(wc -w <<<"$CELLS") * 2 * REPS ))
log "output in $OUT; $A vs $BB; cells: $CELLS; $REPS reps x ${DUR}s (+${WARM}s warm-up); h2load -c $C -m $M; $runs runs"
{
  echo "date: $(date -Is)"
  echo "h2load: $(h2load --version 2>&1 | head -n 1)"
  echo "nghttpx: $(nghttpx --version 2>&1 | head -n 1)"
  echo "A=$A B=$BB REPS=$REPS DUR=$DUR WARM=$WARM C=$C M=$M PIN=$PIN cpus=$(nproc)"
} >"$OUT/params.txt"

RAW_RECORD=$OUT/raw-record.tsv
RAW_LEARN=$OUT/raw-learn.tsv
EXTRA_RECORD=$OUT/record-extra.tsv
rec_runs=0
[[ $REC != 0 ]] && rec_runs=$((2 * REC_REPS))
log "recording overhead: $([[ $REC != 0 ]] && echo "$rec_runs runs of ${REC_DUR}s, herald --db vs none, page mix over h2c" || echo skipped)"

# ------------------------------------------------------------------- summary
# summarize RAW LABEL_A LABEL_B: medians per cell and label, and a ratio row
summarize() {
  awk -F'\t' -v OFS='\t' -v la="$2" -v lb="$3" '
  function isort(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j+1] = a[j]; a[j+1] = t }
  }
  function med(s,   a, n, i, k, m) {
    n = split(s, a, " "); k = 0
    for (i = 1; i <= n; i++) if (a[i] != "NA") m[++k] = a[i] + 0
    if (k == 0) return "NA"
    isort(m, k)
    return (k % 2) ? m[(k+1)/2] : (m[k/2] + m[k/2+1]) / 2
  }
  function fmt(f, v) { return v == "NA" ? "NA" : sprintf(f, v) }
  function ratio(x, y) { return (x == "NA" || y == "NA" || y == 0) ? "NA" : sprintf("%.2f", x / y) }
  NR == 1 { next }
  { k = $1 SUBSEP $2
    if (!($1 in seen)) { seen[$1] = 1; cells[++nc] = $1 }
    rps[k] = rps[k] " " $4; p50[k] = p50[k] " " $7; p99[k] = p99[k] " " $8
    us[k] = us[k] " " $9; rss[k] = rss[k] " " $11 }
  END {
    print "cell", "proxy", "req/s", "p50_ms", "p99_ms", "cpu_us/req", "peak_rss_MB"
    for (i = 1; i <= nc; i++) {
      c = cells[i]
      for (j = 1; j <= 2; j++) {
        l = (j == 1) ? la : lb; k = c SUBSEP l
        R[j] = med(rps[k]); P50[j] = med(p50[k]); P99[j] = med(p99[k]); U[j] = med(us[k])
        M = med(rss[k])
        print c, l, fmt("%.0f", R[j]), fmt("%.3f", P50[j]), fmt("%.3f", P99[j]),
              fmt("%.2f", U[j]), fmt("%.1f", M)
      }
      print c, la "/" lb, ratio(R[1], R[2]), "-", ratio(P99[1], P99[2]), ratio(U[1], U[2]), "-"
    }
  }' "$1"
}

# warn_bad RAW: runs that completed nothing or had failures
warn_bad() {
  awk -F'\t' 'NR > 1 && ($5 == 0 || ($6 != 0 && $6 != "NA")) {
      bad = bad sprintf("\n  %s %s rep %s: %s done, %s failed", $1, $2, $3, $5, $6); n++ }
    END { if (n) printf "WARNING: %d run(s) completed no requests or had failures (see h2load/):%s\n", n, bad }' "$1"
}

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

if [[ -n $CELLS ]]; then
  for rep in $(seq 1 "$REPS"); do
    for cell in $CELLS; do
      one_run "$cell" "$LA" "$A" "$rep"
      one_run "$cell" "$LB" "$BB" "$rep"
    done
  done
  summarize "$RAW" "$LA" "$LB" >"$OUT/summary.tsv"
fi

if [[ $REC != 0 ]]; then
  # Each run gets a fresh database and its own log. DUR is one_run's.
  MAIN_DUR=$DUR MAIN_RAW=$RAW
  DUR=$REC_DUR RAW=$RAW_RECORD
  printf 'cell\tproxy\trep\treq_s\tdone\tfailed\tp50_ms\tp99_ms\tcpu_us_req\tproxy_cpu_pct\tpeak_rss_mb\n' >"$RAW"
  printf 'proxy\trep\tdropped\tvisits\n' >"$EXTRA_RECORD"
  for rep in $(seq 1 "$REC_REPS"); do
    HERALD_EXTRA=(--db "$WORK/run/record.$rep.db") PROXY_LOG=$OUT/herald-rec-on.rep$rep.log
    one_run page:h2c rec-on herald "$rep"
    rec_extra rec-on "$rep" "$WORK/run/record.$rep.db"
    HERALD_EXTRA=() PROXY_LOG=$OUT/herald-rec-off.rep$rep.log
    one_run page:h2c rec-off herald "$rep"
    rec_extra rec-off "$rep" ""
  done
  HERALD_EXTRA=() PROXY_LOG=
  DUR=$MAIN_DUR RAW=$MAIN_RAW
  summarize "$RAW_RECORD" rec-on rec-off >"$OUT/summary-record.tsv"
fi

if [[ $LEARN != 0 ]]; then
  # 1. The learner alone: digest synthetic visits, recompute every rule.
  [[ -x $B/learnbench ]] || die "$B/learnbench not built (make $B/learnbench)"
  LEARN_OUT=$("$B/learnbench" --visits "$LEARN_VISITS" --pages 10000 \
    --db "$WORK/run/learn.db" --db-visits 100000)
  # 2. The loop while the learner works: herald starts on a database of
  # 100000 retained visits (it replays them on its learner thread) and
  # then recomputes every page's rules every 100 ms, against herald
  # without a database; h2c 1 KB, interleaved.
  MAIN_DUR=$DUR MAIN_RAW=$RAW
  DUR=$REC_DUR RAW=$RAW_LEARN
  printf 'cell\tproxy\trep\treq_s\tdone\tfailed\tp50_ms\tp99_ms\tcpu_us_req\tproxy_cpu_pct\tpeak_rss_mb\n' >"$RAW"
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
  summarize "$RAW_LEARN" learner-on learner-off >"$OUT/summary-learn.tsv"
fi

if [[ -n $CELLS ]]; then
  echo
  echo "herald bench: medians of $REPS run(s) per cell; ${DUR}s each after ${WARM}s warm-up; h2load -c $C -m $M"
  echo "ratio rows are $LA/$LB (req/s: higher is better; p99 and cpu/req: lower is better)"
  column -t -s $'\t' <"$OUT/summary.tsv"
  warn_bad "$RAW"
fi
if [[ $REC != 0 ]]; then
  echo
  echo "recording overhead: herald --db vs no --db, medians of $REC_REPS run(s); ${REC_DUR}s each after ${WARM}s warm-up; h2load -c $C -m $M"
  echo "page mix over h2c: ${PAGE_MIX[*]} (every request a navigation with Referer /)"
  echo "ratio row is rec-on/rec-off (req/s: higher is better; p99 and cpu/req: lower is better)"
  column -t -s $'\t' <"$OUT/summary-record.tsv"
  awk -F'\t' 'NR > 1 && $1 == "rec-on" { d = d sep "rep " $2 ": " $3; v = v sep "rep " $2 ": " $4; sep = ", " }
    END { print "recorder: observations dropped " d "; visits written " v }' "$EXTRA_RECORD"
  warn_bad "$RAW_RECORD"
fi
if [[ $LEARN != 0 ]]; then
  echo
  echo "learner: $LEARN_VISITS synthetic visits over 10000 pages (targets: under 10 s and 200 MB)"
  printf '%s\n' "$LEARN_OUT"
  echo "loop latency while the learner replays 100000 visits and recomputes all rules every 100 ms,"
  echo "vs no database; h2c 1 KB, medians of $REC_REPS run(s), ${REC_DUR}s each (ratio learner-on/learner-off)"
  column -t -s $'\t' <"$OUT/summary-learn.tsv"
  warn_bad "$RAW_LEARN"
fi
echo
if [[ -n $CELLS ]]; then log "raw: $RAW  summary: $OUT/summary.tsv"; fi
if [[ $REC != 0 ]]; then log "recording: raw: $RAW_RECORD  summary: $OUT/summary-record.tsv  extra: $EXTRA_RECORD"; fi
if [[ $PAGELOAD != 0 ]]; then
  # Its own processes and ports; the backend above is idle by now.
  B=$B BENCH_OUT=$OUT "$ROOT/tools/bench/pageload.sh"
fi
