#!/usr/bin/env bash
# realsite.sh -- herald in front of a real documentation site, visited by
# headless Chromium and by HTML-only clients; how right its 103 Early Hints
# are and what they do for page loads.
#
# Usage: make realsite         (B=build tools/bench/realsite.sh)
#
# The site is Debian's python-scrapy-doc (Sphinx; every page: 3
# stylesheets, 7 scripts, web fonts declared in theme.css, one of them
# fontawesome-webfont.woff2?v=4.7.0), served as installed:
#
#   Chromium --(relay: RS_RTT ms, RS_RATE kbit/s, source 127.0.x.y)-->
#     herald (TLS, h2) --> nginx (HTTP/1.1) --> static files at once;
#                                HTML via a relay adding RS_THINK ms
#                                ("the backend thinks") to a second nginx
#
# Chromium is Debian's, headless, a fresh profile per visit, the test
# certificate trusted by its SPKI hash, driven over --remote-debugging-pipe
# by tools/bench/chromium_visit.py (what the 103 named, what the page
# loaded and how, Navigation Timing, LCP). Two names on one herald:
# docs.test (its route delivers as configured: hints) and docs-off.test
# (a route with deliver = off), so the arms differ by nothing else.
#
# A run:
#   1. learn: RS_VISITS navigations to each of the RS_PAGES, in a shuffled
#      order, RS_HTML_ONLY percent of them from HTML-only clients (curl,
#      nghttp, crawler and monitor user agents, a scraper sending
#      Sec-Fetch-Mode: navigate), the rest Chromium with one of 4 user
#      agents; each client has its own loopback address (one front relay
#      per address, --bind), 6 of them in 5 /24s for browsers, 5 for the
#      others. Then RS_SETTLE seconds for herald to write and learn.
#   2. measure: herald reloaded with deliver.verify = RS_MEASURE_VERIFY
#      (0: every navigation gets the 103 its rules call for), one Chromium
#      visit to each of RS_NEW_PAGES (never visited before), then
#      RS_MEASURE to each of RS_PAGES: hint precision and recall against
#      what the page loads (see realsite_report.py).
#   3. load: RS_LOADS loads per arm of each of RS_PAGES and RS_NEW_LOADS of
#      the first RS_NEW_LOAD_PAGES new pages, arms interleaved (off then
#      hints, hints then off, ...); medians of load event and LCP.
# RS_SWEEP runs it all again, from an empty database, per option set
# ("defaults" is none):
#   RS_SWEEP="defaults; -o learn.hint_budget=524288 -o learn.hint_max_resources=16"
# and ends with one comparison table. `make realsite` sweeps the hint
# budget: herald's defaults (2 MiB, 32), 1 MiB, and 512 KiB with 16.
#
# Environment (defaults in brackets):
#   B [build]            herald, heraldctl and relay
#   RS_SITE              [/usr/share/doc/python-scrapy-doc/html]
#   RS_PAGES             visited pages (paths) [5 pages]
#   RS_NEW_PAGES         never-visited pages [8 pages; set empty for none]
#   RS_VISITS [50]       learning navigations per visited page
#   RS_HTML_ONLY [30]    percent of those from HTML-only clients
#   RS_MEASURE [3]       measuring visits per visited page
#   RS_LOADS [4]         page loads per arm and visited page
#   RS_NEW_LOADS [2]     page loads per arm and new page
#   RS_NEW_LOAD_PAGES [4]
#   RS_RTT [100] RS_RATE [10000] RS_THINK [300]
#   RS_QUEUE [131072]    bytes each client link holds (relay --queue):
#                        about what a TCP sender keeps in flight on this
#                        path (10 Mbit/s x 100 ms is 125 KB); 0: the
#                        relay's own 1 MB, which lets herald hand over a
#                        whole page's hints at once
#   RS_OPTS              herald options for every run; realsite adds
#                        -o deliver.holdout=0 before them
#   RS_MEASURE_VERIFY [0] deliver.verify from the measuring phase on
#                        (a reload; learning keeps herald's default); set
#                        empty to keep the default throughout
#   RS_SWEEP             option sets, separated by ';' (one run each)
#   RS_SETTLE [12]       seconds between learning and measuring
#   RS_SEED [1]          the shuffle of the learning navigations
#   RS_CHROMIUM          the browser [chromium]
#   BENCH_OUT            results [$B/bench/realsite-<timestamp>]: per run
#                        run-N/ (manifest.tsv, visits/*.json, access.log,
#                        herald.log, herald.db, rules.txt, summary.tsv,
#                        report.txt)
#
# Everything started here is stopped at exit, by the PIDs recorded here.
set -uo pipefail

