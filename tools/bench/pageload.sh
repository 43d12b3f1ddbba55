#!/usr/bin/env bash
# pageload.sh -- cold-cache page loads over an emulated link: straight to the
# backend, and through herald with delivery off, with push, with hints.
#
# Usage: B=build tools/bench/pageload.sh     (bench.sh runs it last;
#        BENCH_ONLY=pageload B=build tools/bench/bench.sh runs only this)
#
# The page is the demo shop's front page (tools/demo/site/index.html): a
# stylesheet that loads a font (HTML -> CSS -> font), two scripts and four
# images. Two variants (PL_PAGES), each a full run with its own table:
#   demo      the site as it is: 19 KB in all, so transfer is ~15 ms of a
#             10 Mbit/s link and only the round trips can be saved
#   weighted  the same page and references, each file padded at run time
#             to a typical weight (HTML 30 KB, CSS 40 KB, font 40 KB,
#             scripts 60 + 30 KB, images 10 + 60 + 2 x 20 KB: 310 KB), so
#             the think time can also be filled with subresource bytes
# nginx serves the site over plain HTTP/1.1 (herald's backend) and
# over TLS, HTTP/1.1 only (the "direct" arm: a browser talking to the legacy
# site itself). The page route costs a backend think time: nginx proxies "/"
# to build/fault_backend --page, which answers after PL_THINK ms, while nginx
# serves the assets at once.
#
# Every client connection crosses build/relay (tools/relay), which adds
# PL_RTT ms of round trip and PL_RATE kbit/s per direction. The relay
# accepts at once (the kernel finishes the TCP handshake on loopback), so
# the client adds the handshake's round trip itself (pageload
# --connect-rtt): each new connection costs 1 RTT for TCP, as on the wire.
# Backend links (herald -> nginx -> fault_backend) are plain loopback.
#
# herald learns first: scripted visits (tests/integ/browser.sh, as
# test_hints.sh) through a relay without delay on the very port the loads
# use later, since a page's rules are keyed by its origin. Then herald is
# restarted with the rules frozen, once per arm and load:
#   direct  pageload --http1.1 straight to nginx's TLS port (up to 6 conns)
#   off     herald deliver.mode=off, h2
#   push    herald deliver.mode=push, h2, the client accepts push
#   hints   herald deliver.mode=hints, h2, pageload --no-push (acts on 103)
# Arms are interleaved (direct off push hints, direct off ...), PL_RUNS
# loads each; the table shows medians.
#
# The limit (what no delivery scheme can beat on this link):
#   limit = 2 RTT (TCP + TLS 1.3 handshakes) + 1 RTT (the page request)
#         + think + page bytes * 8 / rate
# page bytes = the HTML and every subresource it needs (response bodies, as
# pageload counts them on the direct arm). Targets: push and hints within
# 1.2x the limit and at least 30% faster than herald with delivery off.
#
# Environment:
#   B=build            build dir (herald, pageload, relay, fault_backend)
#   PL_RTT=100         emulated round trip, ms
#   PL_RATE=10000      emulated bandwidth per direction, kbit/s
#   PL_THINK=200       backend think time of the page, ms
#   PL_RUNS=5          loads per arm
#   PL_ARMS="direct off push hints"
#   PL_PAGES="demo weighted"   (PL_PAGE=NAME: that one only)
#   PL_HERALD_OPTS=    extra herald options for learning and the loads,
#                      e.g. "-o learn.budget=400000" (herald's default byte
#                      budget, 100 KB per page, keeps 2 of the weighted
#                      page's 8 assets)
#   PL_VERBOSE=1      pageload -v: each load's timeline in pageload-PAGE-client.log
#   BENCH_OUT=DIR      results (default $B/bench/<timestamp>): per page
#                      pageload-PAGE.tsv (every load), pageload-PAGE-summary.tsv,
#                      pageload-PAGE-rules.txt (what herald learned),
#                      logs
#
# Everything started here is stopped at exit, by the PIDs recorded here.
set -uo pipefail

B=${B:-build}
RTT=${PL_RTT:-100}
RATE=${PL_RATE:-10000}
THINK=${PL_THINK:-200}
RUNS=${PL_RUNS:-5}
ARMS=${PL_ARMS:-"direct off push hints"}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$(cd "$B" 2>/dev/null && pwd) || { echo "pageload.sh: no build dir '${B}'" >&2; exit 1; }
# Several pages: one run of this script per page, each printing its table
# into the same output directory.
if [[ -z ${PL_PAGE:-} ]]; then
  export BENCH_OUT=${BENCH_OUT:-$B/bench/$(date +%Y%m%d-%H%M%S)}
  rc=0
  for page in ${PL_PAGES:-demo weighted}; do PL_PAGE=$page "$0" || rc=1; done
  exit $rc
