#!/usr/bin/env bash
# Scenario 1c: the relay of scenario 1 on 1, 2 and 3 gateway nodes sharing one desk through one
# Redis (docs/scaling.md): messages/s, gateway CPU per relayed message summed over the nodes,
# Redis CPU and commands per relayed message, p50/p99 customer -> agent, and the cost of the hop
# between nodes (the 2- and 3-node figures less the 1-node ones).
#
# One local redis-server with AOF (as scenario 1) serves the whole repetition; for N in 1 2 3
# Redis is flushed, N gateways are started from tools/bench/config/gateway.yaml plus
# `scale: {enabled: true, lease_ttl: 1s}` (N = 1 too: the 1-node figure includes the lease and
# inbox machinery, so the difference is the hop alone), each on its own port and with its own log;
# once every node answers /healthz and every shop's lease has stayed with the same node for a
# lease_ttl (shops settle on their rendezvous home about one ttl after the last node is up), one
# closed-loop run at 8 messages in flight per pair: 1000 pairs, 1 s warm-up, 5 s measured
# (--quick: 200 pairs, 0.5 s + 1.5 s). Customers connect round-robin over the nodes and the agent
# of pair i to the node after its customer's (chatdesk-bench-load --port P1,P2,...); the pairs
# are spread over 18 of the 20 shops, a number that 2 and 3 divide, so that all customers of a
# shop are on one node and all its agents on another: with N >= 2 every message crosses nodes
# (customer's edge -> the shop's home -> the agent's edge, the home being one of the two or, with
# 3 nodes, a third), and the load generator counts the pairs that really are on two nodes
# (cross_node_share, target == 1).
#
# CORES: this machine has 2. Every node is pinned to the server CPU (as scenario 1 pins its one
# gateway: $SERVER_CPU, CPU 0), the load generator to $LOAD_CPU (CPU 1), Redis unpinned: with 3
# nodes + Redis + the load generator on 2 cores the nodes SHARE one core, so messages/s does not
# show scaling of throughput (more nodes cannot be faster here); the figures show the cost per
# message of running as N nodes, and the hop's cost.
#
# Each node's log is kept under the bench tmp dir while it runs and copied, with the load
# generator's output, to <build-dir>/bench/15-scale-logs/ (the last repetition's); lines of the
# logs that name an error are printed.
#
# Usage: 15-scale.sh --build-dir DIR --out FILE [--quick]
set -euo pipefail

quick=0
BUILD_DIR=""
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    *) echo "usage: 15-scale.sh --build-dir DIR --out FILE [--quick]" >&2; exit 2 ;;
  esac
done
if [ -z "$BUILD_DIR" ] || [ -z "$out" ]; then
  echo "15-scale.sh: --build-dir and --out are required" >&2
  exit 2
fi
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
inflight=8
read -r -a node_counts <<<"${BENCH_SCALE_NODES:-1 2 3}"
lease_ttl_s=1
config="$BENCH_DIR/config/gateway.yaml"
mapfile -t all_shops < <(sed -n 's/^ *- *{* *id: *\([^,} ]*\).*/\1/p' "$config")
# 18 shops: a multiple of every node count (see the header), the same for every N.
[ "${#all_shops[@]}" -ge 18 ] || { bench_log "scale: $config has fewer than 18 shops"; exit 1; }
load_shops=("${all_shops[@]:0:18}")
shops_arg=$(IFS=,; echo "${load_shops[*]}")
results="$BENCH_TMP/results"
keep="$BUILD_DIR/bench/15-scale-logs"
mkdir -p "$results"
rm -rf "$keep"
mkdir -p "$keep"
bench_log "scale: $pairs pairs over ${#load_shops[@]} shops, $inflight in flight," \
  "${warmup}s warm-up + ${window}s measured, nodes ${node_counts[*]}," \
  "lease_ttl ${lease_ttl_s}s; $BENCH_PINNING" \
  "(every node on the server CPU: the nodes share one core)"
bench_log "scale: node logs in $BENCH_TMP/nN-nodeK.log while running, kept in $keep"

start_redis

rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

# Every shop's lease value ("<node>:<epoch>", "-" when free), one per line, in config order.
leases() {
  local keys=() shop
  for shop in "${all_shops[@]}"; do keys+=("chatdesk:{shop:$shop}:lease"); done
  rcli --no-raw mget "${keys[@]}" | sed -e 's/^ *[0-9]*) //' -e 's/^"//' -e 's/"$//' \
    -e 's/^(nil)$/-/'
}

# Waits until every shop has a home and none has moved for a whole lease_ttl (after 2 ttl: the
# first node up takes every shop and hands each over once its preferred node has lived a ttl).
wait_settled() {
  local deadline=$((SECONDS + 30)) before after
  sleep $((2 * lease_ttl_s))
  before=$(leases)
  while :; do
    sleep "$lease_ttl_s"
    after=$(leases)
    if [ "$after" = "$before" ] && ! grep -qx -- - <<<"$after"; then
      SETTLED=$after
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      bench_log "scale: shops did not settle within 30 s: $(tr '\n' ' ' <<<"$after")"
      return 1
    fi
    before=$after
  done
}

