#!/usr/bin/env bash
# test_h2_abuse.sh: herald against the HTTP/2 attacks of
# shared/research/security.md §2 and the checklist of §3, driven by
# build/h2probe (frame-level client) in front of build/fault_backend.
#
# Every check name starts with the section it covers, e.g. "[§2.9 CR in
# value]".  For every malformed request the fault backend's /count must not
# move: herald has to refuse it itself, not pass it on.
#
# HERALD_STANDIN=nghttpx runs the same script against nghttpx (see lib.sh);
# nghttpx is expected to fail the checks security.md says it fails (§2.9
# :scheme/:authority/host policy, §2.5 empty DATA flood).
. "$(dirname "$0")/lib.sh"

PROBE=$B/h2probe
if [ ! -x "$PROBE" ]; then
  fail "h2probe built" "$PROBE missing (make $PROBE)"
  finish
fi

start_fault_backend || finish
HPORT=$(free_port)
start_herald --listen "127.0.0.1:$HPORT" --backend "127.0.0.1:$FB_PORT" \
  -o limits.max_concurrent_streams=100 || finish

AUTH=a.example
# The probe has its own deadline (--timeout); timeout(1) is a backstop.
# probe MODE ARGS...: sets OUT (everything printed) and R (the RESULT line).
probe() {
  local mode=$1
  shift
  OUT=$(timeout 60 "$PROBE" "$mode" 127.0.0.1 "$HPORT" "$@" --timeout 30 2>&1)
  R=$(printf '%s\n' "$OUT" | grep '^RESULT ' | tail -n 1)
  [ -n "$R" ] || R="RESULT missing: $OUT"
}

# f NAME: the value of NAME= in $R
f() { printf '%s\n' "$R" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }

# A well-formed GET, as header arguments for "probe req".
GET=(-H ':method: GET' -H ':scheme: http' -H ":authority: $AUTH" -H ':path: /echo')

# alive TAG: herald still runs and still answers a plain request.
alive() {
  if ! herald_alive; then
    fail "$1: herald still running" "process $HERALD_PID is gone"
    return
  fi
  probe req "${GET[@]}"
  assert_eq "$1: herald still answers (status)" 200 "$(f status)"
}

# rejected TAG WANT ARGS...: a malformed request; WANT is
#   rst     RST_STREAM PROTOCOL_ERROR
#   400     :status 400
#   either  RST_STREAM PROTOCOL_ERROR or :status 400
# and the backend must not see a request.
rejected() {
  local tag=$1 want=$2 before after st rst
  shift 2
  before=$(fb_count)
  probe req "$@" --wait 3000
  after=$(fb_count)
  st=$(f status)
  rst=$(f rst)
  case $want in
  rst)
    if [ "$rst" = PROTOCOL_ERROR ]; then ok "$tag: RST_STREAM PROTOCOL_ERROR"
    else fail "$tag: RST_STREAM PROTOCOL_ERROR" "$R"; fi
    ;;
  400)
    if [ "$st" = 400 ]; then ok "$tag: 400"
    else fail "$tag: 400" "$R"; fi
    ;;
  either)
    if [ "$rst" = PROTOCOL_ERROR ] || [ "$st" = 400 ]; then ok "$tag: RST PROTOCOL_ERROR or 400"
    else fail "$tag: RST PROTOCOL_ERROR or 400" "$R"; fi
    ;;
  esac
  assert_eq "$tag: backend saw no request" "$before" "$after"
}

BIG_RSS_MB=${H2_ABUSE_RSS_MB:-50}
# Sanitizer builds carry shadow memory and a free-quarantine; RSS says
# nothing there.
if [ -z "$HERALD_STANDIN" ] && { case $B in *asan*) true ;; *) false ;; esac ||
  ldd "$B/herald" 2>/dev/null | grep -q libasan; }; then
  BIG_RSS_MB=${H2_ABUSE_RSS_MB_ASAN:-1024}
fi

# rss_kb: current VmRSS of herald (the stand-in: its process tree's worker)
rss_kb() {
  local p s=0 v
  for p in $HERALD_PID $(ps -o pid= --ppid "$HERALD_PID" 2>/dev/null); do
    v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null)
    s=$((s + ${v:-0}))
  done
  echo "$s"
}