fi
PAGE=$PL_PAGE
case $PAGE in demo | weighted) ;; *) echo "pageload.sh: PL_PAGE demo or weighted" >&2; exit 2 ;; esac

log() { printf '[pageload %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for t in nginx openssl curl python3 awk; do
  command -v "$t" >/dev/null 2>&1 || die "$t not found (make deps)"
done
for b in herald heraldctl pageload relay fault_backend; do
  [[ -x $B/$b ]] || die "$B/$b not built (make $B/$b)"
done
export no_proxy='*' NO_PROXY='*'

OUT=${BENCH_OUT:-$B/bench/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
# nginx workers (not root) must read the site, so the work dir is world-readable.
WORK=$(mktemp -d /tmp/herald-pageload.XXXXXX) || die "mktemp failed"
chmod 755 "$WORK"
mkdir -p "$WORK/site" "$WORK/nginx"
cp -r "$ROOT/tools/demo/site/." "$WORK/site/"

# pad FILE BYTES: grow FILE to BYTES. Text gets a comment of filler (in the
# HTML just before </body>, after every reference); binaries random bytes,
# which no client here decodes.
pad() {
  local f=$WORK/site/$1 want=$2 have n line
  have=$(stat -c %s "$f")
  n=$((want - have))
  (( n > 16 )) || return 0
  case $f in
    *.html)
      line=$(grep -n '</body>' "$f" | head -n 1 | cut -d: -f1)
      { head -n $((line - 1)) "$f"; printf '<!-- '; head -c $((n - 9)) /dev/zero | tr '\0' x
        printf ' -->\n'; tail -n +"$line" "$f"; } >"$f.new" && mv "$f.new" "$f" ;;
    *.css | *.js)
      { printf '\n/* '; head -c $((n - 7)) /dev/zero | tr '\0' x; printf ' */'; } >>"$f" ;;
    *) head -c "$n" /dev/urandom >>"$f" ;;
  esac
}
if [[ $PAGE == weighted ]]; then
  pad index.html 30000; pad css/shop.css 40000; pad fonts/shopsans.woff2 40000
  pad js/lib/minidom-1.2.js 60000; pad js/shop.js 30000; pad img/logo.png 10000
  pad img/banner.png 60000; pad img/product-123.png 20000; pad img/product-456.png 20000
fi
chmod -R a+rX "$WORK/site"

# ----------------------------------------------------------- process control
STARTED=()

# stop_pid PID: SIGTERM, SIGKILL after 3 s; only PIDs this script started.
stop_pid() {
  local pid=$1 i keep=() p
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 30); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  for p in "${STARTED[@]}"; do [[ $p != "$pid" ]] && keep+=("$p"); done
  STARTED=("${keep[@]}")
}

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# start NAME PORT CMD...: CMD in the background, logging to $OUT/pageload-NAME.log,
# until PORT listens; sets LAST_PID.
start() {
  local name=$1 port=$2
  shift 2
  "$@" >>"$OUT/pageload-$PAGE-$name.log" 2>&1 &
  LAST_PID=$!
  STARTED+=("$LAST_PID")
  wait_port "$port" "$LAST_PID" || { tail -n 5 "$OUT/pageload-$PAGE-$name.log" >&2; die "$name did not start"; }
}

# ------------------------------------------------------------------ backend
openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null ||
  die "openssl could not make a certificate"

pick_port FB; pick_port BP; pick_port DP
start fault_backend "$FB" "$B/fault_backend" --listen "127.0.0.1:$FB" \
  --page "$WORK/site/index.html"
