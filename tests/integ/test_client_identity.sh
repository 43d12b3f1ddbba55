#!/usr/bin/env bash
# test_client_identity.sh: who a request is from. Behind a load balancer
# the TCP peer is the balancer; a listener with proxy_protocol = on takes
# the client from the PROXY header (v1 text and v2 binary, before
# cleartext HTTP/1.1, h2c or TLS), and the access log and the
# X-Forwarded-For the backend sees carry that address. A LOCAL or UNIX
# header leaves the peer's. A connection without a valid header, or one
# that stalls in it, is closed with a log line; a listener without the
# option treats a PROXY line as a bad request. X-Forwarded-For is believed
# only from [clients] trusted_proxies (right-most untrusted address);
# anyone else's is dropped before the backend, since it may be forged.
. "$(dirname "$0")/lib.sh"

if [ "$HERALD_STANDIN" = nghttpx ]; then
  skip "client identity" "herald's own configuration; no stand-in"
  finish
fi

start_fault_backend || finish
gen_cert || finish
PP=$(free_port)
PT=$(free_port)
DP=$(free_port)
ALOG=$WORK/access.log
cat >"$WORK/herald.ini" <<EOF
[log]
access_log = $ALOG
level = debug
[listener:lb]
listen = 127.0.0.1:$PP
proxy_protocol = on
[listener:lbtls]
listen = 127.0.0.1:$PT
tls = on
cert = $CERT
key = $KEY
proxy_protocol = on
[listener:direct]
listen = 127.0.0.1:$DP
[backend:fb]
server = 127.0.0.1:$FB_PORT
[clients]
trusted_proxies = 10.0.0.0/8, 2001:db8:ffff::/48
[timeouts]
header = 1000
EOF
start_herald -c "$WORK/herald.ini" || finish

GET='GET /headers?%s HTTP/1.1\r\nHost: t.example\r\n%bConnection: close\r\n\r\n'
# send PORT PREFIX_PRINTF TAG [EXTRA_HEADERS]: a PROXY header (printf
# format) and an HTTP/1.1 request for /headers?TAG on one connection.
send() {
  { printf "$2"; printf "$GET" "$3" "${4:-}"; } | raw_http 127.0.0.1 "$1" 2 |
    tr -d '\r'
}
# alog_client TAG: the client field of the access-log line for TAG.
alog_client() {
  local i
  for i in $(seq 1 20); do
    grep -q "/headers?$1 " "$ALOG" 2>/dev/null && break
    sleep 0.05
  done
  awk -v p="/headers?$1" '$6 == p { print $2 }' "$ALOG"
}

# ---- PROXY v1 ------------------------------------------------------------
out=$(send "$PP" 'PROXY TCP4 203.0.113.7 127.0.0.1 51234 80\r\n' v1)
assert_match "v1: request answered" '^HTTP/1\.1 200 OK' "$out"
assert_match "v1: backend's X-Forwarded-For is the PROXY source" \
  '^x-forwarded-for: 203\.0\.113\.7$' "$out"
assert_eq "v1: access log names the PROXY source" 203.0.113.7 "$(alog_client v1)"
out=$(send "$PP" 'PROXY TCP6 2001:db8::17 ::1 51234 80\r\n' v1six)
assert_match "v1 TCP6: backend sees it" '^x-forwarded-for: 2001:db8::17$' "$out"
assert_eq "v1 TCP6: access log" 2001:db8::17 "$(alog_client v1six)"
out=$(send "$PP" 'PROXY UNKNOWN\r\n' v1unknown)
assert_eq "v1 UNKNOWN: the peer stands" 127.0.0.1 "$(alog_client v1unknown)"
# bash's /dev/tcp, as a shell script behind a balancer would: the header
# and the request in one write.
exec 3<>"/dev/tcp/127.0.0.1/$PP"
printf 'PROXY TCP4 192.0.2.44 127.0.0.1 4000 80\r\nGET /headers?devtcp HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' >&3
out=$(timeout 5 cat <&3)
exec 3<&-
assert_match "v1 via /dev/tcp: 200" '^HTTP/1\.1 200 OK' "$out"
assert_eq "v1 via /dev/tcp: access log" 192.0.2.44 "$(alog_client devtcp)"
# curl's own PROXY v1 (it names its real address), then h2c.
out=$(hcurl --haproxy-protocol --http2-prior-knowledge -o /dev/null -w '%{http_code} %{http_version}' "http://127.0.0.1:$PP/headers?curlh2")
assert_eq "curl --haproxy-protocol, h2c after the header" "200 2" "$out"
assert_eq "curl --haproxy-protocol: access log" 127.0.0.1 "$(alog_client curlh2)"

