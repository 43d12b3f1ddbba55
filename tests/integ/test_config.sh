#!/usr/bin/env bash
# test_config.sh: the command line and INI file (-t checks, errors that
# name file:line and key, --help), running from a file, and graceful
# shutdown on SIGTERM: requests in flight finish, new connections are
# refused, and herald exits 0 within timeouts.shutdown.
. "$(dirname "$0")/lib.sh"

start_fault_backend || finish
HERALD=$B/herald

# ---- -t / -c / --help (herald only: the stand-in has no INI) ---------------

if [ -z "$HERALD_STANDIN" ]; then
  if [ ! -x "$HERALD" ]; then
    fail "herald built" "$HERALD missing"
    finish
  fi
  HC=$(free_port)
  cat >"$WORK/good.ini" <<EOF
; a minimal working configuration
[log]
level = info
access_log = $WORK/access.log

[listener:plain]
listen = 127.0.0.1:$HC

[backend:app]
server = 127.0.0.1:$FB_PORT

[limits]
max_connections = 100

[timeouts]
shutdown = 3000
EOF
  timeout 10 "$HERALD" -t -c "$WORK/good.ini" >"$WORK/t.out" 2>&1
  assert_eq "-t -c good.ini exits 0" 0 $?

  # The unknown key sits on line 7.
  cat >"$WORK/bad.ini" <<EOF
[listener:plain]
listen = 127.0.0.1:$HC

[backend:app]
server = 127.0.0.1:$FB_PORT
[limits]
no_such_key = 5
EOF
  timeout 10 "$HERALD" -t -c "$WORK/bad.ini" >"$WORK/bad.out" 2>"$WORK/bad.err"
  assert_eq "-t -c with an unknown key exits 1" 1 $?
  err=$(cat "$WORK/bad.err")
  assert_contains "unknown key error names file:line" "bad.ini:7" "$err"
  assert_contains "unknown key error names the key" "no_such_key" "$err"

  cat >"$WORK/badval.ini" <<EOF
