#!/usr/bin/env bash
# test_bad_input.sh: malformed and abusive client input. HTTP/1.1 cases go
# over raw sockets (curl would refuse to send them); every malformed request
# must be refused by herald itself, so the fault backend's request counter
# must not move. HTTP/2 frame-level cases, at the end, need build/h2probe.
. "$(dirname "$0")/lib.sh"
# The cases pipe their request into reject_h1: run the last command of a
# pipeline in this shell, or its ok/fail counts would be lost with the
# subshell (and a failing case would not fail the script).
shopt -s lastpipe

start_fault_backend || finish

HF=$(free_port)
start_herald --listen "127.0.0.1:$HF" --backend "127.0.0.1:$FB_PORT" \
  -o timeouts.header=1000 -o limits.max_request_body=1048576 || finish
F=http://127.0.0.1:$HF

# status_of: the status code of the first status line in stdin, or "none".
status_of() {
  local s
  s=$(tr -d '\r' | grep -aEo -m1 '^HTTP/1\.[01] [0-9]{3}' | awk '{print $2}')
  echo "${s:-none}"
}

# reject_h1 NAME EXPECTED_STATUS_ERE: send stdin raw; the answer must be one
# of the statuses, the backend must not have seen a request, and herald
# must still be running.
reject_h1() {
  local name=$1 want=$2 resp st
  fb_reset
  resp=$(raw_http 127.0.0.1 "$HF" 3)
  st=$(printf '%s' "$resp" | status_of)
  if printf '%s' "$st" | grep -Eqx -- "$want"; then
    ok "$name: $st"
  else
    fail "$name" "expected status /$want/, got $st: $(printf '%s' "$resp" | head -c 300 | cat -v)"
  fi
  assert_eq "$name: never reached the backend" 0 "$(fb_count)"
  check "$name: herald alive" herald_alive
}

# ---- HTTP/1.1 -----------------------------------------------------------

printf 'GET / HTTP/1.1\r\nHost: a\r\n\r\n' | raw_http 127.0.0.1 "$HF" 2 >"$WORK/r"
assert_eq "sanity: raw GET is answered 200" 200 "$(status_of <"$WORK/r")"

printf 'GET /\r\n\r\n' | reject_h1 "invalid request line (no version, HTTP/0.9)" '400|505'
printf 'GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n' | reject_h1 "invalid request line (junk after version)" 400
printf 'GET / HTTP/9.9\r\nHost: a\r\n\r\n' | reject_h1 "invalid HTTP version" '400|505'
printf 'G@T / HTTP/1.1\r\nHost: a\r\n\r\n' | reject_h1 "invalid method token" '400|501'
# llhttp hands over an empty request target here (found by fuzz_h1).
printf 'CONNECT \r\nHost: a\r\n\r\n' | reject_h1 "CONNECT with an empty target" '400|505'
printf 'GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n' | reject_h1 "bare CR in header value" 400
printf 'GET / HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n' | reject_h1 "NUL in header value" 400
# llhttp 8 accepts the next two (and HTTP/0.9 above): herald must check
# field names itself; RFC 9112 5.1 requires 400 for space before the colon.
printf 'GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n' | reject_h1 "space in header name" 400
printf 'GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n' | reject_h1 "space before colon" 400
printf 'GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n' | reject_h1 "empty header name" 400
printf 'GET / HTTP/1.1\r\nHost: a\r\n:\r\nX-A: b\r\n\r\n' | reject_h1 "empty header name and value" 400
printf 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' |
  reject_h1 "Content-Length with Transfer-Encoding (smuggling)" 400
printf 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!' |
  reject_h1 "two differing Content-Length" 400
printf 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!' |
  reject_h1 "Content-Length list" 400
printf 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n' | reject_h1 "negative Content-Length" 400
printf 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked, identity\r\n\r\n0\r\n\r\n' |
  reject_h1 "Transfer-Encoding not ending in chunked" '400|501'
