# lib.sh: shared harness for herald's integration tests; sourced, not run.
#
# Each test script does:
#   . "$(dirname "$0")/lib.sh"
#   start_nginx; start_herald --listen 127.0.0.1:$HPORT --backend ...
#   assert_eq ...; ok ...; fail ...
#   finish
#
# Everything a script starts is recorded and killed at exit, and every
# client call carries a timeout, so one hung proxy cannot hang the suite.
#
# Environment:
#   B               build dir holding herald, fault_backend (default build)
#   HERALD_STANDIN  "nghttpx": run nghttpx instead of herald, mapping the
#                   flags herald takes, to check the harness itself
#   HERALD_WORKERS  event-loop threads start_herald asks for (default 1;
#                   make integ-workers2 runs the suite with 2). A test that
#                   needs a count passes --workers itself, after these.
#   KEEP_WORK=1     keep $WORK (logs, configs) after the script exits
#   VERBOSE=1       print client output of failing checks in full

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B="$ROOT/$B" ;; esac
HERALD_STANDIN=${HERALD_STANDIN:-}
HERALD_WORKERS=${HERALD_WORKERS:-1}
TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "/tmp/herald-$TEST_NAME.XXXXXX")
HERALD_LOG=$WORK/herald.log
PASSED=0
FAILED=0
FINISHED=0
PIDS=()
HERALD_PID=
# The name herald (or the stand-in) puts in Via; tests compare against it.
if [ "$HERALD_STANDIN" = nghttpx ]; then VIA_NAME=nghttpx; else VIA_NAME=herald; fi

# Client defaults: never go through a proxy from the environment, always a
# deadline.
export no_proxy='*' NO_PROXY='*'
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

log() { printf '# %s\n' "$*"; }

# ---- assertions ----------------------------------------------------------

ok() {
  PASSED=$((PASSED + 1))
  printf 'ok   - %s\n' "$1"
}

fail() {
  FAILED=$((FAILED + 1))
  local detail=${2:-}
  if [ "${VERBOSE:-0}" != 1 ] && [ ${#detail} -gt 600 ]; then
    detail="${detail:0:600}... (${#detail} bytes; VERBOSE=1 for all)"
  fi
  printf 'FAIL - %s: %s\n' "$1" "$detail"
}

# check NAME CMD...: ok if the command succeeds.
check() {
  local name=$1
  shift
  if "$@"; then ok "$name"; else fail "$name" "command failed: $*"; fi
}

assert_eq() {
  if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "expected '$2', got '$3'"; fi
}

assert_ne() {
  if [ "$2" != "$3" ]; then ok "$1"; else fail "$1" "did not expect '$2'"; fi
}

# assert_contains NAME NEEDLE HAYSTACK (fixed string, case-sensitive)
assert_contains() {
  case $3 in
  *"$2"*) ok "$1" ;;
  *) fail "$1" "'$2' not found in: $3" ;;
  esac
}

assert_not_contains() {
  case $3 in
  *"$2"*) fail "$1" "'$2' unexpectedly found in: $3" ;;
  *) ok "$1" ;;
  esac
}

# assert_match NAME ERE HAYSTACK / assert_no_match: extended regex, case
# insensitive, because header names are.
assert_match() {
  if printf '%s' "$3" | grep -Eqi -- "$2"; then ok "$1"; else fail "$1" "/$2/ not matched in: $3"; fi
}

assert_no_match() {
  if printf '%s' "$3" | grep -Eqi -- "$2"; then
    fail "$1" "/$2/ unexpectedly matched: $(printf '%s' "$3" | grep -Ei -- "$2" | head -3)"
  else ok "$1"; fi
}

# assert_le NAME LIMIT ACTUAL (integers)
assert_le() {
  if [ "$3" -le "$2" ] 2>/dev/null; then ok "$1"; else fail "$1" "expected <= $2, got '$3'"; fi
}

assert_ge() {
  if [ "$3" -ge "$2" ] 2>/dev/null; then ok "$1"; else fail "$1" "expected >= $2, got '$3'"; fi
}

skip() { printf 'skip - %s: %s\n' "$1" "${2:-}"; }

