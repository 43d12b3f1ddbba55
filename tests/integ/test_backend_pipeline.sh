#!/usr/bin/env bash
# test_backend_pipeline.sh: opt-in HTTP/1.1 pipelining to backends
# (limits.backend_pipeline = N, 1..64, default 1 = off). When a server is
# at limits.backend_max_connections, a GET without a body goes behind the
# requests on a busy connection (fewer than N outstanding, all such GETs)
# instead of waiting in the queue (and never ahead of a waiter, so a HEAD
# or a POST in the queue is served in turn); answers are read in
# order, and a request whose answer never began when its connection ended
# (close, Connection: close, error, a cancelled request ahead) is resent.
#
# Checked from the client's side (statuses; each body is its own
# request's: fault_backend's /echo names the path, with an id), from the
# backend's (fault_backend /conns: connections open at once; /pipelined:
# requests that arrived before the answer ahead of them; its request log:
# what reached it, how often) and from /metrics
# (herald_backend_pipelined_total, herald_backend_pipeline_retries_total):
# - cap 1, pipeline 8: 8 streams on one client connection, one backend
#   connection, requests pipelined, each answer to its own request;
#   pipeline 3: 3 on the connection, the other 5 in the queue;
# - a chunked body and a large body behind one another, and HEADs, which
#   wait; requests wait too while the server's answers average over 16 KB; answers whose framing is a trap (1xx first, 304 and 204 with
#   framing fields, trailers): every answer complete and right;
# - a POST and a GET with a body are never pipelined: they wait;
# - an answer with Connection: close (first or pipelined), a close with
#   no answer (first or pipelined), a garbled answer, a read timeout,
#   ahead of pipelined requests: those are resent and served (the
#   unanswered one gets 502, the timed-out one 504);
# - a client cancelling (RST_STREAM, or closing its connection) the
#   request being answered or one pipelined behind it: the others get
#   their own answers, and later ones too;
# - a graceful stop serves what is pipelined;
# - unset: the requests queue as before, nothing pipelined;
# - 0 and 65 are refused with file:line:key.
# Every herald here runs one worker: the cap is per worker, and requests
# from several client connections must meet on one backend connection.
. "$(dirname "$0")/lib.sh"

if [ -n "$HERALD_STANDIN" ]; then
  skip "backend pipeline" "herald only"
  finish
fi
skip_unless "backend pipeline" --built fault_backend h2probe --cmd python3

start_fault_backend || finish
HP=$(free_port)
AP=$(free_port)
HERALD=$B/herald
URL=http://127.0.0.1:$HP
BASE=(--workers 1 --listen "127.0.0.1:$HP" --backend "127.0.0.1:$FB_PORT"
  -o "admin.listen=127.0.0.1:$AP" -o "log.access_log=$WORK/access.log")
PIPE=(-o limits.backend_max_connections=1 -o limits.backend_pipeline=8)

scrape() { hcurl -o "$WORK/metrics.txt" "http://127.0.0.1:$AP/metrics"; }
metric() {
  K=$1 awk '$1 == ENVIRON["K"] { print $2; found = 1 } END { if (!found) print "missing" }' "$WORK/metrics.txt"
}
pipelined() { metric herald_backend_pipelined_total; }
retries() { metric herald_backend_pipeline_retries_total; }
fb_conns() { curl -sS -m 5 "http://127.0.0.1:$FB_PORT/conns${1:-}"; }
# fb_pipelined: requests the backend got before the answer ahead of them.
fb_pipelined() {
  curl -sS -m 5 "http://127.0.0.1:$FB_PORT/pipelined${1:-}" | awk '{ print $2 }'
}
peak() { local c; c=$(fb_conns); echo "${c#open * }" | tr -d '\n'; }
restart() {
  if [ -n "$HERALD_PID" ] && herald_alive; then
    kill "$HERALD_PID"
    wait_pid_exit "$HERALD_PID" 10
  fi
  start_herald "${BASE[@]}" "$@" || finish
  wait_port "$AP" 127.0.0.1 5 "$HERALD_PID" || fail "admin port" "$(tail -5 "$HERALD_LOG")"
}
# warm: one request, so the one backend connection is open and idle in
# the pool when a scenario starts (pipelining onto a connection still
# being set up is not promised); then the backend's counters are zeroed.
warm() {
  hcurl -o /dev/null "$URL/echo?id=warm"
  fb_conns '?reset=1' >/dev/null
  fb_pipelined '?reset=1' >/dev/null
  : >"$FB_LOG"
}

