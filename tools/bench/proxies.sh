# proxies.sh: start one HTTP/2 front proxy under test, freshly, on new
# ports (sourced by bench.sh; connmem.sh uses it too).
#
# Every proxy gets the same job: h2c with prior knowledge and TLS (ALPN h2,
# http/1.1) in front of one HTTP/1.1 backend, with a keep-alive pool to it,
# no access log, per-connection request caps lifted (h2load's timed mode
# never reconnects after a GOAWAY), and WORKERS event loops:
#   herald   --workers N when it has them (herald_workers_args), one loop
#            otherwise
#   nghttpx  -n N worker threads (plus its main process)
#   h2o      num-threads N
#   nginx    worker_processes N (plus its master process)
# With one worker the proxy is pinned ($PIN_PROXY); with more it floats.
#
# Globals read: WORK, OUT, NOFILE, HERALD (HERALD_BIN instead, if set),
# PIN_PROXY, BACKEND_PORT (the backend), HERALD_CONF (array: the herald
# configuration's options, herald-pipelined's -o limits.backend_*; set per
# label by bench.sh's herald_for), HERALD_EXTRA (array: more herald
# arguments, a section's own), PROXY_LOG (log
# file instead of $OUT/NAME.log), LONG_TIMEOUTS (1: every idle, keep-alive
# and backend read timeout raised to 10 minutes and herald's per-client
# connection cap lifted, for the memory section, whose connections sit
# idle or wait on a backend that does not answer).
# Set: PROXY_PID (the process whose tree is measured), H2C_PORT, TLS_PORT,
# H1_PORT (cleartext HTTP/1.1: H2C_PORT except for nginx, whose h2c
# listener speaks nothing else).

HERALD_CONF=()
HERALD_EXTRA=()
PROXY_LOG=
LONG_TIMEOUTS=0

# herald_workers_style: how this herald is told its number of loops:
# "flag" (--workers N), "option" (-o server.workers=N) or "none" (one
# loop), whichever herald -t accepts first, so the bench runs herald with
# workers as soon as it has them. BENCH_HERALD_WORKERS=0 forces none.
herald_workers_style() {
  local t=(-t --listen 127.0.0.1:1 --backend 127.0.0.1:1)
  if [[ ${BENCH_HERALD_WORKERS:-} == 0 ]]; then echo none
  elif "$HERALD" "${t[@]}" --workers 2 >/dev/null 2>&1; then echo flag
  elif "$HERALD" "${t[@]}" -o server.workers=2 >/dev/null 2>&1; then echo option
  else echo none
  fi
}

# herald_workers_args N: herald's arguments for N loops (none: nothing)
herald_workers_args() {
  case $HERALD_WORKERS in
    flag) echo "--workers $1" ;;
    option) echo "-o server.workers=$1" ;;
  esac
}

# proxy_version NAME: one line for params.txt
proxy_version() {
  case $1 in
    herald) "$HERALD" --version 2>&1 | head -n 1 ;;
    nghttpx) nghttpx --version 2>&1 | head -n 1 ;;
    h2o) h2o --version 2>&1 | head -n 1 ;;
    nginx) nginx -v 2>&1 | head -n 1 ;;
  esac
}

# start_proxy NAME WORKERS: see the top of this file
start_proxy() {
  local name=$1 w=$2 logf=${PROXY_LOG:-$OUT/$1.log} pin=$PIN_PROXY
  [[ $w == 1 ]] || pin=""
  pick_port H2C_PORT; pick_port TLS_PORT
  H1_PORT=$H2C_PORT
  case $name in
    herald) start_herald "$w" "$logf" "$pin" ;;
    nghttpx) start_nghttpx "$w" "$logf" "$pin" ;;
    h2o) start_h2o "$w" "$logf" "$pin" ;;
    nginx) pick_port H1_PORT; start_nginx "$w" "$logf" "$pin" ;;
    *) die "unknown proxy '$name'" ;;
  esac
  PROXY_PID=$!
  STARTED+=("$PROXY_PID")
  local p
  for p in "$H2C_PORT" "$TLS_PORT" "$H1_PORT"; do
    if ! wait_port "$p" "$PROXY_PID"; then
      tail -n 5 "$logf" >&2
      die "$name did not start (see $logf)"
    fi
  done
}