# Calls per command since Redis started (INFO commandstats), as "name calls" lines.
command_calls() {
  rcli info commandstats | tr -d '\r' |
    sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),.*/\1 \2/p'
}

# One N: fresh desk, N fresh nodes, settle, one load run; results in $results/nN.*.
measure() {
  local n=$1 k pids=() ports=() node_ids=() cfg name
  rcli flushall >/dev/null
  cfg="$BENCH_TMP/scale-n$n.yaml"
  { cat "$config"; echo "scale: {enabled: true, lease_ttl: ${lease_ttl_s}s}"; } >"$cfg"
  for k in $(seq "$n"); do
    name="n$n-node$k"
    start_gateway "$cfg" "$name" || { bench_log "scale: node $k of $n did not start"; return 1; }
    pids+=("$GATEWAY_PID")
    ports+=("$GATEWAY_PORT")
  done
  for k in $(seq "$n"); do
    node_ids+=("$(sed -n 's/.*scale: this is node \([0-9]*\).*/\1/p' "$BENCH_TMP/n$n-node$k.log" |
      head -n1)")
  done
  wait_settled || return 1
  local homes
  homes=$(cut -d: -f1 <<<"$SETTLED" | sort | uniq -c |
    awk '{ printf "%snode %s: %s shops", sep, $2, $1; sep = ", " }')
  bench_log "scale: $n node(s), ids ${node_ids[*]} on ports ${ports[*]} (pids ${pids[*]});" \
    "homes: $homes"

  # What the lease and inbox machinery asks of Redis with no traffic (this INFO call included).
  local idle0 idle1
  idle0=$(redis_commands)
  sleep 1
  idle1=$(redis_commands)

  local rc=0 commands0 commands1 calls0 calls1
  commands0=$(redis_commands)
  calls0=$(command_calls)
  run_load --target chatdesk --port "$(IFS=,; echo "${ports[*]}")" --pairs "$pairs" \
    --inflight "$inflight" --seconds "$window" --warmup "$warmup" --shop "$shops_arg" \
    --server-pid "$(IFS=,; echo "${pids[*]}")" --redis-pid "$REDIS_PID" \
    >"$results/n$n.json" 2>"$results/n$n.log" || rc=$?
  commands1=$(redis_commands)
  calls1=$(command_calls)
  local after moved=0 writes=0 w
  after=$(leases)
  [ "$after" = "$SETTLED" ] || moved=1
  for k in $(seq "$n"); do
    w=$(curl -sf "http://127.0.0.1:${ports[$((k - 1))]}/metrics" |
      awk '$1 == "chatdesk_store_writes_total" { print $2 }')
    writes=$(awk -v a="$writes" -v b="${w:-0}" 'BEGIN { printf "%.0f", a + b }')
  done
  local by_command
  by_command=$(LC_ALL=C join -a 2 -e 0 -o 0,1.2,2.2 <(LC_ALL=C sort <<<"$calls0") \
    <(LC_ALL=C sort <<<"$calls1") |
    awk '$3 - $2 > 0 { printf "%s\"%s\":%d", sep, $1, $3 - $2; sep = "," }')
  {
    printf '{"redis_commands":%s,"idle_commands_per_s":%s,' \
      "$((commands1 - commands0))" "$((idle1 - idle0 - 1))"
    printf '"store_writes":%s,"homes_moved":%s,"by_command":{%s}}\n' "$writes" "$moved" \
      "$by_command"
  } >"$results/n$n.redis.json"

  # Stop every node at once (each hands its shops over on a clean stop), then wait for each.
  for k in "${pids[@]}"; do kill -TERM "$k" 2>/dev/null || true; done
  for k in "${pids[@]}"; do stop_pid "$k"; done
  for k in $(seq "$n"); do
    name="n$n-node$k"
    cp "$BENCH_TMP/$name.log" "$keep/$name.log"
    local errors
    errors=$(grep -i -c -E 'error|fail|refus|unreachable|gap' "$BENCH_TMP/$name.log" || true)
    if [ "$errors" -gt 0 ]; then
      bench_log "scale: $name: $errors log line(s) naming an error ($keep/$name.log), first:"
      grep -i -E 'error|fail|refus|unreachable|gap' "$BENCH_TMP/$name.log" | head -n 5 |
        sed 's/^/    /' >&2
    fi
  done
  cp "$results/n$n.json" "$results/n$n.log" "$results/n$n.redis.json" "$keep/" 2>/dev/null || true
  [ "$moved" = 0 ] || bench_log "scale: a shop moved during the run: $(tr '\n' ' ' <<<"$after")"
  if [ "$rc" != 0 ] || [ ! -s "$results/n$n.json" ]; then
    bench_log "scale: $n node(s) failed (exit $rc): $(tail -3 "$results/n$n.log")"
    return 1
  fi
  # The whole lines go to the log (run.sh keeps it).
  bench_log "scale: $n node(s): $(cat "$results/n$n.json")"
  bench_log "scale: $n node(s): redis: $(cat "$results/n$n.redis.json")"
}

for n in "${node_counts[@]}"; do measure "$n"; done

node "$BENCH_DIR/scale-figures.mjs" "$results" "${node_counts[@]}" >>"$out"
