#!/usr/bin/env bash
# Profiles chatdesk-gateway under the relay workload of scenario 1 (docs/benchmarks.md, "Profile").
# Not part of run.sh: it needs perf and/or valgrind and takes a few minutes.
#   perf       cpu-clock samples with call graphs (DWARF) of the gateway at saturation
#              (1000 pairs, 8 in flight): where the time goes, kernel included
#   syscalls   syscalls per relayed message (perf stat on syscall tracepoints); approximate: the
#              counting window and the message window are aligned only to curl's start-up
#   callgrind  instructions and calls per relayed message by function (user space only), under a
#              smaller load (valgrind runs the gateway ~50x slower); messages = calls of
#              Desk::Impl::append in the dump, so that window is exact
# For perf and syscalls the messages relayed in the window are read from the gateway's /metrics
# (chatdesk_messages_total, customer + agent) by the profiled command itself.
# Usage: tools/bench/profile-gateway.sh [--build-dir DIR] [perf] [syscalls] [callgrind]
# Output: <build-dir>/bench/profile/ (perf.data, perf-*.txt, syscalls.txt, callgrind.out.*,
# callgrind-*.txt) and a summary on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=build-bench
modes=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    perf|syscalls|callgrind) modes+=("$1"); shift ;;
    *) echo "usage: profile-gateway.sh [--build-dir DIR] [perf] [syscalls] [callgrind]" >&2; exit 2 ;;
  esac
