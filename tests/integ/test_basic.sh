#!/usr/bin/env bash
# test_basic.sh: the happy path through herald over every front protocol
# (h2c prior knowledge, HTTP/1.1, TLS with ALPN h2 and http/1.1, IPv6),
# uploads and downloads checked by sha256, concurrency, pipelining,
# keep-alive, request/response header mapping and the access log.
. "$(dirname "$0")/lib.sh"

start_nginx || finish
start_fault_backend || finish
gen_cert || finish

# One herald in front of nginx (static site), one in front of the fault
# backend: herald's command line takes a single --backend.
HN=$(free_port)
HNT=$(free_port)
start_herald --listen "127.0.0.1:$HN" --listen-tls "127.0.0.1:$HNT" --cert "$CERT" --key "$KEY" \
  --backend "127.0.0.1:$NGINX_PORT" --access-log "$WORK/access.log" || finish
HERALD_NGINX_PID=$HERALD_PID
HF=$(free_port)
HFT=$(free_port)
start_herald --listen "127.0.0.1:$HF" --listen-tls "127.0.0.1:$HFT" --cert "$CERT" --key "$KEY" \
  --backend "127.0.0.1:$FB_PORT" --access-log "$WORK/access-fb.log" || finish
HERALD_FB_PID=$HERALD_PID

SITE=$WORK/site
N=http://127.0.0.1:$HN
NT=https://127.0.0.1:$HNT
F=http://127.0.0.1:$HF
FT=https://127.0.0.1:$HFT

sha() { sha256sum "$1" | cut -d' ' -f1; }
# echo_sha: the body_sha256 the fault backend's /echo reported.
echo_sha() { sed -n 's/.*"body_sha256": "\([0-9a-f]*\)".*/\1/p' "$1"; }

# ---- each front protocol ----------------------------------------------------

out=$(hcurl --http2-prior-knowledge -o "$WORK/b1" -w '%{http_code} %{http_version}' "$N/index.html" 2>&1)
assert_eq "h2c prior knowledge GET" "200 2" "$out"
check "h2c body matches" cmp -s "$WORK/b1" "$SITE/index.html"

out=$(hcurl --http1.1 -o "$WORK/b2" -w '%{http_code} %{http_version}' "$N/index.html" 2>&1)
assert_eq "HTTP/1.1 GET" "200 1.1" "$out"
check "HTTP/1.1 body matches" cmp -s "$WORK/b2" "$SITE/index.html"

out=$(hcurl --http2 -k -o "$WORK/b3" -w '%{http_code} %{http_version}' "$NT/style.css" 2>&1)
assert_eq "TLS ALPN h2 GET" "200 2" "$out"
check "TLS h2 body matches" cmp -s "$WORK/b3" "$SITE/style.css"

out=$(hcurl --http1.1 -k -o "$WORK/b4" -w '%{http_code} %{http_version}' "$NT/app.js" 2>&1)
assert_eq "TLS ALPN http/1.1 GET" "200 1.1" "$out"
check "TLS http/1.1 body matches" cmp -s "$WORK/b4" "$SITE/app.js"

out=$(hnghttp -v "$N/index.html" 2>&1)
assert_contains "nghttp h2c :status 200" ":status: 200" "$out"
assert_contains "nghttp h2c body" "herald test site" "$out"

out=$(hnghttp -v "$NT/index.html" 2>&1)
assert_contains "nghttp TLS :status 200" ":status: 200" "$out"
assert_contains "nghttp TLS negotiated h2" "h2" "$(printf '%s' "$out" | grep -i 'negotiated protocol')"

# Binary assets keep their bytes and types.
out=$(hcurl --http2-prior-knowledge -o "$WORK/font" -w '%{http_code}' "$N/fonts/t.woff2" 2>&1)
assert_eq "font GET" 200 "$out"
check "font bytes match" cmp -s "$WORK/font" "$SITE/fonts/t.woff2"
out=$(hcurl --http2-prior-knowledge -o "$WORK/100k" -w '%{http_code} %{content_type}' "$N/100k.bin" 2>&1)
assert_eq "100k GET with content type" "200 application/octet-stream" "$out"
check "100k bytes match" cmp -s "$WORK/100k" "$SITE/100k.bin"
out=$(hcurl --http2-prior-knowledge -o /dev/null -w '%{http_code}' "$N/missing.html" 2>&1)
assert_eq "404 passes through" 404 "$out"
out=$(hcurl --http2-prior-knowledge -I -w '%{http_code}' -o "$WORK/head" "$N/1k.bin" 2>&1)
assert_eq "HEAD over h2" 200 "$out"
assert_match "HEAD keeps content-length" '^content-length: 1024' "$(cat "$WORK/head")"