# RFC 9112 6.1: anything but chunked as the final coding is refused before a
# byte is forwarded, even over a warm backend connection (one started at
# once, before the body's framing is known).
for te in xchunked identity 'chunked, identity' 'chunked, chunked' 'chunked;x=1'; do
  hcurl -o /dev/null "$F/warm"
  printf 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: %s\r\n\r\n0\r\n\r\n' "$te" |
    reject_h1 "Transfer-Encoding: $te (warm backend)" 400
done
hcurl -o /dev/null "$F/warm"
printf 'POST /echo HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' |
  reject_h1 "HTTP/1.0 with Transfer-Encoding (warm backend)" 400
# A coding before chunked is forwarded, not dropped: the backend gets the
# body with the coding it was sent with.
resp=$(printf 'POST /headers HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n' |
  raw_http 127.0.0.1 "$HF" 3 | tr -d '\r')
assert_match "Transfer-Encoding: gzip, chunked forwarded with its coding" \
  '^transfer-encoding: gzip, chunked$' "$resp"
printf 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n' | reject_h1 "two Host headers" 400
printf 'GET / HTTP/1.1\r\n\r\n' | reject_h1 "HTTP/1.1 without Host" 400
{ printf 'GET / HTTP/1.1\r\nHost: a\r\nX-Big: '; head -c 102400 /dev/zero | tr '\0' a; printf '\r\n\r\n'; } |
  reject_h1 "100 KB header" '431|400'

# obs-fold: RFC 9112 lets a server reject it (400) or replace it with a
# space; forwarding the fold itself would let it mean different things to
# herald and the backend.
resp=$(printf 'GET /headers HTTP/1.1\r\nHost: a\r\nX-A: a\r\n b\r\nConnection: close\r\n\r\n' | raw_http 127.0.0.1 "$HF" 3)
st=$(printf '%s' "$resp" | status_of)
if [ "$st" = 400 ]; then
  ok "obs-fold in request: rejected 400"
elif [ "$st" = 200 ] && ! printf '%s' "$resp" | grep -aq $'^[ \t]*b\r$'; then
  ok "obs-fold in request: unfolded before forwarding"
else
  fail "obs-fold in request" "status $st, fold forwarded or bad answer: $(printf '%s' "$resp" | head -c 300 | cat -v)"
fi

# A client that stops mid-head is cut off by timeouts.header (1000 ms).
fb_reset
start=$(date +%s%N)
resp=$(printf 'GET / HTTP/1.1\r\nHost: a\r\nX-Partial: ' | raw_http 127.0.0.1 "$HF" 5)
ms=$((($(date +%s%N) - start) / 1000000))
assert_not_contains "stalled head: connection closed by herald" "<<TIMEOUT>>" "$resp"
assert_le "stalled head: closed within ~2 s (ms)" 2500 "$ms"
assert_eq "stalled head: never reached the backend" 0 "$(fb_count)"

# Upgrade is never forwarded: no 101, and the backend sees no Upgrade.
out=$(hcurl --http1.1 -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
  -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -w '\n%{http_code}' "$F/headers" 2>&1 | tr -d '\r')
assert_ne "Upgrade: websocket not switched (no 101)" 101 "$(printf '%s' "$out" | tail -1)"
assert_no_match "Upgrade: websocket not forwarded" '^upgrade:' "$out"
assert_no_match "Connection: Upgrade not forwarded" '^connection:.*upgrade' "$out"

# Request bodies over limits.max_request_body (1 MiB) get 413. With a
# Content-Length herald knows up front, so nothing reaches the backend.
head -c 2097152 /dev/zero >"$WORK/2m"
fb_reset
out=$(hcurl --http1.1 --data-binary @"$WORK/2m" -o /dev/null -w '%{http_code}' "$F/echo" 2>&1)
assert_eq "h1 body over max_request_body (content-length): 413" 413 "$out"
assert_eq "h1 413 (content-length): never reached the backend" 0 "$(fb_count)"
fb_reset
out=$(hcurl --http2-prior-knowledge --data-binary @"$WORK/2m" -o /dev/null -w '%{http_code}' "$F/echo" 2>&1)
assert_eq "h2 body over max_request_body (content-length): 413" 413 "$out"
assert_eq "h2 413 (content-length): never reached the backend" 0 "$(fb_count)"
# Without a length the limit trips mid-stream; the client still gets 413.
out=$(hcurl --http1.1 -H 'Transfer-Encoding: chunked' --data-binary @"$WORK/2m" -o /dev/null -w '%{http_code}' "$F/echo" 2>&1)
assert_eq "h1 chunked body over max_request_body: 413" 413 "$out"
out=$(hcurl --http2-prior-knowledge -X POST -T - -o /dev/null -w '%{http_code}' "$F/echo" <"$WORK/2m" 2>&1)
assert_eq "h2 unsized body over max_request_body: 413" 413 "$out"
head -c 1000000 /dev/zero >"$WORK/1m"
out=$(hcurl --http1.1 --data-binary @"$WORK/1m" -o /dev/null -w '%{http_code}' "$F/echo" 2>&1)
assert_eq "body under max_request_body passes" 200 "$out"

