#!/usr/bin/env bash
# soak.sh: herald under SOAK_SECONDS (600) of mixed traffic; RSS and open
# descriptors must stay flat. Run by `make soak`, not by `make test`.
#
# herald (recording on, learning) sits in front of nginx serving files of
# 1 KB to 1 MB, on a TLS and a cleartext listener. For the whole run:
#   - h2load, rate-limited, over four paths: HTTP/2 over TLS, h2c,
#     HTTP/1.1 over TLS and cleartext HTTP/1.1, each cycling through the
#     mixed sizes (navigations with Accept: text/html on the h2c one);
#   - clients that reset: curl downloads of 1 MB cut after 0.3 s (HTTP/2
#     and HTTP/1.1: cut_h2, cut_h1), and h2probe Rapid Reset bursts of 20
#     streams (rapid);
#   - clients that stall: HTTP/2 streams with a zero window held 4 s, then
#     closed (stall_h2), and HTTP/1.1 clients that ask for 50 MB and read
#     nothing for 4 s (stall_h1).
# SOAK_SKIP="KIND ..." leaves some of these out.
# Every SOAK_SAMPLE seconds (5) it prints herald's RSS, open descriptors
# and open client connections.
#
# Flat, after the first minute (a third of the run if shorter), means:
#   RSS          mean and maximum of the last quarter of the samples are at
#                most 5% + 2 MB above those of the first quarter;
#   descriptors  the mean of the last quarter is at most 10 above that of
#                the first quarter.
# And 20 s after the load stops every client connection is closed and the
# descriptors are back to their count before the load (+2).
# The run also fails if herald dies or an h2load client sees errors.
. "$(dirname "$0")/../integ/lib.sh"

SECS=${SOAK_SECONDS:-600}
SAMPLE=${SOAK_SAMPLE:-5}
[ "$SECS" -ge 30 ] || { echo "SOAK_SECONDS must be at least 30"; exit 2; }
WARMUP=$((SECS / 3 < 60 ? SECS / 3 : 60))
ulimit -n 8192 2>/dev/null || true

gen_cert || finish
start_nginx || finish
head -c 1048576 /dev/urandom >"$WORK/site/1m.bin"
head -c 10240 /dev/urandom >"$WORK/site/10k.bin"
chmod a+r "$WORK/site/"*.bin

HP=$(free_port)
TP=$(free_port)
AP=$(free_port)
start_herald --listen "127.0.0.1:$HP" --listen-tls "127.0.0.1:$TP" \
  --cert "$CERT" --key "$KEY" --backend "127.0.0.1:$NGINX_PORT" \
  --admin "127.0.0.1:$AP" --db "$WORK/herald.db" \
  -o limits.max_requests_per_conn=100000000 -o timeouts.backend_idle=3000 \
  -o timeouts.idle=5000 -o learn.interval=2000 || finish
H=http://127.0.0.1:$HP
T=https://127.0.0.1:$TP
SIZES=(/index.html /1k.bin /10k.bin /img/b.jpg /100k.bin /1m.bin)

fds() { find "/proc/$HERALD_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$HERALD_PID/status" 2>/dev/null; }
conns() {
  curl -sS -m 2 "http://127.0.0.1:$AP/metrics" 2>/dev/null |
    awk '$1 == "herald_connections_active" {print $2}'
}

# Warm up, then the baseline the descriptors must come back to.
for i in 1 2 3; do hcurl -o /dev/null "$H/index.html"; done
sleep 1
FD0=$(fds)
END=$(($(date +%s) + SECS))
log "soak: ${SECS}s, sampling every ${SAMPLE}s; herald pid $HERALD_PID, fds $FD0"

# ---- load ----------------------------------------------------------------------

urls() { local b=$1 p; for p in "${SIZES[@]}"; do printf '%s%s\n' "$b" "$p"; done; }
h2load_run() {
  local name=$1
  shift
  timeout $((SECS + 60)) h2load -D "$SECS" "$@" >"$WORK/h2load-$name.out" 2>&1
}
h2load_run h2-tls -c 4 -m 4 --rps 40 $(urls "$T") &
track_pid $!
h2load_run h2c -c 4 -m 4 --rps 40 -H 'accept: text/html' $(urls "$H") &
track_pid $!
h2load_run h1-tls --h1 -c 4 --rps 20 $(urls "$T") &
track_pid $!
h2load_run h1 --h1 -c 4 --rps 20 $(urls "$H") &
track_pid $!

