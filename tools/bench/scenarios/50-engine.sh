#!/usr/bin/env bash
# Scenario 5 (throughput): desk events per second through the pure SLA engine on one thread, with
# about 100k open conversations in a realistic mix (chatdesk-bench-engine: customer and agent
# messages, typing, assignment, transfers, closes, and the deadline timer's advance() calls, with
# greeting, reply-wait, missed, language and courtesy violations firing). The primary figure is per
# second of the thread's CPU time (the machine is shared, wall time is also reported).
#
# Usage: 50-engine.sh --build-dir DIR --out FILE [--quick]
set -euo pipefail
# shellcheck source=tools/bench/engine/scenario-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../engine/scenario-common.sh"
eb_parse_args "$@"

scenario="5 sla engine"
engine="$(eb_bin chatdesk-bench-engine)"
args=(--conversations 100000)
[ "$QUICK" = 1 ] && args+=(--quick)

line="$("${EB_SERVER_PIN[@]}" "$engine" "${args[@]}")" || eb_die "chatdesk-bench-engine failed"
echo "engine: $line" >&2
eps=$(eb_json_num "$line" events_per_s)
eps_wall=$(eb_json_num "$line" events_per_s_wall)
open=$(eb_json_num "$line" open_conversations_min)
violations=$(eb_json_num "$line" violations)
[ "${violations%.*}" -gt 0 ] || eb_die "no violation fired: the workload is not exercising deadlines"

eb_result "$scenario" "events_per_s_cpu@100k_open" "$eps" "events/s" ">= 5000000" higher
eb_result "$scenario" "events_per_s_wall@100k_open" "$eps_wall" "events/s" "" higher
echo "engine: at least $open conversations open throughout" >&2
