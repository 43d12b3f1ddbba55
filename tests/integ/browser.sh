#!/usr/bin/env bash
# browser.sh: a scripted, browser-like client for herald's recording tests.
#
#   browser.sh [options] BASE_URL PAGE_PATH
#
# Loads a page the way a browser does, in three phases:
#   1. the page itself, as a navigation (Sec-Fetch-Dest: document,
#      Sec-Fetch-Mode: navigate, Sec-Fetch-Site: none, Sec-Fetch-User: ?1,
#      Accept: text/html,...);
#   2. what the HTML references: <link rel=stylesheet href>, <script src>,
#      <img src>, each with Referer: BASE_URL+PAGE_PATH, Sec-Fetch-Mode:
#      no-cors and Sec-Fetch-Dest style/script/image;
#   3. the url(...) references of every stylesheet fetched in phase 2, with
#      Referer: <that stylesheet's URL>: fonts (.woff2 .woff .ttf .otf .eot)
#      with Sec-Fetch-Dest: font, Sec-Fetch-Mode: cors and Origin, anything
#      else as an image (data: URIs are skipped).
# URLs are fetched once each, in document order; only same-origin ones
# (BASE_URL's scheme://host:port) are fetched unless --cross-origin.
#
# Connections: curl cannot add URLs to a running invocation, and a new curl
# process always opens a new connection, so each phase is one curl
# invocation whose URLs are chained with --next: over HTTP/2 (TLS, ALPN) and
# HTTP/1.1 a phase shares one connection (its first request connects, the
# others reuse it; see --report), phases do not. Over h2c curl 7.88 cannot
# reuse a prior-knowledge connection ("Error in the HTTP2 framing layer",
# whatever the server), so there the page is fetched by curl and the later
# phases by nghttp, one connection per group of requests with the same
# destination and Referer (nghttp sends one header set for all its URIs),
# the group's requests multiplexed at once. The attribution rule that needs
# one connection (no Referer, same HTTP/2 connection) is therefore not what
# this script relies on: every subresource carries a Referer. --new-conn
# makes every request its own curl invocation, hence its own connection.
#
# Options:
#   --http1.1        HTTP/1.1 (keep-alive within a phase)
#   --h2c            HTTP/2 over cleartext with prior knowledge (the default
#                    for http:// URLs; https:// URLs default to HTTP/2 with
#                    ALPN; --http1.1 overrides both)
#   --new-conn       one curl invocation (one connection) per request
#   --ua UA          User-Agent (default: a desktop Chrome-like string)
#   --mobile         Sec-CH-UA-Mobile: ?1 and a mobile User-Agent (unless
#                    --ua is given too)
#   --header H       an extra request header on every request (repeatable)
#   --from ADDR      X-Forwarded-For: ADDR on every request, as a proxy in
#                    front of herald would send: a client from ADDR's
#                    network, if herald trusts this machine's address
#                    (clients.trusted_proxies); herald counts distinct
#                    clients by network, not by User-Agent
#   --cross-origin   also fetch references to other origins
#   --report         print "STATUS HTTP_VERSION NUM_CONNECTS DEST URL" per
#                    request instead of just the URL
#   --timeout S      per-invocation deadline (default 10)
#
# Output: the URLs fetched, one per line, in fetch order. Exit status 0 when
# the page answered 200, 1 otherwise (subresource statuses are in --report).
# curl's errors go to stderr.
set -u

usage() {
  sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

PROTO=auto
NEW_CONN=0
UA=
MOBILE=0
REPORT=0
CROSS=0
TIMEOUT=10
EXTRA=()
while [ $# -gt 0 ]; do
  case $1 in
  --http1.1) PROTO=h1 ;;
  --h2c) PROTO=h2c ;;
  --new-conn) NEW_CONN=1 ;;
  --ua) UA=$2 && shift ;;
  --mobile) MOBILE=1 ;;
  --header) EXTRA+=(-H "$2") && shift ;;
  --from) EXTRA+=(-H "X-Forwarded-For: $2") && shift ;;
  --cross-origin) CROSS=1 ;;
  --report) REPORT=1 ;;
  --timeout) TIMEOUT=$2 && shift ;;
  -h | --help) usage ;;
  --) shift && break ;;
  -*) echo "browser.sh: unknown option $1" >&2 && usage ;;
  *) break ;;
  esac
  shift
