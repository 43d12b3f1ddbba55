#!/usr/bin/env bash
# test_declared.sh: what a backend declares (proxy/hints.h, "What the
# backend declares"; learner/learn.h, DECLARED RESOURCES). fault_backend's
# /decl-page answers with its own 103 (early=1: a preload of /decl/c.js
# next to a cross-origin preload and preconnect, a rel=stylesheet,
# Set-Cookie and X-Early) and, after ms= of thinking, a page with Link
# fields (link=1: /decl/a.css, //evil.example/x.js, and /decl/never.js,
# which the page does not reference; the page also loads /decl/u.js,
# which nothing declares).
#   - herald without rules passes the backend's 103 on once, rebuilt from
#     /decl/c.js alone: over HTTP/2 (h2probe) and, with
#     deliver.hints_http1, HTTP/1.1 (curl); not to HTTP/1.1 without it,
#     nor HTTP/1.0, nor a request with Authorization, nor a subresource;
#     of three backend 103s only the first;
#   - after two loads by a client that acts on 103s (build/pageload), the
#     page's own key has herald's 103 naming both declarations, merged,
#     stylesheet first, while /decl/u.js (the same evidence, undeclared)
#     is not hinted; the backend's 103 is then dropped, so exactly one 103
#     reaches the client (h2probe, curl); evil.example and never.js are
#     never named, nor recorded;
#   - a navigation the verification draw leaves out gets no 103 at all,
#     not the backend's either.
. "$(dirname "$0")/lib.sh"

if [ "$HERALD_STANDIN" = nghttpx ]; then
  skip "declared" "herald's own feature; no stand-in"
  finish
fi
command -v sqlite3 >/dev/null 2>&1 || { fail "sqlite3 installed" "make deps"; finish; }
for t in pageload h2probe; do
  [ -x "$B/$t" ] || { fail "$t" "$B/$t not built"; finish; }
done

start_fault_backend || finish
gen_cert || finish
HP=$(free_port)
PAGE='/decl-page?early=1&ms=300&link=1'