FB_PID=$LAST_PID
user_line=
[[ $(id -u) == 0 ]] && user_line="user root;"
# One server block, two listeners: plain HTTP/1.1 for herald, TLS (HTTP/1.1
# only, no http2) for the direct arm. "/" and "/index.html" are the page.
cat >"$WORK/nginx.conf" <<EOF
$user_line
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
daemon off;
events { worker_connections 1024; }
http {
  types {
    text/html html; text/css css; application/javascript js; image/png png;
    font/woff2 woff2;
  }
  default_type application/octet-stream;
  access_log off;
  sendfile on; tcp_nodelay on;
  keepalive_timeout 65s;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  ssl_certificate $WORK/cert.pem;
  ssl_certificate_key $WORK/key.pem;
  ssl_protocols TLSv1.3;
  ssl_session_cache off;
  ssl_session_tickets off;
  server {
    listen 127.0.0.1:$BP;
    listen 127.0.0.1:$DP ssl;
    root $WORK/site;
    location = / { proxy_pass http://127.0.0.1:$FB/page?ms=$THINK; }
    location = /index.html { proxy_pass http://127.0.0.1:$FB/page?ms=$THINK; }
  }
}
EOF
start nginx "$BP" nginx -p "$WORK/nginx" -c "$WORK/nginx.conf"
NGINX_PID=$LAST_PID
log "backend: nginx :$BP (TLS :$DP), page think time ${THINK} ms from fault_backend :$FB"

# ---------------------------------------------------------------- learning
DB=$WORK/h.db
pick_port HT; pick_port RP; pick_port DRP
# herald counts clients by network: the scripted visitors name three
# networks in X-Forwarded-For, which herald believes from loopback.
LEARN=(--db "$DB" -o record.window=1000 -o record.flush=100
  -o learn.interval=300 -o learn.min_visits=5 -o learn.min_clients=2
  -o learn.hint_threshold=0.6 -o learn.push_threshold=0.65 -o deliver.mode=shadow
  -o clients.trusted_proxies=127.0.0.1)
FROZEN=(--db "$DB" -o deliver.holdout=0 -o deliver.verify=0 -o learn.interval=3600000 -o learn.recompute_after=100000000
  -o learn.min_visits=5 -o learn.min_clients=2 -o learn.hint_threshold=0.6
  -o learn.push_threshold=0.65)
read -r -a EXTRA <<<"${PL_HERALD_OPTS:-}"
HERALD_BASE=(--listen-tls "127.0.0.1:$HT" --cert "$WORK/cert.pem" --key "$WORK/key.pem"
  --backend "127.0.0.1:$BP" "${EXTRA[@]}")

start herald "$HT" "$B/herald" "${HERALD_BASE[@]}" "${LEARN[@]}"
HERALD_PID=$LAST_PID
start relay "$RP" "$B/relay" --listen "127.0.0.1:$RP" --connect "127.0.0.1:$HT"
RELAY_PID=$LAST_PID
ORIGIN=https://127.0.0.1:$RP
for i in $(seq 1 14); do
  "$ROOT/tests/integ/browser.sh" --ua "pageload-learn-$((i % 3))" \
    --from "198.51.$((100 + i % 3)).7" "$ORIGIN" / >/dev/null 2>&1 ||
    die "learning visit $i failed"
done
# How many rules depends on herald's byte budget, so wait for a count that
# holds over two recomputes (learn.interval 300 ms).
# served_rules: the resources served (push or hint) on $ORIGIN/, one per
# line, in serving order, as heraldctl lists them (both classes).
served_rules() {
  "$B/heraldctl" --db "$DB" --json rules "$ORIGIN/" 2>/dev/null | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    if r["channel"] != "none":
        print(r["resource"])' 2>/dev/null
}
rules=0 prev=-1
for _ in $(seq 1 40); do
  rules=$(served_rules | wc -l)
  [[ ${rules:-0} -gt 0 && $rules == "$prev" ]] && break
  prev=${rules:-0}
  sleep 0.7
done
[[ ${rules:-0} -gt 0 ]] || die "herald learned no rules for $ORIGIN/"
RULES="learned $rules rules for $ORIGIN/ from 14 visits: $(served_rules | sed "s#$ORIGIN##g" | paste -sd' ')"
log "$RULES"
echo "$RULES" >"$OUT/pageload-$PAGE-rules.txt"
stop_pid "$HERALD_PID"
stop_pid "$RELAY_PID"

# ------------------------------------------------------------------ loads
# The emulated links: one relay in front of herald (same port as while
# learning), one in front of nginx's TLS port.
start relay "$RP" "$B/relay" --listen "127.0.0.1:$RP" --connect "127.0.0.1:$HT" \
  --rtt "$RTT" --rate "$RATE"
start relay "$DRP" "$B/relay" --listen "127.0.0.1:$DRP" --connect "127.0.0.1:$DP" \
  --rtt "$RTT" --rate "$RATE"
log "links: relay :$RP -> herald :$HT, relay :$DRP -> nginx :$DP; rtt ${RTT} ms, ${RATE} kbit/s"

RAW=$OUT/pageload-$PAGE.tsv
SUM=$OUT/pageload-$PAGE-summary.tsv
printf 'arm\trun\tms\tbytes\tresources\trequests\tpushed\thinted\tconns\tcomplete\n' >"$RAW"

# one_load ARM RUN: one cold load, one line in $RAW
one_load() {
  local arm=$1 run=$2 target=127.0.0.1:$RP opts=() json
  case $arm in
    direct) target=127.0.0.1:$DRP; opts=(--http1.1) ;;
    off | push) ;;
    hints) opts=(--no-push) ;;
    *) die "unknown arm '$arm' (direct|off|push|hints)" ;;
  esac
  if [[ $arm != direct ]]; then
    start herald "$HT" "$B/herald" "${HERALD_BASE[@]}" "${FROZEN[@]}" -o deliver.mode="$arm"
    HERALD_PID=$LAST_PID
  fi
  [[ ${PL_VERBOSE:-0} == 1 ]] && opts+=(-v) && echo "== $arm run $run" >>"$OUT/pageload-$PAGE-client.log"
  json=$("$B/pageload" --json --connect-rtt "$RTT" --timeout 20000 "${opts[@]}" "$target" / \
    2>>"$OUT/pageload-$PAGE-client.log")
  [[ $arm != direct ]] && stop_pid "$HERALD_PID"
  [[ -n $json ]] || json='{"ms": 0, "complete": false}'
  awk -v arm="$arm" -v run="$run" -v OFS='\t' '{
      gsub(/[{}" ]/, ""); n = split($0, kv, ",")
      for (i = 1; i <= n; i++) { split(kv[i], p, ":"); v[p[1]] = p[2] }
      print arm, run, v["ms"], v["bytes"], v["resources"], v["requests"], v["pushed"],
            v["hinted"], v["conns"], v["complete"] }' <<<"$json" >>"$RAW"
  tail -n 1 "$RAW" | awk -F'\t' '{ printf "[pageload] %-6s run %s  %7s ms  %6s bytes  %2s requests  %2s pushed  %2s hinted  %s conn(s)%s\n",
    $1, $2, $3, $4, $6, $7, $8, $9, ($10 == "true") ? "" : "  INCOMPLETE" }' >&2
}