done
[ $# -eq 2 ] || usage
BASE=${1%/}
PAGE_PATH=$2
case $PAGE_PATH in /*) ;; *) PAGE_PATH=/$PAGE_PATH ;; esac
case $BASE in
http://* | https://*) ;;
*) echo "browser.sh: BASE_URL must be http:// or https://" >&2 && exit 2 ;;
esac
# scheme://authority of BASE (BASE may carry a path prefix).
ORIGIN=$(printf '%s' "$BASE" | sed -E 's#^(https?://[^/]+).*#\1#')
PAGE_URL=$BASE$PAGE_PATH

if [ -z "$UA" ]; then
  if [ "$MOBILE" = 1 ]; then
    UA='Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 herald-browser'
  else
    UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 herald-browser'
  fi
fi

CURL=(curl -sS --noproxy '*' -m "$TIMEOUT")
if [ "$PROTO" = auto ]; then
  case $BASE in https://*) PROTO=h2 ;; *) PROTO=h2c ;; esac
fi
case $PROTO in
h1) CURL+=(--http1.1) ;;
h2) CURL+=(--http2) ;;
h2c) CURL+=(--http2-prior-knowledge) ;;
esac
# Phases of several requests over h2c go through nghttp (see run_nghttp).
ENGINE=curl
if [ "$PROTO" = h2c ] && [ "$NEW_CONN" = 0 ]; then
  command -v nghttp >/dev/null 2>&1 || { echo "browser.sh: h2c needs nghttp (nghttp2-client)" >&2 && exit 2; }
  ENGINE=nghttp
fi
case $BASE in https://*) CURL+=(-k) ;; esac
# Headers every request carries.
COMMON=(-H "User-Agent: $UA" -H 'Accept-Language: en-US,en;q=0.9')
if [ "$MOBILE" = 1 ]; then
  COMMON+=(-H 'Sec-CH-UA-Mobile: ?1' -H 'Sec-CH-UA-Platform: "Android"')
else
  COMMON+=(-H 'Sec-CH-UA-Mobile: ?0' -H 'Sec-CH-UA-Platform: "Linux"')
fi
COMMON+=("${EXTRA[@]}")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/browser.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# resolve REF BASE_URL: REF as an absolute URL (fragment dropped), or
# nothing for data:/javascript:/about: and empty references.
resolve() {
  local ref=$1 base=$2 dir
  ref=${ref%%#*}
  case $ref in
  '' | data:* | javascript:* | about:* | blob:*) return 0 ;;
  http://* | https://*) printf '%s\n' "$ref" ;;
  //*) printf '%s\n' "${base%%//*}$ref" ;;
  /*) printf '%s\n' "$(printf '%s' "$base" | sed -E 's#^(https?://[^/]+).*#\1#')$ref" ;;
  *)
    dir=${base%%\?*}
    dir=${dir%/*}
    printf '%s\n' "$dir/$ref"
    ;;
  esac
}

# same_origin URL: true when URL is on BASE's origin (or --cross-origin).
same_origin() {
  [ "$CROSS" = 1 ] && return 0
  case $1 in "$ORIGIN" | "$ORIGIN"/* | "$ORIGIN"\?*) return 0 ;; esac
  return 1
}

# attr NAME: the value of attribute NAME in the tag on stdin (one tag per
# line; quoted with " or ', or unquoted).
attr() {
  sed -nE "s/.*[[:space:]]$1[[:space:]]*=[[:space:]]*(\"([^\"]*)\"|'([^']*)'|([^[:space:]>\"']+)).*/\2\3\4/Ip"
}

# tags NAME FILE: every <NAME ...> tag of FILE on a line of its own.
tags() {
  tr '\n\r' '  ' <"$2" | grep -oiE "<$1([[:space:]][^>]*)?>" || true
}