# IPv6 listener (its own instance: one listener per flag keeps this
# independent of whether --listen may repeat).
H6=$(free_port)
if start_herald --listen "[::1]:$H6" --backend "127.0.0.1:$NGINX_PORT"; then
  out=$(hcurl --http2-prior-knowledge -o "$WORK/b6" -w '%{http_code} %{http_version}' "http://[::1]:$H6/index.html" 2>&1)
  assert_eq "IPv6 h2c GET" "200 2" "$out"
  out=$(hcurl --http1.1 -o /dev/null -w '%{http_code} %{http_version}' "http://[::1]:$H6/index.html" 2>&1)
  assert_eq "IPv6 HTTP/1.1 GET" "200 1.1" "$out"
fi

# ---- uploads, checked by the backend's sha256 --------------------------------

head -c 1048576 /dev/urandom >"$WORK/up.bin"
UP_SHA=$(sha "$WORK/up.bin")

hcurl --http2-prior-knowledge --data-binary @"$WORK/up.bin" -o "$WORK/e1" "$F/echo" 2>"$WORK/err"
assert_eq "h2 POST 1 MB (content-length) sha256" "$UP_SHA" "$(echo_sha "$WORK/e1")"
assert_contains "h2 POST reported length" '"body_length": 1048576' "$(cat "$WORK/e1")"

# -T - reads stdin, so curl cannot know the length: no content-length on h2.
hcurl --http2-prior-knowledge -X POST -T - -o "$WORK/e2" "$F/echo" <"$WORK/up.bin" 2>"$WORK/err"
assert_eq "h2 POST 1 MB (no content-length) sha256" "$UP_SHA" "$(echo_sha "$WORK/e2")"

hcurl --http2 -k --data-binary @"$WORK/up.bin" -o "$WORK/e3" "$FT/echo" 2>"$WORK/err"
assert_eq "TLS h2 POST 1 MB sha256" "$UP_SHA" "$(echo_sha "$WORK/e3")"

hcurl --http1.1 --data-binary @"$WORK/up.bin" -o "$WORK/e4" "$F/echo" 2>"$WORK/err"
assert_eq "h1 POST 1 MB (content-length) sha256" "$UP_SHA" "$(echo_sha "$WORK/e4")"

hcurl --http1.1 -H 'Transfer-Encoding: chunked' --data-binary @"$WORK/up.bin" -o "$WORK/e5" "$F/echo" 2>"$WORK/err"
assert_eq "h1 POST 1 MB (chunked) sha256" "$UP_SHA" "$(echo_sha "$WORK/e5")"

out=$(hnghttp -d "$WORK/up.bin" "$F/echo" 2>&1)
assert_contains "nghttp POST sha256" "\"body_sha256\": \"$UP_SHA\"" "$out"

# Expect: 100-continue must be answered with an interim 100 (curl would
# otherwise wait a second and send anyway, hiding the bug).
hcurl --http1.1 -v -H 'Expect: 100-continue' --expect100-timeout 5 \
  --data-binary @"$WORK/up.bin" -o "$WORK/e6" "$F/echo" 2>"$WORK/err6"
assert_contains "h1 Expect: 100-continue gets 100" "< HTTP/1.1 100" "$(cat "$WORK/err6")"
assert_eq "h1 Expect: 100-continue upload sha256" "$UP_SHA" "$(echo_sha "$WORK/e6")"

# ---- a 50 MB download with bounded memory ------------------------------------

# The client reads at 25 MB/s while nginx can send far faster: unless
# herald applies backpressure to the backend it buffers the file.
HERALD_PID=$HERALD_NGINX_PID
out=$(hcurl -m 30 --http2-prior-knowledge --limit-rate 25M -o "$WORK/50m" -w '%{http_code}' "$N/50m.bin" 2>&1)
assert_eq "50 MB h2 download status" 200 "$out"
assert_eq "50 MB h2 download sha256" "$(sha "$SITE/50m.bin")" "$(sha "$WORK/50m")"
out=$(hcurl -m 30 --http1.1 --limit-rate 25M -o "$WORK/50m" -w '%{http_code}' "$N/50m.bin" 2>&1)
assert_eq "50 MB h1 download status" 200 "$out"
assert_eq "50 MB h1 download sha256" "$(sha "$SITE/50m.bin")" "$(sha "$WORK/50m")"
rm -f "$WORK/50m"
rss=$(herald_rss_kb)
assert_le "herald peak RSS under 60 MB after 50 MB downloads (KB)" 61440 "${rss:-999999}"

# ---- concurrency, pipelining, keep-alive ------------------------------------

out=$(timeout 30 h2load -n 100 -c 1 -m 100 "$N/index.html" 2>&1)
assert_contains "100 concurrent streams on one connection" "100 succeeded, 0 failed, 0 errored" "$out"

