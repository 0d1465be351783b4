#!/usr/bin/env bash
# Installs, builds and runs the gateway with the default config and a local Redis on loopback
# (data under var/redis, append-only: a restart of both keeps the desk, docs/operations.md).
# Usage: scripts/run.sh [--config FILE] [--nodes N] [--simulate [PROFILE]]
# --nodes N (default 1: one gateway, as without it) runs N gateway nodes sharing the desk through
# that Redis (docs/scaling.md) behind an nginx of our own on the config's listen address. Node K
# runs var/nodes/node-K.yaml: the config with its listen line on 127.0.0.1 and the config's port + K,
# and scale: enabled; it logs to var/nodes/node-K.log. nginx runs deploy/nginx/chatdesk.conf,
# rendered into var/nginx/nginx.conf (its logs next to it). Ctrl-C stops nginx, the nodes and Redis.
# --simulate starts the traffic simulator against every shop of the config (docs/simulator.md), so
# the consoles, the lead page and /metrics show a live desk; PROFILE: realistic (default) | slow | missed.
set -euo pipefail
cd "$(dirname "$0")/.."
config=config/chatdesk.yaml
simulate=""
nodes=1
usage="usage: scripts/run.sh [--config FILE] [--nodes N] [--simulate [realistic|slow|missed]]"
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config=$2; shift 2 ;;
    --nodes) nodes=${2:-}; shift $(($# > 1 ? 2 : 1)) ;;
    --simulate)
      simulate=realistic; shift
      case "${1:-}" in realistic|slow|missed) simulate=$1; shift ;; esac ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
if ! [[ $nodes =~ ^[1-9][0-9]{0,2}$ ]]; then
  echo "run: --nodes takes a number of gateway nodes, 1 to 999" >&2
  echo "$usage" >&2
  exit 2