B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$(cd "$B" 2>/dev/null && pwd) || { echo "realsite.sh: no build dir '${B}'" >&2; exit 1; }
SITE=${RS_SITE:-/usr/share/doc/python-scrapy-doc/html}
PAGES=${RS_PAGES:-"/ /intro/overview.html /intro/tutorial.html /topics/selectors.html /topics/settings.html"}
NEW_PAGES=${RS_NEW_PAGES-"/intro/install.html /topics/spiders.html /topics/items.html /faq.html /topics/logging.html /topics/exporters.html /topics/commands.html /topics/request-response.html"}
VISITS=${RS_VISITS:-50}
HTML_ONLY=${RS_HTML_ONLY:-30}
MEASURE=${RS_MEASURE:-3}
LOADS=${RS_LOADS:-4}
NEW_LOADS=${RS_NEW_LOADS:-2}
NEW_LOAD_PAGES=${RS_NEW_LOAD_PAGES:-4}
RTT=${RS_RTT:-100}
RATE=${RS_RATE:-10000}
THINK=${RS_THINK:-300}
QUEUE=${RS_QUEUE:-131072}
MEASURE_VERIFY=${RS_MEASURE_VERIFY-0}
SETTLE=${RS_SETTLE:-12}
SEED=${RS_SEED:-1}
CHROMIUM=${RS_CHROMIUM:-$(command -v chromium || command -v chromium-browser || echo chromium)}
VISIT=$ROOT/tools/bench/chromium_visit.py
REPORT=$ROOT/tools/bench/realsite_report.py

log() { printf '[realsite %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for t in nginx openssl curl nghttp python3; do
  command -v "$t" >/dev/null 2>&1 || die "$t not found (make deps)"
done
command -v "$CHROMIUM" >/dev/null 2>&1 || die "chromium not found (make deps)"
for b in herald heraldctl relay; do
  [[ -x $B/$b ]] || die "$B/$b not built (make $B/$b)"
done
[[ -f $SITE/index.html ]] || die "no site at $SITE (make deps installs python-scrapy-doc)"
for p in $PAGES $NEW_PAGES; do
  f=$SITE$p
  [[ $p == */ ]] && f=${f}index.html
  [[ -f $f ]] || die "page $p not in $SITE"
done
export no_proxy='*' NO_PROXY='*'

OUT=${BENCH_OUT:-$B/bench/realsite-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d /tmp/herald-realsite.XXXXXX) || die "mktemp failed"
chmod 755 "$WORK"
STARTED=()
stop_pid() {
  kill -0 "$1" 2>/dev/null || return 0
  kill -TERM "$1" 2>/dev/null
  local i
  for i in $(seq 1 60); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  return 0
}
. "$ROOT/tools/bench/common.sh"

# ---- clients -----------------------------------------------------------------
# Browsers: address and user agent (all desktop: headless Chromium sends
# Sec-CH-UA-Mobile ?0 whatever its User-Agent says). Two share a /24.
BROWSER_ADDRS=(127.0.11.10 127.0.12.10 127.0.13.10 127.0.14.10 127.0.14.11 127.1.15.10)
UAS=(
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36'
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36'
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36'
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0'
)
# HTML-only clients: kind and address.
BOT_KINDS=(curl nghttp crawler monitor navigate curl-html)
BOT_ADDRS=(127.0.21.10 127.0.22.10 127.0.23.10 127.0.23.11 127.0.24.10 127.0.21.11)
CRAWLER_UA='Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'
MONITOR_UA='Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)'
HTML_ACCEPT='text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'

# ---- fixed services: certificate, nginx, the think relay ----------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=docs.test \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
  -addext "subjectAltName=DNS:docs.test,DNS:docs-off.test,IP:127.0.0.1" \
  >"$WORK/openssl.log" 2>&1 || die "openssl: $(cat "$WORK/openssl.log")"
SPKI=$(openssl x509 -in "$WORK/cert.pem" -pubkey -noout | openssl pkey -pubin -outform der |
  openssl dgst -sha256 -binary | base64)

pick_port NGINX_PORT
pick_port INNER_PORT
pick_port THINK_PORT
mkdir -p "$WORK/nginx"
. "$ROOT/tools/bench/nginx_conf.sh"
# Static files carry "expires 1h": Chromium takes an early-hints preload
# from its cache only while it is fresh (real static files are cacheable).
# HTML (paths ending in / or .html) goes through the think relay.
{
  nginx_conf_head "$WORK/nginx"
  cat <<EOF
  upstream think { server 127.0.0.1:$THINK_PORT; keepalive 16; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $SITE;
    location / { expires 1h; }
    location ~ (/|\\.html)\$ {
      proxy_pass http://think;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
    }
  }
  server {
    listen 127.0.0.1:$INNER_PORT;
    root $SITE;
    location / { }
  }
}
EOF
} >"$WORK/nginx/nginx.conf"
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" \
  >"$WORK/nginx/stdout.log" 2>&1 &
