#!/usr/bin/env bash
# Server CPU per request: utime + stime of the server process (/proc/PID/stat, all threads)
# around one redis-benchmark run, after a 20,000-request warm-up, divided by the requests.
# Less sensitive to a shared machine's noise than requests/s. One JSON line per run.
#
#   bench/resp/server-cpu.sh <target> <requests> <pipeline> <command...>
#
# <target>: a WharfMQ checkout (its bin/wharf.js, every other listener off), `redis` (no
# persistence), or `redis-always` (appendonly yes, appendfsync always). Loopback, a port from
# 16400-16499, a temporary data directory; the server is stopped by PID.
# Example: bench/resp/server-cpu.sh . 200000 1 PUBLISH ch "$(printf 'x%.0s' {1..100})"
set -euo pipefail
target=$1 requests=$2 pipeline=$3
shift 3
port=$((16400 + RANDOM % 100))
dir=$(mktemp -d /tmp/wharf-server-cpu.XXXXXX)
case $target in
  redis) redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" >/dev/null 2>&1 & ;;
  redis-always)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync always \
      --dir "$dir" >/dev/null 2>&1 & ;;
  *) node "$target/bin/wharf.js" start --data-dir "$dir" --resp-port "$port" --kafka-port 0 \
       --amqp-port 0 --mqtt-port 0 --stomp-port 0 --http-port 0 --log-level warn >/dev/null 2>&1 & ;;
esac
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
redis-benchmark -p "$port" -c 50 -n 20000 -P "$pipeline" -q "$@" >/dev/null 2>&1
before=$(ticks)
line=$(redis-benchmark -p "$port" -c 50 -n "$requests" -P "$pipeline" -q "$@" 2>&1 |
  tr '\r' '\n' | grep 'requests per second' | tail -1)
after=$(ticks)
rps=$(sed -E 's/.*: ([0-9.]+) requests per second.*/\1/' <<<"$line")
cpu=$(awk -v a="$after" -v b="$before" -v hz="$(getconf CLK_TCK)" -v n="$requests" \
  'BEGIN { printf "%.2f", (a - b) * 1e6 / hz / n }')
printf '{"bench":"resp-server-cpu","target":"%s","command":"%s","clients":50,"pipeline":%s,"requests":%s,"server_cpu_us_per_request":%s,"requests_per_s":%s}\n' \
  "$target" "$1" "$pipeline" "$requests" "$cpu" "$rps"