# get ID PATH [CURL ARGS]: in the background, its own client connection;
# body in $WORK/ID.body, "status seconds" in $WORK/ID.code; pid appended
# to PIDS_BG.
PIDS_BG=()
get() {
  local id=$1 path=$2
  shift 2
  hcurl "$@" -o "$WORK/$id.body" -w '%{http_code} %{time_total}' "$URL$path" \
    >"$WORK/$id.code" 2>"$WORK/$id.err" &
  PIDS_BG+=($!)
}
wait_bg() {
  wait "${PIDS_BG[@]}"
  PIDS_BG=()
}
code_of() { awk '{ print $1 }' "$WORK/$1.code" 2>/dev/null; }
ms_of() { awk '{ printf "%d", $2 * 1000 }' "$WORK/$1.code" 2>/dev/null; }
# id_in FILE: the id= of the path an /echo body names ("" if none).
id_in() { sed -n 's/^  "path": ".*[?&]id=\([^&"]*\).*/\1/p' "$1" 2>/dev/null; }
# own ID WHAT: ID got 200 and the body of its own request.
own() {
  assert_eq "$2: $1 is answered" 200 "$(code_of "$1")"
  assert_eq "$2: $1 gets its own answer" "$1" "$(id_in "$WORK/$1.body")"
}
# sent_times ID: how many times ID reached the backend.
sent_times() { grep -c "[?&]id=$1\( \|&\|$\)" "$FB_LOG"; }
# pattern_sha N: sha256 of fault_backend's first N body bytes (i*7 % 251).
pattern_sha() {
  python3 -c 'import hashlib, sys
n = int(sys.argv[1]); p = bytes(i * 7 % 251 for i in range(251))
print(hashlib.sha256((p * (n // 251 + 1))[:n]).hexdigest())' "$1"
}
file_sha() { sha256sum "$1" | awk '{ print $1 }'; }

# par TAG N FMT: N GETs of printf FMT i (i = 1..N) at once on one HTTP/2
# connection, with nghttp -v (curl 7.88 cannot multiplex h2c: its
# transfers after the first fail in "the HTTP2 framing layer", with any
# server); its trace in $WORK/TAG.v.
par() {
  local tag=$1 n=$2 fmt=$3 i
  local -a urls=()
  for ((i = 1; i <= n; i++)); do
    # shellcheck disable=SC2059
    urls+=("$URL$(printf "$fmt" "$i")")
  done
  hnghttp -v "${urls[@]}" >"$WORK/$tag.v" 2>&1
}
# streams_of TRACE: "stream status sent-id got-id" per stream of an
# nghttp -v trace: the id of the :path it sent, and the id in the "path"
# line of the /echo body it got. An /echo body is one DATA frame, and
# nghttp prints a frame's data before the line about the frame.
streams_of() {
  awk '
    function id(s) { if (match(s, /[?&]id=[^&"]*/)) return substr(s, RSTART + 4, RLENGTH - 4); return "" }
    /send HEADERS frame/ { match($0, /stream_id=[0-9]+/); sid = substr($0, RSTART + 10, RLENGTH - 10) }
    /^ +:path: / && sid != "" { sent[sid] = id($2); order[++n] = sid; sid = "" }
    /recv \(stream_id=[0-9]+\) :status: / { match($0, /stream_id=[0-9]+/); st[substr($0, RSTART + 10, RLENGTH - 10)] = $NF }
    /^  "path": / { pending = id($0) }
    /recv DATA frame/ { match($0, /stream_id=[0-9]+/); s = substr($0, RSTART + 10, RLENGTH - 10)
      if (pending != "") { got[s] = got[s] pending; pending = "" } }
    END { for (i = 1; i <= n; i++) { s = order[i]
      printf "%s %s %s %s\n", s, (s in st) ? st[s] : "none", sent[s], (s in got) ? got[s] : "none" } }
  ' "$1"
}
# par_check TAG N WHAT: every one of them 200 with its own body.
par_check() {
  local tag=$1 n=$2
  streams_of "$WORK/$tag.v" >"$WORK/$tag.streams"
  assert_eq "$3: all $n answered 200" "$n" "$(awk '$2 == 200' "$WORK/$tag.streams" | wc -l)"
  assert_eq "$3: each body is its own request's" "" \
    "$(awk '$3 != $4 { printf " stream %s sent %s got %s;", $1, $3, $4 }' "$WORK/$tag.streams")"
  assert_eq "$3: the $n requests were sent" "$n" \
    "$(awk -v t="$tag-" 'index($3, t) == 1' "$WORK/$tag.streams" | wc -l)"
}

# ---- 9. bad values: file, line and key ----------------------------------
ini() {
  local f=$1
  shift
  printf '[listener:plain]\nlisten = 127.0.0.1:%s\n[backend:app]\nserver = 127.0.0.1:%s\n[limits]\n' \
    "$HP" "$FB_PORT" >"$WORK/$f"
  printf '%s\n' "$@" >>"$WORK/$f"
}
ini bad0.ini "backend_pipeline = 0"
ini bad65.ini "backend_max_connections = 2" "backend_pipeline = 65"
for spec in bad0.ini:6 bad65.ini:7; do
  file=${spec%%:*}
  out=$(timeout 10 "$HERALD" -t -c "$WORK/$file" 2>&1)
  assert_eq "-t fails: $file" 1 $?
  assert_contains "$file: the error names file:line:key and the range" \
    "$file:${spec##*:}: key 'limits.backend_pipeline': '${file//[!0-9]/}' is out of range (1..64)" "$out"
done
ini good.ini "backend_pipeline = 64"
out=$(timeout 10 "$HERALD" -t -c "$WORK/good.ini" 2>&1)
assert_eq "-t passes: backend_pipeline = 64" 0 $?
out=$(timeout 10 "$HERALD" -t --listen "127.0.0.1:$HP" --backend "127.0.0.1:$FB_PORT" \
  -o limits.backend_pipeline=65 2>&1)
assert_eq "-o limits.backend_pipeline=65 fails" 1 $?
assert_contains "-o names the key and the range" \
  "key 'limits.backend_pipeline': '65' is out of range (1..64)" "$out"

# ---- 8. unset: the requests queue as before ------------------------------
restart -o limits.backend_max_connections=1
warm
scrape
queued0=$(metric herald_backend_requests_queued)
par q 8 '/echo?ms=150&id=q-%d' &
PAR=$!
sleep 0.4
scrape
queued=$(metric herald_backend_requests_queued)
wait "$PAR"
par_check q 8 "unset"
assert_eq "unset: nothing queued before" 0 "$queued0"
assert_ge "unset: the others waited in the queue ($queued)" 1 "$queued"
assert_eq "unset: the backend had one connection" "peak 1" "$(peak)"
assert_eq "unset: the backend got nothing pipelined" 0 "$(fb_pipelined)"
scrape
assert_eq "unset: metrics: nothing pipelined" 0 "$(pipelined)"
assert_eq "unset: metrics: nothing resent" 0 "$(retries)"

# ---- 1. cap 1, pipeline 8: 8 streams on one backend connection -----------
restart "${PIPE[@]}"
warm
par p 8 '/echo?ms=150&id=p-%d'
par_check p 8 "pipeline 8"
assert_eq "pipeline 8: the backend had one connection" "peak 1" "$(peak)"
fbp=$(fb_pipelined)
assert_ge "pipeline 8: the backend got requests pipelined ($fbp)" 1 "$fbp"
dup=$(grep -o 'id=p-[0-9]*' "$FB_LOG" | sort | uniq -d | tr '\n' ' ')
assert_eq "pipeline 8: each request reached the backend once" "" "$dup"
scrape
assert_ge "pipeline 8: metrics: requests pipelined ($(pipelined))" 1 "$(pipelined)"
assert_eq "pipeline 8: metrics: the backend's count" "$fbp" "$(pipelined)"
assert_eq "pipeline 8: metrics: nothing resent" 0 "$(retries)"
assert_eq "pipeline 8: metrics: nothing left queued" 0 "$(metric herald_backend_requests_queued)"

# ---- 1b. pipeline 3: no more than 3 on the connection, the rest queue -----
restart -o limits.backend_max_connections=1 -o limits.backend_pipeline=3
warm
par n 8 '/echo?ms=250&id=n-%d' &
PAR=$!
# All 8 arrive together; until the first answer (250 ms) 3 are on the
# connection and 5 wait.
wait_for "$FB_LOG" "id=n-1"
scrape
assert_eq "pipeline 3: the other 5 wait in the queue" 5 "$(metric herald_backend_requests_queued)"
wait "$PAR"
par_check n 8 "pipeline 3"
assert_eq "pipeline 3: the backend had one connection" "peak 1" "$(peak)"
scrape
assert_ge "pipeline 3: metrics: requests pipelined ($(pipelined))" 2 "$(pipelined)"

# ---- 2. chunked, large bodies behind one another; HEADs wait --------------
# A chunked body ends at its last chunk and a large one at its length: got
# wrong, the answers after them are taken apart at the wrong place. A
# HEAD is never pipelined (a HEAD's answer is where backends most often
# send an unannounced body): it waits its turn in the queue.
restart "${PIPE[@]}"
warm
get m0 '/echo?ms=800&id=m0'
wait_for "$FB_LOG" "id=m0"
get m2 '/chunked?n=40&size=1000&id=m2'
sleep 0.05
get m3 '/big?size=2000000&id=m3'
sleep 0.05
get m5 '/echo?id=m5'
sleep 0.05
get m1 '/echo?id=m1' -I
sleep 0.05
get m4 '/big?size=5000&id=m4' -I
sleep 0.1
scrape
assert_eq "mixed: the GETs go behind the first" 3 "$(pipelined)"
assert_eq "mixed: the HEADs wait in the queue" 2 "$(metric herald_backend_requests_queued)"
wait_bg
own m0 "mixed"
assert_eq "mixed: HEAD is answered" 200 "$(code_of m1)"
assert_match "mixed: HEAD has its headers" '^content-type: application/json' "$(cat "$WORK/m1.body")"
assert_eq "mixed: chunked is answered" 200 "$(code_of m2)"
assert_eq "mixed: chunked body size" 40000 "$(stat -c %s "$WORK/m2.body")"
assert_eq "mixed: chunked body bytes" "$(pattern_sha 40000)" "$(file_sha "$WORK/m2.body")"
assert_eq "mixed: large body is answered" 200 "$(code_of m3)"
assert_eq "mixed: large body size" 2000000 "$(stat -c %s "$WORK/m3.body")"
assert_eq "mixed: large body bytes" "$(pattern_sha 2000000)" "$(file_sha "$WORK/m3.body")"
assert_eq "mixed: HEAD of a large body is answered" 200 "$(code_of m4)"
assert_match "mixed: HEAD keeps its Content-Length" '^content-length: 5000' "$(cat "$WORK/m4.body")"
own m5 "mixed"
assert_eq "mixed: the backend had one connection" "peak 1" "$(peak)"
assert_ge "mixed: the backend got requests pipelined" 1 "$(fb_pipelined)"
scrape
assert_ge "mixed: metrics: requests pipelined" 1 "$(pipelined)"
assert_eq "mixed: metrics: nothing resent" 0 "$(retries)"

# ---- 2a. large answers: the requests wait instead --------------------------
# While a server's answers average more than 16 KB of body, a request
# behind one would wait for all of it to reach its client: requests wait
# for a connection of their own, and pipelining comes back once the
# average is small again.
restart "${PIPE[@]}"
warm
for i in 1 2 3 4 5 6; do hcurl -o /dev/null "$URL/big?size=200000&id=l$i"; done
get l0 '/echo?ms=400&id=l0'
wait_for "$FB_LOG" "id=l0"
get l7 '/echo?id=l7'
get l8 '/echo?id=l8'
sleep 0.15
scrape
assert_eq "large answers: nothing goes behind" 0 "$(pipelined)"
assert_eq "large answers: the GETs wait in the queue" 2 "$(metric herald_backend_requests_queued)"
wait_bg
own l0 "large answers"
own l7 "large answers"
own l8 "large answers"
# 60 small answers bring the average back under 16 KB.
for i in $(seq 1 60); do printf 'url = "%s/echo?id=s%s"\n-o /dev/null\n' "$URL" "$i"; done >"$WORK/small.cfg"
hcurl -K "$WORK/small.cfg"
get p0 '/echo?ms=400&id=p0'
wait_for "$FB_LOG" "id=p0"
get p1 '/echo?id=p1'
get p2 '/echo?id=p2'
wait_bg
own p1 "small again"
own p2 "small again"
scrape
assert_eq "small again: the GETs go behind" 2 "$(pipelined)"

# ---- 2b. answers whose framing is a trap, behind one another --------------
# 1xx before the final answer (one with a Content-Length), a 304 with a
# Content-Length and no body, a 204 that says chunked and has no body,
# trailers: each must end where it ends, or the next is misread.
restart "${PIPE[@]}"
warm
get i0 '/echo?ms=300&id=i0'
wait_for "$FB_LOG" "id=i0"
get i1 '/interim?id=i1'
sleep 0.05
get i2 '/304-cl?id=i2'
sleep 0.05
get i3 '/204-chunked?id=i3'
sleep 0.05
get i4 '/trailers?id=i4'
sleep 0.05
get i5 '/echo?id=i5'
wait_bg
own i0 "framing"
assert_eq "framing: after interim answers, the final one" "200 final ok" \
  "$(code_of i1) $(cat "$WORK/i1.body")"
assert_eq "framing: 304 with a Content-Length" 304 "$(code_of i2)"
assert_eq "framing: 204 that says chunked" 204 "$(code_of i3)"
assert_eq "framing: chunked with trailers" "200 hello" "$(code_of i4) $(cat "$WORK/i4.body")"
own i5 "framing"
assert_ge "framing: the backend got requests pipelined" 1 "$(fb_pipelined)"

# ---- 3. a POST, a GET with a body: never pipelined ------------------------
restart "${PIPE[@]}"
warm
get b0 '/echo?ms=600&id=b0'
wait_for "$FB_LOG" "id=b0"
get b1 '/echo?id=b1' -d hello
sleep 0.05
get b2 '/echo?id=b2' -X GET -d x
sleep 0.3
scrape
assert_eq "bodies: both wait in the queue" 2 "$(metric herald_backend_requests_queued)"
wait_bg
own b0 "bodies"
own b1 "bodies"
assert_contains "bodies: the POST's body arrived" '"body_length": 5,' "$(cat "$WORK/b1.body")"
own b2 "bodies"
assert_contains "bodies: the GET's body arrived" '"body_length": 1,' "$(cat "$WORK/b2.body")"
# Both arrive after b0's answer: b1 when it was sent, b2 after b1's.
assert_ge "bodies: the POST waited for the answer ahead (ms)" 400 "$(ms_of b1)"
assert_eq "bodies: the backend got nothing pipelined" 0 "$(fb_pipelined)"
scrape
assert_eq "bodies: metrics: nothing pipelined" 0 "$(pipelined)"

# ---- 4. an answer with Connection: close ahead of pipelined requests ------
restart "${PIPE[@]}"
warm
get c0 '/echo?ms=300&close=1&id=c0'
wait_for "$FB_LOG" "id=c0"
for i in 1 2 3 4; do
  get "c$i" "/echo?ms=20&id=c$i"
  sleep 0.05
done
wait_bg
own c0 "Connection: close"
for i in 1 2 3 4; do own "c$i" "Connection: close"; done
for i in 1 2 3 4; do
  assert_eq "Connection: close: c$i reached the backend once" 1 "$(sent_times "c$i")"
done
scrape
assert_ge "Connection: close: metrics: requests pipelined" 1 "$(pipelined)"
assert_ge "Connection: close: metrics: requests resent ($(retries))" 1 "$(retries)"

# ---- 5. a close with no answer ahead of pipelined requests ----------------
# No warm-up: the first request opens the connection, so it is not a
# pooled connection's retry either, and gets 502.
restart "${PIPE[@]}"
: >"$FB_LOG"
get d0 '/drop?ms=300&id=d0'
wait_for "$FB_LOG" "id=d0"
for i in 1 2 3; do
  get "d$i" "/echo?id=d$i"
  sleep 0.05
done
wait_bg
assert_eq "drop: the unanswered request gets 502" 502 "$(code_of d0)"
for i in 1 2 3; do own "d$i" "drop"; done
scrape
assert_ge "drop: metrics: requests pipelined" 1 "$(pipelined)"
assert_ge "drop: metrics: requests resent ($(retries))" 1 "$(retries)"

# ---- 5b. a pipelined request that itself ends the connection --------------
# e1 is pipelined behind e0 and the backend drops the connection on it:
# e1 may be resent (it is a GET) but must end, in 502, not loop; e2
# behind it is served.
restart "${PIPE[@]}"
warm
get e0 '/echo?ms=300&id=e0'
wait_for "$FB_LOG" "id=e0"
get e1 '/drop?ms=50&id=e1'
sleep 0.05
get e2 '/echo?id=e2'
wait_bg
own e0 "dropped follower"
assert_eq "dropped follower: e1 gets 502" 502 "$(code_of e1)"
assert_le "dropped follower: e1 was sent a bounded number of times" 3 "$(sent_times e1)"
own e2 "dropped follower"

# ---- 5c'. a pipelined request answered with garbage ----------------------
restart "${PIPE[@]}"
warm
get g0 '/echo?ms=300&id=g0'
wait_for "$FB_LOG" "id=g0"
get g1 '/garbage?id=g1'
sleep 0.05
get g2 '/echo?id=g2'
wait_bg
own g0 "garbage"
assert_eq "garbage: the garbled answer gets 502" 502 "$(code_of g1)"
own g2 "garbage"

# ---- 5d. Connection: close on a pipelined request ------------------------
restart "${PIPE[@]}"
warm
get f0 '/echo?ms=300&id=f0'
wait_for "$FB_LOG" "id=f0"
get f1 '/echo?close=1&id=f1'
sleep 0.05
get f2 '/echo?id=f2'
sleep 0.05
get f3 '/echo?id=f3'
wait_bg
for i in 0 1 2 3; do own "f$i" "close on a follower"; done
for i in 1 2 3; do
  assert_eq "close on a follower: f$i reached the backend once" 1 "$(sent_times "f$i")"
done

# ---- 5c. a backend read timeout ahead of pipelined requests ---------------
restart "${PIPE[@]}" -o timeouts.backend_read=300
warm
get t0 '/echo?ms=1500&id=t0'
wait_for "$FB_LOG" "id=t0"
for i in 1 2; do
  get "t$i" "/echo?id=t$i"
  sleep 0.05
done
wait_bg
assert_eq "read timeout: the slow request gets 504" 504 "$(code_of t0)"
for i in 1 2; do
  own "t$i" "read timeout"
  assert_le "read timeout: t$i did not wait for the slow answer (ms)" 1200 "$(ms_of "t$i")"
done
scrape
assert_ge "read timeout: metrics: requests resent ($(retries))" 1 "$(retries)"

# ---- 6. the client cancels the request being answered ----------------------
# x0's body takes 3 s; its client resets the stream 600 ms in. The ones
# behind it must not wait for that body, nor get any of it.
restart "${PIPE[@]}"
warm
"$B/h2probe" frame 127.0.0.1 "$HP" 1 --open --path '/slowbody?ms=100&n=30&id=x0' \
  --after 600 --type 3 --flags 0 --stream 1 --payload 00000008 --wait 200 \
  >"$WORK/x0.out" 2>&1 &
PROBE=$!
wait_for "$FB_LOG" "id=x0"
for i in 1 2 3; do
  get "x$i" "/echo?id=x$i"
  sleep 0.05
done
wait_bg
wait "$PROBE"
res=$(tail -1 "$WORK/x0.out")
assert_contains "cancel head: x0 was being answered" "status=200" "$res"
xb=$(echo "$res" | sed -n 's/.* body=\([0-9]*\).*/\1/p')
assert_le "cancel head: x0 got part of its body (${xb:-?} bytes)" 29000 "${xb:-99999}"
for i in 1 2 3; do
  own "x$i" "cancel head"
  # Sent ~0.1 s in; the cancel is at 0.6 s, the body would end at 3 s.
  assert_le "cancel head: x$i did not wait for the cancelled body (ms)" 2000 "$(ms_of "x$i")"
done
scrape
assert_ge "cancel head: metrics: requests pipelined" 1 "$(pipelined)"
assert_ge "cancel head: metrics: requests resent ($(retries))" 1 "$(retries)"

# ---- 7. the client cancels a pipelined request ------------------------------
restart "${PIPE[@]}"
warm
get k0 '/echo?ms=500&id=k0'
wait_for "$FB_LOG" "id=k0"
get k1 '/echo?ms=50&id=k1'
sleep 0.05
"$B/h2probe" frame 127.0.0.1 "$HP" 1 --open --path '/echo?ms=300&id=k2' \
  --after 200 --type 3 --flags 0 --stream 1 --payload 00000008 --wait 100 \
  >"$WORK/k2.out" 2>&1 &
PROBE=$!
sleep 0.05
get k3 '/echo?ms=50&id=k3'
wait_bg
wait "$PROBE"
for i in 0 1 3; do own "k$i" "cancel follower"; done
assert_contains "cancel follower: k2 got no answer" "status=none" "$(tail -1 "$WORK/k2.out")"
# Whatever was left of that connection, later requests get their own.
par k 8 '/echo?ms=30&id=k-%d'
par_check k 8 "after a cancelled follower"
scrape
assert_ge "cancel follower: metrics: requests pipelined" 1 "$(pipelined)"
assert_eq "cancel follower: nothing left queued" 0 "$(metric herald_backend_requests_queued)"

# ---- 7b. clients that close their connections ------------------------------
# An HTTP/1.1 client gives up on the request being answered (curl
# --max-time), and an HTTP/2 client drops its connection (RST) on a
# pipelined one: the others are served.
restart "${PIPE[@]}"
warm
get h0 '/slowbody?ms=100&n=30&id=h0' -m 0.6
wait_for "$FB_LOG" "id=h0"
get h1 '/echo?id=h1'
sleep 0.05
"$B/h2probe" frame 127.0.0.1 "$HP" 0 --open --path '/echo?ms=100&id=h2' \
  --after 200 --abort --type 3 >"$WORK/h2.out" 2>&1 &
PROBE=$!
sleep 0.05
get h3 '/echo?id=h3'
wait_bg
wait "$PROBE"
assert_contains "closed clients: h0's client gave up mid-body" "Operation timed out" \
  "$(cat "$WORK/h0.err")"
for i in 1 3; do
  own "h$i" "closed clients"
  assert_le "closed clients: h$i did not wait for the abandoned body (ms)" 2000 "$(ms_of "h$i")"
done
par h 4 '/echo?id=h-%d'
par_check h 4 "after closed clients"

# ---- 10. a graceful stop serves what is pipelined ------------------------
restart "${PIPE[@]}"
warm
get s0 '/echo?ms=400&id=s0'
wait_for "$FB_LOG" "id=s0"
for i in 1 2 3; do
  get "s$i" "/echo?ms=20&id=s$i"
  sleep 0.05
done
sleep 0.1
herald_graceful_stop
wait_bg
for i in 0 1 2 3; do own "s$i" "graceful stop"; done
wait_pid_exit "$HERALD_PID" 10
wait "$HERALD_PID"
assert_eq "graceful stop: herald exits 0 after the drain" 0 $?
HERALD_PID=

finish
