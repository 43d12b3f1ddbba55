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

# ratios SUMMARY HERALD: per cell, herald's CPU per request against the
# best (lowest) other proxy's, and its p99 against that proxy's:
#   cell herald_us best best_us ratio herald_p99 best_p99 p99_ratio
ratios() {
  awk -F'\t' -v OFS='\t' -v h="$2" "$TABLES_AWK"'
  NR == 1 { next }
  { if (!($1 in seen)) { seen[$1] = 1; cells[++nc] = $1 }
    if ($2 == h) { hu[$1] = $7; hp[$1] = $6 }
    else if ($7 != "NA" && (!($1 in bu) || $7 + 0 < bu[$1] + 0)) { bu[$1] = $7; bn[$1] = $2; bp[$1] = $6 } }
  END {
    print "cell", "herald_us", "best", "best_us", "ratio", "herald_p99", "best_p99", "p99_ratio"
    for (i = 1; i <= nc; i++) { c = cells[i]
      if (!(c in hu) || !(c in bu)) continue
      print c, hu[c], bn[c], bu[c], ratio(hu[c], bu[c]), hp[c], bp[c], ratio(hp[c], bp[c]) }
  }' "$1"
}

# md_matrix SUMMARY COLUMN HERALD LABELS...: one row per cell, one column
# per label, the summary's COLUMN (cpu_us_req or req_s) in each; the best
# label other than HERALD in bold; then HERALD over that best. For cpu the
# best is the lowest; for req_s the highest, and each value carries its
# CPU per request in parentheses. A label with no run in a cell shows
# NA_TEXT (default "–").
md_matrix() {
  local sum=$1 col=$2 h=$3; shift 3
  awk -F'\t' -v col="$col" -v h="$h" -v labels="$*" -v na="${NA_TEXT:-–}" "$TABLES_AWK"'
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
    nl = split(labels, L, " "); hh = 0
    for (j = 1; j <= nl; j++) if (L[j] == h) hh = 1
    printf "| Cell |"; for (j = 1; j <= nl; j++) printf " %s |", L[j]
    if (hh && nl > 1) printf " %s / best |", h
    printf "\n|---|"; for (j = 1; j <= nl; j++) printf "---|"; if (hh && nl > 1) printf "---|"; printf "\n"
    for (i = 1; i <= nc; i++) { c = cells[i]; best = ""
      for (j = 1; j <= nl; j++) { l = L[j]
        if (l == h || !have[c, l] || val[c, l] == "NA") continue
        if (best == "" || better(val[c, l], val[c, best])) best = l }
      printf "| %s |", cellname(c)
      for (j = 1; j <= nl; j++) { l = L[j]
        if (!have[c, l]) printf " %s |", (l == h ? na : "–")
        else if (l == best) printf " **%s** |", show(c, l)
        else printf " %s |", show(c, l) }
      if (hh && nl > 1) {
        if (have[c, h] && best != "") printf " %s |", ratio(val[c, h], val[c, best])
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
