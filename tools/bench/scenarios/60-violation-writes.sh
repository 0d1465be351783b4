#!/usr/bin/env bash
# Scenario 6: the Redis violation writer (chatdesk-bench-writer, the real ViolationWriter with the
# gateway's default settings, against its own local redis-server):
#   - violations/s written (200k; --quick 50k), target >= 50k/s;
#   - catch-up after a 10 s Redis outage (--quick 2 s) while 5000 violations/s keep being submitted:
#     seconds from the restart (Redis answering again) until everything submitted before it is in
#     the stream, and the check that none was lost or duplicated (stream length and distinct ids
#     equal to the number submitted, nothing dropped).
#
# Usage: 60-violation-writes.sh --build-dir DIR --out FILE [--quick]
set -euo pipefail
# shellcheck source=tools/bench/engine/scenario-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../engine/scenario-common.sh"
eb_parse_args "$@"

scenario="6 violation writes"
writer="$(eb_bin chatdesk-bench-writer)"
args=(--mode both --rate 5000)
[ "$QUICK" = 1 ] && args+=(--quick)

status=0
line="$("$writer" "${args[@]}")" || status=$?
echo "writer: $line" >&2
[ -n "$line" ] || eb_die "chatdesk-bench-writer produced no result (exit $status)"

count=$(eb_json_num "$line" violations)
vps=$(eb_json_num "$line" violations_per_s)
outage=$(eb_json_num "$line" outage_seconds)
catch_up=$(eb_json_num "$line" catch_up_seconds)
first=$(eb_json_num "$line" until_first_write_seconds)
lost=$(eb_json_num "$line" lost)
stream=$(eb_json_num "$line" stream_length)
submitted=$(eb_json_num "$line" submitted)
label=$(awk -v s="$outage" 'BEGIN {printf "%.0fs", s}')
duplicates=$((stream - submitted + lost))

eb_result "$scenario" "violations_per_s@$count" "$vps" "violations/s" ">= 50000" higher
eb_result "$scenario" "catch_up_seconds@outage$label" "$catch_up" "s" "" lower
eb_result "$scenario" "reconnect_wait_seconds@outage$label" "$first" "s" "" lower
eb_result "$scenario" "lost@outage$label" "$lost" "violations" "== 0" lower
eb_result "$scenario" "duplicates@outage$label" "$duplicates" "violations" "== 0" lower
# A lost or duplicated violation is a missed target (reported above), not a crash of the scenario.
[ "$status" = 0 ] || [ "$status" = 1 ] || eb_die "chatdesk-bench-writer failed (exit $status)"
