#!/usr/bin/env bash
# Scenario 4: idle customer connections (docs/benchmarks.md). Opens 50k customer WebSockets
# (--quick: 5k) to a fresh gateway with chatdesk-bench-idle, from several 127.0.0.x source
# addresses, and reports the gateway's RSS per idle connection (VmRSS after minus before, divided by
# the connections), the client's own RSS per connection, and the time to connect them all.
#
# The customers never write, so no SLA clock starts (clocks start at a customer's first message,
# docs/sla.md): 50k queued customers cost memory and a place in the shop queue, but produce no
# violations and no Redis writes. The Redis writer stays on (a local redis-server), as in
# production. The shop has no agents, so nothing is routed.
#
# Usage: 40-idle.sh --build-dir DIR --out FILE [--quick]
set -euo pipefail
# shellcheck source=tools/bench/engine/scenario-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../engine/scenario-common.sh"
eb_parse_args "$@"

wanted=50000
[ "$QUICK" = 1 ] && wanted=5000
scenario="4 idle connections"

# Each connection is a descriptor in the gateway and one in the client: raise the limit (we run as
# root; without CAP_SYS_RESOURCE the hard limit cannot be raised, and then fewer connections are
# measured, with the count in the metric's name).
want=$((wanted + 4096))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want" ]; then
  ulimit -Hn "$want" 2>/dev/null || true
fi
hard="$(ulimit -Hn)"
[ "$hard" = unlimited ] && hard=$want
ulimit -Sn "$((hard < want ? hard : want))"
per_process=$((hard - 1024))  # the gateway also needs its listener, Redis and files
connections=$wanted
[ "$per_process" -ge 100 ] || eb_die "the descriptor limit ($hard) is too low for this scenario"
if [ "$connections" -gt "$per_process" ]; then
  connections=$((per_process >= 1000 ? per_process / 1000 * 1000 : per_process))
  echo "idle: the descriptor limit is $hard and cannot be raised here (no CAP_SYS_RESOURCE?):" \
    "measuring $connections connections instead of $wanted" >&2
fi

idle="$(eb_bin chatdesk-bench-idle)"
eb_start_redis
port="$(eb_free_port)"
eb_gateway_config "$EB_TMP/gateway.yaml" "$port" "$REDIS_PORT" \
  "{id: bench, name: Bench shop, timezone: UTC}"
eb_start_gateway "$EB_TMP/gateway.yaml" "$port"
sleep 0.5
before=$(eb_rss_kib "$GW_PID")

# One client process per (descriptor limit) connections, each from its own source addresses.
processes=$(((connections + per_process - 1) / per_process))
clients=()
for ((p = 0; p < processes; p++)); do
  n=$((connections / processes + (p < connections % processes ? 1 : 0)))
  "${EB_CLIENT_PIN[@]}" "$idle" --port "$port" --shop bench --connections "$n" \
    --inflight $((256 / processes + 1)) \
    --sources 3 --source-base $((2 + 3 * p)) >"$EB_TMP/idle.$p.out" 2>"$EB_TMP/idle.$p.err" &
  clients+=($!)
  EB_PIDS+=($!)
done
connected=0
seconds=0
for ((p = 0; p < processes; p++)); do
  eb_wait_lines "$EB_TMP/idle.$p.out" 1 300 "${clients[$p]}" ||
    eb_die "chatdesk-bench-idle did not finish connecting: $(tail -n 5 "$EB_TMP/idle.$p.err")"
  line="$(head -n 1 "$EB_TMP/idle.$p.out")"
  failed=$(eb_json_num "$line" failed)
  [ "$failed" = 0 ] || eb_die "$failed connections failed: $line $(head -n 5 "$EB_TMP/idle.$p.err")"
  connected=$((connected + $(eb_json_num "$line" connected)))
  # The clients start together: all are connected when the slowest is.
  seconds=$(awk -v a="$seconds" -v b="$(eb_json_num "$line" seconds)" 'BEGIN {print (b > a ? b : a)}')
done

# Let the gateway finish what the last handshakes started, then read both processes' RSS.
sleep 1
after=$(eb_rss_kib "$GW_PID")
client_rss=0
for c in "${clients[@]}"; do client_rss=$((client_rss + $(eb_rss_kib "$c"))); done
open=$(curl -fsS "http://127.0.0.1:$port/metrics" |
  sed -nE 's/^chatdesk_connections\{kind="customer"\} ([0-9.e+]+)$/\1/p')
[ "${open%.*}" = "$connected" ] ||
  eb_die "the gateway counts ${open:-?} customer connections, the client $connected"

per_conn=$(awk -v a="$after" -v b="$before" -v n="$connected" 'BEGIN {printf "%.2f", (a - b) / n}')
client_per_conn=$(awk -v a="$client_rss" -v n="$connected" 'BEGIN {printf "%.2f", a / n}')
rate=$(awk -v n="$connected" -v s="$seconds" 'BEGIN {printf "%.0f", n / s}')
echo "idle: $connected connections in ${seconds}s ($rate/s); gateway RSS $before -> $after KiB" \
  "($per_conn KiB each); client RSS $client_rss KiB ($client_per_conn KiB each)" >&2

eb_result "$scenario" "gateway_rss_per_connection@$connected" "$per_conn" "KiB" \
  "<= 4 KiB (stretch 2 KiB)" lower
eb_result "$scenario" "connect_all_seconds@$connected" "$seconds" "s" "" lower
eb_result "$scenario" "connects_per_s@$connected" "$rate" "conn/s" "" higher
eb_result "$scenario" "client_rss_per_connection@$connected" "$client_per_conn" "KiB" "" lower
