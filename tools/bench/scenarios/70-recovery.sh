#!/usr/bin/env bash
# Scenario 7: the durable desk's recovery at start (docs/storage.md, "Recovery"): a redis-server
# (AOF on) holding 10,000 open conversations of 20 messages each (--quick: 1,000), spelt as the
# gateway's store writes them; the time of the gateway's own load_desk() + Desk::restore() (SLA
# clocks included), target < 2 s for 10,000.
#
# Usage: 70-recovery.sh --build-dir DIR --out FILE [--quick]
set -euo pipefail
# shellcheck source=tools/bench/engine/scenario-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../engine/scenario-common.sh"
eb_parse_args "$@"

scenario="7 recovery"
bench="$(eb_bin chatdesk-bench-recovery)"
n=10000
[ "$QUICK" = 1 ] && n=1000
line="$("$bench" --conversations "$n" --messages 20)" || eb_die "chatdesk-bench-recovery failed"
echo "recovery: $line" >&2
target=""
[ "$n" = 10000 ] && target="< 2000"
eb_result "$scenario" "recovery_ms@${n}x20" "$(eb_json_num "$line" total_ms)" "ms" "$target" lower
eb_result "$scenario" "load_ms@${n}x20" "$(eb_json_num "$line" load_ms)" "ms" "" lower
eb_result "$scenario" "restore_ms@${n}x20" "$(eb_json_num "$line" restore_ms)" "ms" "" lower
eb_result "$scenario" "max_rss_kib@${n}x20" "$(eb_json_num "$line" max_rss_kib)" "KiB" "" lower