# ---- PROXY v2 ------------------------------------------------------------
SIG='\r\n\r\n\x00\r\nQUIT\n'
out=$(send "$PP" "$SIG"'\x21\x11\x00\x0c\xc6\x33\x64\x17\x7f\x00\x00\x01\x13\x88\x00\x50' v2)
assert_match "v2 TCP4: request answered" '^HTTP/1\.1 200 OK' "$out"
assert_match "v2 TCP4: backend sees the source" '^x-forwarded-for: 198\.51\.100\.23$' "$out"
assert_eq "v2 TCP4: access log" 198.51.100.23 "$(alog_client v2)"
V6SRC='\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x23'
V6DST='\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01'
# With a TLV after the addresses (PP2_TYPE_ALPN "h2").
out=$(send "$PP" "$SIG"'\x21\x21\x00\x29'"$V6SRC$V6DST"'\x13\x88\x00\x50\x01\x00\x02h2' v2six)
assert_eq "v2 TCP6 with a TLV: access log" 2001:db8::23 "$(alog_client v2six)"
out=$(send "$PP" "$SIG"'\x20\x00\x00\x00' v2local)
assert_match "v2 LOCAL: request answered" '^HTTP/1\.1 200 OK' "$out"
assert_eq "v2 LOCAL: the peer stands" 127.0.0.1 "$(alog_client v2local)"
out=$(send "$PP" "$SIG"'\x21\x31\x00\xd8'"$(printf '\\x00%.0s' $(seq 216))" v2unix)
assert_eq "v2 UNIX: the peer stands" 127.0.0.1 "$(alog_client v2unix)"
# v2 before TLS (python's ssl module is the client).
out=$(timeout 10 python3 - "$PT" <<'EOF'
import socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c" + bytes([192, 0, 2, 99, 127, 0, 0, 1, 0x13, 0x88, 1, 0xbb]))
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s, server_hostname="localhost")
t.sendall(b"GET /headers?v2tls HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
out = b""
while True:
    d = t.recv(65536)
    if not d:
        break
    out += d
sys.stdout.write(out.decode("latin-1").replace("\r", ""))
EOF
)
assert_match "v2 then TLS: request answered" '^HTTP/1\.1 200 OK' "$out"
assert_match "v2 then TLS: backend sees the source" '^x-forwarded-for: 192\.0\.2\.99$' "$out"
assert_eq "v2 then TLS: access log" 192.0.2.99 "$(alog_client v2tls)"

# ---- bad headers and stalls: closed, logged --------------------------------
out=$(printf "$GET" nopp "" | raw_http 127.0.0.1 "$PP" 2)
assert_no_match "no PROXY header: no response" 'HTTP/1\.1' "$out"
assert_match "no PROXY header: logged" 'bad PROXY protocol header \(not a PROXY protocol header\), closing' "$(cat "$HERALD_LOG")"
out=$(send "$PP" 'PROXY TCP4 203.0.113.7 127.0.0.1 080 80\r\n' badport)
assert_no_match "v1 with a bad port: no response" 'HTTP/1\.1' "$out"
assert_match "v1 with a bad port: logged" 'bad PROXY protocol header \(v1: a port is not' "$(cat "$HERALD_LOG")"
out=$(send "$PP" "$SIG"'\x21\x12\x00\x0c\xc6\x33\x64\x17\x7f\x00\x00\x01\x13\x88\x00\x50' dgram)
assert_no_match "v2 datagram family: no response" 'HTTP/1\.1' "$out"
t0=$(date +%s%N)
out=$(printf 'PROXY TCP4 203.0.1' | raw_http 127.0.0.1 "$PP" 5)
ms=$((($(date +%s%N) - t0) / 1000000))
assert_no_match "a stalled header gets no response" 'HTTP/1\.1' "$out"
assert_no_match "a stalled header is closed, not left open" 'TIMEOUT' "$out"
assert_le "closed within the header timeout (1 s) plus slack" 3000 "$ms"
assert_match "the stall is logged" 'PROXY header timeout, closing' "$(cat "$HERALD_LOG")"
check "herald still serving" herald_alive
# The option is per listener: elsewhere a PROXY line is just a bad request.
out=$(send "$DP" 'PROXY TCP4 203.0.113.7 127.0.0.1 51234 80\r\n' direct)
assert_match "listener without proxy_protocol: 400" '^HTTP/1\.1 400' "$out"

