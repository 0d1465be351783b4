#!/usr/bin/env bash
# Installs, builds and runs the gateway with the default config and a local Redis on loopback
# (data under var/redis). Usage: scripts/run.sh [--config FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
config=config/chatdesk.yaml
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config=$2; shift 2 ;;
    *) echo "usage: scripts/run.sh [--config FILE]" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh
CMAKE_BUILD_TYPE=Release scripts/build.sh build-release
build-release/gateway/chatdesk-gateway --check-config --config "$config"

# A Redis of our own on the port the config names, unless one already answers there.
redis_port=$(sed -n 's|.*url: *"\{0,1\}redis://[^:/"]*:\([0-9]*\).*|\1|p' "$config" | head -n1)
redis_port=${redis_port:-6379}
redis_pid=""
if ! redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1; then
  mkdir -p var/redis
  redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$PWD/var/redis" --appendonly yes \
    --daemonize no --logfile "$PWD/var/redis/redis.log" &
  redis_pid=$!
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  echo "run: redis-server on 127.0.0.1:$redis_port (data in var/redis)"
fi
cleanup() { [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

build-release/gateway/chatdesk-gateway --config "$config"
