# shellcheck shell=bash
# shellcheck disable=SC2034  # BUILD_DIR, OUT, QUICK, REDIS_*, GW_* are for the sourcing script
# Shared by scenarios 40-idle, 50-engine, 55-deadline-lateness and 60-violation-writes (sourced,
# not run). Small, self-contained helpers; names start with eb_ so they cannot clash with
# tools/bench/lib.sh. Everything a scenario starts is recorded and stopped by eb_cleanup (trap).

EB_PIDS=()
EB_TMP=""
# As in tools/bench/lib.sh (scenario 1): the server on CPU $SERVER_CPU (0), the clients on CPU
# $LOAD_CPU (1), when taskset and two CPUs are there; else unpinned.
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
  EB_SERVER_PIN=(taskset -c "${SERVER_CPU:-0}")
  EB_CLIENT_PIN=(taskset -c "${LOAD_CPU:-1}")
else
  EB_SERVER_PIN=()
  EB_CLIENT_PIN=()
fi
BUILD_DIR=""
OUT=""
QUICK=0

eb_die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# --build-dir DIR --out FILE [--quick]
eb_parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --build-dir) BUILD_DIR="$2"; shift 2 ;;
      --out) OUT="$2"; shift 2 ;;
      --quick) QUICK=1; shift ;;
      *) eb_die "unknown argument '$1' (usage: $(basename "$0") --build-dir DIR --out FILE [--quick])" ;;
    esac
  done
  [ -n "$BUILD_DIR" ] || eb_die "--build-dir is required"
  [ -n "$OUT" ] || eb_die "--out is required"
  BUILD_DIR="$(cd "$BUILD_DIR" && pwd)" || eb_die "no build dir $BUILD_DIR"
  EB_TMP="$(mktemp -d "${TMPDIR:-/tmp}/chatdesk-bench-XXXXXX")"
  trap eb_cleanup EXIT
  trap 'exit 130' INT TERM
}

eb_cleanup() {
  local pid
  for pid in "${EB_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${EB_PIDS[@]}"; do
    # Up to 5 s each to exit on its own (the gateway flushes Redis), then SIGKILL.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  [ -n "$EB_TMP" ] && rm -rf "$EB_TMP"
}

# The path of a program built in BUILD_DIR.
eb_bin() {
  local found
  found="$(find "$BUILD_DIR" -type f -name "$1" -perm -u+x 2>/dev/null | head -n 1)"
  [ -n "$found" ] || eb_die "$1 not found under $BUILD_DIR (build it first)"
  echo "$found"
}

# A loopback TCP port nobody listens on right now, below the kernel's ephemeral range (32768 and
# up by default), where the scenarios' own client connections take their local ports.
eb_free_port() {
  local port
  for _ in $(seq 200); do
    port=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  eb_die "no free port found"
}

eb_rss_kib() {
  awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# Appends one result line: scenario metric value unit target better
eb_result() {
  printf '{"scenario":"%s","metric":"%s","value":%s,"unit":"%s","target":"%s","better":"%s"}\n' \
    "$1" "$2" "$3" "$4" "$5" "$6" >>"$OUT"
}

# The number under "key" in a one-line JSON object (keys are unique in our programs' output).
eb_json_num() {
  local v
  v="$(sed -nE "s/.*\"$2\":(-?[0-9.eE+]+).*/\\1/p" <<<"$1" | head -n 1)"
  [ -n "$v" ] || eb_die "no \"$2\" in: $1"
  echo "$v"
}