# until_end CMD...: run CMD again and again until the end of the soak.
until_end() {
  while [ "$(date +%s)" -lt "$END" ]; do
    "$@" >/dev/null 2>&1
  done
}
# The other clients, by kind; SOAK_SKIP="KIND ..." leaves kinds out (to
# tell which one a growth comes from).
cut_h2() { curl -sk -m 0.3 --http2 --limit-rate 500k -o /dev/null "$T/1m.bin"; }
cut_h1() { curl -s -m 0.3 --http1.1 --limit-rate 500k -o /dev/null "$H/1m.bin"; }
rapid() { "$B/h2probe" rapid 127.0.0.1 "$HP" 20 --path /1k.bin --timeout 5; sleep 1; }
stall_h2() {
  "$B/h2probe" req 127.0.0.1 "$HP" -H ':method: GET' -H ':scheme: http' \
    -H ":authority: 127.0.0.1:$HP" -H ':path: /1m.bin' --window 0 \
    --wait 4000 --timeout 10
}
cat >"$WORK/stall.py" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(b"GET /50m.bin HTTP/1.1\r\nHost: a\r\n\r\n")
time.sleep(4)
s.close()
EOF
stall_h1() { python3 "$WORK/stall.py" "$HP"; }
for kind in cut_h2 cut_h1 rapid stall_h2 stall_h1; do
  case " ${SOAK_SKIP:-} " in *" $kind "*) log "skipping $kind" && continue ;; esac
  until_end "$kind" &
  track_pid $!
done

# ---- sampling ------------------------------------------------------------------

SAMPLES=$WORK/samples
: >"$SAMPLES"
START=$(date +%s)
printf '# %6s %10s %6s %6s\n' t_s rss_kb fds conns
while [ "$(date +%s)" -lt "$END" ]; do
  sleep "$SAMPLE"
  herald_alive || break
  t=$(($(date +%s) - START))
  line=$(printf '%d %s %s %s' "$t" "$(rss)" "$(fds)" "$(conns)")
  echo "$line" >>"$SAMPLES"
  printf '# %6s %10s %6s %6s\n' $line
done

check "herald ran the whole soak" herald_alive
wait_clients() {
  local p
  for p in "${PIDS[@]}"; do
    [ "$p" = "$HERALD_PID" ] || [ "$p" = "$NGINX_PID" ] && continue
    wait "$p" 2>/dev/null
  done
}
wait_clients
for name in h2-tls h2c h1-tls h1; do
  out=$(grep -E 'requests: .* succeeded' "$WORK/h2load-$name.out")
  done_n=$(printf '%s' "$out" | sed -n 's/.* \([0-9]*\) succeeded.*/\1/p')
  bad=$(printf '%s' "$out" | sed -n 's/.* \([0-9]*\) failed, \([0-9]*\) errored.*/\1 \2/p')
  if [ -n "$done_n" ] && [ "$done_n" -gt 0 ] && [ "$bad" = "0 0" ]; then
    ok "h2load $name: $done_n requests, none failed"
  else
    fail "h2load $name" "$(tail -n 12 "$WORK/h2load-$name.out")"
  fi
done

# Once the load is gone every client connection must close (idle timeout
# 5 s) and pooled backend connections time out (backend_idle 3 s): the
# descriptors are back to their count before the load.
for i in $(seq 1 40); do
  [ "$(conns)" = 0 ] && [ "$(fds)" -le $((FD0 + 2)) ] && break
  sleep 0.5
done
states=$(ss -Htan "( sport = :$HP or sport = :$TP )" 2>/dev/null |
  awk '$1 != "LISTEN" && $1 != "TIME-WAIT" {print $1}' | sort | uniq -c |
  tr -s ' \n' ' ')
log "after the load: fds $(fds) (before: $FD0), client connections $(conns)"
assert_eq "every client connection closed 20 s after the load (ss:${states:- none})" \
  0 "$(conns)"
assert_le "descriptors back to the pre-load count (+2) after the load" \
  $((FD0 + 2)) "$(fds)"

verdict=$(python3 - "$SAMPLES" "$WARMUP" "$SECS" <<'EOF'
import statistics, sys
rows = [tuple(int(x) for x in l.split()[:3]) for l in open(sys.argv[1])
        if len(l.split()) >= 3]
# after the warm-up, and while the load runs
rows = [r for r in rows if int(sys.argv[2]) <= r[0] < int(sys.argv[3])]
if len(rows) < 4:
    print("too-few %d samples after the warm-up" % len(rows))
    sys.exit()
q = max(1, len(rows) // 4)
first, last = rows[:q], rows[-q:]
def col(rs, i): return [r[i] for r in rs]
r1m, r2m = statistics.mean(col(first, 1)), statistics.mean(col(last, 1))
r1x, r2x = max(col(first, 1)), max(col(last, 1))
f1, f2 = statistics.mean(col(first, 2)), statistics.mean(col(last, 2))
rss_ok = r2m <= r1m * 1.05 + 2048 and r2x <= r1x * 1.05 + 2048
fd_ok = f2 <= f1 + 10
print("rss %s first-quarter mean %.0f max %d KB, last-quarter mean %.0f max %d KB"
      % ("flat" if rss_ok else "GROWS", r1m, r1x, r2m, r2x))
print("fds %s first-quarter mean %.1f, last-quarter mean %.1f"
      % ("flat" if fd_ok else "GROW", f1, f2))
EOF
)
printf '%s\n' "$verdict" | sed 's/^/# /'
assert_match "RSS flat after the first ${WARMUP}s" '^rss flat' "$verdict"
assert_match "descriptors flat after the first ${WARMUP}s" '^fds flat' \
  "$(printf '%s\n' "$verdict" | sed -n 2p)"
finish