# ---- control: the probe and the counting work at all -----------------------
before=$(fb_count)
probe req "${GET[@]}"
assert_eq "control: well-formed GET gets 200" 200 "$(f status)"
assert_eq "control: backend counted it" $((before + 1)) "$(fb_count)"
probe req -H ':method: POST' -H ':scheme: http' -H ":authority: $AUTH" \
  -H ':path: /echo' -H 'content-length: 5' --data 5
assert_eq "control: POST with matching content-length gets 200" 200 "$(f status)"

# ---- §2.9 H2->H1 downgrade smuggling: bytes that split an HTTP/1.1 head -----
BASE=(-H ':method: GET' -H ':scheme: http' -H ":authority: $AUTH" -H ':path: /echo')
rejected "[§2.9 CR in value]" either "${BASE[@]}" -H 'x-a: b\rc'
rejected "[§2.9 LF in value]" either "${BASE[@]}" -H 'x-a: b\nx-injected: 1'
rejected "[§2.9 CRLF in value]" either "${BASE[@]}" -H 'x-a: b\r\nx-injected: 1'
rejected "[§2.9 NUL in value]" either "${BASE[@]}" -H 'x-a: b\0c'
rejected "[§2.9 CR in name]" either "${BASE[@]}" -H 'x-a\rb: c'
rejected "[§2.9 space in name]" either "${BASE[@]}" -H 'x a: c'
rejected "[§2.9 uppercase name]" either "${BASE[@]}" -H 'X-Upper: c'
rejected "[§2.9 trailing whitespace in value]" either "${BASE[@]}" -H 'x-a: padded '
rejected "[§2.9 CRLF in :path]" either -H ':method: GET' -H ':scheme: http' \
  -H ":authority: $AUTH" -H ':path: /echo HTTP/1.1\r\nx-injected: 1'
rejected "[§2.9 space in :path]" either -H ':method: GET' -H ':scheme: http' \
  -H ":authority: $AUTH" -H ':path: /echo x'
rejected "[§2.9 CRLF in :method]" either -H ':method: GET /x HTTP/1.1\r\nx: 1' \
  -H ':scheme: http' -H ":authority: $AUTH" -H ':path: /echo'

# ---- §2.9 :path must start with / -------------------------------------------
rejected "[§2.9 :path without leading /]" either -H ':method: GET' -H ':scheme: http' \
  -H ":authority: $AUTH" -H ':path: echo'
rejected "[§2.9 absolute-form :path]" either -H ':method: GET' -H ':scheme: http' \
  -H ":authority: $AUTH" -H ':path: http://evil.example/echo'

# ---- §2.9 pseudo-header misuse -----------------------------------------------
rejected "[§2.9 missing :method]" rst -H ':scheme: http' -H ":authority: $AUTH" -H ':path: /echo'
rejected "[§2.9 missing :path]" rst -H ':method: GET' -H ':scheme: http' -H ":authority: $AUTH"
rejected "[§2.9 missing :scheme]" rst -H ':method: GET' -H ":authority: $AUTH" -H ':path: /echo'
rejected "[§2.9 duplicate :path]" rst "${BASE[@]}" -H ':path: /other'
rejected "[§2.9 pseudo-header after regular]" rst -H ':method: GET' -H ':scheme: http' \
  -H 'x-a: 1' -H ":authority: $AUTH" -H ':path: /echo'

# ---- §2.9 / §2.8 connection-specific headers -----------------------------------
rejected "[§2.9 H2.TE transfer-encoding]" rst -H ':method: POST' -H ':scheme: http' \
  -H ":authority: $AUTH" -H ':path: /echo' -H 'transfer-encoding: chunked' --data 5
rejected "[§2.9 connection header]" rst "${BASE[@]}" -H 'connection: close'
rejected "[§2.8 upgrade: h2c]" rst "${BASE[@]}" -H 'upgrade: h2c'
rejected "[§2.9 keep-alive]" rst "${BASE[@]}" -H 'keep-alive: timeout=5'
rejected "[§2.9 proxy-connection]" rst "${BASE[@]}" -H 'proxy-connection: keep-alive'
rejected "[§2.9 te: gzip]" rst "${BASE[@]}" -H 'te: gzip'

