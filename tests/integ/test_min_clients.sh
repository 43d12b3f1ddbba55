#!/usr/bin/env bash
# test_min_clients.sh: distinct clients are distinct networks. One address
# rotating through 60 User-Agents is one client, so it cannot satisfy
# learn.min_clients = 3 alone; neither can two addresses of one /24. Three
# /24s (here behind a trusted proxy, named by X-Forwarded-For) can, with
# a single User-Agent between them.
. "$(dirname "$0")/lib.sh"

if [ "$HERALD_STANDIN" = nghttpx ]; then
  skip "min_clients" "herald's own feature; no stand-in"
  finish
fi
command -v sqlite3 >/dev/null 2>&1 || { fail "sqlite3 installed" "make deps"; finish; }

start_nginx || finish
HP=$(free_port)
BASE=http://127.0.0.1:$HP
# A window wide enough for a loaded machine: every visit's assets count.
LEARN=(-o record.window=3000 -o record.flush=100 -o learn.interval=300
  -o learn.min_visits=5 -o learn.min_clients=3 -o learn.hint_threshold=0.5
  -o learn.push_threshold=0.6 -o deliver.holdout=0)

# visit UA [XFF]: the test site's front page and its three assets, as a
# browser asks for them, on one HTTP/1.1 connection.
visit() {
  local -a h=(-A "$1")
  [ -n "${2:-}" ] && h+=(-H "X-Forwarded-For: $2")
  hcurl --http1.1 -o /dev/null "${h[@]}" -H 'Sec-Fetch-Dest: document' \
    -H 'Sec-Fetch-Mode: navigate' "$BASE/" \
    --next -sS -m 10 -o /dev/null "${h[@]}" -H "Referer: $BASE/" \
    -H 'Sec-Fetch-Dest: style' "$BASE/style.css" \
    --next -sS -m 10 -o /dev/null "${h[@]}" -H "Referer: $BASE/" \
    -H 'Sec-Fetch-Dest: script' "$BASE/app.js" \
    --next -sS -m 10 -o /dev/null "${h[@]}" -H "Referer: $BASE/" \
    -H 'Sec-Fetch-Dest: image' "$BASE/img/a.png"
}
# css_rule DB N: "clients channel" of the stylesheet (the learner's
# aggregate, and its rule or "none") once the learner has counted at
# least N visits of the page (n is decayed).
css_rule() {
  local i row
  for i in $(seq 1 100); do
    row=$(sqlite3 "$1" "SELECT a.clients || ' ' || coalesce(r.channel, 'none')
      FROM aggregates a JOIN resources s ON s.id = a.resource_id
      JOIN pages p ON p.id = a.page_id
      LEFT JOIN rules r ON r.page_id = a.page_id AND r.class = a.class
        AND r.resource_id = a.resource_id
      WHERE p.key = '$BASE/' AND s.key = '$BASE/style.css' AND a.n >= $2" 2>/dev/null)
    [ -n "$row" ] && break
    sleep 0.2
  done
  echo "$row"
}

# ---- one address, 60 User-Agents ------------------------------------------
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" \
  --db "$WORK/ua.db" "${LEARN[@]}" || finish
for i in $(seq 1 60); do visit "Mozilla/5.0 rotating-$i"; done
# 60 visits at half-life 100 make n 49.26 (59 make 48.6).
assert_eq "60 User-Agents from one address: one client, no rule" "1 none" \
  "$(css_rule "$WORK/ua.db" 49)"
assert_eq "no served rule at all" 0 \
  "$(sqlite3 "$WORK/ua.db" "SELECT count(*) FROM rules WHERE channel != 'none'")"
assert_eq "the visits were distinct client tokens (60), for attribution" 60 \
  "$(sqlite3 "$WORK/ua.db" "SELECT count(DISTINCT client_token) FROM visits")"
assert_eq "...and one network" 1 \
  "$(sqlite3 "$WORK/ua.db" "SELECT count(DISTINCT network) FROM visits")"
herald_graceful_stop

# ---- two addresses of one /24, behind a trusted proxy ----------------------
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" \
  --db "$WORK/net24.db" "${LEARN[@]}" -o clients.trusted_proxies=127.0.0.1 || finish
for i in $(seq 1 12); do visit "ua-$((i % 4))" "198.51.100.$((7 + i % 2))"; done
assert_eq "two addresses of one /24: one client, no rule" "1 none" \
  "$(css_rule "$WORK/net24.db" 10)"
herald_graceful_stop

# ---- three /24s, one User-Agent --------------------------------------------
start_herald --listen "127.0.0.1:$HP" --backend "127.0.0.1:$NGINX_PORT" \
  --db "$WORK/three.db" "${LEARN[@]}" -o clients.trusted_proxies=127.0.0.1 || finish
for i in $(seq 1 12); do visit "one-ua" "198.51.$((100 + i % 3)).9"; done
row=$(css_rule "$WORK/three.db" 10)
assert_eq "three /24s: three clients, a served rule" 3 "${row%% *}"
assert_match "three /24s: the stylesheet is pushed or hinted" '^3 (push|hint)$' "$row"
herald_graceful_stop
finish
