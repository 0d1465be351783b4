#!/usr/bin/env bash
# Installs, builds and runs the gateway with the default config and a local Redis on loopback
# (data under var/redis, append-only: a restart of both keeps the desk, docs/operations.md). Usage: scripts/run.sh [--config FILE] [--simulate [PROFILE]]
# --simulate starts the traffic simulator against every shop of the config (docs/simulator.md), so
# the consoles, the lead page and /metrics show a live desk; PROFILE: realistic (default) | slow | missed.
set -euo pipefail
cd "$(dirname "$0")/.."
config=config/chatdesk.yaml
simulate=""
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config=$2; shift 2 ;;
    --simulate)
      simulate=realistic; shift
      case "${1:-}" in realistic|slow|missed) simulate=$1; shift ;; esac ;;
    *) echo "usage: scripts/run.sh [--config FILE] [--simulate [realistic|slow|missed]]" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh
# Only what this script runs (the test targets take most of a fresh build).
BUILD_TARGETS="chatdesk-gateway${simulate:+ chatdesk-simulator}" CMAKE_BUILD_TYPE=Release \
  scripts/build.sh build-release
build-release/gateway/chatdesk-gateway --check-config --config "$config"

# A Redis of our own on the port the config names, unless one already answers there.
redis_port=$(sed -n 's|.*url: *"\{0,1\}redis://[^:/"]*:\([0-9]*\).*|\1|p' "$config" | head -n1)
redis_port=${redis_port:-6379}
redis_pid=""
if ! redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1; then
  mkdir -p var/redis
  # The desk's durable store (docs/storage.md): every write in the append-only file, synced to disk
  # once a second (appendfsync everysec; docs/operations.md says what a power cut can cost).
  redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$PWD/var/redis" --appendonly yes \
    --appendfsync everysec --daemonize no --logfile "$PWD/var/redis/redis.log" &
  redis_pid=$!
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  echo "run: redis-server on 127.0.0.1:$redis_port (data in var/redis)"
fi
sim_pid=""
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null
  true
}
trap cleanup EXIT INT TERM

if [ -z "$simulate" ]; then
  build-release/gateway/chatdesk-gateway --config "$config"
  exit $?
fi
build-release/gateway/chatdesk-gateway --config "$config" &
gateway_pid=$!
address=$(sed -n 's/^listen: *{ *address: *\([^,}]*\), *port: *\([0-9]*\).*/\1:\2/p' "$config" | head -n1)
address=${address:-127.0.0.1:8080}
shops=$(build-release/gateway/chatdesk-gateway --list-shops --config "$config")
shop_args=()
for s in $shops; do shop_args+=(--shop "$s"); done
for _ in $(seq 100); do curl -sf "http://$address/healthz" >/dev/null && break; sleep 0.1; done
build-release/tools/simulator/chatdesk-simulator --url "ws://$address" "${shop_args[@]}" \
  --profile "$simulate" --agents 4 --customers-per-minute 12 --duration 0 &
sim_pid=$!
wait "$gateway_pid"
