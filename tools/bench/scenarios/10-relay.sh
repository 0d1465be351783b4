#!/usr/bin/env bash
# Scenarios 1–3 (docs/benchmarks.md): relay throughput, latency and server CPU per message of
#   1 the chatdesk gateway (monitor, Redis violation writer and the durable desk store on, local
#     redis-server with AOF), and the same with the store off (chatdesk-nostore),
#   2 the Node.js `ws` baseline relay (tools/bench/node-relay),
#   3 the raw TCP echo server (the loopback limit),
# all driven by the same load generator (chatdesk-bench-load) with the same customer–agent pairs
# and ~40-character Chinese messages; each agent answers every customer message.
# One repetition: for each server, closed loop at 1 and 8 messages in flight per pair
# (saturation), then for chatdesk and node open loop at 50% and 80% of that server's saturation
# rate (latency). Every measurement gets a freshly started server, pinned to its own CPU.
# Usage: 10-relay.sh --build-dir DIR --out FILE [--quick]
set -euo pipefail

quick=0
BUILD_DIR=""
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    *) echo "usage: 10-relay.sh --build-dir DIR --out FILE [--quick]" >&2; exit 2 ;;
  esac
done
[ -n "$BUILD_DIR" ] && [ -n "$out" ] || { echo "10-relay.sh: --build-dir and --out are required" >&2; exit 2; }
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
bench_init

if [ "$quick" = 1 ]; then
  pairs=${BENCH_RELAY_PAIRS:-200}
  window=${BENCH_RELAY_SECONDS:-1.5}
  warmup=${BENCH_RELAY_WARMUP:-0.5}
else
  pairs=${BENCH_RELAY_PAIRS:-1000}
  window=${BENCH_RELAY_SECONDS:-5}
  warmup=${BENCH_RELAY_WARMUP:-1}
fi
config="$BENCH_DIR/config/gateway.yaml"
config_nostore="$BENCH_TMP/gateway-nostore.yaml"
{ cat "$config"; echo "storage: {enabled: false}"; } >"$config_nostore"
shops=$(sed -n 's/^ *- *{* *id: *\([^,} ]*\).*/\1/p' "$config" | paste -sd, -)
results="$BENCH_TMP/results"
mkdir -p "$results"
bench_log "relay: $pairs pairs, ${warmup}s warm-up + ${window}s measured per run; $BENCH_PINNING"

start_redis

# measure NAME TARGET LOAD-ARGS...: one fresh server, one load run, result in $results/NAME.json.
# For the gateway also: Redis's CPU over the window (--redis-pid), and the Redis commands and the
# store's round trips over the whole run (setup included: a few per connection) in NAME.store.json.
measure() {
  local name=$1 target=$2 pid port load_target=$2 extra=()
  shift 2
  # A fresh desk each time: the store would otherwise give the next gateway this run's chats.
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" flushall >/dev/null
  case "$target" in
    chatdesk) start_gateway "$config"; pid=$GATEWAY_PID; port=$GATEWAY_PORT ;;
    chatdesk-nostore) start_gateway "$config_nostore"; pid=$GATEWAY_PID; port=$GATEWAY_PORT
      load_target=chatdesk ;;
    node) start_node_relay; pid=$NODE_PID; port=$NODE_PORT ;;
    echo) start_echo; pid=$ECHO_PID; port=$ECHO_PORT ;;
  esac
  [ "$load_target" = chatdesk ] && extra=(--redis-pid "$REDIS_PID")
  local rc=0 commands0 commands1
  commands0=$(redis_commands)
  run_load --target "$load_target" --port "$port" --pairs "$pairs" --seconds "$window" \
    --warmup "$warmup" --shop "$shops" --server-pid "$pid" "${extra[@]}" "$@" \
    >"$results/$name.json" 2>"$results/$name.log" || rc=$?
  if [ "$load_target" = chatdesk ]; then
    commands1=$(redis_commands)
    local writes
    writes=$(curl -sf "http://127.0.0.1:$port/metrics" |
      awk '$1 == "chatdesk_store_writes_total" { print $2 }')
    printf '{"redis_commands":%s,"store_writes":%s}\n' "$((commands1 - commands0))" \
      "${writes:-0}" >"$results/$name.store.json"
  fi
  stop_pid "$pid"
  if [ "$rc" != 0 ] || [ ! -s "$results/$name.json" ]; then
    bench_log "relay: $name failed (exit $rc): $(tail -3 "$results/$name.log")"
    return 1
  fi
  # The whole line goes to the log (run.sh keeps it): the lead reads more than the table shows.
  bench_log "relay: $name: $(cat "$results/$name.json")"
}

# The customer message rate (per second, all pairs) that makes FRACTION of a saturation rate in
# relayed messages: every customer message is answered, so relayed = 2 x customer messages.
customer_rate() {
  node -e 'const [a, b, f] = process.argv.slice(1);
    const sat = Math.max(...[a, b].map((p) => JSON.parse(require("fs").readFileSync(p)).msgs_per_s));
    console.log((sat * Number(f) / 2).toFixed(1));' "$1" "$2" "$3"
}

for target in chatdesk chatdesk-nostore node echo; do
  for k in 1 8; do measure "$target-inflight$k" "$target" --inflight "$k"; done
  [ "$target" = echo ] && continue
  for pct in 50 80; do
    rate=$(customer_rate "$results/$target-inflight1.json" "$results/$target-inflight8.json" "0.$pct")
    measure "$target-rate$pct" "$target" --rate "$rate"
  done
done

node "$BENCH_DIR/relay-figures.mjs" "$results" >>"$out"
