# profile.sh: where herald's CPU goes per request (sourced by bench.sh;
# BENCH_PROFILE=1 turns it on).
#
# During each measured window of a herald run, perf samples the herald
# process (cpu-clock, so it works without hardware counters, as in a VM)
# and counts its system calls on the syscalls tracepoints. After the run
# the counts are divided by the requests h2load completed in the window.
# The report gives, per cell, the CPU per request split into categories
# (kernel, TLS crypto, TLS record layer, HPACK, the rest of nghttp2,
# libuv, allocation, copies, llhttp, herald itself; Debian's BoringSSL
# and nghttp2 lack internal symbols, so most of their time is counted by
# library), the system calls per
# request, and the hottest symbols. Sampling costs herald CPU: the
# figures here are for splitting, not for comparing with other runs.
#
# Globals read: OUT, PROXY_PID, WORK. Writes $OUT/profile/.

PROFILE_SYSCALLS="read readv write writev epoll_wait epoll_pwait epoll_ctl accept4 close"

# profile_start TAG: perf record and perf stat on herald, until profile_stop
profile_start() {
  local ev=() s
  mkdir -p "$OUT/profile"
  PROFILE_TAG=$1
  for s in $PROFILE_SYSCALLS; do ev+=(-e "syscalls:sys_enter_$s"); done
  perf record -q -e cpu-clock -F 1999 -p "$PROXY_PID" \
    -o "$OUT/profile/$1.data" >>"$OUT/profile/perf.log" 2>&1 &
  PERF_REC_PID=$!
  perf stat -x '	' -e raw_syscalls:sys_enter "${ev[@]}" -p "$PROXY_PID" \
    -o "$OUT/profile/$1.stat" >>"$OUT/profile/perf.log" 2>&1 &
  PERF_STAT_PID=$!
  STARTED+=("$PERF_REC_PID" "$PERF_STAT_PID")
}

# profile_stop: end both (perf writes its data on SIGINT)
profile_stop() {
  local p
  for p in "$PERF_REC_PID" "$PERF_STAT_PID"; do
    kill -INT "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    forget "$p"
  done
}

# profile_note ATTEMPT_TSV: the run's requests next to its perf stat counts,
# one line of $OUT/profile/runs.tsv
profile_note() {
  local cell done us
  cell=$(cut -f 1 "$1"); done=$(cut -f 5 "$1"); us=$(cut -f 9 "$1")
  [[ -f $OUT/profile/runs.tsv ]] ||
    printf 'cell\ttag\tdone\tcpu_us_req\n' >"$OUT/profile/runs.tsv"
  printf '%s\t%s\t%s\t%s\n' "$cell" "$PROFILE_TAG" "$done" "$us" >>"$OUT/profile/runs.tsv"
}

# The category of a perf report line's DSO and symbol.
PROFILE_AWK='
function category(dso, sym) {
  if (dso ~ /kernel/) return "kernel (syscalls, TCP, loopback)"
  if (dso ~ /vdso/) return "clock reads (vDSO clock_gettime)"
  # Debian ships BoringSSL and nghttp2 stripped of their internal
  # symbols: what has no name is counted by library.
  if (dso ~ /libcrypto|libssl/) {
    if (sym ~ /aes|gcm|ghash|gf128|chacha|poly1305|sha/) return "TLS crypto (AES-GCM)"
    if (sym ~ /^0x/) return "BoringSSL, unnamed (AES-GCM, records)"
    return "TLS record layer"
  }
  if (dso ~ /nghttp2/) {
    if (sym ~ /_hd_|huff/) return "HPACK"
    if (sym ~ /^0x/) return "nghttp2, unnamed (frames, HPACK)"
    return "nghttp2 (frames, streams)"
  }
  if (dso ~ /libuv/) return "libuv"
  if (sym ~ /malloc|free|calloc|realloc|tcache|arena|sysmalloc|unlink_chunk|consolidate/) return "allocation (malloc/free)"
  if (sym ~ /mem(cpy|move|set)|memcmp/) return "copies (memcpy/memmove/memset)"
  if (dso ~ /libc/) return "libc, other"
  if (sym ~ /llhttp/) return "llhttp"
  return "herald"
}'

# profile_report: the markdown of BENCH_PROFILE=1
profile_report() {
  local cell tag data
  [[ -s $OUT/profile/runs.tsv ]] || return 0
  echo
  echo "### Profile (perf record -e cpu-clock -F 1999 -p HERALD; perf stat on the syscalls tracepoints)"
  echo
  echo "Herald only; CPU per request includes perf's sampling. Per cell, the first"
  echo "repetition's profile; system calls per request are medians over repetitions."
  for cell in $(awk -F'\t' 'NR > 1 && !s[$1]++ { print $1 }' "$OUT/profile/runs.tsv"); do
    echo
    echo "#### $(awk "$TABLES_AWK"'BEGIN { print cellname(ARGV[1]) }' "$cell")"
    echo
    # system calls per request, median over this cell's runs
    awk -F'\t' -v c="$cell" 'NR > 1 && $1 == c { print $2, $3 }' "$OUT/profile/runs.tsv" |
      while read -r tag done; do
        awk -F'\t' -v d="$done" '$3 ~ /sys_enter/ && d > 0 {
          n = $3; sub(/^.*sys_enter_?/, "", n); if (n == "") n = "all"
          printf "%s\t%.3f\n", n, $1 / d }' "$OUT/profile/$tag.stat"
      done |
      awk -F'\t' "$TABLES_AWK"'{ if (!($1 in v)) o[++k] = $1; v[$1] = v[$1] " " $2 }
        END { printf "System calls per request:"
              for (i = 1; i <= k; i++) if (med(v[o[i]]) > 0) printf " %s %.3f;", o[i], med(v[o[i]])
              printf "\n" }'
    tag=$(awk -F'\t' -v c="$cell" 'NR > 1 && $1 == c { print $2; exit }' "$OUT/profile/runs.tsv")
    data=$OUT/profile/$tag.data
    [[ -s $data ]] || { echo; echo "(no samples: $data)"; continue; }
    perf report -i "$data" --stdio --no-children --sort dso,sym \
      2>/dev/null | grep -v '^#' | grep -v '^$' >"$OUT/profile/$tag.report"
    local us
    us=$(awk -F'\t' -v t="$tag" '$2 == t { print $4 }' "$OUT/profile/runs.tsv")
    echo
    echo "| Where | share | µs/request (of $us) |"
    echo "|---|---|---|"
    awk -v us="$us" "$PROFILE_AWK"'
      { pct = $1; sub(/%/, "", pct); dso = $2; sym = $0
        sub(/^ *[0-9.]+% +[^ ]+ +\[[^]]*\] +/, "", sym)
        c = category(dso, sym); if (!(c in s)) o[++k] = c; s[c] += pct }
      END { for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (s[o[j]] > s[o[i]]) { t = o[i]; o[i] = o[j]; o[j] = t }
            for (i = 1; i <= k; i++) printf "| %s | %.1f%% | %.2f |\n", o[i], s[o[i]], s[o[i]] * us / 100 }' \
      "$OUT/profile/$tag.report"
    echo
    echo "Hottest symbols:"
    echo
    head -n 25 "$OUT/profile/$tag.report" | sed 's/^/    /'
  done
}
