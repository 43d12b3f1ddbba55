#!/usr/bin/env bash
# test_backend_errors.sh: what clients see when the backend is down, slow,
# truncates, or answers with something that is not valid HTTP/1.1. Broken
# responses must become 502 (never reach the client half-parsed), a body cut
# short must end the stream with an error (never a clean end), and herald
# must keep serving afterwards.
. "$(dirname "$0")/lib.sh"

start_fault_backend || finish
gen_cert || finish

HF=$(free_port)
start_herald --listen "127.0.0.1:$HF" --backend "127.0.0.1:$FB_PORT" \
  -o timeouts.backend_read=500 || finish
HERALD_MAIN_PID=$HERALD_PID
F=http://127.0.0.1:$HF

# pattern N: the fault backend's deterministic body (byte i = i*7 mod 251).
pattern() {
  python3 -c 'import sys
n = int(sys.argv[1]); p = bytes((i * 7) % 251 for i in range(251))
sys.stdout.buffer.write((p * (n // 251 + 1))[:n])' "$1"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
# recv_end_stream: true if nghttp -v output on stdin shows a received frame
# with END_STREAM (nghttp prints the flag on the line after the frame).
recv_end_stream() {
  awk '/^\[ *[0-9.]+\] (recv|send) / { r = ($0 ~ /\] recv /) }
       /; END_STREAM/ && r { found = 1 } END { exit !found }'
}

# still_serving LABEL: a fresh connection gets a normal answer and the
# process is alive.
still_serving() {
  local out
  out=$(hcurl --http2-prior-knowledge -w '%{http_code}' "$F/ok" 2>&1)
  assert_eq "$1: next request on a new connection works" "ok200" "$out"
  check "$1: herald alive" herald_alive
}

# ---- backend down -------------------------------------------------------

DOWN=$(free_port)
HD=$(free_port)
HDT=$(free_port)
start_herald --listen "127.0.0.1:$HD" --listen-tls "127.0.0.1:$HDT" --cert "$CERT" --key "$KEY" \
  --backend "127.0.0.1:$DOWN" -o timeouts.backend_connect=1000 || finish
HERALD_DOWN_PID=$HERALD_PID

out=$(hcurl --http2-prior-knowledge -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HD/" 2>&1)
assert_eq "backend down: h2 502" 502 "$out"
out=$(hcurl --http1.1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HD/" 2>&1)
assert_eq "backend down: h1 502" 502 "$out"
check "backend down: herald alive" kill -0 "$HERALD_DOWN_PID"

# The same client connection must serve a good request once the backend is
# back: curl --rate spaces the two requests 3 s apart (beyond any retry
# backoff) and the backend starts in between. h2 goes over TLS because
# curl 7.88 cannot reuse an h2c prior-knowledge connection.
start_late_backend() {
  (
    sleep 0.5
    exec "$B/fault_backend" --listen "127.0.0.1:$DOWN" >>"$WORK/fault_backend.log" 2>&1
  ) &
  LATE_PID=$!
  track_pid "$LATE_PID"
}

start_late_backend
out=$(hcurl -m 15 --http2 -k --rate 20/m -o /dev/null -o /dev/null -w '%{http_code}/%{num_connects} ' \
  "https://127.0.0.1:$HDT/a" "https://127.0.0.1:$HDT/b" 2>&1)
assert_eq "h2: 502 then 200 on the same connection" "502/1 200/0 " "$out"
stop_pid "$LATE_PID"
wait_port_closed "$DOWN"

start_late_backend
out=$(hcurl -m 15 --http1.1 --rate 20/m -o /dev/null -o /dev/null -w '%{http_code}/%{num_connects} ' \
  "http://127.0.0.1:$HD/a" "http://127.0.0.1:$HD/b" 2>&1)
assert_eq "h1: 502 then 200 on the same connection" "502/1 200/0 " "$out"
stop_pid "$LATE_PID"
stop_pid "$HERALD_DOWN_PID"
HERALD_PID=$HERALD_MAIN_PID

# ---- backend too slow ------------------------------------------------------

start=$(date +%s%N)
out=$(hcurl --http2-prior-knowledge -o /dev/null -w '%{http_code}' "$F/delay?ms=3000" 2>&1)
ms=$((($(date +%s%N) - start) / 1000000))
assert_eq "h2: backend_read timeout gives 504" 504 "$out"
assert_le "h2: 504 arrives well before the backend answers (ms)" 2500 "$ms"
out=$(hcurl --http1.1 -o /dev/null -w '%{http_code}' "$F/delay?ms=3000" 2>&1)
assert_eq "h1: backend_read timeout gives 504" 504 "$out"
out=$(hcurl --http2-prior-knowledge -w '%{http_code}' "$F/delay?ms=100" 2>&1)
assert_eq "a delay under the timeout is fine" "ok200" "$out"

# ---- truncated bodies -------------------------------------------------------

for p in truncated-cl truncated-chunked; do
  hcurl --http2-prior-knowledge -o "$WORK/trunc" "$F/$p" 2>"$WORK/err"
  rc=$?
  assert_eq "h2 /$p: curl sees the stream reset (exit 92)" 92 "$rc"
  out=$(hnghttp -vn "$F/$p" 2>&1)
  assert_contains "h2 /$p: RST_STREAM sent" "recv RST_STREAM" "$out"
  if printf '%s\n' "$out" | recv_end_stream; then
    fail "h2 /$p: stream never ends cleanly" "END_STREAM received: $out"
  else ok "h2 /$p: stream never ends cleanly"; fi
  hcurl --http1.1 -o "$WORK/trunc" "$F/$p" 2>"$WORK/err"
  rc=$?
  assert_ne "h1 /$p: curl sees an incomplete body (non-zero exit)" 0 "$rc"
  still_serving "/$p"
done

# ---- malformed responses: 502, nothing of them leaks ------------------------

for p in garbage dup-cl huge-cl cl-te bare-lf obs-fold nul empty-name bigheader badstatus \
  101; do
  out=$(hcurl --http2-prior-knowledge -D - -o "$WORK/body" -w '%{http_code}' "$F/$p" 2>&1 | tr -d '\r')
  assert_match "h2 /$p: 502" '502$' "$out"
  assert_not_contains "h2 /$p: injected header not forwarded" "injected" "$out"
  out=$(hcurl --http1.1 -D - -o "$WORK/body" -w '%{http_code}' "$F/$p" 2>&1 | tr -d '\r')
  assert_match "h1 /$p: 502" '502$' "$out"
  assert_not_contains "h1 /$p: injected header not forwarded" "injected" "$out"
  still_serving "/$p"
done

# ---- unusual but valid framing ----------------------------------------------

# Responses without a body whatever their framing fields say (RFC 9112
# 6.3): a 304 with the representation's Content-Length, a 204 claiming
# chunked, interim responses with a Content-Length. Reading a body there
# would hold the client's connection until backend_read, or swallow the
# final response. (curl 7.88 cannot reuse an HTTP/2 connection after a 304,
# so the reuse check is HTTP/1.1; an HTTP/2 stream ends with the head.)
out=$(hcurl -m 5 --http1.1 -w '%{http_code} %{num_connects} ' "$F/304-cl" "$F/ok" 2>&1)
assert_eq "h1 /304-cl: 304, then the next request on the connection" \
  "304 1 ok200 0 " "$out"
out=$(hcurl -m 5 --http1.1 -w '%{http_code} %{num_connects} ' "$F/204-chunked" "$F/ok" 2>&1)
assert_eq "h1 /204-chunked: 204, then the next request on the connection" \
  "204 1 ok200 0 " "$out"
for v in --http2-prior-knowledge --http1.1; do
  out=$(hcurl -m 5 "$v" -w ' %{http_code}' "$F/interim" 2>&1)
  assert_eq "$v /interim: the final response after four interim ones" \
    "final ok 200" "$out"
done
still_serving "/304-cl"

pattern 100000 >"$WORK/p100k"
out=$(hcurl --http2-prior-knowledge -o "$WORK/close" -w '%{http_code}' "$F/close" 2>&1)
assert_eq "h2 /close (read-until-close body) status" 200 "$out"
assert_eq "h2 /close body complete" "$(sha "$WORK/p100k")" "$(sha "$WORK/close")"
out=$(hcurl --http1.1 -o "$WORK/close" -w '%{http_code}' "$F/close" 2>&1)
assert_eq "h1 /close status" 200 "$out"
assert_eq "h1 /close body complete" "$(sha "$WORK/p100k")" "$(sha "$WORK/close")"

out=$(hcurl --http2-prior-knowledge -o "$WORK/chunked" -w '%{http_code}' "$F/chunked?n=100&size=1000" 2>&1)
assert_eq "h2 /chunked status" 200 "$out"
assert_eq "h2 /chunked 100 x 1000 bytes intact" "$(sha "$WORK/p100k")" "$(sha "$WORK/chunked")"
out=$(hcurl --http1.1 -o "$WORK/chunked" -w '%{http_code}' "$F/chunked?n=100&size=1000" 2>&1)
assert_eq "h1 /chunked status" 200 "$out"
assert_eq "h1 /chunked 100 x 1000 bytes intact" "$(sha "$WORK/p100k")" "$(sha "$WORK/chunked")"

# Body runs of 40 KB and more reach the client as slices of the backend's
# read, uncopied. 45 KB chunks put the chunk framing between a slice and
# the copied bytes around it in one read: over TLS a DATA frame's header
# is written over the bytes before its payload, so a header written too
# early would corrupt the previous chunk's last bytes. Six responses at once on one connection
# interleave their frames (over TLS: curl 7.88 cannot run parallel
# transfers over h2c prior knowledge); /big sends 1 MB, 64 KB a read. A
# client that reads slowly makes the stream's queue hold slices (and
# pause the backend) until it catches up.
pattern 450000 >"$WORK/p450k"
pattern 1000000 >"$WORK/p1m"
HFT=$(free_port)
start_herald --listen-tls "127.0.0.1:$HFT" --cert "$CERT" --key "$KEY" \
  --backend "127.0.0.1:$FB_PORT" || finish
FT=https://127.0.0.1:$HFT
# large_bodies LABEL N CURL_ARGS...: N of each large body, fetched at once
# with CURL_ARGS, all intact.
large_bodies() {
  local label=$1 n=$2 good=0 i
  shift 2
  local -a args=()
  for i in $(seq "$n"); do
    args+=(-o "$WORK/ck$i" "$U/chunked?n=10&size=45000" -o "$WORK/big$i" "$U/big?size=1000000")
  done
  rm -f "$WORK"/ck* "$WORK"/big*
  hcurl -m 20 "$@" "${args[@]}" 2>"$WORK/err"
  for i in $(seq "$n"); do
    [ "$(sha "$WORK/ck$i")" = "$(sha "$WORK/p450k")" ] && good=$((good + 1))
    [ "$(sha "$WORK/big$i")" = "$(sha "$WORK/p1m")" ] && good=$((good + 1))
  done
  assert_eq "$label: large bodies (45 KB chunks, 1 MB) intact" $((2 * n)) "$good"
}
# (curl 7.88 cannot reuse an h2c prior-knowledge connection: one each.)
hcurl --http2-prior-knowledge -o "$WORK/ck" "$F/chunked?n=10&size=45000" 2>"$WORK/err"
assert_eq "h2c: 10 x 45 KB chunks intact" "$(sha "$WORK/p450k")" "$(sha "$WORK/ck")"
hcurl --http2-prior-knowledge -o "$WORK/big" "$F/big?size=1000000" 2>"$WORK/err"
assert_eq "h2c: 1 MB intact" "$(sha "$WORK/p1m")" "$(sha "$WORK/big")"
U=$FT large_bodies "TLS h2, six at once on one connection" 3 -Z -k --http2
U=$FT large_bodies "TLS http/1.1, six at once" 3 -Z -k --http1.1
out=$(hcurl -m 20 -k --http2 --limit-rate 4M -o "$WORK/big" -w '%{http_code}' "$FT/big?size=4000000" 2>&1)
pattern 4000000 >"$WORK/p4m"
assert_eq "TLS h2, client reading at 4 MB/s: 4 MB intact" "200 $(sha "$WORK/p4m")" "$out $(sha "$WORK/big")"
check "large bodies: TLS herald alive" herald_alive
HERALD_PID=$HERALD_MAIN_PID

# Transfer codings besides chunked (RFC 9112 6.1): HTTP/1.1 carries the
# backend's gzip coding on (herald re-chunks, the coding stays; curl
# --tr-encoding undoes it); HTTP/1.0 and HTTP/2 have no transfer codings
# (Content-Encoding would mean something else): 502, never the coded bytes
# as if they were the body. Chunked that is not last is invalid: 502.
GZ_TEXT='hello, gzip transfer coding'
for p in te-gzip te-gzip-close; do
  out=$(hcurl --http1.1 --tr-encoding -D "$WORK/te-head" -w '%{http_code}' "$F/$p" 2>&1)
  assert_eq "h1 /$p: body decodes to the backend's text" "$GZ_TEXT
200" "$out"
  assert_match "h1 /$p: Transfer-Encoding keeps gzip" '^transfer-encoding: gzip, chunked$' \
    "$(tr -d '\r' <"$WORK/te-head")"
  out=$(hcurl --http2-prior-knowledge -o /dev/null -w '%{http_code}' "$F/$p" 2>&1)
  assert_eq "h2 /$p: 502" 502 "$out"
  out=$(hcurl --http1.0 -o /dev/null -w '%{http_code}' "$F/$p" 2>&1)
  assert_eq "h1.0 /$p: 502" 502 "$out"
  out=$(hcurl --http2-prior-knowledge -I -o /dev/null -w '%{http_code}' "$F/$p" 2>&1)
  assert_eq "h2 HEAD /$p: 200 (no body, nothing to code)" 200 "$out"
done
out=$(hcurl --http1.1 -o /dev/null -w '%{http_code}' "$F/te-bad" 2>&1)
assert_eq "h1 /te-bad (chunked, gzip): 502" 502 "$out"
out=$(hcurl --http2-prior-knowledge -o /dev/null -w '%{http_code}' "$F/te-bad" 2>&1)
assert_eq "h2 /te-bad (chunked, gzip): 502" 502 "$out"
still_serving "transfer codings"

# /slowbody sends 1 KB every 100 ms: the first DATA must arrive long before
# the last (streamed, not buffered), and each gap stays under the 500 ms
# backend_read timeout so the response completes.
out=$(hnghttp -vn "$F/slowbody?ms=100&n=10" 2>&1)
first=$(printf '%s\n' "$out" | grep 'recv DATA frame' | head -1 | sed 's/^\[ *\([0-9.]*\)\].*/\1/')
last=$(printf '%s\n' "$out" | grep 'recv DATA frame' | tail -1 | sed 's/^\[ *\([0-9.]*\)\].*/\1/')
body=$(printf '%s\n' "$out" | grep 'recv DATA frame' | sed -n 's/.*length=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
assert_eq "h2 /slowbody all 10 KB delivered" 10240 "${body:-0}"
check "h2 /slowbody ends cleanly (END_STREAM)" recv_end_stream <<<"$out"
if [ -n "$first" ] && [ -n "$last" ]; then
  spread=$(awk -v a="$first" -v b="$last" 'BEGIN { printf "%d", (b - a) * 1000 }')
  assert_ge "h2 /slowbody streamed: first to last DATA (ms)" 600 "$spread"
else
  fail "h2 /slowbody streamed" "no DATA frames: $out"
fi
out=$(hcurl --http1.1 -o "$WORK/slow" -w '%{http_code} %{size_download}' "$F/slowbody?ms=100&n=5" 2>&1)
assert_eq "h1 /slowbody delivered" "200 5120" "$out"

still_serving "end"
finish