# skip_unless NAME [--no-standin WHY] [--built BIN...] [--cmd TOOL...]: skip
# the whole script (and finish) if a stand-in runs instead of herald, a
# binary of $B is not built or a tool is not installed.
skip_unless() {
  local name=$1 kind= x
  shift
  for x in "$@"; do
    case $x in
    --no-standin | --built | --cmd) kind=$x; continue ;;
    esac
    if [ "$kind" = --no-standin ] && [ -n "$HERALD_STANDIN" ]; then
      skip "$name" "$x"; finish
    elif [ "$kind" = --built ] && [ ! -x "$B/$x" ]; then
      skip "$name" "$B/$x not built"; finish
    elif [ "$kind" = --cmd ] && ! command -v "$x" >/dev/null 2>&1; then
      skip "$name" "$x not installed (make deps)"; finish
    fi
  done
}

# ---- processes and ports ---------------------------------------------------

# Ports come from a per-script window (derived from the PID, below the
# kernel's ephemeral range) and are probed before use; the counter lives in
# a file so $(free_port) works from a subshell.
_PORT_FILE=$WORK/.next_port
echo $((20000 + ($$ % 1000) * 12)) >"$_PORT_FILE"

port_in_use() {
  if command -v ss >/dev/null 2>&1; then
    [ -n "$(ss -Htan "sport = :$1" 2>/dev/null)" ] && return 0
    return 1
  fi
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
  local p
  p=$(cat "$_PORT_FILE")
  while port_in_use "$p"; do
    p=$((p + 1))
    [ "$p" -ge 32700 ] && p=20000
  done
  echo $((p + 1)) >"$_PORT_FILE"
  echo "$p"
}

# wait_port PORT [HOST] [SECONDS] [PID]: until something accepts on
# HOST:PORT; gives up early if PID (the process meant to listen) exits.
wait_port() {
  local port=$1 host=${2:-127.0.0.1} secs=${3:-10} pid=${4:-} i
  for ((i = 0; i < secs * 20; i++)); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.05
  done
  return 1
}