start_herald() {
  local w=$1 logf=$2 pin=$3 args=()
  # shellcheck disable=SC2207  # the words of herald_workers_args
  args=($(herald_workers_args "$w"))
  # Without workers herald runs its one loop wherever it is asked for more
  # (the bench labels that column herald-1loop).
  # The memory section holds more streams than the default backend cap
  # (1024): each is measured with the backend connection it holds, as
  # the peers, which have no cap, hold theirs.
  if [[ $LONG_TIMEOUTS == 1 ]]; then
    args+=(-o limits.max_connections_per_client=1000000
      -o limits.max_connections=1000000
      -o limits.backend_max_connections=1000000
      -o timeouts.idle=600000 -o timeouts.backend_read=600000)
  fi
  $pin "${HERALD_BIN:-$HERALD}" --listen "127.0.0.1:$H2C_PORT" --listen-tls "127.0.0.1:$TLS_PORT" \
    --cert "$WORK/cert.pem" --key "$WORK/key.pem" \
    --backend "127.0.0.1:$BACKEND_PORT" \
    -o limits.max_requests_per_conn=100000000 "${args[@]}" "${HERALD_CONF[@]}" "${HERALD_EXTRA[@]}" \
    >>"$logf" 2>&1 &
}

# nghttpx: backend keep-alive 60 s, no OCSP, no access log (none asked for)
start_nghttpx() {
  local w=$1 logf=$2 pin=$3 long=()
  [[ $LONG_TIMEOUTS == 1 ]] && long=(--frontend-http2-read-timeout=10m
    --frontend-keep-alive-timeout=10m --frontend-read-timeout=10m
    --backend-read-timeout=10m)
  $pin nghttpx --conf=/dev/null -n "$w" \
    --backend="127.0.0.1,$BACKEND_PORT" \
    --frontend="127.0.0.1,$H2C_PORT;no-tls" --frontend="127.0.0.1,$TLS_PORT" \
    --no-ocsp --backend-keep-alive-timeout=60s "${long[@]}" \
    --errorlog-file="$logf" --rlimit-nofile="$NOFILE" \
    "$WORK/key.pem" "$WORK/cert.pem" >>"$logf" 2>&1 &
}

# h2o: backend keep-alive raised from 2 s to 60 s, connection cap from
# 1024; no access-log directive, so no access log
start_h2o() {
  local w=$1 logf=$2 pin=$3 conf=$WORK/run/h2o.$H2C_PORT.conf
  {
    # As root h2o would switch to nobody, who may not read the key.
    [[ $(id -u) == 0 ]] && echo "user: root"
    cat <<EOF
num-threads: $w
max-connections: 100000
error-log: $logf
listen:
  host: 127.0.0.1
  port: $H2C_PORT
listen:
  host: 127.0.0.1
  port: $TLS_PORT
  ssl:
    certificate-file: $WORK/cert.pem
    key-file: $WORK/key.pem
    ocsp-update-interval: 0
EOF
    if [[ $LONG_TIMEOUTS == 1 ]]; then
      printf 'http1-request-timeout: 600\nhttp2-idle-timeout: 600\n'
    fi
    cat <<EOF
hosts:
  default:
    paths:
      /:
        proxy.reverse.url: http://127.0.0.1:$BACKEND_PORT/
        proxy.timeout.keepalive: 60000
EOF
    [[ $LONG_TIMEOUTS == 1 ]] && echo "        proxy.timeout.io: 600000"
  } >"$conf"
  $pin h2o -c "$conf" >>"$logf" 2>&1 &
}

# nginx: upstream keep-alive pool (HTTP/1.1, Connection ""), proxy buffers
# large enough that a 100 KB answer never goes to a temporary file
start_nginx() {
  local w=$1 logf=$2 pin=$3 d=$WORK/run/nginx.$H2C_PORT ka=65s rd=60s
  [[ $LONG_TIMEOUTS == 1 ]] && ka=600s rd=600s
  mkdir -p "$d"
  cat >"$d/nginx.conf" <<EOF
worker_processes $w;
worker_rlimit_nofile $NOFILE;
pid $d/nginx.pid;
error_log $logf warn;
daemon off;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $d/body;
  proxy_temp_path $d/proxy;
  fastcgi_temp_path $d/fcgi;
  uwsgi_temp_path $d/uwsgi;
  scgi_temp_path $d/scgi;
  keepalive_requests 100000000;
  keepalive_timeout $ka;
  upstream be {
    server 127.0.0.1:$BACKEND_PORT;
    keepalive 1024;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:$H2C_PORT http2;
    listen 127.0.0.1:$TLS_PORT ssl http2;
    listen 127.0.0.1:$H1_PORT;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://be;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_read_timeout $rd;
      proxy_buffers 32 8k;
      proxy_busy_buffers_size 64k;
      proxy_max_temp_file_size 0;
    }
  }
}
EOF
  $pin nginx -p "$d" -c "$d/nginx.conf" >>"$logf" 2>&1 &
}