out=$(timeout 60 h2load -n 2000 -c 10 -m 10 "$N/1k.bin" 2>&1)
assert_contains "h2load 2000 requests, 10 clients" "2000 succeeded, 0 failed, 0 errored" "$out"

out=$(timeout 60 h2load -n 200 -c 4 --h1 "$N/1k.bin" 2>&1)
assert_contains "h2load --h1 200 requests" "200 succeeded, 0 failed, 0 errored" "$out"

# Three requests in one write; the answers must come back in order.
out=$(printf 'GET /status?code=200 HTTP/1.1\r\nHost: a\r\n\r\nGET /status?code=201 HTTP/1.1\r\nHost: a\r\n\r\nGET /status?code=202 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' |
  raw_http 127.0.0.1 "$HF" 3 | tr -d '\r' | grep -Eo '^HTTP/1\.1 [0-9]+' | tr '\n' ' ')
assert_eq "pipelined HTTP/1.1 answered in order" "HTTP/1.1 200 HTTP/1.1 201 HTTP/1.1 202 " "$out"

# Request targets of every size up to the 8 KB bound reach the backend
# whole, one after another on one keep-alive connection (the session's
# buffer for the target grows with them); one byte more is a 414.
long_target() { printf '/echo?q=%s' "$(head -c "$1" /dev/zero | tr '\0' a)"; }
args=() want=""
for n in 10 250 300 1000 5000 8184 40; do
  args+=(-o "$WORK/long$n" "$F$(long_target "$n")")
  want+="$((n + 8)) "
done
conns=$(hcurl --http1.1 -s -w '%{num_connects}' "${args[@]}" 2>/dev/null)
assert_eq "7 requests with long targets on one connection" "1000000" "$conns"
got=""
for n in 10 250 300 1000 5000 8184 40; do
  p=$(sed -n 's/.*"path": "\([^"]*\)".*/\1/p' "$WORK/long$n")
  got+="${#p} "
done
assert_eq "HTTP/1.1 targets of 18 to 8192 bytes reach the backend whole" "$want" "$got"
out=$(printf 'GET %s HTTP/1.1\r\nHost: a\r\n\r\nGET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' \
  "$(long_target 20)" "$(long_target 8185)" | raw_http 127.0.0.1 "$HF" 3 | tr -d '\r' |
  grep -Eo '^HTTP/1\.1 [0-9]+' | tr '\n' ' ')
assert_eq "a short target then one of 8193 bytes: 200, then 414" "HTTP/1.1 200 HTTP/1.1 414 " "$out"

out=$(hcurl --http1.1 -o /dev/null -o /dev/null -w '%{num_connects} ' "$N/index.html" "$N/style.css" 2>&1)
assert_eq "HTTP/1.1 keep-alive reuses the connection" "1 0 " "$out"
# Over TLS: curl 7.88 fails reusing an h2c prior-knowledge connection
# ("Error in the HTTP2 framing layer") whatever the server does.
out=$(hcurl --http2 -k -o /dev/null -o /dev/null -w '%{num_connects} ' "$NT/index.html" "$NT/style.css" 2>&1)
assert_eq "TLS h2 two requests on one connection" "1 0 " "$out"

# ---- request header mapping (what the backend sees) --------------------------

out=$(hcurl --http2-prior-knowledge "$F/headers" 2>&1 | tr -d '\r')
assert_match "h2: Host from :authority" "^host: 127\.0\.0\.1:$HF\$" "$out"
assert_match "h2: X-Forwarded-For" '^x-forwarded-for: 127\.0\.0\.1$' "$out"
assert_match "h2: X-Forwarded-Proto http" '^x-forwarded-proto: http$' "$out"
assert_match "h2: Via 2 $VIA_NAME" "^via: (.*, *)?2 $VIA_NAME\$" "$out"
assert_match "h2: request line is HTTP/1.1" '^GET /headers HTTP/1\.1$' "$out"

out=$(hcurl --http2 -k "$FT/headers" 2>&1 | tr -d '\r')
assert_match "TLS h2: X-Forwarded-Proto https" '^x-forwarded-proto: https$' "$out"
assert_match "TLS h2: Host from :authority" "^host: 127\.0\.0\.1:$HFT\$" "$out"

out=$(hcurl --http1.1 "$F/headers" 2>&1 | tr -d '\r')
assert_match "h1: Via 1.1 $VIA_NAME" "^via: (.*, *)?1\.1 $VIA_NAME\$" "$out"
assert_match "h1: X-Forwarded-For" '^x-forwarded-for: 127\.0\.0\.1$' "$out"
assert_match "h1: Host kept" "^host: 127\.0\.0\.1:$HF\$" "$out"