# wait_port_closed PORT [HOST] [SECONDS]: until nothing accepts there.
wait_port_closed() {
  local port=$1 host=${2:-127.0.0.1} secs=${3:-10} i
  for ((i = 0; i < secs * 20; i++)); do
    if ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

# wait_pid_exit PID SECONDS: 0 once PID is gone (reaped if it is our child).
wait_pid_exit() {
  local pid=$1 secs=${2:-10} i
  for ((i = 0; i < secs * 20; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then return 0; fi
    # A zombie child still answers kill -0; look at its state. The leader
    # of a threaded process is a zombie while its other threads still
    # exit (and hold its descriptors and locks): wait for them too.
    if [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] &&
      [ "$(ls "/proc/$pid/task" 2>/dev/null | wc -l)" -le 1 ]; then return 0; fi
    sleep 0.05
  done
  return 1
}

# wait_for FILE TEXT: 0 once FILE contains TEXT (fixed string), within 5 s.
wait_for() {
  local i
  for ((i = 0; i < 100; i++)); do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

track_pid() { PIDS+=("$1"); }

# stop_pid PID: TERM, then KILL after 3 s.
stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  wait_pid_exit "$pid" 3 || kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

# ---- fixtures --------------------------------------------------------------

# gen_cert: self-signed RSA-2048 for 127.0.0.1 and localhost in $CERT/$KEY.
gen_cert() {
  CERT=$WORK/cert.pem
  KEY=$WORK/key.pem
  [ -s "$CERT" ] && return 0
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -keyout "$KEY" -out "$CERT" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$WORK/openssl.log" 2>&1 || {
    fail "gen_cert" "$(cat "$WORK/openssl.log")"
    return 1
  }
}

# make_site: a small static site plus download fixtures in $WORK/site.
make_site() {
  local s=$WORK/site
  [ -d "$s" ] && return 0
  mkdir -p "$s/img" "$s/fonts"
  cat >"$s/index.html" <<'EOF'
<!doctype html>
<html><head><title>herald test site</title>
<link rel="stylesheet" href="/style.css"><script src="/app.js"></script>
</head><body><h1>herald test site</h1><img src="/img/a.png"></body></html>
EOF
  printf 'body { font-family: "T", sans-serif; }\n@font-face { font-family: T; src: url(/fonts/t.woff2); }\n' >"$s/style.css"
  printf 'console.log("herald test");\n' >"$s/app.js"
  head -c 20000 /dev/urandom >"$s/fonts/t.woff2"
  head -c 5000 /dev/urandom >"$s/img/a.png"
  head -c 30000 /dev/urandom >"$s/img/b.jpg"
  head -c 1024 /dev/urandom >"$s/1k.bin"
  head -c 102400 /dev/urandom >"$s/100k.bin"
  head -c 52428800 /dev/urandom >"$s/50m.bin"
  # nginx runs as whoever runs the tests; make sure it can read it all.
  chmod -R a+rX "$WORK" "$s"
}

. "$ROOT/tools/bench/nginx_conf.sh"

# start_nginx: nginx on $NGINX_PORT serving $WORK/site. NGINX_SERVER_EXTRA
# (optional) is pasted into the server block, e.g. a location with its own
# default_type.
start_nginx() {
  make_site
  NGINX_PORT=$(free_port)
  mkdir -p "$WORK/nginx"
  {
    nginx_conf_head "$WORK/nginx"
    cat <<EOF
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/site;
    location / { }
    ${NGINX_SERVER_EXTRA:-}
  }
}
EOF
  } >"$WORK/nginx/nginx.conf"
  nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" \
    >"$WORK/nginx/stdout.log" 2>&1 &
  NGINX_PID=$!
  track_pid "$NGINX_PID"
  if ! wait_port "$NGINX_PORT" 127.0.0.1 10 "$NGINX_PID"; then
    fail "start_nginx" "nginx did not listen: $(tail -5 "$WORK/nginx/error.log" "$WORK/nginx/stdout.log" 2>/dev/null)"
    return 1
  fi
}

# start_fault_backend [ADDR]: fault_backend on $FB_PORT, logging requests to
# $FB_LOG. ADDR defaults to 127.0.0.1:<free port>. FB_PAGE, when set, is
# the file /page?ms=N answers with.
start_fault_backend() {
  if [ ! -x "$B/fault_backend" ]; then
    fail "start_fault_backend" "$B/fault_backend not built (make $B/fault_backend)"
    return 1
  fi
  FB_PORT=${1:-$(free_port)}
  FB_LOG=$WORK/fault_backend.requests
  "$B/fault_backend" --listen "127.0.0.1:$FB_PORT" --log "$FB_LOG" \
    ${FB_PAGE:+--page "$FB_PAGE"} >>"$WORK/fault_backend.log" 2>&1 &
  FB_PID=$!
  track_pid "$FB_PID"
  if ! wait_port "$FB_PORT" 127.0.0.1 10 "$FB_PID"; then
    fail "start_fault_backend" "no listener: $(tail -5 "$WORK/fault_backend.log")"
    return 1
  fi
}

# fb_count: requests the fault backend has seen (/count requests excluded).
fb_count() {
  curl -sS -m 5 "http://127.0.0.1:$FB_PORT/count" 2>/dev/null | tr -d '\r\n '
}

fb_reset() {
  curl -sS -m 5 -o /dev/null "http://127.0.0.1:$FB_PORT/count?reset=1"
}

# _standin_args maps herald flags onto nghttpx's for HERALD_STANDIN=nghttpx.
# Only what the tests use is mapped; anything else is reported and dropped.
_standin_args() {
  local a v tls_cert= tls_key= out=()
  local -a fronts=()
  out+=(--conf=/dev/null --workers=1 --no-ocsp --add-x-forwarded-for
    --errorlog-file=/dev/stderr --log-level=WARN --backend-keep-alive-timeout=60s)
  while [ $# -gt 0 ]; do
    a=$1
    shift
    case $a in
    --listen) fronts+=("${1%:*};${1##*:};no-tls") && shift ;;
    --listen-tls) fronts+=("${1%:*};${1##*:}") && shift ;;
    --backend) out+=("-b${1%:*},${1##*:}") && shift ;;
    --cert) tls_cert=$1 && shift ;;
    --key) tls_key=$1 && shift ;;
    --access-log) out+=("--accesslog-file=$1"
      '--accesslog-format=$remote_addr "$request" $status $body_bytes_sent') && shift ;;
    --log-level) out+=(--log-level=INFO) && shift ;;
    -o)
      v=$1
      shift
      case $v in
      timeouts.idle=*) out+=("--frontend-keep-alive-timeout=${v#*=}ms" "--frontend-http2-read-timeout=${v#*=}ms") ;;
      timeouts.header=*) out+=("--frontend-read-timeout=${v#*=}ms") ;;
      timeouts.backend_connect=*) out+=("--backend-connect-timeout=${v#*=}ms") ;;
      timeouts.backend_read=*) out+=("--backend-read-timeout=${v#*=}ms") ;;
      timeouts.write=*) out+=("--frontend-write-timeout=${v#*=}ms") ;;
      limits.max_concurrent_streams=*) out+=("--frontend-http2-max-concurrent-streams=${v#*=}") ;;
      limits.max_header_list_size=*) out+=("--request-header-field-buffer=${v#*=}") ;;
      limits.max_connections=*) out+=("--worker-frontend-connections=${v#*=}") ;;
      *) echo "standin: -o $v not mapped" >&2 ;;
      esac
      ;;
    *) echo "standin: $a not mapped" >&2 ;;
    esac
  done
  local f
  for f in "${fronts[@]}"; do
    # nghttpx spells [::1]:P as "::1,P" and wants no brackets.
    f=${f//[\[\]]/}
    out+=("-f${f/;/,}")
  done
  [ -n "$tls_key" ] && out+=("$tls_key" "$tls_cert")
  printf '%s\n' "${out[@]}"
}