SEEN=" "
# A phase is a list of "DEST|URL|REFERER" lines in $TMP/phase; run_phase
# fetches them (one invocation, or one per request with --new-conn) and
# appends "STATUS VERSION CONNECTS DEST URL" lines to $TMP/report.
N=0
add() { # add DEST URL REFERER
  local dest=$1 url=$2 ref=$3
  same_origin "$url" || return 0
  case $SEEN in *" $url "*) return 0 ;; esac
  SEEN="$SEEN$url "
  printf '%s|%s|%s\n' "$dest" "$url" "$ref" >>"$TMP/phase"
}

# req_args DEST URL REFERER OUTFILE: the curl arguments of one request.
req_args() {
  local dest=$1 url=$2 ref=$3 out=$4 site=same-origin
  R=("${COMMON[@]}")
  case $dest in
  document)
    R+=(-H 'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'
      -H 'Sec-Fetch-Dest: document' -H 'Sec-Fetch-Mode: navigate' -H 'Sec-Fetch-Site: none'
      -H 'Sec-Fetch-User: ?1' -H 'Upgrade-Insecure-Requests: 1')
    ;;
  style) R+=(-H 'Accept: text/css,*/*;q=0.1' -H 'Sec-Fetch-Dest: style' -H 'Sec-Fetch-Mode: no-cors') ;;
  script) R+=(-H 'Accept: */*' -H 'Sec-Fetch-Dest: script' -H 'Sec-Fetch-Mode: no-cors') ;;
  image) R+=(-H 'Accept: image/avif,image/webp,image/apng,image/*,*/*;q=0.8' -H 'Sec-Fetch-Dest: image' -H 'Sec-Fetch-Mode: no-cors') ;;
  font) R+=(-H 'Accept: */*' -H 'Sec-Fetch-Dest: font' -H 'Sec-Fetch-Mode: cors' -H "Origin: $ORIGIN") ;;
  esac
  if [ -n "$ref" ]; then
    same_origin "$ref" || site=cross-site
    [ "$dest" = document ] || R+=(-H "Sec-Fetch-Site: $site")
    R+=(-H "Referer: $ref")
  fi
  R+=(-o "$out" -w "%{http_code} %{http_version} %{num_connects} $dest %{url_effective}\\n" "$url")
}

# run_curl: the phase's requests with curl, chained with --next (one
# connection), or one invocation each with --new-conn.
run_curl() {
  local dest url ref args=() first=1 out
  while IFS='|' read -r dest url ref; do
    N=$((N + 1))
    out=$TMP/body.$N
    printf '%s|%s|%s\n' "$dest" "$url" "$out" >>"$TMP/fetched"
    req_args "$dest" "$url" "$ref" "$out"
    if [ "$NEW_CONN" = 1 ]; then
      "${CURL[@]}" "${R[@]}" >>"$TMP/report"
    else
      [ "$first" = 1 ] || args+=(--next "${CURL[@]:1}")
      args+=("${R[@]}")
      first=0
    fi
  done <"$TMP/phase"
  if [ "$NEW_CONN" = 0 ]; then
    "${CURL[@]}" "${args[@]}" >>"$TMP/report"
  fi
}