# ---- §2.9 H2.CL: content-length disagreeing with DATA ----------------------------
POST=(-H ':method: POST' -H ':scheme: http' -H ":authority: $AUTH" -H ':path: /echo')
rejected "[§2.9 H2.CL content-length < DATA]" rst "${POST[@]}" -H 'content-length: 1' --data 5
rejected "[§2.9 H2.CL content-length > DATA]" rst "${POST[@]}" -H 'content-length: 10' --data 5
rejected "[§2.9 H2.CL duplicate differing content-length]" rst "${POST[@]}" \
  -H 'content-length: 5' -H 'content-length: 6' --data 5

# ---- §2.9 / §3.6 :scheme, :authority and Host policy (herald's own) ------------------
rejected "[§2.9 :scheme gopher]" 400 -H ':method: GET' -H ':scheme: gopher' \
  -H ":authority: $AUTH" -H ':path: /echo'
rejected "[§2.9 :authority with userinfo]" 400 -H ':method: GET' -H ':scheme: http' \
  -H ':authority: user@a.example' -H ':path: /echo'
# nghttp2 itself rejects '/' in :authority with RST before herald sees it.
rejected "[§2.9 :authority with a path]" either -H ':method: GET' -H ':scheme: http' \
  -H ':authority: a.example/x' -H ':path: /echo'
rejected "[§2.9 host differs from :authority]" 400 "${BASE[@]}" -H 'host: b.example'

# ---- §2.10 / §3.5 header list size and count ------------------------------------
MANY=()
for i in $(seq 1 150); do MANY+=(-H "x-h-$i: v"); done
V30K=$(head -c 30000 /dev/zero | tr '\0' 'v')
before=$(fb_count)
probe req "${BASE[@]}" "${MANY[@]}" --wait 3000
if [ "$(f status)" = 431 ] || [ "$(f rst)" != none ]; then ok "[§2.10 150 header fields: 431 or RST]"
else fail "[§2.10 150 header fields: 431 or RST]" "$R"; fi
assert_eq "[§2.10 150 header fields]: backend saw no request" "$before" "$(fb_count)"
before=$(fb_count)
probe req "${BASE[@]}" -H "x-a: $V30K" -H "x-b: $V30K" -H "x-c: $V30K" --wait 3000
if [ "$(f status)" = 431 ] || [ "$(f rst)" != none ]; then ok "[§2.10 90 KB of headers: 431 or RST]"
else fail "[§2.10 90 KB of headers: 431 or RST]" "$R"; fi
assert_eq "[§2.10 90 KB of headers]: backend saw no request" "$before" "$(fb_count)"

# ---- §2.4 HPACK bomb: 4 KB entry referenced 16000 times (~64 MB decoded) ------------
before=$(fb_count)
probe bomb --path /echo --authority "$AUTH"
if [ "$(f status)" = 431 ]; then ok "[§2.4 HPACK bomb: 431]"
elif [ "$(f rst)" != none ] || [ "$(f goaway)" != none ]; then
  ok "[§2.4 HPACK bomb: refused with RST/GOAWAY ($(f rst)/$(f goaway))]"
