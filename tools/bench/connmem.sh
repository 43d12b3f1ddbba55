# connmem.sh: what a client connection costs a proxy in memory (sourced by
# bench.sh, after proxies.sh).
#
# For each proxy and kind, a fresh proxy (one worker, pinned) in front of
# build/fault_backend, and build/connhold (tools/bench/connhold.c) on the
# load generator's CPU:
#   h2c-idle    HTTP/2 prior knowledge, one request done, then idle
#   tls-idle    the same over TLS (ALPN h2)
#   h1-idle     HTTP/1.1 keep-alive, one request done, then idle
#   h2c-stream  as h2c-idle, then one more request that the backend holds
#               (GET /delay?ms=900000): one stream in flight, with the
#               backend connection it occupies
# connhold first opens CONN_WARM connections, so what the first ones
# allocate once (pools, caches) is paid; 64, as many as connhold sets up
# at once, so the backend pool grows no further. Then the proxy's RSS
# (VmRSS summed over its process tree) is read, CONN_N more are opened
# (for h2c-stream: until the backend sees them all), and after a second
# the RSS is read again; connhold must still hold every connection. The
# cost is
# (RSS after - RSS before) / CONN_N. A stream in flight costs the
# difference between h2c-stream and h2c-idle.
#
# herald-pipelined is left out: its options change only how herald uses
# backend connections, and h2c-stream's CONN_N held requests would
# outnumber its CAP x DEPTH slots and wait in herald's queue, never
# reaching the backend.
#
# Globals read: B, WORK, OUT, PROXIES, LABELS, CONN_N, CONN_WARM,
# CONN_REPS, PIN_LOAD. Writes $OUT/raw-connmem.tsv and
# $OUT/summary-connmem.tsv.

CONN_KINDS=${BENCH_CONN_KINDS:-"h2c-idle tls-idle h1-idle h2c-stream"}

# backend_conns PORT: established TCP connections to PORT
backend_conns() { ss -Htn state established "( dport = :$1 )" 2>/dev/null | wc -l; }

# hold_cmd LINE: send LINE to connhold, echo its one-line answer (or
# "timeout")
hold_cmd() {
  local ans
  echo "$1" >&"${HOLD[1]}"
  read -r -t 180 ans <&"${HOLD[0]}" || ans=timeout
  echo "$ans"
}

# connmem_one PROXY LABEL KIND REP: one fresh proxy, one line in the raw TSV
connmem_one() {
  local proxy=$1 label=$2 kind=$3 rep=$4 args=() pids r0 r1 a1 a2 st want i
  local note=ok
  herald_for "$label"
  start_proxy "$proxy" 1
  case $kind in
    h2c-idle) args=(--connect "127.0.0.1:$H2C_PORT") ;;
    tls-idle) args=(--connect "127.0.0.1:$TLS_PORT" --tls) ;;
    h1-idle) args=(--connect "127.0.0.1:$H1_PORT" --h1) ;;
    h2c-stream) args=(--connect "127.0.0.1:$H2C_PORT" --hold '/delay?ms=900000') ;;
  esac
  coproc HOLD { exec $PIN_LOAD "$B/connhold" "${args[@]}" --path '/delay?ms=0' \
    2>>"$OUT/connhold.log"; }
  local hold_pid=$HOLD_PID
  STARTED+=("$hold_pid")
  a1=$(hold_cmd "open $CONN_WARM")
  sleep 1
  pids=$(tree "$PROXY_PID" | tr '\n' ' ')
  r0=$(status_kb VmRSS $pids)
  a2=$(hold_cmd "open $CONN_N")
  want=$((CONN_WARM + CONN_N))
  if [[ $kind == h2c-stream ]]; then
    # the requests are written; wait until the proxy has passed them on
    for i in $(seq 1 100); do
      (( $(backend_conns "$BACKEND_PORT") >= want )) && break
      sleep 0.1
    done
    (( $(backend_conns "$BACKEND_PORT") >= want )) || note=backend-saw-$(backend_conns "$BACKEND_PORT")
  fi
  sleep 1
  pids=$(tree "$PROXY_PID" | tr '\n' ' ')
  r1=$(status_kb VmRSS $pids)
  st=$(hold_cmd status)
  [[ $a1 == "ready $CONN_WARM 0" && $a2 == "ready $want 0" && $st == "status $want 0" ]] ||
    note="connhold:${a1// /_},${a2// /_},${st// /_}"
  eval "exec ${HOLD[1]}>&-"   # EOF: connhold closes everything and exits
  wait "$hold_pid" 2>/dev/null
  forget "$hold_pid"
  stop_pid "$PROXY_PID"
  kill -0 "$FB_PID" 2>/dev/null || die "fault_backend died (see $OUT/fault_backend.log)"
  awk -v OFS='\t' -v p="$label" -v k="$kind" -v r="$rep" -v n="$CONN_N" \
      -v r0="$r0" -v r1="$r1" -v note="$note" 'BEGIN {
      print p, k, r, n, r0, r1, sprintf("%.2f", (r1 - r0) / n), note }' >>"$OUT/raw-connmem.tsv"
  tail -n 1 "$OUT/raw-connmem.tsv" | awk -F'\t' '{ printf "[bench] memory %-10s %-10s rep %s  %s conns  RSS %s -> %s KB  %s KB/conn  %s\n",
    $1, $2, $3, $4, $5, $6, $7, $8 }' >&2
  [[ $note == ok ]] || log "WARNING: $label $kind rep $rep: $note (figure not usable)"
}

