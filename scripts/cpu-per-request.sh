#!/usr/bin/env bash
# CPU time per request of each process (client, proxy, null server) for one workload through one path: the
# split between client, proxy and server that `npm run bench` does not print (the bench reports the proxy's CPU
# per request for every system, summed over its process tree: tools/bench/process-tree-cpu.ts; this script reads
# one process only). Unlike req/s, CPU per request barely moves when other work shares the machine. Needs
# `npm run build` first. Usage:
#   scripts/cpu-per-request.sh direct|direct-http|tunnel|forward|mitm [requests-per-worker] [file]
# DASHBOARD=off runs the proxy with admin.dashboard = false; DASHBOARD=viewer keeps one dashboard page's event
# stream (/events) open during the run: the dashboard's cost check (docs/benchmarks.md).
# Profiling the proxy during the timed run (docs/mitm.md): PERF_DIR=D records `perf record -e cpu-clock -g` into
# D/perf.data, STRACE_DIR=D counts its syscalls (`strace -c -f`) into D/strace.txt, and EGRESS_NODE_FLAGS adds node
# flags to the proxy (e.g. --perf-basic-prof, so that perf names JavaScript frames).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?direct|direct-http|tunnel|forward|mitm}; reqs=${2:-100}; file=${3:-bench-data/metric.data}
workers=16; total=$((workers * reqs))
tmp=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
cpu() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; }
wait_for() { for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "timed out waiting for $2" >&2; exit 1; }

scheme=https; plain=()
case $mode in forward|direct-http) scheme=http; plain=(--plain) ;; esac
node dist/cli.js bench server -listen 127.0.0.1:0 "${plain[@]}" > "$tmp/server.log" 2>&1 & server=$!
wait_for "$tmp/server.log" listening
port=$(grep -o '127.0.0.1:[0-9]*' "$tmp/server.log" | head -1 | cut -d: -f2)
cert=$(grep -o '/[^ )]*\.pem' "$tmp/server.log" | head -1 || true)
client=(node dist/cli.js bench client -host "$scheme://127.0.0.1:$port/v1/write/x" -c $workers -r "$reqs" -f "$file" --json)
[ -n "$cert" ] && client+=(--ca "$cert")
proxy=""
if [ "${mode%%-*}" != direct ]; then
  # The null server listens on loopback on a port picked at start, which the destination and port policies refuse
  # by default: open exactly that, as the bench does (tools/bench/egress-proxy-process.ts, BENCH_POLICY_ARGS).
  extra=(--dest-allow 127.0.0.0/8 --dest-allow ::1 --connect-port 1-65535 --http-port 1-65535)
  [ "$mode" = mitm ] && extra+=(--mitm --data-dir "$tmp/data" --upstream-ca "$cert")
  [ "${DASHBOARD:-}" = off ] && { printf '[admin]\ndashboard = false\n' > "$tmp/config.toml"; extra+=(--config "$tmp/config.toml"); }
  # shellcheck disable=SC2086 # EGRESS_NODE_FLAGS is a list of flags
  node --initial-old-space-size=64 --max-semi-space-size=16 ${EGRESS_NODE_FLAGS:-} dist/cli.js run --port 0 --admin-port 0 "${extra[@]}" > "$tmp/proxy.log" 2>&1 & proxy=$!
  wait_for "$tmp/proxy.log" 'admin listening'
  if [ "${DASHBOARD:-}" = viewer ]; then
    aport=$(grep 'admin listening' "$tmp/proxy.log" | grep -o '"port":[0-9]*' | cut -d: -f2)
    curl -sN "http://127.0.0.1:$aport/events" > /dev/null &
  fi
  pport=$(grep 'proxy listening' "$tmp/proxy.log" | grep -o '"port":[0-9]*' | cut -d: -f2)
  client+=(-proxy "http://127.0.0.1:$pport")
  if [ "$mode" = mitm ]; then node dist/cli.js ca export --data-dir "$tmp/data" > "$tmp/mitm-ca.pem"; client=("${client[@]/$cert/$tmp/mitm-ca.pem}"); fi
fi
"${client[@]}" > /dev/null   # warm-up pass: JIT, pools, leaf certificate
watchers=()
if [ -n "$proxy" ] && [ -n "${PERF_DIR:-}" ]; then
  mkdir -p "$PERF_DIR"; perf record -e cpu-clock -g -p "$proxy" -o "$PERF_DIR/perf.data" 2> "$PERF_DIR/perf.log" & watchers+=($!)
fi
if [ -n "$proxy" ] && [ -n "${STRACE_DIR:-}" ]; then
  mkdir -p "$STRACE_DIR"; strace -c -f -p "$proxy" -o "$STRACE_DIR/strace.txt" 2> /dev/null & watchers+=($!)
fi
[ ${#watchers[@]} -gt 0 ] && sleep 1   # attached before the first timed request
s0=$(cpu $server); p0=0; [ -n "$proxy" ] && p0=$(cpu $proxy)
/usr/bin/time -f '%U %S' -o "$tmp/client.time" "${client[@]}" > "$tmp/result.json"
for w in "${watchers[@]}"; do kill -INT "$w"; wait "$w" || true; done
s1=$(cpu $server); p1=0; [ -n "$proxy" ] && p1=$(cpu $proxy)
read -r cu cs < "$tmp/client.time"
rps=$(grep -o '"requestsPerSecond":[0-9.]*' "$tmp/result.json" | cut -d: -f2)
awk -v m="$mode" -v n=$total -v r="$rps" -v c="$(echo "$cu + $cs" | bc)" -v p="$(echo "$p1 - $p0" | bc)" -v s="$(echo "$s1 - $s0" | bc)" \
  'BEGIN { printf "%-8s %6d req/s   ms of CPU per request: client %.2f (incl. start-up)  proxy %.2f  server %.2f\n", m, r, c*1000/n, p*1000/n, s*1000/n }'