else fail "[§2.4 HPACK bomb: 431, RST or GOAWAY]" "$R"; fi
assert_eq "[§2.4 HPACK bomb]: backend saw no request" "$before" "$(fb_count)"
alive "[§2.4 HPACK bomb]"
# Each bomb costs CPU to decode whatever herald keeps of it: repeated ones
# are charged to the connection's glitch budget, and after a few the
# connection is closed with GOAWAY ENHANCE_YOUR_CALM.
before=$(fb_count)
probe bomb --path /echo --authority "$AUTH" --repeat 20
assert_eq "[§2.4 repeated HPACK bombs: GOAWAY ENHANCE_YOUR_CALM]" ENHANCE_YOUR_CALM "$(f goaway)"
assert_eq "[§2.4 repeated HPACK bombs: connection closed]" 1 "$(f closed)"
assert_le "[§2.4 repeated HPACK bombs: closed within 5 bombs]" 5 "$(f stop_at)"
assert_eq "[§2.4 repeated HPACK bombs: the first ones got 431]" 431 "$(f status)"
assert_eq "[§2.4 repeated HPACK bombs]: backend saw no request" "$before" "$(fb_count)"
alive "[§2.4 repeated HPACK bombs]"
# Trailers are decoded at the same cost (and dropped): charged the same way.
probe bomb --path /echo --authority "$AUTH" --repeat 20 --trailers
assert_eq "[§2.4 HPACK bombs in trailers: GOAWAY ENHANCE_YOUR_CALM]" ENHANCE_YOUR_CALM "$(f goaway)"
assert_eq "[§2.4 HPACK bombs in trailers: connection closed]" 1 "$(f closed)"
assert_le "[§2.4 HPACK bombs in trailers: closed within 5 bombs]" 5 "$(f stop_at)"
alive "[§2.4 HPACK bombs in trailers]"

# ---- §2.1 Rapid Reset: 5000 x (HEADERS + RST_STREAM) -----------------------------
before=$(fb_count)
probe rapid 5000 --path /echo --authority "$AUTH"
after=$(fb_count)
assert_ne "[§2.1 rapid reset: GOAWAY]" none "$(f goaway)"
stop=$(f stop_at)
if [ "$stop" != none ] && [ "$stop" -lt 5000 ] 2>/dev/null; then
  ok "[§2.1 rapid reset: GOAWAY/close before 5000 pairs (at $stop)]"
else fail "[§2.1 rapid reset: GOAWAY/close before 5000 pairs]" "$R"; fi
# "far fewer": at most 2% of the streams reached the backend
assert_le "[§2.1 rapid reset: backend saw <= 100 requests]" 100 $((after - before))
alive "[§2.1 rapid reset]"

# ---- §2.2 MadeYouReset: requests herald itself must reset (CL 1, 2 bytes) -----------
before=$(fb_count)
probe req "${POST[@]}" -H 'content-length: 1' --data 2 --repeat 3000 --wait 3000
after=$(fb_count)
if [ "$(f goaway)" != none ] || [ "$(f closed)" = 1 ]; then
  ok "[§2.2/§3.1 self-reset bucket: GOAWAY ($(f goaway)) after $(f stop_at) streams]"
else fail "[§2.2/§3.1 self-reset bucket: GOAWAY before 3000 reset streams]" "$R"; fi
assert_le "[§2.2 MadeYouReset: backend saw <= 200 requests]" 200 $((after - before))
alive "[§2.2 MadeYouReset]"

# ---- §2.3 CONTINUATION flood: 64-byte CONTINUATIONs, no END_HEADERS ---------------
before=$(fb_count)
probe cont 20000 --path /echo --authority "$AUTH" --pace 20
if [ "$(f closed)" = 1 ] || [ "$(f goaway)" != none ]; then ok "[§2.3 CONTINUATION flood: closed]"
else fail "[§2.3 CONTINUATION flood: closed]" "$R"; fi
assert_le "[§2.3 CONTINUATION flood: within 16 frames]" 16 "$(f stop_at)"
assert_eq "[§2.3 CONTINUATION flood]: backend saw no request" "$before" "$(fb_count)"
alive "[§2.3 CONTINUATION flood]"

# ---- §2.5 (CVE-2019-9518) empty DATA flood: 100000 frames on one stream ----------
probe emptydata 100000 --path '/delay?ms=5000' --authority "$AUTH"
assert_eq "[§2.5/§3.1 empty DATA flood: GOAWAY ENHANCE_YOUR_CALM]" ENHANCE_YOUR_CALM "$(f goaway)"
alive "[§2.5 empty DATA flood]"