check "herald alive after HTTP/1.1 cases" herald_alive

# ============================================================================
# HTTP/2 frame-level cases: need $B/h2probe (tests/integ/h2probe.c, written
# separately). Each line below states the expected outcome. h2probe's last
# stdout line is "RESULT mode=... status=... rst=... goaway=... closed=...".
#
#   request with CR / LF / NUL in a header value   RST_STREAM PROTOCOL_ERROR or 400
#   uppercase header name                          RST_STREAM PROTOCOL_ERROR or 400
#   :path not starting with "/", empty :path       RST_STREAM PROTOCOL_ERROR or 400
#   missing :method / :path / :scheme              RST_STREAM PROTOCOL_ERROR or 400
#   te: gzip, connection: keep-alive               RST_STREAM PROTOCOL_ERROR or 400
#   content-length disagreeing with DATA           RST_STREAM PROTOCOL_ERROR or 400
#   :scheme gopher                                 RST_STREAM PROTOCOL_ERROR or 400
#   :authority with userinfo (user@host)           RST_STREAM PROTOCOL_ERROR or 400
#   host header different from :authority          RST_STREAM PROTOCOL_ERROR or 400
#   HPACK bomb (small block, huge decoded list)    431 / RST / GOAWAY, never forwarded
#   Rapid Reset (HEADERS+RST_STREAM x 10000)       GOAWAY before the end, herald lives
#   CONTINUATION flood                             connection closed early, herald lives
#   invalid connection preface                     connection closed
# A GOAWAY PROTOCOL_ERROR (whole connection refused) is accepted in place of
# a stream error. In every case the backend count must stay 0 (except
# content-length mismatch, which may be detected after forwarding began,
# and Rapid Reset, where it must stay far below the number of streams).
# ============================================================================

