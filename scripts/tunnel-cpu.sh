#!/usr/bin/env bash
# Proxy CPU time per tunnelled request, ours and the system proxies side by side, in interleaved rounds against
# one warmed null HTTPS server: the measurement behind issue 13 ("Tunnels at or under C's cost"). CPU is read
# in nanoseconds from /proc/PID/task/*/schedstat (the run time of every thread of the proxy and of its children),
# so it needs no long runs to beat the 10 ms tick of /proc/PID/stat. Needs `npm run build` and
# `tsc -p tools/bench/tsconfig.json` (both part of `npm run bench`) first. Usage:
#   scripts/tunnel-cpu.sh [-r rounds] [-n requests-per-worker] [-f file] [-c workers] system...
#   system: egress (the relay the proxy selects), egress:js, egress:splice (EGRESS_PROXY_TUNNEL_RELAY), squid,
#           tinyproxy, egress:before (the build in $BEFORE_DIR, e.g. main's, for a before/after in the same run)
# Run it under `flock /work/bench.lock` on a shared machine. EGRESS_NODE_FLAGS adds Node flags to our proxy
# (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof); PROXY_WRAP prefixes every proxy command; STRACE_DIR=D traces
# round 1 with `strace -c -f` attached to each proxy and writes D/SYSTEM.strace (round 1's CPU is then meaningless);
# PERF_DIR=D records round 1 with `perf record -e cpu-clock -g` into D/SYSTEM.perf.data instead.
# EGRESS_POLICY_ARGS: what opens the null server's loopback address and port to our proxy (the destination and port
# policies refuse both by default; tools/bench/egress-proxy-process.ts, BENCH_POLICY_ARGS); set it empty for a
# $BEFORE_DIR build older than those policies.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5; reqs=300; file=bench-data/metric.data; workers=16
while getopts r:n:f:c: opt; do
  case $opt in r) rounds=$OPTARG ;; n) reqs=$OPTARG ;; f) file=$OPTARG ;; c) workers=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "usage: $0 [-r rounds] [-n reqs] [-f file] [-c workers] egress|egress:js|egress:splice|squid|tinyproxy..." >&2; exit 2; }
total=$((workers * reqs))
tmp=$(mktemp -d); chmod 777 "$tmp"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
wait_for() { for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "timed out waiting for $2 in $1" >&2; cat "$1" >&2; exit 1; }
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# Nanoseconds of CPU run by a process and all its descendants. schedstat has nanoseconds but only for live
# threads; tinyproxy runs a thread per connection, so it is read from /proc/PID/stat (10 ms ticks, dead threads
# included) and needs long runs.
tree_ns() {
  if [ "$2" = tinyproxy ]; then awk '{ printf "%d", ($14 + $15 + $16 + $17) * 10000000 }' /proc/"$1"/stat; return; fi
  local all=("$1") queue=("$1") p kids
  while [ ${#queue[@]} -gt 0 ]; do
    p=${queue[0]}; queue=("${queue[@]:1}")
    kids=$(cat /proc/"$p"/task/*/children 2>/dev/null || true)
    for k in $kids; do all+=("$k"); queue+=("$k"); done
  done
  local sum=0 f
  for p in "${all[@]}"; do
    for f in /proc/"$p"/task/*/schedstat; do
      [ -r "$f" ] && sum=$((sum + $(cut -d' ' -f1 "$f" 2>/dev/null || echo 0)))
    done
  done
  echo "$sum"
}

node dist/cli.js bench server -listen 127.0.0.1:0 > "$tmp/server.log" 2>&1 & pids+=($!); server=$!
wait_for "$tmp/server.log" listening
port=$(grep -o '127.0.0.1:[0-9]*' "$tmp/server.log" | head -1 | cut -d: -f2)
cert=$(grep -o '/[^ )]*\.pem' "$tmp/server.log" | head -1)

declare -A proxy_pid proxy_url
read -r -a policy <<< "${EGRESS_POLICY_ARGS---dest-allow 127.0.0.0/8 --dest-allow ::1 --connect-port 1-65535 --http-port 1-65535}"
wrap=(); [ -n "${PROXY_WRAP:-}" ] && read -r -a wrap <<< "$PROXY_WRAP"
for system in "$@"; do
  log="$tmp/${system//:/-}.log"
  case $system in
    egress|egress:*)
      relay=${system#egress}; relay=${relay#:}
      read -r -a nflags <<< "${EGRESS_NODE_FLAGS:-}"
      cli=dist/cli.js; [ "$relay" = before ] && cli=${BEFORE_DIR:?BEFORE_DIR=a built checkout}/dist/cli.js relay=
      EGRESS_PROXY_TUNNEL_RELAY=$relay "${wrap[@]}" node --initial-old-space-size=64 --max-semi-space-size=16 "${nflags[@]}" "$cli" run --bind 127.0.0.1 --port 0 --admin-port 0 "${policy[@]}" > "$log" 2>&1 &
      proxy_pid[$system]=$!; pids+=($!)
      wait_for "$log" 'proxy listening'
      proxy_url[$system]="http://127.0.0.1:$(grep 'proxy listening' "$log" | grep -o '"port":[0-9]*' | cut -d: -f2)" ;;
    squid)
      p=$(free_port)
      node --input-type=module -e "import { squidConfig } from './dist-tools/tools/bench/system-proxies.js'; process.stdout.write(squidConfig($p, '$tmp'))" > "$tmp/squid.conf"
      "${wrap[@]}" /usr/sbin/squid -N -f "$tmp/squid.conf" > "$log" 2>&1 & proxy_pid[$system]=$!; pids+=($!)
      proxy_url[$system]="http://127.0.0.1:$p" ;;
    tinyproxy)
      p=$(free_port)
      node --input-type=module -e "import { tinyproxyConfig } from './dist-tools/tools/bench/system-proxies.js'; process.stdout.write(tinyproxyConfig($p, '$tmp', process.getuid() === 0))" > "$tmp/tinyproxy.conf"
      "${wrap[@]}" tinyproxy -d -c "$tmp/tinyproxy.conf" > "$log" 2>&1 & proxy_pid[$system]=$!; pids+=($!)
      proxy_url[$system]="http://127.0.0.1:$p" ;;
    *) echo "unknown system $system" >&2; exit 2 ;;
  esac