done
[ ${#modes[@]} -gt 0 ] || modes=(perf syscalls callgrind)
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# shellcheck source=lib.sh
source tools/bench/lib.sh
bench_init
out="$BUILD_DIR/bench/profile"
mkdir -p "$out"
config="$BENCH_DIR/config/gateway.yaml"
shops=$(sed -n 's/^ *- *{* *id: *\([^,} ]*\).*/\1/p' "$config" | paste -sd, -)
start_redis

# Relayed messages so far (customer + agent) in a scrape of the gateway's /metrics.
relayed_in() {
  awk '/^chatdesk_messages_total\{/ { sum += $NF } END { printf "%.0f\n", sum }' "$1"
}

profile_saturated() {
  local mode=$1
  start_gateway "$config"
  run_load --target chatdesk --port "$GATEWAY_PORT" --pairs 1000 --inflight 8 --seconds 12 \
    --warmup 3 --shop "$shops" --server-pid "$GATEWAY_PID" >"$out/$mode-load.json" \
    2>"$out/$mode-load.log" &
  local load=$!
  sleep 6
  # The counters are read by the profiled command itself, so the message window lies inside the
  # profiling window (they differ by the start-up of curl).
  local window="curl -sf http://127.0.0.1:$GATEWAY_PORT/metrics >'$BENCH_TMP/m0'; sleep 4;
                curl -sf http://127.0.0.1:$GATEWAY_PORT/metrics >'$BENCH_TMP/m1'"
  if [ "$mode" = perf ]; then
    perf record -e cpu-clock -F 2000 --call-graph dwarf,16384 -p "$GATEWAY_PID" \
      -o "$out/perf.data" -- sh -c "$window" 2>"$out/perf-record.log"
  else
    perf stat -x, -e 'syscalls:sys_enter_sendmsg,syscalls:sys_enter_sendto,syscalls:sys_enter_recvmsg,syscalls:sys_enter_recvfrom,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_write,syscalls:sys_enter_read,syscalls:sys_enter_futex' \
      -p "$GATEWAY_PID" -o "$out/syscalls-raw.txt" -- sh -c "$window"
  fi
  local n=$(($(relayed_in "$BENCH_TMP/m1") - $(relayed_in "$BENCH_TMP/m0")))
  wait "$load" || true
  stop_pid "$GATEWAY_PID"
  echo "$mode: $n messages relayed in the profiled window ($(cat "$out/$mode-load.json"))" \
    >"$out/$mode-messages.txt"
  if [ "$mode" = perf ]; then
    perf report -i "$out/perf.data" --no-children --sort dso -g none --stdio 2>/dev/null |
      grep '%' >"$out/perf-dso.txt" || true
    perf report -i "$out/perf.data" --no-children --sort sym -g none --stdio 2>/dev/null |
      grep '%' | sed 's/  */ /g' | cut -c1-220 >"$out/perf-self.txt" || true
    perf report -i "$out/perf.data" --children --sort sym -g none --stdio 2>/dev/null |
      grep '%' | sed 's/  */ /g' | cut -c1-220 >"$out/perf-children.txt" || true
    {
      echo "perf: share of the gateway's CPU samples, $n messages relayed in the window"
      sed 's/^ */  /' "$out/perf-dso.txt" | head -8
      echo "  inclusive (children) and self shares of chosen functions:"
      local sym line
      for sym in 'entry_SYSCALL_64_after_hwframe' '__libc_sendmsg' '__libc_recvmsg' 'epoll_wait' \
        'Gateway::State::session_frame' 'parse_customer_frame' 'parse_agent_frame' \
        'frames::message' 'frames::ack' 'SlaEngine::customer_message' 'SlaEngine::agent_message' \
        'Gateway::State::send' 'utf8_checker::write(unsigned' 'HttpSession::on_read' \
        '_int_malloc' '_int_free'; do
        line=$(grep -F "$sym" "$out/perf-children.txt" | head -n1 | awk '{ print $1 " incl, " $2 " self" }')
        printf '  %-40s %s\n' "$sym" "${line:-not sampled}"
      done
    } | tee "$out/perf-summary.txt"
  else
    awk -F, -v n="$n" '$3 ~ /syscalls/ { sub("syscalls:sys_enter_", "", $3);
        printf "  %-12s %10d  %.3f per relayed message\n", $3, $1, $1 / n }' \
      "$out/syscalls-raw.txt" >"$out/syscalls.txt"
    echo "syscalls: $n messages relayed in the window"
    cat "$out/syscalls.txt"
  fi
}

profile_callgrind() {
  GATEWAY_PORT=$(free_port)
  local cfg="$BENCH_TMP/callgrind.yaml"
  sed -e "s/@PORT@/$GATEWAY_PORT/g" -e "s/@REDIS_PORT@/$REDIS_PORT/g" "$config" >"$cfg"
  rm -f "$out"/callgrind.out.*
  valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out.%p" \
    "$BUILD_DIR/gateway/chatdesk-gateway" --config "$cfg" >"$out/callgrind-gateway.log" 2>&1 &
  GATEWAY_PID=$!
  BENCH_PIDS+=("$GATEWAY_PID")
  wait_until 60 _http_ok "$GATEWAY_PORT"
  run_load --target chatdesk --port "$GATEWAY_PORT" --pairs 100 --inflight 1 --seconds 25 \
    --warmup 10 --shop "$shops" --setup-timeout 120 >"$out/callgrind-load.json" \
    2>"$out/callgrind-load.log" &
  local load=$!
  # After set-up and warm-up: count only the steady relay (no /metrics scrape in between).
  sleep 14
  callgrind_control -z "$GATEWAY_PID" >/dev/null
  sleep 15
  callgrind_control -d "$GATEWAY_PID" >/dev/null
  wait "$load" || true
  stop_pid "$GATEWAY_PID"
  local dump="$out/callgrind.out.$GATEWAY_PID.1"
  callgrind_annotate --threshold=100 --inclusive=yes "$dump" 2>/dev/null | cut -c1-240 \
    >"$out/callgrind-inclusive.txt" || true
  callgrind_annotate --threshold=100 "$dump" 2>/dev/null | cut -c1-240 \
    >"$out/callgrind-self.txt" || true
  node "$BENCH_DIR/callgrind-summary.mjs" "$dump" "$out/callgrind-inclusive.txt" \
    "$out/callgrind-self.txt" | tee "$out/callgrind-summary.txt"
}

for mode in "${modes[@]}"; do
  case "$mode" in
    perf | syscalls) profile_saturated "$mode" ;;
    callgrind) profile_callgrind ;;
  esac
done