[listener:plain]
listen = 127.0.0.1:$HC
[backend:app]
server = 127.0.0.1:$FB_PORT
[timeouts]
idle = soon
EOF
  timeout 10 "$HERALD" -t -c "$WORK/badval.ini" >/dev/null 2>"$WORK/badval.err"
  assert_eq "-t -c with a bad value exits 1" 1 $?
  assert_contains "bad value error names file:line" "badval.ini:6" "$(cat "$WORK/badval.err")"
  assert_contains "bad value error names the key" "idle" "$(cat "$WORK/badval.err")"

  timeout 10 "$HERALD" -t -c "$WORK/does-not-exist.ini" >/dev/null 2>"$WORK/missing.err"
  assert_eq "-t -c with a missing file exits 1" 1 $?
  assert_contains "missing file error names it" "does-not-exist.ini" "$(cat "$WORK/missing.err")"

  timeout 10 "$HERALD" -t --listen "127.0.0.1:$HC" --backend "127.0.0.1:$FB_PORT" -o limits.bogus=1 \
    >/dev/null 2>"$WORK/o.err"
  assert_eq "-o with an unknown key exits 1" 1 $?
  assert_contains "-o error names the key" "bogus" "$(cat "$WORK/o.err")"

  # -t does what the start would: certificates load and match their keys,
  # backend names resolve, the database's directory and the log files are
  # usable. Each problem names the config key and the file.
  gen_cert
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other \
    -keyout "$WORK/other.key" -out "$WORK/other.pem" >/dev/null 2>&1
  # tcheck NAME EXPECTED ARGS...: -t with ARGS exits 1 and says EXPECTED.
  tcheck() {
    local name=$1 want=$2
    shift 2
    out=$(timeout 10 "$HERALD" -t "$@" 2>&1)
    assert_eq "-t fails: $name" 1 $?
    assert_contains "-t names it: $name" "$want" "$out"
  }
  TL=(--backend "127.0.0.1:$FB_PORT" --listen-tls "127.0.0.1:$HC")
  out=$(timeout 10 "$HERALD" -t "${TL[@]}" --cert "$CERT" --key "$KEY" 2>&1)
  assert_eq "-t passes a matching certificate and key" "herald: configuration (flags) is ok" "$out"
  tcheck "a key given as the certificate" \
    "listener 'flag1': cert $KEY: holds a private key, not a certificate (are cert and key swapped?)" \
    "${TL[@]}" --cert "$KEY" --key "$KEY"
  tcheck "cert and key swapped" \
    "listener 'flag1': cert $KEY: holds a private key, not a certificate" \
    "${TL[@]}" --cert "$KEY" --key "$CERT"
  tcheck "a certificate given as the key" \
    "listener 'flag1': key $CERT: holds a certificate, not a private key" \
    "${TL[@]}" --cert "$CERT" --key "$CERT"
  tcheck "a key that does not match" \
    "listener 'flag1': key $WORK/other.key does not match cert $CERT" \
    "${TL[@]}" --cert "$CERT" --key "$WORK/other.key"
  printf '[listener:pub]\nlisten = 127.0.0.1:%s\ntls = on\ncert = %s\nkey = %s\n[backend:app]\nserver = 127.0.0.1:%s\n' \
    "$HC" "$CERT" "$WORK/other.key" "$FB_PORT" >"$WORK/tls.ini"
  tcheck "a mismatched key in the file names its listener section" \
    "listener 'pub': key $WORK/other.key does not match cert $CERT" -c "$WORK/tls.ini"
  tcheck "a backend name that does not resolve" \
    "backend default: cannot resolve no-such-host.invalid:80" \
    --listen "127.0.0.1:$HC" --backend no-such-host.invalid:80
  F=(--listen "127.0.0.1:$HC" --backend "127.0.0.1:$FB_PORT")
  tcheck "a database in a missing directory" \
    "store.db $WORK/missing/h.db: directory $WORK/missing: No such file or directory" \
    "${F[@]}" --db "$WORK/missing/h.db"
  tcheck "a database under a file" \
    "store.db $WORK/good.ini/h.db: $WORK/good.ini is not a directory" \
    "${F[@]}" --db "$WORK/good.ini/h.db"
  mkdir -p "$WORK/adir"
  tcheck "a database that is a directory" \
    "store.db $WORK/adir: is a directory" "${F[@]}" --db "$WORK/adir"
  tcheck "an access log in a missing directory" \
    "log.access_log $WORK/missing/access.log: directory $WORK/missing: No such file or directory" \
    "${F[@]}" --access-log "$WORK/missing/access.log"
  tcheck "an error log in a missing directory" \
    "log.error_log $WORK/missing/error.log: directory $WORK/missing:" \
    "${F[@]}" -o "log.error_log=$WORK/missing/error.log"
  tcheck "a service user that does not exist" \
    "server.user/group: no such user 'no-such-user-h13'" "${F[@]}" -o server.user=no-such-user-h13
  out=$(timeout 10 "$HERALD" -t "${F[@]}" --db "$WORK/new.db" 2>&1)
  assert_eq "-t passes a database that does not exist yet" "herald: configuration (flags) is ok" "$out"
  [ -e "$WORK/new.db" ] && fail "-t creates no database" "$WORK/new.db exists" ||
    ok "-t creates no database"
  # The real start agrees with -t about the certificate.
  out=$(timeout 10 "$HERALD" "${TL[@]}" --cert "$KEY" --key "$KEY" 2>&1)
  assert_eq "the start fails on a key given as the certificate" 1 $?
  assert_contains "with the words -t used" "listener 'flag1': cert $KEY: holds a private key" "$out"

  out=$(timeout 10 "$HERALD" --help 2>&1)
  assert_eq "--help exits 0" 0 $?
  assert_contains "--help lists --listen" "--listen" "$out"

  # Nothing was left listening by -t.
  if (exec 3<>"/dev/tcp/127.0.0.1/$HC") 2>/dev/null; then
    fail "-t does not start serving" "port $HC accepts connections"
  else ok "-t does not start serving"; fi

  # The same good file actually runs.
  start_herald -c "$WORK/good.ini"
  if wait_port "$HC"; then
    out=$(hcurl --http2-prior-knowledge -w '%{http_code}' "http://127.0.0.1:$HC/ok" 2>&1)
    assert_eq "herald -c good.ini serves" ok200 "$out"
    stop_pid "$HERALD_PID"
  else
    fail "herald -c good.ini listens" "$(tail -5 "$HERALD_LOG")"
  fi

  # A bare port (flag) and localhost (file) listen on 127.0.0.1.
  LP1=$(free_port)
  LP2=$(free_port)
  printf '[listener:lo]\nlisten = localhost:%s\n[backend:app]\nserver = 127.0.0.1:%s\n' \
    "$LP2" "$FB_PORT" >"$WORK/localhost.ini"
  start_herald -c "$WORK/localhost.ini" --listen "$LP1"
  out=$(hcurl -w '%{http_code}' "http://127.0.0.1:$LP1/ok" 2>&1)
  assert_eq "--listen PORT serves on 127.0.0.1:PORT" ok200 "$out"
  out=$(hcurl -w '%{http_code}' "http://127.0.0.1:$LP2/ok" 2>&1)
  assert_eq "listen = localhost:PORT serves on 127.0.0.1:PORT" ok200 "$out"
  assert_contains "the log names the loopback address" "listening on 127.0.0.1:$LP1 " \
    "$(cat "$HERALD_LOG")"
  stop_pid "$HERALD_PID"