# ---- X-Forwarded-For ------------------------------------------------------
# From a trusted proxy (10.1.2.3, by PROXY header): the right-most address
# it does not trust is the client; the chain goes on, with the proxy
# appended.
out=$(send "$PP" 'PROXY TCP4 10.1.2.3 127.0.0.1 51234 80\r\n' xfftrusted \
  'X-Forwarded-For: 6.6.6.6, 198.51.100.77\r\nX-Forwarded-For: 10.9.9.9\r\n')
assert_eq "trusted proxy: client is the right-most untrusted address" 198.51.100.77 "$(alog_client xfftrusted)"
assert_match "trusted proxy: chain appended for the backend" \
  '^x-forwarded-for: 6\.6\.6\.6, 198\.51\.100\.77, 10\.9\.9\.9, 10\.1\.2\.3$' "$out"
out=$(send "$PP" 'PROXY TCP6 2001:db8:ffff::9 ::1 51234 80\r\n' xff6 \
  'X-Forwarded-For: [2001:db8:1::5]:443\r\n')
assert_eq "trusted IPv6 proxy, bracketed address with port" 2001:db8:1::5 "$(alog_client xff6)"
# From anyone else: ignored, and not passed on.
out=$(send "$PP" 'PROXY TCP4 203.0.113.8 127.0.0.1 51234 80\r\n' xffforged \
  'X-Forwarded-For: 198.51.100.1\r\n')
assert_eq "untrusted peer: its X-Forwarded-For is ignored" 203.0.113.8 "$(alog_client xffforged)"
assert_match "untrusted peer: the backend gets only the real address" \
  '^x-forwarded-for: 203\.0\.113\.8$' "$out"
assert_no_match "untrusted peer: the forged address never reaches the backend" '198\.51\.100\.1' "$out"
# Over h2 too, on the direct listener (peer 127.0.0.1, not trusted).
out=$(hcurl --http2-prior-knowledge -H 'x-forwarded-for: 198.51.100.1' "http://127.0.0.1:$DP/headers?h2forged" | tr -d '\r')
assert_match "h2, untrusted peer: backend sees the peer only" '^x-forwarded-for: 127\.0\.0\.1$' "$out"
assert_eq "h2, untrusted peer: access log" 127.0.0.1 "$(alog_client h2forged)"

# Trust is reloadable: trusting loopback makes the direct listener's
# X-Forwarded-For believed at once.
sed -i 's|^trusted_proxies = .*|trusted_proxies = 127.0.0.1|' "$WORK/herald.ini"
kill -HUP "$HERALD_PID"
for _ in $(seq 1 40); do
  grep -q 'reload: configuration' "$HERALD_LOG" && break
  sleep 0.05
done
out=$(hcurl --http2-prior-knowledge -H 'x-forwarded-for: 198.51.100.1' "http://127.0.0.1:$DP/headers?h2trusted" | tr -d '\r')
assert_eq "after reload: loopback trusted, h2 client from X-Forwarded-For" 198.51.100.1 "$(alog_client h2trusted)"
assert_match "after reload: chain appended" '^x-forwarded-for: 198\.51\.100\.1, 127\.0\.0\.1$' "$out"

herald_graceful_stop
finish