# run_nghttp: h2c without curl (curl 7.88 breaks reusing an h2c
# prior-knowledge connection: "Error in the HTTP2 framing layer"). nghttp
# sends one header set for all its URIs, so the phase is split into groups
# of one destination and one Referer (each stylesheet alone, to keep its
# body apart); a group is one connection, its requests multiplexed.
run_nghttp() {
  local g dest url ref out urls i code h
  local -a hdrs
  awk -F'|' '{ k = ($1 == "style") ? $1 "|" $2 "|" $3 : $1 "|" $3
               if (!(k in seen)) { seen[k] = ++n }
               print seen[k] "|" $0 }' "$TMP/phase" >"$TMP/groups"
  for g in $(cut -d'|' -f1 "$TMP/groups" | sort -nu); do
    urls=()
    while IFS='|' read -r _ dest url ref; do urls+=("$url"); done < <(grep "^$g|" "$TMP/groups")
    IFS='|' read -r _ dest url ref < <(grep -m1 "^$g|" "$TMP/groups")
    req_args "$dest" "$url" "$ref" /dev/null
    # R holds "-H V" pairs up to -o: turn them into nghttp's lower-case
    # header arguments.
    hdrs=()
    for ((i = 0; i < ${#R[@]}; i += 2)); do
      [ "${R[i]}" = -H ] || break
      h=${R[i + 1]}
      hdrs+=(-H "$(printf '%s' "${h%%:*}" | tr 'A-Z' 'a-z'):${h#*:}")
    done
    N=$((N + 1))
    out=$TMP/nghttp.$N
    timeout "$TIMEOUT" nghttp -s "${hdrs[@]}" "${urls[@]}" >"$out" 2>"$out.err"
    [ -s "$out.err" ] && cat "$out.err" >&2
    # The body (one URI) ends where the statistics start.
    awk '{ i = index($0, "***** Statistics *****")
           if (i) { printf "%s", substr($0, 1, i - 1); exit } print }' "$out" >"$out.body"
    i=0
    for url in "${urls[@]}"; do
      code=$(awk -v p="/${url#*://*/}" 'stats && $NF == p { print $5; exit }
                                         /^id +responseEnd/ { stats = 1 }' "$out")
      printf '%s 2 %s %s %s\n' "${code:-000}" $((i == 0 ? 1 : 0)) "$dest" "$url" >>"$TMP/report"
      printf '%s|%s|%s\n' "$dest" "$url" "$out.body" >>"$TMP/fetched"
      i=$((i + 1))
    done
  done
}

run_phase() {
  [ -s "$TMP/phase" ] || return 0
  if [ "$ENGINE" = nghttp ]; then run_nghttp; else run_curl; fi
  : >"$TMP/phase"
}

: >"$TMP/report"
: >"$TMP/fetched"
: >"$TMP/phase"

# ---- phase 1: the page ------------------------------------------------------
printf 'document|%s|\n' "$PAGE_URL" >"$TMP/phase"
SEEN=" $PAGE_URL "
# One request: curl handles it over every protocol.
ENGINE_REST=$ENGINE
ENGINE=curl
run_phase
ENGINE=$ENGINE_REST
PAGE_STATUS=$(awk 'NR == 1 {print $1}' "$TMP/report")
HTML=$TMP/body.1

# ---- phase 2: what the HTML references ----------------------------------------
if [ "$PAGE_STATUS" = 200 ] && [ -s "$HTML" ]; then
  while read -r tag; do
    printf '%s' "$tag" | grep -qiE "[[:space:]]rel[[:space:]]*=[[:space:]]*[\"']?([^\"'>]*[[:space:]])?stylesheet" || continue
    for u in $(printf '%s\n' "$tag" | attr href); do
      add style "$(resolve "$u" "$PAGE_URL")" "$PAGE_URL"
    done
  done < <(tags link "$HTML")
  while read -r u; do
    add script "$(resolve "$u" "$PAGE_URL")" "$PAGE_URL"
  done < <(tags script "$HTML" | attr src)
  while read -r u; do
    add image "$(resolve "$u" "$PAGE_URL")" "$PAGE_URL"
  done < <(tags img "$HTML" | attr src)
  run_phase

  # ---- phase 3: url(...) in the stylesheets ------------------------------------
  while IFS='|' read -r dest url out; do
    [ "$dest" = style ] && [ -s "$out" ] || continue
    while read -r u; do
      # Fonts by extension; anything else (backgrounds) loads as an image.
      case ${u%%[?#]*} in
      *.woff2 | *.woff | *.ttf | *.otf | *.eot) d=font ;;
      *) d=image ;;
      esac
      add "$d" "$(resolve "$u" "$url")" "$url"
    done < <(grep -oiE "url\\([[:space:]]*[\"']?[^\"')]+[\"']?[[:space:]]*\\)" "$out" |
      sed -E "s/^url\\([[:space:]]*[\"']?//I; s/[\"']?[[:space:]]*\\)\$//")
  done <"$TMP/fetched"
  run_phase
fi

if [ "$REPORT" = 1 ]; then
  cat "$TMP/report"
else
  cut -d'|' -f2 "$TMP/fetched"
fi
[ "$PAGE_STATUS" = 200 ]