# probe [--tls] PORT PATH [h2probe -H ...]: one HTTP/2 request; sets R (the
# RESULT line) and E (the header lines of the interim responses).
probe() {
  local tls=() port path
  if [ "$1" = --tls ]; then tls=(--tls); shift; fi
  port=$1 path=$2
  shift 2
  "$B/h2probe" req 127.0.0.1 "$port" "${tls[@]}" -v -H ':method: GET' \
    -H ":scheme: $([ ${#tls[@]} -gt 0 ] && echo https || echo http)" \
    -H ":authority: 127.0.0.1:$port" -H ":path: $path" "$@" \
    >"$WORK/probe.out" 2>"$WORK/probe.err"
  R=$(grep '^RESULT' "$WORK/probe.out" | tail -1)
  E=$(awk '/^<   :status: 1/ {on = 1; next} /^<   :status: / {on = 0}
           on && /^<   / {sub(/^<   /, ""); print}' "$WORK/probe.err")
}
NAV=(-H 'sec-fetch-mode: navigate' -H 'sec-fetch-dest: document')
# h1 PORT PATH [curl args]: the status and Link lines an HTTP/1.1 client
# sees, interim responses included.
h1() {
  local port=$1 path=$2
  shift 2
  hcurl -skv -o /dev/null "$@" "http://127.0.0.1:$port$path" 2>&1 |
    tr -d '\r' | grep -E '^< (HTTP/|[Ll]ink:|[Ss]et-[Cc]ookie:|X-Early)' |
    sed 's/^< //'
}

# ---- without hints_http1: HTTP/1.1 gets no 103 --------------------------------
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$FB_PORT" \
  -o deliver.verify=0 || finish  # no verification draw: 1 in 20 would withhold the 103
out=$(h1 "$HP" "$PAGE" --http1.1 "${NAV[@]}")
assert_not_contains "HTTP/1.1 without hints_http1: no 103" "103" "$out"
assert_match "HTTP/1.1: the page's own Link fields pass through" \
  '^[Ll]ink: </decl/a\.css>' "$out"
probe "$HP" "$PAGE" "${NAV[@]}"
assert_contains "HTTP/2: the final response" "status=200" "$R"
assert_contains "HTTP/2: exactly one 103" "interim=1" "$R"
assert_eq "the backend's 103 passed on with its same-origin preload only" \
  "link: </decl/c.js>; rel=preload; as=script" "$E"
herald_graceful_stop

# ---- a backend's 103, herald without rules -------------------------------------
DB=$WORK/h.db
HT=$(free_port)
AP=$(free_port)
start_herald --listen "127.0.0.1:$HP" --listen-tls "127.0.0.1:$HT" \
  --cert "$CERT" --key "$KEY" --backend "127.0.0.1:$FB_PORT" --db "$DB" \
  --admin "127.0.0.1:$AP" -o record.window=1000 -o record.flush=100 \
  -o learn.interval=200 -o learn.min_clients=1 -o deliver.holdout=0 \
  -o deliver.verify=0 -o deliver.hints_http1=on || finish
metric() {
  hcurl "http://127.0.0.1:$AP/metrics" | awk -v m="$1" '$1 == m {print $2}'
}

out=$(h1 "$HP" "$PAGE" --http1.1 "${NAV[@]}")
assert_eq "HTTP/1.1 with hints_http1: one 103, then the 200" \
  "HTTP/1.1 103 Early Hints|Link: </decl/c.js>; rel=preload; as=script|HTTP/1.1 200 OK" \
  "$(printf '%s\n' "$out" | grep -v '^[Ll]ink: </decl/a' | grep -v 'never' | paste -sd '|')"
out=$(h1 "$HP" "$PAGE" --http1.0 "${NAV[@]}")
assert_not_contains "HTTP/1.0: no 103" "103" "$out"
out=$(h1 "$HP" "$PAGE" --http1.1 "${NAV[@]}" -H 'Authorization: Basic eDp5')
assert_not_contains "Authorization: no 103" "103" "$out"
probe "$HP" "$PAGE" "${NAV[@]}" -H 'authorization: Basic eDp5'
assert_contains "HTTP/2 with Authorization: no 103" "interim=0" "$R"
probe "$HP" "$PAGE" -H 'sec-fetch-dest: script' -H 'sec-fetch-mode: no-cors'
assert_contains "a subresource request: no 103" "interim=0" "$R"
assert_contains "... but its final response" "status=200" "$R"
probe "$HP" '/interim?n=3' "${NAV[@]}"
assert_contains "three backend 103s: exactly one reaches the client" "interim=1" "$R"
assert_eq "the first" "link: </a0.css>; rel=preload; as=style" "$E"
probe "$HP" "$PAGE" "${NAV[@]}"
assert_contains "HTTP/2: exactly one 103" "interim=1" "$R"
assert_eq "never Set-Cookie, other fields, other relations or origins" \
  "link: </decl/c.js>; rel=preload; as=script" "$E"
assert_ge "passed on, counted" 3 \
  "$(metric herald_backend_early_hints_forwarded_total)"

# ---- learning from what the backend declares ----------------------------------
for i in 1 2; do
  timeout 20 "$B/pageload" --timeout 15000 "127.0.0.1:$HT" "$PAGE" \
    >>"$WORK/pageload.log" 2>&1 || fail "page load $i" "$(tail -3 "$WORK/pageload.log")"
done
learned=
for ((i = 0; i < 40; i++)); do
  probe --tls "$HT" "$PAGE" "${NAV[@]}"
  printf '%s' "$E" | grep -q 'a\.css' && printf '%s' "$E" | grep -q 'c\.js' &&
    { learned=1; break; }
  sleep 0.2
done
log "after 2 loads: $(printf '%s' "$E" | paste -sd ' ')"
check "after two loads herald's 103 names both declarations" test -n "$learned"
assert_contains "exactly one 103 reaches the client" "interim=1" "$R"
assert_eq "merged, stylesheet first; nothing undeclared, unrequested or foreign" \
  "link: </decl/a.css>; rel=preload; as=style|link: </decl/c.js>; rel=preload; as=script" \
  "$(printf '%s\n' "$E" | paste -sd '|')"
assert_ge "herald sent its own" 1 "$(metric herald_early_hints_sent_total)"
assert_ge "the backend's 103 that came after it was dropped" 1 \
  "$(metric herald_backend_early_hints_dropped_total)"
out=$(hcurl -skv -o /dev/null --http1.1 "${NAV[@]}" "https://127.0.0.1:$HT$PAGE" 2>&1 |
  tr -d '\r' | grep -E '^< (HTTP/|[Ll]ink:)' | sed 's/^< //' | grep -v '^[Ll]ink: </decl/a.css>; rel=preload; as=style, ')
assert_eq "HTTP/1.1: one 103, herald's merged one" \
  "HTTP/1.1 103 Early Hints|Link: </decl/a.css>; rel=preload; as=style|Link: </decl/c.js>; rel=preload; as=script|HTTP/1.1 200 OK|Link: </decl/never.js>; rel=preload; as=script" \
  "$(printf '%s\n' "$out" | paste -sd '|')"

# What was recorded: the declarations, where they came from; never the
# foreign one. (h2probe's visits over cleartext are recorded too.)
q() { sqlite3 "$DB" "$1"; }
TK="https://127.0.0.1:$HT"
assert_eq "declared in the 103: c.js" "$TK/decl/c.js" \
  "$(q "SELECT DISTINCT r.key FROM visit_declared d JOIN resources r ON r.id = d.resource_id WHERE d.source = '103' AND r.key LIKE '$TK/%'")"
assert_eq "declared in Link fields: a.css and never.js" \
  "$TK/decl/a.css $TK/decl/never.js" \
  "$(q "SELECT DISTINCT r.key FROM visit_declared d JOIN resources r ON r.id = d.resource_id WHERE d.source = 'link' AND r.key LIKE '$TK/%' ORDER BY r.key" | paste -sd ' ')"
assert_eq "nothing of evil.example recorded" 0 \
  "$(q "SELECT count(*) FROM resources WHERE key LIKE '%evil%'")"
assert_ge "the forwarded declaration is named (no evidence)" 1 \
  "$(q "SELECT count(*) FROM visit_named n JOIN resources r ON r.id = n.resource_id WHERE r.key LIKE '%/decl/c.js'")"
rules=$("$B/heraldctl" --db "$DB" rules "https://127.0.0.1:$HT/decl-page" 2>&1)
log "$rules"
assert_match "heraldctl rules: the declared stylesheet is a hint" 'decl/a\.css.*hint' "$rules"
assert_no_match "the undeclared script, with the same evidence, is not yet" \
  'decl/u\.js.*hint' "$rules"

# ---- a verification draw leaves the whole navigation alone --------------------
# With rules, a navigation the draw picks gets no 103 at all: neither
# herald's nor the backend's (which would name c.js, and a request it
# causes is no evidence either). Rules frozen: the probes are no visits.
herald_graceful_stop
start_herald --listen "127.0.0.1:$HP" --listen-tls "127.0.0.1:$HT" \
  --cert "$CERT" --key "$KEY" --backend "127.0.0.1:$FB_PORT" --db "$DB" \
  -o learn.interval=3600000 -o learn.recompute_after=100000000 \
  -o learn.min_clients=1 -o deliver.holdout=0 -o deliver.verify=0.5 || finish
seen=
for i in $(seq 1 12); do
  probe --tls "$HT" "$PAGE&v=$i" "${NAV[@]}"
  case $R in
  *interim=0*) seen="$seen none" ;;
  *) seen="$seen $(printf '%s\n' "$E" | grep -o '/decl/[a-z.]*' | paste -sd +)" ;;
  esac
done
log "verify 0.5, 12 navigations:$seen"
assert_eq "verify 0.5: each navigation gets herald's whole 103 or none" "" \
  "$(echo $seen | tr ' ' '\n' | grep -vxE 'none|/decl/a\.css\+/decl/c\.js')"
assert_contains "verify 0.5: some get none" " none" "$seen"

herald_graceful_stop
finish