fi

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
nginx_pid=""
gateway_pids=()  # --nodes N and --simulate: the gateways running in the background
any_alive() {
  local p
  for p in "$@"; do kill -0 "$p" 2>/dev/null && return 0; done
  return 1
}
cleanup() {
  trap '' INT TERM  # bounded (about 26 s at most): a second Ctrl-C does not leave Redis behind
  if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; fi
  if [ -n "$nginx_pid" ]; then kill "$nginx_pid" 2>/dev/null || true; fi
  # The gateways drain (10 s at most) and flush to Redis (5 s more) before Redis goes.
  if [ ${#gateway_pids[@]} -gt 0 ]; then
    kill "${gateway_pids[@]}" 2>/dev/null || true
    for _ in $(seq 160); do any_alive "${gateway_pids[@]}" || break; sleep 0.1; done
    if any_alive "${gateway_pids[@]}"; then kill -KILL "${gateway_pids[@]}" 2>/dev/null || true; fi
  fi
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2>/dev/null || true
    for _ in $(seq 100); do any_alive "$redis_pid" || break; sleep 0.1; done
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --nodes N, N > 1: the nodes, then nginx in front of them on the config's own address; runs until
# nginx ends (or Ctrl-C).
run_nodes() {
  local nginx_bin=/usr/sbin/nginx
  [ -x "$nginx_bin" ] || { echo "run: $nginx_bin is missing (scripts/install-deps.sh)" >&2; exit 1; }
  local listen_line address base_port
  listen_line=$(grep -m1 '^listen:' "$config" || true)
  address=$(sed -n 's/^listen: *{ *address: *\([^,}]*\), *port: *\([0-9]*\).*/\1:\2/p' "$config" | head -n1)
  if [ -n "$listen_line" ] && [ -z "$address" ]; then
    echo "run: --nodes needs the listen section of $config on one line:" \
      "listen: {address: ADDRESS, port: PORT}" >&2
    exit 2
  fi
  address=${address:-127.0.0.1:8080}
  base_port=${address##*:}
  if [ $((base_port + nodes)) -gt 65535 ]; then
    echo "run: the nodes' ports $((base_port + 1))-$((base_port + nodes)) are past 65535" >&2
    exit 2
  fi
  if grep -q '^ *spool_dir: *"\{0,1\}[^"# ]' "$config"; then
    echo "run: warning: all $nodes nodes get the same redis.spool_dir from $config;" \
      "in production give each node a spool directory of its own" >&2
  fi
  if grep -q '^scale: *\(#.*\)\{0,1\}$' "$config"; then
    echo "run: $config has a multi-line scale: section; the nodes use it as it is" \
      "(it needs enabled: true)" >&2
  fi

  # Node K's config: the listen line replaced (added when there is none); a one-line scale:
  # section switched on, or `scale: {enabled: true}` added when there is none.
  mkdir -p var/nodes var/nginx
  local k node_config node_listen
  local upstreams=()
  for k in $(seq "$nodes"); do
    node_config=var/nodes/node-$k.yaml
    node_listen="listen: {address: 127.0.0.1, port: $((base_port + k))}"
    {
      echo "# Written by scripts/run.sh --nodes $nodes from $config (node $k); edit that file instead."
      sed -e "s/^listen:.*/$node_listen/" \
        -e '/^scale: *{/{s/enabled: *[A-Za-z]*/enabled: true/;t;s/{ *}/{enabled: true}/;t;s/{/{enabled: true, /}' \
        "$config"
      [ -n "$listen_line" ] || echo "$node_listen"
      grep -q '^scale:' "$config" || echo "scale: {enabled: true}"
    } >"$node_config"
    if ! build-release/gateway/chatdesk-gateway --check-config --config "$node_config"; then
      echo "run: the gateway refuses $node_config (written from $config for node $k)" >&2
      exit 2
    fi
    upstreams+=("127.0.0.1:$((base_port + k))")
  done
  for k in $(seq "$nodes"); do
    build-release/gateway/chatdesk-gateway --config "var/nodes/node-$k.yaml" \
      >>"var/nodes/node-$k.log" 2>&1 &
    gateway_pids+=($!)
  done

  # deploy/nginx/chatdesk.conf with its placeholders filled in, the line holding @UPSTREAM@ once
  # per node (the same rules as tests/integration/support/nginx.hpp).
  local nginx_dir=$PWD/var/nginx line u rendered=""
  shopt -u patsub_replacement 2>/dev/null || true  # bash 5.2: keep '&' in a replacement literal
  while IFS= read -r line || [ -n "$line" ]; do
    if [[ $line == *@UPSTREAM@* ]]; then
      for u in "${upstreams[@]}"; do rendered+="${line//@UPSTREAM@/$u}"$'\n'; done
    else
      rendered+="$line"$'\n'
    fi
  done <deploy/nginx/chatdesk.conf
  rendered=${rendered//@PREFIX@/$nginx_dir}
  rendered=${rendered//@LISTEN@/$address}
  rendered=${rendered//@NODES@/$nodes}
  printf '%s' "$rendered" >"$nginx_dir/nginx.conf"
  local nginx_args=(-p "$nginx_dir" -c "$nginx_dir/nginx.conf" -e "$nginx_dir/error.log")
  "$nginx_bin" -t -q "${nginx_args[@]}"

  # Every node ready (its desk loaded: /healthz 200), or gone with the end of its log.
  local ready
  for k in $(seq "$nodes"); do
    ready=""
    for _ in $(seq 150); do
      curl -sf --max-time 2 "http://${upstreams[k - 1]}/healthz" >/dev/null && { ready=1; break; }
      if ! kill -0 "${gateway_pids[k - 1]}" 2>/dev/null; then
        echo "run: node $k exited at start; the end of var/nodes/node-$k.log:" >&2
        tail -n 20 "var/nodes/node-$k.log" >&2
        exit 1
      fi
      sleep 0.1
    done
    [ -n "$ready" ] || echo "run: warning: node $k is not ready after 15 s (var/nodes/node-$k.log)" >&2
  done
  "$nginx_bin" "${nginx_args[@]}" &
  nginx_pid=$!
  ready=""
  for _ in $(seq 100); do
    curl -sf --max-time 2 "http://$address/healthz" >/dev/null && { ready=1; break; }
    kill -0 "$nginx_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$ready" ]; then
    echo "run: no answer from http://$address/healthz through nginx; the end of var/nginx/error.log:" >&2
    tail -n 20 var/nginx/error.log >&2
    exit 1
  fi

  local shops s base="http://$address"
  shops=$(build-release/gateway/chatdesk-gateway --list-shops --config "$config")
  echo "run: chatdesk listening on $base (nginx, var/nginx/) in front of $nodes nodes (var/nodes/)"
  echo "  agent console:  $base/"
  for s in $shops; do echo "  customer chat:  $base/chat?shop=$s"; done
  for s in $shops; do echo "  lead page:      $base/lead?shop=$s"; done
  echo "  metrics:        one node's each: http://${upstreams[0]}/metrics ... http://${upstreams[nodes - 1]}/metrics"
  grep -h '^WARNING' var/nodes/node-1.log | tail -n 1 || true

  if [ -n "$simulate" ]; then
    local shop_args=()
    for s in $shops; do shop_args+=(--shop "$s"); done
    build-release/tools/simulator/chatdesk-simulator --url "ws://$address" "${shop_args[@]}" \
      --profile "$simulate" --agents 4 --customers-per-minute 12 --duration 0 &
    sim_pid=$!
  fi

  # A node that ends is reported and the others go on (its shops move to them, docs/scaling.md).
  local running=("$nginx_pid" "${gateway_pids[@]}") ended status p left
  while true; do
    ended=""
    status=0
    wait -n -p ended "${running[@]}" || status=$?
    [ -n "$ended" ] || exit "$status"
    if [ "$ended" = "$nginx_pid" ]; then
      echo "run: nginx exited (status $status); see var/nginx/error.log" >&2
      exit 1
    fi
    left=()
    for p in "${running[@]}"; do [ "$p" = "$ended" ] || left+=("$p"); done
    running=("${left[@]}")
    for k in $(seq "$nodes"); do
      [ "${gateway_pids[k - 1]}" != "$ended" ] ||
        echo "run: node $k exited (status $status); see var/nodes/node-$k.log" >&2
    done
  done
}
if [ "$nodes" -gt 1 ]; then
  run_nodes
  exit 0
fi

if [ -z "$simulate" ]; then
  build-release/gateway/chatdesk-gateway --config "$config"
  exit $?
fi
build-release/gateway/chatdesk-gateway --config "$config" &
gateway_pid=$!
gateway_pids=("$gateway_pid")
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