STARTED+=($!)
wait_port "$NGINX_PORT" $! || die "nginx: $(tail -3 "$WORK/nginx/error.log")"

# start_relay LOG ARGS...: build/relay, once it says it listens.
start_relay() {
  local log=$1 i
  shift
  "$B/relay" "$@" 2>"$log" &
  local pid=$!
  STARTED+=("$pid")
  for i in $(seq 1 100); do
    grep -q '^relay: listening on ' "$log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  die "relay $*: $(cat "$log")"
}
# The think relay delays both directions by half of RS_THINK: herald sees
# an HTML response RS_THINK ms after its request (nginx keeps the
# connection, so no handshake is added).
start_relay "$WORK/relay-think.log" --listen "127.0.0.1:$THINK_PORT" \
  --connect "127.0.0.1:$INNER_PORT" --rtt "$THINK"
t=$(curl -sS -o /dev/null -w '%{time_total}' "http://127.0.0.1:$NGINX_PORT/intro/overview.html")
log "site: $SITE behind nginx; an HTML page takes ${t}s from nginx (think $THINK ms)"

# ---- herald and the front relays -------------------------------------------------
pick_port HT    # the port every client dials (on its own address)
pick_port HT2   # herald's
BASE=https://docs.test:$HT
OFF_BASE=https://docs-off.test:$HT

write_config() {
  cat >"$1" <<EOF
[listener:tls]
listen = 127.0.0.1:$HT2
tls = on
cert = $WORK/cert.pem
key = $WORK/key.pem

[backend:site]
server = 127.0.0.1:$NGINX_PORT

[route:off]
host = docs-off.test
backend = site
deliver = off

[route:docs]
host = docs.test
backend = site

[store]
db = $2
EOF
  # Learning with herald's own verification draws; measuring without.
  [[ -n ${3:-} ]] && printf '\n[deliver]\nverify = %s\n' "$3" >>"$1"
  return 0
}

start_fronts() {
  local a
  for a in "${BROWSER_ADDRS[@]}" "${BOT_ADDRS[@]}"; do
    start_relay "$WORK/relay-front-$a.log" --listen "$a:$HT" --connect "127.0.0.1:$HT2" \
      --rtt "$RTT" --rate "$RATE" --bind "$a" ${QUEUE_OPT[@]+"${QUEUE_OPT[@]}"}
  done
}

# ---- one navigation ------------------------------------------------------------
SEQ=0
# chromium_nav RUN PHASE GROUP ARM PAGE BROWSER_INDEX
chromium_nav() {
  local run=$1 phase=$2 group=$3 arm=$4 page=$5 i=$6 base=$BASE host=docs.test
  [[ $arm == off ]] && base=$OFF_BASE host=docs-off.test
  local addr=${BROWSER_ADDRS[i % ${#BROWSER_ADDRS[@]}]} ua=${UAS[i % ${#UAS[@]}]}
  SEQ=$((SEQ + 1))
  local f
  f=visits/$(printf '%04d' "$SEQ")-$phase-$arm.json
  local status=ok
  timeout -k 5 60 python3 "$VISIT" --chromium "$CHROMIUM" --spki "$SPKI" \
    --map "$host=$addr" --ua "$ua" --client "$addr" --timeout 40 \
    --out "$run/$f" "$base$page" 2>>"$run/chromium_visit.log" || status=failed
  [[ -s $run/$f ]] || { status=failed; f=-; }
  printf '%s\t%s\t%s\t%s\t%s\t%s\tchromium\t%s\t%s\n' "$SEQ" "$phase" "$group" "$arm" \
    "$page" "$addr" "$status" "$f" >>"$run/manifest.tsv"
}

# html_nav RUN PAGE BOT_INDEX: one HTML-only navigation over the same link.
html_nav() {
  local run=$1 page=$2 i=$3
  local kind=${BOT_KINDS[i % ${#BOT_KINDS[@]}]} addr=${BOT_ADDRS[i % ${#BOT_ADDRS[@]}]}
  local code
  local -a c=(curl -sS -k -m 20 -o /dev/null -w '%{http_code}' --http2
    --resolve "docs.test:$HT:$addr")
  case $kind in
  curl) code=$("${c[@]}" "$BASE$page") ;;
  curl-html) code=$("${c[@]}" -H "Accept: $HTML_ACCEPT" "$BASE$page") ;;
  crawler) code=$("${c[@]}" -A "$CRAWLER_UA" -H "Accept: $HTML_ACCEPT" "$BASE$page") ;;
  monitor) code=$("${c[@]}" --http1.1 -A "$MONITOR_UA" -H "Accept: $HTML_ACCEPT" "$BASE$page") ;;
  navigate)
    code=$("${c[@]}" -A "${UAS[0]}" -H "Accept: $HTML_ACCEPT" -H 'Sec-Fetch-Mode: navigate' \
      -H 'Sec-Fetch-Dest: document' -H 'Sec-Fetch-Site: none' -H 'Sec-Fetch-User: ?1' \
      "$BASE$page")
    ;;
  nghttp)
    # nghttp cannot bind or resolve: it dials the client's address, and
    # :authority names the site.
    code=$(timeout 20 nghttp -n -s -H ":authority: docs.test:$HT" "https://$addr:$HT$page" \
      2>/dev/null | awk '/^id +responseEnd/ {s = 1; next} s && NF {print $5; exit}')
    ;;
  esac
  SEQ=$((SEQ + 1))
  printf '%s\tlearn\tvisited\thints\t%s\t%s\t%s\t%s\t-\n' "$SEQ" "$page" "$addr" "$kind" \
    "${code:-000}" >>"$run/manifest.tsv"
}

