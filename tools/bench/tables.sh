# tables.sh: medians and markdown tables of the benchmark's raw TSVs
# (sourced by bench.sh). Tables are markdown so they paste into a note.
#
# A raw file has a header line, then one line per run:
#   cell proxy rep req_s done failed p50_ms p99_ms cpu_us_req proxy_cpu_pct
#   peak_rss_mb other_cpu_pct try
# "NA" marks a figure a run could not give; medians skip it.

# Shared awk: median of a space-separated list, cell names for people.
TABLES_AWK='
function isort(a, n,   i, j, t) {
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j+1] = a[j]; a[j+1] = t }
}
function med(s,   a, n, i, k, m) {
  n = split(s, a, " "); k = 0
  for (i = 1; i <= n; i++) if (a[i] != "NA" && a[i] != "") m[++k] = a[i] + 0
  if (k == 0) return "NA"
  isort(m, k)
  return (k % 2) ? m[(k+1)/2] : (m[k/2] + m[k/2+1]) / 2
}
function fmt(f, v) { return v == "NA" ? "NA" : sprintf(f, v) }
function ratio(x, y) { return (x == "NA" || y == "NA" || y == 0) ? "NA" : sprintf("%.2f", x / y) }
function cellname(c,   m, f) {
  m = c; sub(/:.*/, "", m); f = c; sub(/^[^:]*:/, "", f)
  if (m == "page") return "page mix (h2c)"
  if (f == "1k.bin") f = "1 KB"; else if (f == "100k.bin") f = "100 KB"
  return (m == "tls" ? "TLS" : m) " " f
}
'

# summarize RAW: medians per cell and proxy, in the order first seen:
#   cell proxy runs req_s p50_ms p99_ms cpu_us_req peak_rss_mb other_cpu_pct failed
summarize() {
  awk -F'\t' -v OFS='\t' "$TABLES_AWK"'
  NR == 1 { next }
  { k = $1 SUBSEP $2
    if (!(k in n)) order[++nk] = k
    n[k]++; rps[k] = rps[k] " " $4; p50[k] = p50[k] " " $7; p99[k] = p99[k] " " $8
    us[k] = us[k] " " $9; rss[k] = rss[k] " " $11; oth[k] = oth[k] " " $12
    if ($6 != "NA") fl[k] += $6 }
  END {
    print "cell", "proxy", "runs", "req_s", "p50_ms", "p99_ms", "cpu_us_req", "peak_rss_mb", "other_cpu_pct", "failed"
    for (i = 1; i <= nk; i++) { k = order[i]; split(k, kk, SUBSEP)
      print kk[1], kk[2], n[k], fmt("%.0f", med(rps[k])), fmt("%.3f", med(p50[k])),
            fmt("%.3f", med(p99[k])), fmt("%.2f", med(us[k])), fmt("%.1f", med(rss[k])),
            fmt("%.1f", med(oth[k])), fl[k] + 0 }
  }' "$1"
}

# A herald configuration is a label that starts with herald (herald,
# herald-2, herald-pipelined, herald-1loop, ...). "The best other proxy"
# of a cell is the best of the rest (nghttpx, h2o, nginx), never one of
# them: a tuned herald, or a second build, is no peer to measure against.
TABLES_AWK=$TABLES_AWK'
function is_herald(l) { return l ~ /^herald(-|$)/ }
'

# ratios SUMMARY HERALD PIPELINED: per cell, HERALD's CPU per request
# against the best (lowest) other proxy's, and its p99 against that
# proxy's; then the same for PIPELINED (herald-pipelined). Either label
# may be empty or absent from a cell (its figures are then NA):
#   cell herald_us best best_us ratio herald_p99 best_p99 p99_ratio
#   pipelined_us pipelined_ratio pipelined_p99 pipelined_p99_ratio
ratios() {
  awk -F'\t' -v OFS='\t' -v h="$2" -v pl="$3" "$TABLES_AWK"'
  NR == 1 { next }
  { if (!($1 in seen)) { seen[$1] = 1; cells[++nc] = $1 }
    if (h != "" && $2 == h) { hu[$1] = $7; hp[$1] = $6 }
    else if (pl != "" && $2 == pl) { pu[$1] = $7; pp[$1] = $6 }
    else if (!is_herald($2) && $7 != "NA" && (!($1 in bu) || $7 + 0 < bu[$1] + 0)) {
      bu[$1] = $7; bn[$1] = $2; bp[$1] = $6 } }
  END {
    print "cell", "herald_us", "best", "best_us", "ratio", "herald_p99", "best_p99", "p99_ratio",
          "pipelined_us", "pipelined_ratio", "pipelined_p99", "pipelined_p99_ratio"
    for (i = 1; i <= nc; i++) { c = cells[i]
      if (!(c in bu) || !((c in hu) || (c in pu))) continue
      if (!(c in hu)) { hu[c] = "NA"; hp[c] = "NA" }
      if (!(c in pu)) { pu[c] = "NA"; pp[c] = "NA" }
      print c, hu[c], bn[c], bu[c], ratio(hu[c], bu[c]), hp[c], bp[c], ratio(hp[c], bp[c]),
            pu[c], ratio(pu[c], bu[c]), pp[c], ratio(pp[c], bp[c]) }
  }' "$1"
}