# _listen_ports ARGS...: "host port" for every --listen/--listen-tls, and
# for every [listener:*] listen key of a -c FILE.
_listen_ports() {
  local addr
  while [ $# -gt 0 ]; do
    case $1 in
    --listen | --listen-tls)
      _host_port "$2"
      shift
      ;;
    -c | --config)
      while read -r addr; do _host_port "$addr"; done < <(awk '
        /^\[/ { in_listener = ($0 ~ /^\[listener:/) }
        in_listener && $1 == "listen" && $2 == "=" { print $3 }' "$2")
      shift
      ;;
    esac
    shift
  done
}

# _host_port ADDR: "host port"; a bare port and localhost are 127.0.0.1,
# as herald reads them.
_host_port() {
  case $1 in
  *:*) ;;
  *)
    echo "127.0.0.1 $1"
    return
    ;;
  esac
  local h=${1%:*}
  h=${h#[}
  h=${h%]}
  [ "$h" = localhost ] && h=127.0.0.1
  echo "$h ${1##*:}"
}

# heraldctl_setup NAME: for tests of herald's own database (no stand-in):
# skips under HERALD_STANDIN, fails unless sqlite3, nghttp, python3 and
# $B/heraldctl are there, and sets CTL.
heraldctl_setup() {
  if [ "$HERALD_STANDIN" = nghttpx ]; then
    skip "$1" "herald's own database; no stand-in"
    finish
  fi
  local t
  for t in sqlite3 nghttp python3; do
    command -v "$t" >/dev/null 2>&1 || {
      fail "$t installed" "make deps"
      finish
    }
  done
  CTL=$B/heraldctl
  [ -x "$CTL" ] || {
    fail "heraldctl built" "make $CTL"
    finish
  }
}

# start_herald ARGS...: herald (or the stand-in) in the background, stderr
# to $HERALD_LOG; returns once every listen address accepts.
start_herald() {
  local -a cmd
  # A herald sent herald_graceful_stop may still hold its ports: a new one
  # started on them would fail to bind while the old one answered.
  if [ -n "${HERALD_STOPPING:-}" ]; then
    wait_pid_exit "$HERALD_STOPPING" 15
    HERALD_STOPPING=
  fi
  if [ "$HERALD_STANDIN" = nghttpx ]; then
    mapfile -t cmd < <(_standin_args "$@")
    cmd=(nghttpx "${cmd[@]}")
  else
    if [ ! -x "$B/herald" ]; then
      fail "start_herald" "$B/herald not built"
      return 1
    fi
    cmd=("$B/herald" --workers "$HERALD_WORKERS" "$@")
  fi
  echo "== $(date +%T) ${cmd[*]}" >>"$HERALD_LOG"
  "${cmd[@]}" >>"$HERALD_LOG" 2>&1 &
  HERALD_PID=$!
  track_pid "$HERALD_PID"
  local host port
  while read -r host port; do
    if ! wait_port "$port" "$host" 10 "$HERALD_PID"; then
      fail "start_herald" "not listening on $host:$port: $(tail -5 "$HERALD_LOG")"
      return 1
    fi
  done < <(_listen_ports "$@")
}