done
client() { node dist/cli.js bench client -host "https://127.0.0.1:$port/v1/write/x" --ca "$cert" -c "$workers" -r "$1" -f "$file" --json -proxy "$2"; }
for system in "$@"; do
  for _ in $(seq 50); do client 1 "${proxy_url[$system]}" > /dev/null 2>&1 && break; sleep 0.2; done
  client 100 "${proxy_url[$system]}" > /dev/null   # warm-up: JIT, buffers
done

echo "workload: $workers workers x $reqs POSTs of $file ($(stat -c %s "$file") bytes), $rounds interleaved rounds"
declare -A results rps
for round in $(seq "$rounds"); do
  for system in "$@"; do
    tracer=""
    if [ -n "${STRACE_DIR:-}" ] && [ "$round" = 1 ]; then
      strace -c -f -p "${proxy_pid[$system]}" -o "$STRACE_DIR/${system//:/-}.strace" 2>/dev/null & tracer=$!
      sleep 1
    elif [ -n "${PERF_DIR:-}" ] && [ "$round" = 1 ]; then
      perf record -q -e cpu-clock -g -p "${proxy_pid[$system]}" -o "$PERF_DIR/${system//:/-}.perf.data" 2>/dev/null & tracer=$!
      sleep 1
    fi
    before=$(tree_ns "${proxy_pid[$system]}" "$system")
    client "$reqs" "${proxy_url[$system]}" > "$tmp/result.json"
    after=$(tree_ns "${proxy_pid[$system]}" "$system")
    if [ -n "$tracer" ]; then kill -INT "$tracer"; wait "$tracer" 2>/dev/null || true; fi
    errors=$(grep -o '"errors":[0-9]*' "$tmp/result.json" | head -1 | cut -d: -f2 || echo '?')
    r=$(grep -o '"requestsPerSecond":[0-9.]*' "$tmp/result.json" | cut -d: -f2)
    us=$(awk -v d=$((after - before)) -v n=$total 'BEGIN { printf "%.1f", d / n / 1000 }')
    results[$system]+="$us "; rps[$system]+="${r%.*} "
    printf 'round %d  %-14s %6.0f req/s  proxy CPU %6s us/request  errors %s\n' "$round" "$system" "$r" "$us" "$errors"
  done
done
echo "medians over $rounds rounds (range):"
for system in "$@"; do
  printf '  %-14s %s us/request (%s)   %s req/s\n' "$system" \
    "$(tr ' ' '\n' <<< "${results[$system]}" | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')" \
    "$(tr ' ' '\n' <<< "${results[$system]}" | grep . | sort -n | sed -n '1p;$p' | paste -sd-)" \
    "$(tr ' ' '\n' <<< "${rps[$system]}" | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}')"
done