log "$RUNS cold load(s) per arm, interleaved: $ARMS"
for run in $(seq 1 "$RUNS"); do
  for arm in $ARMS; do one_load "$arm" "$run"; done
done

# ----------------------------------------------------------------- summary
awk -F'\t' -v OFS='\t' -v rtt="$RTT" -v rate="$RATE" -v think="$THINK" -v arms="$ARMS" '
  function isort(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j+1] = a[j]; a[j+1] = t }
  }
  function med(s,   a, n) {
    n = split(s, a, " "); if (n == 0) return "NA"
    isort(a, n); return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
  }
  function r2(x, y) { return (x == "NA" || y == "NA" || y == 0) ? "NA" : sprintf("%.2f", x / y) }
  NR == 1 { next }
  $10 == "true" { ms[$1] = ms[$1] " " $3; by[$1] = by[$1] " " $4; pu[$1] = pu[$1] " " $7
                  hi[$1] = hi[$1] " " $8; rq[$1] = rq[$1] " " $6 }
  $10 != "true" { bad[$1]++ }
  END {
    # Page bytes: from the direct arm (it fetches everything itself), else
    # from any arm.
    b = med(by["direct"]); if (b == "NA") for (a in by) { b = med(by[a]); break }
    limit = 3 * rtt + think + b * 8 / rate
    printf "# limit %.1f ms = 3 x %d ms RTT (TCP, TLS 1.3, request) + %d ms think + %d bytes x 8 / %d kbit/s\n",
      limit, rtt, think, b, rate
    print "arm", "median_ms", "x_limit", "x_off", "requests", "pushed", "hinted", "failed_runs"
    n = split(arms, A, " "); off = med(ms["off"])
    for (i = 1; i <= n; i++) {
      m = med(ms[A[i]])
      print A[i], (m == "NA" ? "NA" : sprintf("%.1f", m)), r2(m, limit), r2(m, off),
            med(rq[A[i]]), med(pu[A[i]]), med(hi[A[i]]), bad[A[i]] + 0
      M[A[i]] = m
    }
    # What the 30% target asks for against what the link allows: a load
    # at exactly the limit gains 1 - limit/off.
    if (off != "NA")
      printf "# a load at exactly the limit would be %.1f%% faster than off\n", 100 * (1 - limit / off)
    for (i = 1; i <= n; i++) {
      a = A[i]; if (a != "push" && a != "hints") continue
      if (M[a] == "NA" || off == "NA") { printf "# target %s: not measured\n", a; continue }
      ok1 = M[a] <= 1.2 * limit; ok2 = M[a] <= 0.7 * off
      printf "# target %s: %.2fx limit (<= 1.20: %s), %.1f%% faster than off (>= 30%%: %s)\n",
        a, M[a] / limit, ok1 ? "met" : "MISSED", 100 * (1 - M[a] / off), ok2 ? "met" : "MISSED"
    }
  }' "$RAW" >"$SUM"

echo
echo "page load ($PAGE page): demo shop front page, cold cache; medians of $RUNS load(s) per arm"
echo "link: rtt ${RTT} ms, ${RATE} kbit/s per direction (build/relay); backend think time ${THINK} ms"
grep '^# limit' "$SUM" | sed 's/^# //'
grep -v '^#' "$SUM" | column -t -s $'\t'
grep -E '^# (target|a load)' "$SUM" | sed 's/^# //'
log "raw: $RAW  summary: $SUM"