# ---- §2.5 (CVE-2019-9512/9515) PING and SETTINGS floods, never reading ----------------
# Run in the background holding the connection unread, sample herald's RSS
# meanwhile.
base_kb=$(rss_kb)
for kind in ping settings; do
  RF=$WORK/flood-$kind.out
  timeout 60 "$PROBE" "$kind" 127.0.0.1 "$HPORT" 1000000 --hold 1500 --wait 1000 \
    --timeout 30 >"$RF" 2>&1 &
  fpid=$!
  peak=0
  for i in $(seq 1 40); do
    kill -0 "$fpid" 2>/dev/null || break
    kb=$(rss_kb)
    [ "${kb:-0}" -gt "$peak" ] && peak=$kb
    sleep 0.1
  done
  wait "$fpid"
  R=$(grep '^RESULT ' "$RF" | tail -n 1)
  if [ "$(f closed)" = 1 ] || [ "$(f blocked)" = 1 ]; then
    ok "[§2.5 $kind flood: closed or backpressured (closed=$(f closed) blocked=$(f blocked))]"
  else fail "[§2.5 $kind flood: closed or backpressured]" "$R"; fi
  assert_le "[§2.5 $kind flood: herald RSS growth <= $BIG_RSS_MB MB (KB)]" \
    $((BIG_RSS_MB * 1024)) $((peak - base_kb))
  alive "[§2.5 $kind flood]"
done

# ---- §2.6 stream limits: 300 concurrent streams against a limit of 100 -----------
probe streams 300 --path '/delay?ms=2000' --authority "$AUTH" --wait 6000
if [ "$(f refused)" -gt 0 ] 2>/dev/null || [ "$(f goaway)" != none ]; then
  ok "[§2.6 300 streams, limit 100: refused=$(f refused) goaway=$(f goaway)]"
else fail "[§2.6 300 streams, limit 100: REFUSED_STREAM or GOAWAY]" "$R"; fi
alive "[§2.6 300 streams]"

# ---- §3.10 invalid connection preface: GOAWAY, then close ------------------------
probe preface --variant nosettings
assert_ne "[§3.10 preface then PING instead of SETTINGS: GOAWAY]" none "$(f goaway)"
assert_eq "[§3.10 preface then PING instead of SETTINGS: closed]" 1 "$(f closed)"
probe preface --variant badmagic
assert_eq "[§3.10 bad preface magic: closed]" 1 "$(f closed)"
if [ "$(f goaway)" != none ] || [ "$(f http1_status)" = 400 ]; then
  ok "[§3.10 bad preface magic: GOAWAY or HTTP/1.1 400]"
else fail "[§3.10 bad preface magic: GOAWAY or HTTP/1.1 400]" "$R"; fi

# ---- §2.3 / §3.4 header completion timer (HEADERS without END_HEADERS) ------------------
stop_pid "$HERALD_PID"
HPORT=$(free_port)
start_herald --listen "127.0.0.1:$HPORT" --backend "127.0.0.1:$FB_PORT" \
  -o timeouts.header=1000 || finish
probe req "${GET[@]}" --no-end-headers --wait 6000
assert_eq "[§2.3/§3.4 header timeout 1 s: connection closed]" 1 "$(f closed)"
assert_le "[§2.3/§3.4 header timeout 1 s: within 4 s (ms)]" 4000 "$(f elapsed_ms)"

# ---- §3.10 TLS with ALPN h2 but not the HTTP/2 preface: GOAWAY, then close -----
stop_pid "$HERALD_PID"
gen_cert || finish
HPORT=$(free_port)
start_herald --listen-tls "127.0.0.1:$HPORT" --cert "$CERT" --key "$KEY" \
  --backend "127.0.0.1:$FB_PORT" || finish
frames=$(timeout 10 python3 - "$HPORT" <<'PY'
import socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["h2"])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))),
                    server_hostname="localhost")
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
s.settimeout(3)
data = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
except Exception:
    pass
i, out = 0, []
while i + 9 <= len(data):
    n, t = int.from_bytes(data[i:i + 3], "big"), data[i + 3]
    out.append("GOAWAY:%d" % int.from_bytes(data[i + 13:i + 17], "big")
               if t == 7 else str(t))
    i += 9 + n
print(" ".join(out))
PY
)
assert_match "[§3.10 TLS h2 without the preface: GOAWAY PROTOCOL_ERROR]" 'GOAWAY:1' "$frames"

finish