# schedule: "PAGE KIND" lines, RS_VISITS per page, RS_HTML_ONLY percent
# "html", the rest "chromium", shuffled with RS_SEED.
schedule() {
  python3 - "$SEED" "$VISITS" "$HTML_ONLY" $PAGES <<'EOF'
import random, sys
seed, visits, pct, pages = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
rows = []
for p in pages:
    html = round(visits * pct / 100)
    rows += [(p, "html")] * html + [(p, "chromium")] * (visits - html)
random.Random(seed).shuffle(rows)
for p, k in rows:
    print(p, k)
EOF
}

# ---- one run ---------------------------------------------------------------------
# run_one N LABEL OPTIONS...: a fresh database, learn, measure, load.
run_one() {
  local n=$1 label=${2:-defaults}
  shift 2
  local run=$OUT/run-$n
  mkdir -p "$run/visits"
  printf '# seq\tphase\tgroup\tarm\tpage\tclient\tkind\tstatus\tfile\n' >"$run/manifest.tsv"
  write_config "$WORK/herald-$n.ini" "$WORK/herald-$n.db"
  local -a hopts=(-c "$WORK/herald-$n.ini" --access-log "$run/access.log" -o deliver.holdout=0 "$@")
  echo "herald ${hopts[*]}" >"$run/herald.log"
  "$B/herald" "${hopts[@]}" >>"$run/herald.log" 2>&1 &
  HERALD_PID=$!
  STARTED+=("$HERALD_PID")
  wait_port "$HT2" "$HERALD_PID" || die "herald did not start: $(tail -5 "$run/herald.log")"
  log "run $n ($label): learning, $VISITS navigations to each of $(wc -w <<<"$PAGES") pages"
  local page kind nb=0 nh=0 k=0 total
  total=$(( $(wc -w <<<"$PAGES") * VISITS ))
  while read -r page kind; do
    k=$((k + 1))
    if [[ $kind == html ]]; then
      html_nav "$run" "$page" "$nh"
      nh=$((nh + 1))
    else
      chromium_nav "$run" learn visited hints "$page" "$nb"
      nb=$((nb + 1))
    fi
    (( k % 25 == 0 )) && log "  $k/$total navigations"
  done < <(schedule)
  log "run $n: letting herald write and learn (${SETTLE}s)"
  sleep "$SETTLE"
  if [[ -n $MEASURE_VERIFY ]]; then
    # A verification draw leaves a whole navigation without its 103 (1 in
    # 20 by default): it says nothing of the rules' quality, and in a few
    # measuring visits it would decide the figures. Like the holdout, it
    # is off while measuring (and loading).
    write_config "$WORK/herald-$n.ini" "$WORK/herald-$n.db" "$MEASURE_VERIFY"
    local before t
    before=$(grep -c 'configuration .* in force' "$run/herald.log")
    kill -HUP "$HERALD_PID"
    for t in $(seq 1 100); do
      (( $(grep -c 'configuration .* in force' "$run/herald.log") > before )) && break
      sleep 0.1
    done
    (( $(grep -c 'configuration .* in force' "$run/herald.log") > before )) ||
      die "herald did not reload: $(tail -3 "$run/herald.log")"
  fi
  log "run $n: measuring hints on $(wc -w <<<"$NEW_PAGES") new and $(wc -w <<<"$PAGES") visited pages"
  local i=0 r
  for page in $NEW_PAGES; do
    chromium_nav "$run" measure unvisited hints "$page" "$i"
    i=$((i + 1))
  done
  for ((r = 0; r < MEASURE; r++)); do
    for page in $PAGES; do
      chromium_nav "$run" measure visited hints "$page" "$i"
      i=$((i + 1))
    done
  done
  log "run $n: page loads, arms interleaved"
  local j=0 group first second lp
  local new_load
  new_load=$(printf '%s\n' $NEW_PAGES | head -n "$NEW_LOAD_PAGES" | tr '\n' ' ')
  local maxr=$(( LOADS > NEW_LOADS ? LOADS : NEW_LOADS ))
  for ((r = 0; r < maxr; r++)); do
    for group in visited unvisited; do
      if [[ $group == visited ]]; then
        (( r < LOADS )) || continue
        lp=$PAGES
      else
        (( r < NEW_LOADS )) || continue
        lp=$new_load
      fi
      for page in $lp; do
        if (( (r + j) % 2 == 0 )); then first=off second=hints; else first=hints second=off; fi
        chromium_nav "$run" load "$group" "$first" "$page" "$i"
        chromium_nav "$run" load "$group" "$second" "$page" "$i"
        i=$((i + 1))
        j=$((j + 1))
      done
    done
  done
  stop_pid "$HERALD_PID"
  "$B/heraldctl" --db "$WORK/herald-$n.db" rules >"$run/rules.txt" 2>&1
  # herald has stopped and checkpointed; a -wal left by a crash goes too.
  cp "$WORK/herald-$n.db" "$run/herald.db"
  [[ -f $WORK/herald-$n.db-wal ]] && cp "$WORK/herald-$n.db-wal" "$run/herald.db-wal"
  python3 "$REPORT" "$run" --label "run $n: $label" | tee "$run/report.txt"
  printf '%s\t%s\n' "$n" "$label" >>"$OUT/runs.tsv"
}

