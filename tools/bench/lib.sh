# shellcheck shell=bash
# Helpers for tools/bench/run.sh and the scenario scripts (tools/bench/scenarios/*.sh). Source it;
# it defines functions and variables only. Every process started here is remembered and stopped by
# stop_all (call it from an EXIT trap), and is also killed by a watchdog if the script that
# started it dies without cleaning up.
#
#   bench_init                 temp dir ($BENCH_TMP) and `trap stop_all EXIT`
#   free_port                  prints a free loopback TCP port
#   start_redis                redis-server on a free port: REDIS_PORT, REDIS_PID
#   start_gateway CONFIG [NAME]  chatdesk-gateway on CPU $SERVER_CPU: GATEWAY_PORT, GATEWAY_PID;
#                              (each start_* tries another port if the first was taken)
#                              CONFIG may hold @PORT@ and @REDIS_PORT@ (filled in here); its
#                              config and log are $BENCH_TMP/NAME.yaml and NAME.log (gateway)
#   start_node_relay           the Node ws baseline on CPU $SERVER_CPU: NODE_PORT, NODE_PID
#   start_echo                 the raw TCP echo server on CPU $SERVER_CPU: ECHO_PORT, ECHO_PID
#   stop_pid PID               SIGTERM, then SIGKILL after 10 s
#   stop_all                   stops every process started here, newest first
#   server_cpu_seconds PID     utime + stime of PID from /proc/PID/stat, in seconds
#   rss_kib PID                resident memory of PID in KiB
#   run_load ARGS...           chatdesk-bench-load on CPU $LOAD_CPU; its JSON line on stdout
#   emit FILE SCENARIO METRIC VALUE UNIT [TARGET] [BETTER]   appends one result line
#
# Needs BUILD_DIR (the CMake build directory holding the programs).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/../.." && pwd)
BENCH_PIDS=()

# The server under test on CPU 0 and the load generator on CPU 1, so that they do not take turns
# on one core; without two CPUs or taskset everything runs unpinned.
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
  SERVER_CPU=${SERVER_CPU:-0}
  LOAD_CPU=${LOAD_CPU:-1}
  SERVER_PIN=(taskset -c "$SERVER_CPU")
  LOAD_PIN=(taskset -c "$LOAD_CPU")
  BENCH_PINNING="server on CPU $SERVER_CPU, load generator on CPU $LOAD_CPU (taskset)"
else
  SERVER_PIN=()
  LOAD_PIN=()
  BENCH_PINNING="not pinned (needs taskset and 2 CPUs)"
fi

bench_log() { echo "bench: $*" >&2; }

bench_init() {
  BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/chatdesk-bench.XXXXXX")
  trap 'stop_all; rm -rf "$BENCH_TMP"' EXIT
  trap 'exit 130' INT TERM
}

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
             console.log(s.address().port); s.close(); });'
}

# Kills PID when the shell that sourced this file ends without stopping it.
_watch() {
  local pid=$1 parent=$$
  (
    trap '' INT TERM
    while kill -0 "$parent" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 1; done
    kill -KILL "$pid" 2>/dev/null
  ) >/dev/null 2>&1 &
  disown $! 2>/dev/null || true
}

_remember() {
  BENCH_PIDS+=("$1")
  _watch "$1"
}

# wait_until SECONDS COMMAND...: polls COMMAND every 50 ms.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.05
  done
}

_http_ok() { curl -sf -m 2 "http://127.0.0.1:$1/healthz"; }
_tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# _start_server NAME CHECK LOG COMMAND...: starts COMMAND (its words may hold @PORT@) on a free
# port and waits until `CHECK PORT` succeeds; sets SERVER_PORT and SERVER_PID. free_port cannot
# reserve the port it found, so another process may take it first: then it tries another one.
_start_server() {
  local name=$1 check=$2 log=$3 attempt word
  shift 3
  for attempt in 1 2 3; do
    SERVER_PORT=$(free_port)
    local cmd=()
    for word in "$@"; do cmd+=("${word//@PORT@/$SERVER_PORT}"); done
    "${cmd[@]}" >"$log" 2>&1 &
    SERVER_PID=$!
    _remember "$SERVER_PID"
    local deadline=$((SECONDS + 20))
    while kill -0 "$SERVER_PID" 2>/dev/null && ! "$check" "$SERVER_PORT" >/dev/null 2>&1; do
      [ "$SECONDS" -ge "$deadline" ] && break
      sleep 0.05
    done
    # Answering is not enough: the port must be this process's (not a squatter's).
    "$check" "$SERVER_PORT" >/dev/null 2>&1 && _listens "$SERVER_PID" "$SERVER_PORT" && return 0
    bench_log "$name did not start on port $SERVER_PORT (attempt $attempt): $(tail -3 "$log")"
    stop_pid "$SERVER_PID"
  done
  return 1
}

