#!/usr/bin/env bash
# The benchmark suite, one command (docs/benchmarks.md). Builds chatdesk in Release (build-bench/),
# runs every executable tools/bench/scenarios/*.sh in name order, --repeat times (3; 1 with
# --quick), and prints one table: scenario | metric | median | min–max | runs | target | met?
# Raw result lines go to <build-dir>/bench/results.jsonl, the table to <build-dir>/bench/table.md,
# each scenario run's log to <build-dir>/bench/<scenario>-<rep>.log.
#
# Usage: tools/bench/run.sh [--quick] [--repeat N] [--build-dir DIR] [--only GLOB]
#   --quick        every scenario briefly (what CI runs: ctest -L bench)
#   --build-dir    use this existing build instead of configuring and building build-bench/
#   --only GLOB    only the scenario scripts whose file name matches GLOB (e.g. '10-*')
# Exit 0 when every scenario ran and produced its figures; a missed target is reported, not a
# failure; a scenario that crashed, timed out or produced no figure is.
set -euo pipefail
cd "$(dirname "$0")/../.."

quick=0
repeat=""
build_dir=""
only="*"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --repeat) repeat=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: tools/bench/run.sh [--quick] [--repeat N] [--build-dir DIR] [--only GLOB]" >&2
       exit 2 ;;
  esac
done
if [ -z "$repeat" ]; then
  repeat=3
  [ "$quick" = 1 ] && repeat=1
fi
case "$repeat" in ''|*[!0-9]*|0) echo "run.sh: --repeat needs a positive integer" >&2; exit 2 ;; esac

if [ -z "$build_dir" ]; then
  build_dir=build-bench
  scripts/install-deps.sh
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
  # The gateway and every bench program (tools/bench and below).
  ninja -C "$build_dir" -j "${JOBS:-$(nproc)}" gateway/all tools/bench/all
fi
build_dir=$(cd "$build_dir" && pwd)
for bin in gateway/chatdesk-gateway tools/bench/chatdesk-bench-load tools/bench/chatdesk-bench-echo; do
  [ -x "$build_dir/$bin" ] || { echo "run.sh: $build_dir/$bin is missing: build first" >&2; exit 1; }
done

# 1000 pairs are 2000+ sockets in one process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# shellcheck source=lib.sh
source tools/bench/lib.sh
out_dir="$build_dir/bench"
mkdir -p "$out_dir"
results="$out_dir/results.jsonl"
: >"$results"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/chatdesk-bench-run.XXXXXX")
current=""
cleanup() {
  [ -n "$current" ] && kill -TERM "$current" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
titles=(
  "chatdesk benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')$([ "$quick" = 1 ] && echo ' (--quick: short runs, few pairs; not for comparison)')"
  "machine: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n1), Linux $(uname -r); $("$compiler" --version | head -n1); build $build_type ($build_dir)"
  "pinning: $BENCH_PINNING; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  "repetitions: $repeat; median and min–max over them; ratios are computed within each repetition"
)
printf '%s\n' "${titles[@]}" >&2

mapfile -t scripts < <(find tools/bench/scenarios -maxdepth 1 -name '*.sh' -name "$only" -perm -u+x | sort)
[ ${#scripts[@]} -gt 0 ] || { echo "run.sh: no scenario matches '$only'" >&2; exit 1; }
limit=900
[ "$quick" = 1 ] && limit=240
failures=()
start=$SECONDS
for rep in $(seq "$repeat"); do
  for script in "${scripts[@]}"; do
    name=$(basename "$script" .sh)
    log="$out_dir/$name-$rep.log"
    part="$tmp/$name-$rep.jsonl"
    echo "bench: [$rep/$repeat] $name ..." >&2
    args=(--build-dir "$build_dir" --out "$part")
    [ "$quick" = 1 ] && args+=(--quick)
    t0=$SECONDS
    set +e
    timeout --kill-after=15 "$limit" "$script" "${args[@]}" > >(tee "$log" >&2) 2>&1 &
    current=$!
    wait "$current"
    rc=$?
    current=""
    set -e
    if [ "$rc" != 0 ]; then
      [ "$rc" = 124 ] && echo "bench: $name timed out after $limit s" >&2
      failures+=("$name (repetition $rep): exit $rc, log $log")
    fi
    if ! node tools/bench/report.mjs append "$part" "$results" --rep "$rep" --script "$name"; then
      [ "$rc" = 0 ] && failures+=("$name (repetition $rep): no figure, log $log")
    fi
    echo "bench: [$rep/$repeat] $name done in $((SECONDS - t0)) s (exit $rc)" >&2
  done
done
titles+=("suite time: $((SECONDS - start)) s; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)")

table_args=()
for t in "${titles[@]}"; do table_args+=(--title "$t"); done
node tools/bench/report.mjs table "$results" "${table_args[@]}" | tee "$out_dir/table.md"
echo "raw results: $results"
if [ ${#failures[@]} -gt 0 ]; then
  echo "bench: FAILED:" >&2
  printf '  %s\n' "${failures[@]}" >&2
  exit 1
fi