QUEUE_OPT=()
[[ $QUEUE != 0 ]] && QUEUE_OPT=(--queue "$QUEUE")
start_fronts
log "herald on 127.0.0.1:$HT2; clients dial $BASE from ${#BROWSER_ADDRS[@]} browser and ${#BOT_ADDRS[@]} HTML-only addresses (${RTT} ms RTT, ${RATE} kbit/s)"
: >"$OUT/runs.tsv"
n=0
if [[ -z ${RS_SWEEP:-} ]]; then
  # shellcheck disable=SC2086
  run_one 1 "$(echo ${RS_OPTS:-})" ${RS_OPTS:-}
else
  IFS=';' read -ra sets <<<"$RS_SWEEP"
  for s in "${sets[@]}"; do
    n=$((n + 1))
    s=$(echo $s)
    [[ $s == defaults ]] && s=
    # shellcheck disable=SC2086
    run_one "$n" "$(echo ${RS_OPTS:-} ${s:-})" ${RS_OPTS:-} $s
  done
  echo
  echo "== sweep: page loads of visited pages (medians, ms; hints/off) and hint quality"
  printf '%-4s %7s %7s %6s %7s %7s %6s %6s %6s %6s %6s  %s\n' run "load" "off" ratio \
    "LCP" "off" ratio prec recall "P new" "R new" options
  while IFS=$'\t' read -r k label; do
    awk -F'\t' -v k="$k" -v l="$label" '{ v[$1] = $2 }
      function f(x, d) { return x == "" || x == "nan" ? "-" : sprintf("%.*f", d, x) }
      END { printf "%-4s %7s %7s %6s %7s %7s %6s %6s %6s %6s %6s  %s\n", k,
            f(v["load.visited.hints.load"], 0), f(v["load.visited.off.load"], 0),
            f(v["load.visited.ratio.load"], 2), f(v["load.visited.hints.lcp"], 0),
            f(v["load.visited.off.lcp"], 0), f(v["load.visited.ratio.lcp"], 2),
            f(v["visited.precision"], 2), f(v["visited.recall"], 2),
            f(v["unvisited.precision"], 2), f(v["unvisited.recall"], 2), l }' \
      "$OUT/run-$k/summary.tsv"
  done <"$OUT/runs.tsv"
fi
log "results in $OUT"