_redis_ok() { timeout 2 redis-cli -h 127.0.0.1 -p "$1" ping; }

# _listens PID PORT: PID holds the socket listening on 127.0.0.1:PORT (from /proc/net/tcp).
_listens() {
  local pid=$1 hex inode
  hex=$(printf '%04X' "$2")
  inode=$(awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" { print $10; exit }' /proc/net/tcp)
  [ -n "$inode" ] && ls -l "/proc/$pid/fd" 2>/dev/null | grep -q "socket:\[$inode\]"
}

start_redis() {
  local dir="$BENCH_TMP/redis"
  mkdir -p "$dir"
  # Persistence as in scripts/run.sh (append-only file), so Redis does the work it does in use.
  _start_server redis-server _redis_ok "$dir/redis.log" \
    redis-server --bind 127.0.0.1 --port @PORT@ --dir "$dir" --appendonly yes --save "" \
    --daemonize no || return 1
  REDIS_PORT=$SERVER_PORT
  REDIS_PID=$SERVER_PID
}

# Commands Redis has processed since it started (INFO stats).
redis_commands() {
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" info stats |
    awk -F: '/^total_commands_processed:/ { gsub(/\r/, "", $2); print $2 }'
}

start_gateway() {
  local template=$1 name=${2:-gateway}
  local config="$BENCH_TMP/$name.yaml"
  # The config names the port, so it is written for each attempt by a small wrapper.
  sed -e "s/@REDIS_PORT@/${REDIS_PORT:-6379}/g" "$template" >"$config.template"
  _start_server chatdesk-gateway _http_ok "$BENCH_TMP/$name.log" \
    "$BENCH_DIR/lib-start-gateway.sh" "$config.template" @PORT@ "$config" \
    "${SERVER_PIN[@]}" "$BUILD_DIR/gateway/chatdesk-gateway" || return 1
  GATEWAY_PORT=$SERVER_PORT
  GATEWAY_PID=$SERVER_PID
}

start_node_relay() {
  if [ ! -d "$BENCH_DIR/node-relay/node_modules/ws" ]; then
    bench_log "tools/bench/node-relay/node_modules is missing: run scripts/install-deps.sh"
    return 1
  fi
  _start_server "node relay" _http_ok "$BENCH_TMP/node.log" \
    "${SERVER_PIN[@]}" node "$BENCH_DIR/node-relay/relay.mjs" --port @PORT@ || return 1
  NODE_PORT=$SERVER_PORT
  NODE_PID=$SERVER_PID
}

start_echo() {
  _start_server "echo server" _tcp_open "$BENCH_TMP/echo.log" \
    "${SERVER_PIN[@]}" "$BUILD_DIR/tools/bench/chatdesk-bench-echo" --port @PORT@ || return 1
  ECHO_PORT=$SERVER_PORT
  ECHO_PID=$SERVER_PID
}

stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_all() {
  local i
  for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${BENCH_PIDS[$i]}"; done
  BENCH_PIDS=()
}

server_cpu_seconds() {
  local tck
  tck=$(getconf CLK_TCK)
  # Fields after the command name's closing parenthesis: utime and stime are fields 14 and 15.
  sed 's/.*) //' "/proc/$1/stat" | awk -v tck="$tck" '{ printf "%.3f\n", ($12 + $13) / tck }'
}

rss_kib() {
  awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

run_load() {
  "${LOAD_PIN[@]}" "$BUILD_DIR/tools/bench/chatdesk-bench-load" "$@"
}

# emit FILE SCENARIO METRIC VALUE UNIT [TARGET] [BETTER]
emit() {
  local file=$1 scenario=$2 metric=$3 value=$4 unit=$5 target=${6:-} better=${7:-}
  local line
  line=$(printf '{"scenario":"%s","metric":"%s","value":%s,"unit":"%s"' \
    "$scenario" "$metric" "$value" "$unit")
  [ -n "$target" ] && line+=$(printf ',"target":"%s"' "$target")
  [ -n "$better" ] && line+=$(printf ',"better":"%s"' "$better")
  echo "$line}" >>"$file"
}