else
  skip "-t/-c/--help checks" "not applicable to HERALD_STANDIN=$HERALD_STANDIN"
fi

# ---- graceful shutdown --------------------------------------------------------

HP=$(free_port)
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$FB_PORT" -o timeouts.shutdown=5000 || finish
PID=$HERALD_PID

# One request in flight over each protocol when the signal arrives.
hcurl --http2-prior-knowledge -o "$WORK/h2.body" -w '%{http_code}' "http://127.0.0.1:$HP/delay?ms=1500" \
  >"$WORK/h2.code" 2>"$WORK/h2.err" &
C2=$!
hcurl --http1.1 -o "$WORK/h1.body" -w '%{http_code}' "http://127.0.0.1:$HP/delay?ms=1500" \
  >"$WORK/h1.code" 2>"$WORK/h1.err" &
C1=$!
sleep 0.5
signal_at=$(date +%s%N)
herald_graceful_stop
sleep 0.3

hcurl --http1.1 -o /dev/null "http://127.0.0.1:$HP/ok" 2>"$WORK/new.err"
assert_eq "new connection after SIGTERM is refused (curl exit 7)" 7 $?

wait "$C2"
wait "$C1"
assert_eq "in-flight h2 request completes after SIGTERM" 200 "$(cat "$WORK/h2.code")"
assert_eq "in-flight h2 body intact" ok "$(cat "$WORK/h2.body" 2>/dev/null)"
assert_eq "in-flight h1 request completes after SIGTERM" 200 "$(cat "$WORK/h1.code")"
assert_eq "in-flight h1 body intact" ok "$(cat "$WORK/h1.body" 2>/dev/null)"

if wait_pid_exit "$PID" 8; then
  wait "$PID"
  rc=$?
  ms=$((($(date +%s%N) - signal_at) / 1000000))
  assert_eq "herald exits 0 after draining" 0 "$rc"
  assert_le "herald exits within timeouts.shutdown (ms)" 5500 "$ms"
else
  fail "herald exits after SIGTERM" "still running 8 s after the signal"
fi

# With nothing in flight, SIGTERM is quick.
HP2=$(free_port)
start_herald --listen "127.0.0.1:$HP2" --backend "127.0.0.1:$FB_PORT" -o timeouts.shutdown=5000 || finish
hcurl -o /dev/null "http://127.0.0.1:$HP2/ok" 2>/dev/null
signal_at=$(date +%s%N)
herald_graceful_stop
if wait_pid_exit "$HERALD_PID" 8; then
  wait "$HERALD_PID"
  rc=$?
  ms=$((($(date +%s%N) - signal_at) / 1000000))
  assert_eq "idle herald exits 0 on SIGTERM" 0 "$rc"
  assert_le "idle herald exits promptly (ms)" 1500 "$ms"
else
  fail "idle herald exits on SIGTERM" "still running 8 s after the signal"
fi

finish