# Starts redis-server on a free port in EB_TMP/redis; sets REDIS_PORT and REDIS_PID. A port seen
# free can be taken before redis-server binds it (the scenarios hold thousands of loopback
# connections), so a failed start is tried again on another port.
eb_start_redis() {
  local dir="$EB_TMP/redis" attempt
  mkdir -p "$dir"
  for attempt in 1 2 3 4 5; do
    REDIS_PORT="$(eb_free_port)"
    # Persistence as in scripts/run.sh (append-only file), so Redis does the work it does in use.
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly yes --dir "$dir" \
      --logfile "$dir/redis.log" --daemonize no >/dev/null 2>&1 &
    REDIS_PID=$!
    EB_PIDS+=("$REDIS_PID")
    for _ in $(seq 100); do
      if [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; then return 0; fi
      kill -0 "$REDIS_PID" 2>/dev/null || break
      sleep 0.05
    done
    echo "redis-server did not start on port $REDIS_PORT (attempt $attempt)" >&2
    kill "$REDIS_PID" 2>/dev/null || true
  done
  eb_die "redis-server did not start (log: $(tail -n 5 "$dir/redis.log" 2>/dev/null))"
}

# Starts the gateway with CONFIG listening on PORT; sets GW_PID and GW_PORT once /healthz
# answers. Its stderr goes to EB_TMP/gateway.log.
eb_start_gateway() {
  local config="$1" gateway
  GW_PORT="$2"
  gateway="$(eb_bin chatdesk-gateway)"
  "${EB_SERVER_PIN[@]}" "$gateway" --config "$config" 2>"$EB_TMP/gateway.log" &
  GW_PID=$!
  EB_PIDS+=("$GW_PID")
  for _ in $(seq 200); do
    if curl -fsS "http://127.0.0.1:$GW_PORT/healthz" >/dev/null 2>&1; then return 0; fi
    kill -0 "$GW_PID" 2>/dev/null || break
    sleep 0.05
  done
  eb_die "gateway did not start: $(tail -n 5 "$EB_TMP/gateway.log")"
}

# Waits until FILE has at least N lines (a program's JSON output), for up to S seconds; also fails
# fast when PID has exited.
eb_wait_lines() {
  local file="$1" n="$2" seconds="$3" pid="$4"
  local deadline=$((SECONDS + seconds))
  lines() { if [ -f "$file" ]; then wc -l <"$file"; else echo 0; fi; }
  while [ "$(lines)" -lt "$n" ]; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      [ "$(lines)" -ge "$n" ] && return 0
      return 1
    fi
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

# eb_gateway_config FILE PORT REDIS_PORT SHOP...: a gateway config for the benches, with
# max_connections_per_ip, the message rate and the idle timeout out of the way (those limits are
# not what is measured), the Redis writer on, and the given shops (YAML flow mappings, one each).
eb_gateway_config() {
  local file="$1" port="$2" redis_port="$3"
  shift 3
  {
    echo "# Written by tools/bench/scenarios/$(basename "$0") (chatdesk benchmarks)."
    echo "listen: {address: 127.0.0.1, port: $port}"
    echo "redis: {url: \"redis://127.0.0.1:$redis_port\", violations_stream: \"bench:violations\", enabled: true}"
    echo "limits:"
    echo "  max_connections_per_ip: 1000000"
    echo "  message_rate: {per_second: 1000000, burst: 1000000}"
    echo "  idle_timeout: 3600s"
    echo "  handshake_timeout: 30s"
    echo "shops:"
    local shop
    for shop in "$@"; do echo "  - $shop"; done
  } >"$file"
}

# eb_hist_quantile BEFORE AFTER FAMILY Q: from two /metrics scrapes, the smallest bucket bound
# (le) of histogram FAMILY (one unlabelled series) holding at least fraction Q of the observations
# made between them; prints "<bound> <observations>" ("+Inf" when past the last bound).
eb_hist_quantile() {
  awk -v fam="$3" -v q="$4" '
    function le_of(line) { sub(/.*le="/, "", line); sub(/".*/, "", line); return line }
    FNR == 1 { file++ }
    index($0, fam "_bucket{") == 1 {
      le = le_of($0); v = $NF
      if (file == 1) before[le] = v; else { after[le] = v; order[n++] = le }
    }
    END {
      total = after["+Inf"] - before["+Inf"]
      if (total <= 0) { print "none 0"; exit }
      for (i = 0; i < n; i++) {
        le = order[i]
        if (after[le] - before[le] >= q * total) { print le, total; exit }
      }
      print "+Inf", total
    }' "$1" "$2"
}

# eb_counter_sum BEFORE AFTER PATTERN: the increase, between two scrapes, of the sum of every
# sample whose line starts with PATTERN (an awk regex, e.g. 'chatdesk_sla_violations_total\{shop="x"').
eb_counter_sum() {
  awk -v pat="^$3" '
    FNR == 1 { file++ }
    $0 ~ pat { if (file == 1) b += $NF; else a += $NF }
    END { printf "%.0f\n", a - b }' "$1" "$2"
}