PROBE=$B/h2probe
if [ -x "$PROBE" ]; then
  # probe ARGS...: run h2probe, print its RESULT line.
  probe() { timeout 40 "$PROBE" "$@" 2>>"$WORK/h2probe.err" | grep -a '^RESULT' | tail -1; }
  field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

  # reject_h2 NAME HEADER...: a request with exactly these header fields
  # (escapes as h2probe takes them) must be refused.
  reject_h2() {
    local name=$1 r st rst ga
    shift
    local -a args=()
    local h
    for h in "$@"; do args+=(-H "$h"); done
    fb_reset
    r=$(probe req 127.0.0.1 "$HF" "${args[@]}" ${PROBE_DATA:+--data "$PROBE_DATA"})
    st=$(field status "$r")
    rst=$(field rst "$r")
    ga=$(field goaway "$r")
    if [ "$rst" = PROTOCOL_ERROR ] || [ "$st" = 400 ] || [ "$ga" = PROTOCOL_ERROR ]; then
      ok "h2 $name: status=$st rst=$rst goaway=$ga"
    else
      fail "h2 $name" "expected RST_STREAM PROTOCOL_ERROR or 400: ${r:-no RESULT}"
    fi
    if [ "${PROBE_MAY_FORWARD:-0}" != 1 ]; then
      assert_eq "h2 $name: never reached the backend" 0 "$(fb_count)"
    fi
  }
  M=':method: GET'
  S=':scheme: http'
  A=":authority: 127.0.0.1:$HF"
  P=':path: /'

  r=$(probe req 127.0.0.1 "$HF" -H "$M" -H "$S" -H "$A" -H "$P")
  assert_eq "h2probe sanity: a well-formed request gets 200" 200 "$(field status "$r")"

  reject_h2 "CR in header value" "$M" "$S" "$A" "$P" 'x-a: a\rb'
  reject_h2 "LF in header value" "$M" "$S" "$A" "$P" 'x-a: a\nb'
  reject_h2 "NUL in header value" "$M" "$S" "$A" "$P" 'x-a: a\0b'
  reject_h2 "uppercase header name" "$M" "$S" "$A" "$P" 'X-A: b'
  reject_h2 ":path without leading /" "$M" "$S" "$A" ':path: foo'
  reject_h2 "empty :path" "$M" "$S" "$A" ':path: '
  reject_h2 "missing :method" "$S" "$A" "$P"
  reject_h2 "missing :path" "$M" "$S" "$A"
  reject_h2 "missing :scheme" "$M" "$A" "$P"
  reject_h2 "pseudo header after regular" "$M" "$S" "$A" 'x-a: b' "$P"
  reject_h2 "te: gzip" "$M" "$S" "$A" "$P" 'te: gzip'
  reject_h2 "connection header" "$M" "$S" "$A" "$P" 'connection: keep-alive'
  reject_h2 "transfer-encoding header" "$M" "$S" "$A" "$P" 'transfer-encoding: chunked'
  reject_h2 ":scheme gopher" "$M" ':scheme: gopher' "$A" "$P"
  reject_h2 ":authority with userinfo" "$M" "$S" ":authority: user@127.0.0.1:$HF" "$P"
  reject_h2 "host differs from :authority" "$M" "$S" "$A" "$P" 'host: other.example'
  PROBE_DATA=5 PROBE_MAY_FORWARD=1 reject_h2 "content-length 10 but 5 bytes sent" \
    ':method: POST' "$S" "$A" ':path: /echo' 'content-length: 10'
  PROBE_DATA=20 PROBE_MAY_FORWARD=1 reject_h2 "content-length 10 but 20 bytes sent" \
    ':method: POST' "$S" "$A" ':path: /echo' 'content-length: 10'

  fb_reset
  r=$(probe bomb 127.0.0.1 "$HF")
  st=$(field status "$r")
  if [ "$st" != 200 ] && [ -n "$r" ]; then ok "h2 HPACK bomb refused: status=$st rst=$(field rst "$r") goaway=$(field goaway "$r")"; else fail "h2 HPACK bomb refused" "${r:-no RESULT}"; fi
  assert_eq "h2 HPACK bomb: never reached the backend" 0 "$(fb_count)"
  check "h2 HPACK bomb: herald alive" herald_alive

  fb_reset
  r=$(probe rapid 127.0.0.1 "$HF" 10000)
  assert_ne "h2 Rapid Reset: GOAWAY sent" none "$(field goaway "$r")"
  assert_le "h2 Rapid Reset: stopped before all 10000 streams were sent" 9999 "$(field stop_at "$r" | sed 's/^none$/10000/')"
  assert_le "h2 Rapid Reset: backend saw few of the streams" 2000 "$(fb_count)"
  check "h2 Rapid Reset: herald alive" herald_alive

  fb_reset
  r=$(probe cont 127.0.0.1 "$HF" 100000)
  assert_eq "h2 CONTINUATION flood: connection closed" 1 "$(field closed "$r")"
  assert_le "h2 CONTINUATION flood: cut off early" 1000 "$(field stop_at "$r" | sed 's/^none$/100000/')"
  assert_eq "h2 CONTINUATION flood: never reached the backend" 0 "$(fb_count)"
  check "h2 CONTINUATION flood: herald alive" herald_alive

  r=$(probe preface 127.0.0.1 "$HF")
  assert_eq "h2 invalid preface: connection closed" 1 "$(field closed "$r")"

  out=$(hcurl --http2-prior-knowledge -w '%{http_code}' "$F/ok" 2>&1)
  assert_eq "h2 requests still served after the probes" ok200 "$out"
else
  skip "HTTP/2 frame-level cases" "$PROBE not built"
fi

finish