herald_alive() { [ -n "$HERALD_PID" ] && kill -0 "$HERALD_PID" 2>/dev/null &&
  [ "$(awk '{print $3}' "/proc/$HERALD_PID/stat" 2>/dev/null)" != Z ]; }

# herald_graceful_stop: the drain signal (herald: SIGTERM; nghttpx's
# graceful shutdown is SIGQUIT, its SIGTERM is immediate).
herald_graceful_stop() {
  HERALD_STOPPING=$HERALD_PID
  if [ "$HERALD_STANDIN" = nghttpx ]; then
    kill -QUIT "$HERALD_PID"
  else
    kill -TERM "$HERALD_PID"
  fi
}

# herald_rss_kb: peak resident set (VmHWM) of herald in KB.
herald_rss_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$HERALD_PID/status" 2>/dev/null; }

# ---- clients ---------------------------------------------------------------

# hcurl: curl with a deadline and no proxy; extra args are curl's.
hcurl() { curl -sS -m 10 --noproxy '*' "$@"; }

# hnghttp: nghttp with a deadline.
hnghttp() { timeout 20 nghttp "$@"; }

# raw_http HOST PORT WAIT_S: send stdin as-is, print everything received
# until the peer closes or nothing arrives for WAIT_S seconds (then
# "<<TIMEOUT>>" is appended; "<<RESET>>" on a reset). Python does the
# socket work: nc is not installed and bash's /dev/tcp cannot time out a
# read cleanly.
raw_http() {
  timeout $((${3%.*} + 15)) python3 "$WORK/raw_http.py" "$1" "$2" "${3:-2}"
}
# The script is a file: with "python3 -" the heredoc would take the stdin
# meant for the request bytes.
cat >"$WORK/raw_http.py" <<'EOF'
import socket, sys
host, port, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
data = sys.stdin.buffer.read()
s = socket.create_connection((host, port), timeout=5)
out = b""
try:
    s.sendall(data)
except OSError as e:
    out += b"<<SEND FAILED>>"
s.settimeout(wait)
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
except socket.timeout:
    out += b"\n<<TIMEOUT>>"
except ConnectionResetError:
    out += b"\n<<RESET>>"
sys.stdout.buffer.write(out)
EOF

# ---- teardown --------------------------------------------------------------

_sanitizer_check() {
  local f
  for f in "$HERALD_LOG" "$WORK"/fault_backend.log "$WORK"/relay*.log; do
    [ -f "$f" ] || continue
    if grep -Eq 'ERROR: (Address|Leak|Undefined)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$f"; then
      fail "sanitizer clean ($(basename "$f"))" "$(grep -E -m3 -A8 'Sanitizer|runtime error' "$f")"
    fi
  done
}

_cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    stop_pid "$pid"
  done
  if [ "$FINISHED" != 1 ]; then
    FAILED=$((FAILED + 1))
    echo "FAIL - $TEST_NAME: script exited before finish"
    echo "$PASSED passed, $FAILED failed"
  fi
  if [ "${KEEP_WORK:-0}" = 1 ]; then
    echo "# work dir kept: $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# finish: stop everything, report, exit non-zero on any failure. The count
# line is the last thing printed: tests/run.sh reads it.
finish() {
  local pid
  # Stop processes first so sanitizer reports (written at exit) are seen.
  for pid in "${PIDS[@]}"; do
    stop_pid "$pid"
  done
  PIDS=()
  _sanitizer_check
  if [ "$FAILED" -gt 0 ] && [ -s "$HERALD_LOG" ]; then
    echo "# ---- tail of herald.log ----"
    tail -n 40 "$HERALD_LOG" | sed 's/^/# /'
  fi
  FINISHED=1
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
  exit $?
}