# md_ratios RATIOS H P: the ratios table for people, one row per cell and
# herald configuration (H and P, the labels ratios was given; an empty
# one has no row)
md_ratios() {
  awk -F'\t' -v h="$2" -v pl="$3" "$TABLES_AWK"'
  function row(c, l, us, r, p99r) {
    if (l != "" && us != "NA") printf "| %s | %s | %s | %s | %s | %s | %s |\n", c, l, us, $3, $4, r, p99r }
  NR == 1 { print "| Cell | herald configuration | µs/req | best other | its µs/req | / best | p99 / its p99 |"
            print "|---|---|---|---|---|---|---|"; next }
  { row(cellname($1), h, $2, $5, $8); row(cellname($1), pl, $9, $10, $12) }' "$1"
}

# md_matrix SUMMARY COLUMN RATIOS LABELS...: one row per cell, one column
# per label, the summary's COLUMN (cpu_us_req or req_s) in each; the best
# label that is no herald configuration in bold; then one column per word
# of RATIOS: "X" is label X over that best, "X/Y" label X over label Y
# (an A/B of two builds). For cpu the best is the lowest; for req_s the
# highest, and each value carries its CPU per request in parentheses. A
# label with no run in a cell shows "–".
md_matrix() {
  local sum=$1 col=$2 rs=$3; shift 3
  awk -F'\t' -v col="$col" -v rs="$rs" -v labels="$*" "$TABLES_AWK"'
  function better(a, b) { return col == "req_s" ? a + 0 > b + 0 : a + 0 < b + 0 }
  function show(c, l,   v) {
    v = val[c, l]
    if (v == "NA") return "NA"
    if (col == "req_s") return sprintf("%.0f (%s)", v, us[c, l])
    return v
  }
  NR == 1 { next }
  { if (!($1 in seen)) { seen[$1] = 1; cells[++nc] = $1 }
    val[$1, $2] = (col == "req_s") ? $4 : $7; us[$1, $2] = $7; have[$1, $2] = 1 }
  END {
    nl = split(labels, L, " ")
    for (j = 1; j <= nl; j++) inl[L[j]] = 1
    # the ratio columns whose labels are all in the table
    n = split(rs, R0, " "); nr = 0
    for (k = 1; k <= n; k++) {
      x = R0[k]; y = ""
      if (index(x, "/")) { y = substr(x, index(x, "/") + 1); x = substr(x, 1, index(x, "/") - 1) }
      if (!(x in inl) || (y != "" && !(y in inl)) || (y == "" && nl < 2)) continue
      RX[++nr] = x; RY[nr] = y }
    printf "| Cell |"; for (j = 1; j <= nl; j++) printf " %s |", L[j]
    for (k = 1; k <= nr; k++) printf " %s / %s |", RX[k], (RY[k] == "" ? "best" : RY[k])
    printf "\n|---|"; for (j = 1; j <= nl + nr; j++) printf "---|"; printf "\n"
    for (i = 1; i <= nc; i++) { c = cells[i]; best = ""
      for (j = 1; j <= nl; j++) { l = L[j]
        if (is_herald(l) || !have[c, l] || val[c, l] == "NA") continue
        if (best == "" || better(val[c, l], val[c, best])) best = l }
      printf "| %s |", cellname(c)
      for (j = 1; j <= nl; j++) { l = L[j]
        if (!have[c, l]) printf " – |"
        else if (l == best) printf " **%s** |", show(c, l)
        else printf " %s |", show(c, l) }
      for (k = 1; k <= nr; k++) { y = (RY[k] == "") ? best : RY[k]
        if (have[c, RX[k]] && y != "" && have[c, y]) printf " %s |", ratio(val[c, RX[k]], val[c, y])
        else printf " – |" }
      printf "\n" }
  }' "$sum"
}

# md_detail SUMMARY: every figure of the summary, one row per cell and proxy
md_detail() {
  awk -F'\t' "$TABLES_AWK"'
  NR == 1 { print "| Cell | Proxy | runs | req/s | p50 ms | p99 ms | CPU µs/req | peak RSS MB | other CPU % | failed |"
            print "|---|---|---|---|---|---|---|---|---|---|"; next }
  { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
      cellname($1), $2, $3, $4, $5, $6, $7, $8, $9, $10 }' "$1"
}

# md_pair SUMMARY LA LB: the two labels per cell and a ratio row LA/LB
# (the recording and learner sections)
md_pair() {
  awk -F'\t' -v la="$2" -v lb="$3" "$TABLES_AWK"'
  NR == 1 { next }
  { if (!($1 in seen)) { seen[$1] = 1; cells[++nc] = $1 }
    R[$1, $2] = $4; P50[$1, $2] = $5; P99[$1, $2] = $6; U[$1, $2] = $7; M[$1, $2] = $8 }
  END {
    print "| Cell | Run | req/s | p50 ms | p99 ms | CPU µs/req | peak RSS MB |"
    print "|---|---|---|---|---|---|---|"
    for (i = 1; i <= nc; i++) { c = cells[i]
      for (j = 1; j <= 2; j++) { l = (j == 1) ? la : lb
        printf "| %s | %s | %s | %s | %s | %s | %s |\n", cellname(c), l, R[c, l], P50[c, l], P99[c, l], U[c, l], M[c, l] }
      printf "| %s | %s/%s | %s | – | %s | %s | – |\n", cellname(c), la, lb, ratio(R[c, la], R[c, lb]),
        ratio(P99[c, la], P99[c, lb]), ratio(U[c, la], U[c, lb]) }
  }' "$1"
}

# warn_bad RAW: runs that completed nothing or had failures
warn_bad() {
  awk -F'\t' 'NR > 1 && ($5 == 0 || ($6 != 0 && $6 != "NA")) {
      bad = bad sprintf("\n  %s %s rep %s: %s done, %s failed", $1, $2, $3, $5, $6); n++ }
    END { if (n) printf "WARNING: %d run(s) completed no requests or had failures (see h2load/):%s\n", n, bad }' "$1"
}