# connmem_section: every proxy, kind and repetition, interleaved
connmem_section() {
  local rep kind i save_bp=$BACKEND_PORT
  pick_port FBP
  "$B/fault_backend" --listen "127.0.0.1:$FBP" >>"$OUT/fault_backend.log" 2>&1 &
  FB_PID=$!
  STARTED+=("$FB_PID")
  wait_port "$FBP" "$FB_PID" || die "fault_backend did not start"
  BACKEND_PORT=$FBP LONG_TIMEOUTS=1
  printf 'proxy\tkind\trep\tconns\trss_before_kb\trss_after_kb\tkb_per_conn\tnote\n' >"$OUT/raw-connmem.tsv"
  for rep in $(seq 1 "$CONN_REPS"); do
    for kind in $CONN_KINDS; do
      for i in "${!PROXIES[@]}"; do
        [[ ${PROXIES[$i]} == herald-pipelined ]] && continue
        connmem_one "$(proxy_of "${LABELS[$i]}")" "${LABELS[$i]}" "$kind" "$rep"
      done
    done
  done
  BACKEND_PORT=$save_bp LONG_TIMEOUTS=0
  stop_pid "$FB_PID"
  connmem_summary "$OUT/raw-connmem.tsv" >"$OUT/summary-connmem.tsv"
}

# connmem_summary RAW: medians per proxy of each kind (usable runs only),
# the stream's own cost (h2c-stream - h2c-idle) and the RSS at the start
connmem_summary() {
  awk -F'\t' -v OFS='\t' "$TABLES_AWK"'
  NR == 1 { next }
  { if (!($1 in seen)) { seen[$1] = 1; px[++np] = $1 }
    base[$1] = base[$1] " " $5
    if ($8 == "ok") v[$1, $2] = v[$1, $2] " " $7 }
  END {
    print "proxy", "h2c_idle_kb", "tls_idle_kb", "h1_idle_kb", "h2c_stream_conn_kb", "stream_kb", "rss_start_mb"
    for (i = 1; i <= np; i++) { p = px[i]
      a = med(v[p, "h2c-idle"]); t = med(v[p, "tls-idle"]); h = med(v[p, "h1-idle"]); s = med(v[p, "h2c-stream"])
      st = (a == "NA" || s == "NA") ? "NA" : s - a
      print p, fmt("%.1f", a), fmt("%.1f", t), fmt("%.1f", h), fmt("%.1f", s), fmt("%.1f", st),
            fmt("%.1f", med(base[p]) / 1024) }
  }' "$1"
}

md_connmem() {
  awk -F'\t' 'NR == 1 {
      print "| Proxy | idle h2c conn | idle h2 TLS conn | idle HTTP/1.1 conn | h2c conn + 1 stream | 1 stream in flight | RSS after warm-up (MB) |"
      print "|---|---|---|---|---|---|---|"; next }
    { printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' "$1"
}
