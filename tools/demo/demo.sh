#!/usr/bin/env bash
# demo.sh: herald in front of a sample "legacy" web shop.
#
#   make demo                         (runs B=build tools/demo/demo.sh)
#   DEMO_ONESHOT=1 make demo          start, check, print, stop, exit 0
#
# What runs (all on 127.0.0.1):
#   nginx   :$DEMO_BACKEND_PORT (8081)  serves tools/demo/site over plain
#                                       HTTP/1.1 only: the legacy app
#   herald  :$DEMO_TLS_PORT (8443)      TLS, ALPN h2 and http/1.1
#           :$DEMO_HTTP_PORT (8080)     cleartext: h2c prior knowledge and
#                                       HTTP/1.1
#
# Everything the demo writes goes to tools/demo/run/ (gitignored): the
# self-signed certificate (made on the first run, kept afterwards), the
# nginx config, pid files, temp dirs and logs. The script stays in the
# foreground until Ctrl-C (or until herald or nginx dies), then stops
# exactly the two processes it started.
#
# Environment:
#   B                  build dir holding herald (default build; relative
#                      paths are taken from the repository root)
#   DEMO_ONESHOT=1     do not wait for Ctrl-C: start, run the checks,
#                      print the instructions, stop, exit 0 (for tests)
#   DEMO_HTTP_PORT     herald cleartext port (default 8080)
#   DEMO_TLS_PORT      herald TLS port (default 8443)
#   DEMO_BACKEND_PORT  nginx port (default 8081)
#   DEMO_RUN_DIR       where to keep cert, configs and logs (default
#                      tools/demo/run); tests point it at a temp dir so they
#                      never touch an interactive demo's files
#
# Works as root and as a normal user: nginx gets "user root;" only when
# started as root (otherwise its workers would drop to nobody and could not
# read the site), and never touches /var: every path is under the run dir.
#
# Layout: one function per step, called in order from main() at the bottom;
# later steps (learning, push / Early Hints checks) slot in there.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B="$ROOT/$B" ;; esac
SITE=$ROOT/tools/demo/site
. "$ROOT/tools/bench/nginx_conf.sh"
RUN=${DEMO_RUN_DIR:-$ROOT/tools/demo/run}
case $RUN in /*) ;; *) RUN="$PWD/$RUN" ;; esac
HTTP_PORT=${DEMO_HTTP_PORT:-8080}
TLS_PORT=${DEMO_TLS_PORT:-8443}
BACKEND_PORT=${DEMO_BACKEND_PORT:-8081}
ONESHOT=${DEMO_ONESHOT:-0}

HERALD=$B/herald
CERT=$RUN/cert.pem
KEY=$RUN/key.pem
NGINX_DIR=$RUN/nginx
NGINX_CONF=$NGINX_DIR/nginx.conf
NGINX_PID=
HERALD_PID=
ACCESS_LOG=$RUN/access.log
HERALD_LOG=$RUN/herald.log
NGINX_ERROR_LOG=$NGINX_DIR/error.log

# The pages of the sample site, for the checks and the instructions.
PAGES=(/ /about.html /product/123.html /product/456.html)

# The demo talks to 127.0.0.1 only: never through a proxy from the
# environment.
export no_proxy='*' NO_PROXY='*'
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

say() { printf '[demo] %s\n' "$*"; }
die() {
  printf '[demo] error: %s\n' "$*" >&2
  exit 1
}

# ---- helpers -----------------------------------------------------------------

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port PORT PID: until something accepts on 127.0.0.1:PORT (15 s, an
# ASan build starts slowly); fails early if PID, the process meant to
# listen there, has exited.
wait_port() {
  local port=$1 pid=$2 i
  for ((i = 0; i < 300; i++)); do
    port_in_use "$port" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# stop_pid PID: TERM, then KILL after 5 s. Only ever called with PIDs this
# script started (or recorded in its own pid files).
stop_pid() {
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    # Our own child lingers as a zombie until waited for.
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
    sleep 0.05
  done
  kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] &&
    { kill -KILL "$pid" 2>/dev/null || true; }
  wait "$pid" 2>/dev/null || true
}

# ---- steps -------------------------------------------------------------------

check_prereqs() {
  [ -x "$HERALD" ] || die "$HERALD not built (run make, or make B=$B)"
  [ -d "$SITE" ] || die "sample site missing: $SITE"
  local tool
  for tool in nginx openssl curl; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not installed (make deps installs it)"
  done
  mkdir -p "$RUN" "$NGINX_DIR" "$RUN/checks"
}

# stop_leftovers: a demo killed with SIGKILL leaves its herald and nginx
# running. Stop them if their pid files name live processes that were
# started from this run dir (their command lines name it), nothing else.
stop_leftovers() {
  local f pid
  for f in "$RUN/herald.pid" "$NGINX_DIR/nginx.pid"; do
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
      tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$RUN/"; then
      say "stopping a leftover from an earlier demo run (pid $pid, $(basename "$f"))"
      stop_pid "$pid"
    fi
    rm -f "$f"
  done
}

check_ports_free() {
  local p
  for p in "$HTTP_PORT" "$TLS_PORT" "$BACKEND_PORT"; do
    if port_in_use "$p"; then
      die "port $p on 127.0.0.1 is in use; stop what runs there or pick other ports (DEMO_HTTP_PORT, DEMO_TLS_PORT, DEMO_BACKEND_PORT)"
    fi
  done
}

# make_cert: self-signed RSA-2048 for 127.0.0.1 and localhost, made once and
# kept, so a browser exception accepted once stays valid.
make_cert() {
  if [ -s "$CERT" ] && [ -s "$KEY" ]; then
    return 0
  fi
  say "creating a self-signed certificate for 127.0.0.1/localhost in $RUN"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
    -keyout "$KEY" -out "$CERT" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$RUN/openssl.log" 2>&1 ||
    die "openssl failed: $(cat "$RUN/openssl.log")"
  chmod 600 "$KEY"
}

# write_nginx_conf: the legacy app. Plain HTTP/1.1, no Link headers, no
# HTTP/2: everything herald adds is herald's doing.
#
# A real legacy app spends time rendering each HTML page, which is where
# Early Hints pay off. Stock nginx cannot delay a response without extra
# modules (echo_sleep is in libnginx-mod-http-echo, not in Debian's nginx
# package), so the backend answers instantly and the demo shows no think
# time; limit_rate would slow the transfer, not the start, so it is not a
# stand-in.
write_nginx_conf() {
  {
    echo "# Generated by tools/demo/demo.sh on every start; edits are lost."
    nginx_conf_head "$NGINX_DIR"
    cat <<EOF
  server_tokens off;
  server {
    listen 127.0.0.1:$BACKEND_PORT;
    server_name localhost;
    root $SITE;
    index index.html;
    location / { }
    location ~* \.(css|js|png|woff2)\$ { expires 1h; }
  }
}
EOF
  } >"$NGINX_CONF"
}

start_backend() {
  write_nginx_conf
  : >"$NGINX_DIR/stdout.log"
  # -e: nginx opens its default error log before reading the config; point
  # it into the run dir so a normal user needs no /var/log/nginx.
  nginx -p "$NGINX_DIR/" -c "$NGINX_CONF" -e "$NGINX_ERROR_LOG" >>"$NGINX_DIR/stdout.log" 2>&1 &
  NGINX_PID=$!
  if ! wait_port "$BACKEND_PORT" "$NGINX_PID"; then
    die "nginx did not start: $(tail -n 5 "$NGINX_ERROR_LOG" "$NGINX_DIR/stdout.log" 2>/dev/null)"
  fi
  say "nginx (legacy app, HTTP/1.1) pid $NGINX_PID on 127.0.0.1:$BACKEND_PORT, serving $SITE"
}

start_herald() {
  : >"$ACCESS_LOG"
  # Recording and learning on, from scratch each run. The learner's demo
  # settings are far below the defaults (20 visits, 3 clients, 0.95/0.90)
  # so a dozen scripted visits teach it; mode both pushes to clients that
  # take push and sends 103 Early Hints to the others. No holdout (default
  # 5% of navigations get nothing, to measure the effect), so every visit
  # shown gets what was learned.
  rm -f "$RUN/herald.db" "$RUN/herald.db-wal" "$RUN/herald.db-shm"
  local -a cmd=("$HERALD" --listen "127.0.0.1:$HTTP_PORT" --listen-tls "127.0.0.1:$TLS_PORT"
    --cert "$CERT" --key "$KEY" --backend "127.0.0.1:$BACKEND_PORT" --access-log "$ACCESS_LOG"
    --db "$RUN/herald.db" -o record.window=1500 -o record.flush=100
    -o learn.interval=300 -o learn.min_visits=5 -o learn.min_clients=2
    -o learn.hint_threshold=0.6 -o learn.push_threshold=0.65 -o deliver.mode=both
    -o deliver.holdout=0 -o deliver.verify=0
    -o clients.trusted_proxies=127.0.0.1)
  echo "== $(date '+%F %T') ${cmd[*]}" >>"$HERALD_LOG"
  "${cmd[@]}" >>"$HERALD_LOG" 2>&1 &
  HERALD_PID=$!
  echo "$HERALD_PID" >"$RUN/herald.pid"
  local p
  for p in "$HTTP_PORT" "$TLS_PORT"; do
    if ! wait_port "$p" "$HERALD_PID"; then
      die "herald did not listen on 127.0.0.1:$p: $(tail -n 5 "$HERALD_LOG")"
    fi
  done
  say "herald pid $HERALD_PID on 127.0.0.1:$TLS_PORT (TLS) and 127.0.0.1:$HTTP_PORT (cleartext)"
}

# fetch NAME EXPECT CURL-ARGS...: one request through herald; EXPECT is
# "<status> <http version>" as curl's -w reports it. The body is kept in
# $RUN/checks/NAME.out.
fetch() {
  local name=$1 want=$2 got
  shift 2
  got=$(curl -sS -m 10 -o "$RUN/checks/$name.out" -w '%{http_code} %{http_version}' "$@" 2>"$RUN/checks/$name.err") || true
  if [ "$got" != "$want" ]; then
    die "check '$name' failed: expected '$want', got '$got' $(cat "$RUN/checks/$name.err")
--- herald.log (tail) ---
$(tail -n 10 "$HERALD_LOG")"
  fi
  say "check: $* -> $got"
}

# check_requests: prove the chain works over each front protocol, and that
# the front page arrives intact.
check_requests() {
  fetch front-tls "200 2" --http2 -k "https://127.0.0.1:$TLS_PORT/"
  cmp -s "$RUN/checks/front-tls.out" "$SITE/index.html" ||
    die "the front page fetched through herald differs from $SITE/index.html"
  fetch front-h2c "200 2" --http2-prior-knowledge "http://127.0.0.1:$HTTP_PORT/"
  fetch about-h1 "200 1.1" --http1.1 "http://127.0.0.1:$HTTP_PORT/about.html"
}

# teach: browser-like visits of the front page (page, then its CSS,
# scripts and images with Referer, then the font the CSS names) from three
# clients until herald has learned rules, then show them and what the next
# visit gets. herald counts clients by network, so the scripted visitors
# name three networks in X-Forwarded-For, which the demo's herald believes
# from loopback (clients.trusted_proxies).
teach() {
  local t=https://127.0.0.1:$TLS_PORT i n=0
  say "teaching: 14 browser-like visits of $t/ from 3 clients"
  for i in $(seq 1 14); do
    "$ROOT/tests/integ/browser.sh" --ua "demo-browser-$((i % 3))" \
      --from "198.51.$((100 + i % 3)).7" "$t" / >/dev/null 2>&1 ||
      die "browser visit $i failed"
  done
  # All 14 visits are in once their window closes; wait for push rules.
  for i in $(seq 1 60); do
    n=$("$B/heraldctl" --db "$RUN/herald.db" --json rules / 2>/dev/null |
      grep -oE '"channel": ?"push"' | wc -l) || true
    [ "$n" -ge 8 ] && break
    sleep 0.25
  done
  [ "$n" -ge 8 ] || die "no push rules learned after 14 visits: $(tail -n 5 "$HERALD_LOG")"
  say "learned (heraldctl --db $RUN/herald.db rules /):"
  "$B/heraldctl" --db "$RUN/herald.db" rules / | sed 's/^/    /'
  local pushes hints
  pushes=$(nghttp -nv "${NAV[@]}" "$t/" 2>&1 | grep -c 'recv PUSH_PROMISE') || true
  say "next visit, a client that takes push: $pushes PUSH_PROMISEs ($(push_cmd "$t"))"
  hints=$(nghttp -nv --no-push "${NAV[@]}" "$t/" 2>&1 |
    grep -E ':status: 103|link: ' | sed 's/^.*recv (stream_id=[0-9]*) /    /') || true
  say "next visit, a client without push (today's browsers) gets 103 Early Hints ($(hints_cmd "$t")):"
  printf '%s\n' "$hints"
}

# What makes a request a navigation, as a browser sends it: without these
# headers herald sends neither pushes nor a 103 (nghttp's User-Agent is
# in record.ignore_agents, so these looks are never counted as visits).
NAV=(-H 'sec-fetch-mode: navigate' -H 'sec-fetch-dest: document')
# push_cmd URL, hints_cmd URL: the commands that show the pushes and the
# 103 of the next navigation, exactly as the banner prints them.
push_cmd() {
  printf "nghttp -nv -H 'sec-fetch-mode: navigate' -H 'sec-fetch-dest: document' %s/ | grep PUSH_PROMISE" "$1"
}
hints_cmd() {
  printf "nghttp -nv --no-push -H 'sec-fetch-mode: navigate' -H 'sec-fetch-dest: document' %s/ | grep -E ':status: 103|link:'" "$1"
}

print_instructions() {
  local t=https://127.0.0.1:$TLS_PORT h=http://127.0.0.1:$HTTP_PORT
  cat <<EOF

================================================================================
 herald demo is running

   herald    $t   TLS, ALPN h2 / http/1.1 (self-signed cert)
             $h    cleartext: h2c prior knowledge / HTTP/1.1
   backend   http://127.0.0.1:$BACKEND_PORT    nginx, HTTP/1.1 only (the legacy app)

 Pages:  ${PAGES[*]}

 Try:
   curl --http2 -k $t/                 (HTTP/2 over TLS)
   curl --http2-prior-knowledge $h/    (h2c)
   $(push_cmd "$t")
                                       (the pushes a navigation gets)
   $(hints_cmd "$t")
                                       (the 103 a client without push gets)
   $B/heraldctl --db $RUN/herald.db rules /        (what herald learned)
   nghttp -nas $t/product/123.html     (page + its assets, with timings)
   curl -k -sS -o /dev/null -w '%{http_version} %{http_code}\\n' $t/about.html
   a browser at $t/ (accept the certificate warning)

 Logs:
   access log  $ACCESS_LOG   (tail -f it)
   herald      $HERALD_LOG
   nginx       $NGINX_ERROR_LOG
================================================================================
EOF
  if [ "$ONESHOT" = 1 ]; then
    echo "DEMO_ONESHOT=1: stopping now."
  else
    echo "Ctrl-C to stop."
  fi
}

# stop_all: the EXIT trap. herald first (it drains), then nginx.
stop_all() {
  trap - EXIT INT TERM
  local had=
  [ -n "$HERALD_PID$NGINX_PID" ] && had=1
  stop_pid "$HERALD_PID"
  [ -n "$HERALD_PID" ] && rm -f "$RUN/herald.pid"
  stop_pid "$NGINX_PID"
  HERALD_PID='' NGINX_PID=''
  [ -n "$had" ] && say "stopped herald and nginx"
  return 0
}

# wait_foreground: until Ctrl-C or until herald or nginx exits.
#
# Ctrl-C reaches the whole foreground process group: herald and nginx get
# SIGINT too (both install their own handlers) and stop cleanly, often
# before this shell runs its INT trap; bash then does not act on the
# SIGINT at all, as the child "handled" it. So a status-0 exit of either
# is a normal stop; anything else is an error.
wait_foreground() {
  local pid='' rc=0 name
  while :; do
    pid='' rc=0
    wait -n -p pid "$HERALD_PID" "$NGINX_PID" 2>/dev/null || rc=$?
    [ -n "$pid" ] || continue # a signal interrupted the wait; the trap ran
    if [ "$pid" = "$HERALD_PID" ]; then
      name=herald HERALD_PID=''
      rm -f "$RUN/herald.pid"
    else
      name=nginx NGINX_PID=''
    fi
    if [ "$rc" = 0 ]; then
      say "$name stopped"
      exit 0
    fi
    if [ "$name" = herald ]; then
      die "herald exited with status $rc; see $HERALD_LOG: $(tail -n 5 "$HERALD_LOG")"
    fi
    die "nginx exited with status $rc; see $NGINX_ERROR_LOG: $(tail -n 5 "$NGINX_ERROR_LOG")"
  done
}

main() {
  trap stop_all EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  check_prereqs
  stop_leftovers
  check_ports_free
  make_cert
  start_backend
  start_herald
  check_requests
  teach
  print_instructions
  if [ "$ONESHOT" = 1 ]; then
    stop_all
    exit 0
  fi
  wait_foreground
}

main "$@"