out=$(hnghttp -H 'cookie: a=1' -H 'cookie: b=2' "$F/headers" 2>&1 | tr -d '\r')
assert_match "h2 cookies joined with '; '" '^cookie: a=1; b=2$' "$out"
assert_eq "h2 cookies sent as one header" 1 "$(printf '%s\n' "$out" | grep -ci '^cookie:')"

# Hop-by-hop request headers, and those the client's Connection names,
# stop at herald.
out=$(hcurl --http1.1 -H 'Connection: keep-alive, x-foo' -H 'X-Foo: 1' -H 'Keep-Alive: timeout=5' \
  -H 'TE: trailers' -H 'Proxy-Connection: keep-alive' -H 'X-Bar: 2' "$F/headers" 2>&1 | tr -d '\r')
assert_no_match "h1: no Keep-Alive forwarded" '^keep-alive:' "$out"
assert_no_match "h1: no TE forwarded" '^te:' "$out"
assert_no_match "h1: no Proxy-Connection forwarded" '^proxy-connection:' "$out"
assert_no_match "h1: no Connection-nominated header forwarded" '^x-foo:' "$out"
assert_no_match "h1: client's Connection tokens not forwarded" '^connection:.*(x-foo|keep-alive)' "$out"
assert_match "h1: end-to-end header kept" '^x-bar: 2$' "$out"

out=$(hnghttp -H 'te: trailers' "$F/headers" 2>&1 | tr -d '\r')
assert_no_match "h2: no TE forwarded" '^te:' "$out"
assert_no_match "h2: no Upgrade forwarded" '^upgrade:' "$out"

# ---- response header mapping ------------------------------------------------

out=$(hcurl --http2-prior-knowledge -D - -o /dev/null "$F/hop" 2>&1 | tr -d '\r')
assert_match "h2 /hop status 200" '^HTTP/2 200' "$out"
assert_no_match "h2 /hop: no x-hop" '^x-hop:' "$out"
assert_no_match "h2 /hop: no keep-alive" '^keep-alive:' "$out"
assert_no_match "h2 /hop: no proxy-connection" '^proxy-connection:' "$out"
assert_no_match "h2 /hop: no upgrade" '^upgrade:' "$out"
assert_no_match "h2 /hop: no connection" '^connection:' "$out"
assert_match "h2 /hop: x-kept kept" '^x-kept: yes$' "$out"
assert_match "h2 response carries Via: 1.1 herald" '^via: 1\.1 herald$' "$out"

out=$(hcurl --http1.1 -D - -o /dev/null "$F/hop" 2>&1 | tr -d '\r')
assert_match "h1 /hop status 200" '^HTTP/1\.1 200' "$out"
assert_no_match "h1 /hop: no x-hop" '^x-hop:' "$out"
assert_no_match "h1 /hop: no backend keep-alive" '^keep-alive: timeout=5' "$out"
assert_no_match "h1 /hop: no proxy-connection" '^proxy-connection:' "$out"
assert_no_match "h1 /hop: no upgrade" '^upgrade:' "$out"
assert_no_match "h1 /hop: backend's Connection tokens not forwarded" '^connection:.*x-hop' "$out"
assert_match "h1 /hop: x-kept kept" '^x-kept: yes$' "$out"
assert_match "h1 response carries Via: 1.1 herald" '^via: 1\.1 herald$' "$out"

out=$(hcurl --http2-prior-knowledge -D - -o /dev/null "$F/link" 2>&1 | tr -d '\r')
assert_match "Link header passes through" '^link: </style\.css>; rel=preload; as=style$' "$out"

out=$(hnghttp -v "$F/trailers" 2>&1)
assert_contains "h2 trailer x-checksum reaches the client" "x-checksum: abc" "$out"
assert_contains "h2 /trailers body" "hello" "$out"

# ---- access log --------------------------------------------------------------

sleep 0.3 # records may be written as the stream closes
alog=$(cat "$WORK/access.log" 2>/dev/null)
assert_match "access log: GET /index.html 200" 'GET.*/index\.html.* 200( |$)' "$alog"
assert_match "access log: 404 recorded" 'GET.*/missing\.html.* 404( |$)' "$alog"
assert_match "access log: names the backend server" "/index\\.html 200 [0-9]+ [0-9]+ 127\\.0\\.0\\.1:$NGINX_PORT\$" "$alog"
alog=$(cat "$WORK/access-fb.log" 2>/dev/null)
assert_match "access log: POST /echo 200" 'POST.*/echo.* 200( |$)' "$alog"

check "herald (nginx side) still running" kill -0 "$HERALD_NGINX_PID"
check "herald (backend side) still running" kill -0 "$HERALD_FB_PID"

finish
