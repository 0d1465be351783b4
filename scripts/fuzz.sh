#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in build-fuzz and runs each
# for a while from a temporary copy of its seed corpus, so the repository is never written to.
# Crash, leak, timeout and out-of-memory inputs go to build-fuzz/findings/; the full output of each
# run to build-fuzz/logs/. Exits non-zero when any target found something.
# Usage: scripts/fuzz.sh [--seconds N] [TARGET...]   (N per target, default 60; TARGET: protocol,
# config, utf8; default all)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    -*) echo "usage: scripts/fuzz.sh [--seconds N] [protocol|config|utf8 ...]" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(protocol config utf8)

scripts/install-deps.sh
dir=build-fuzz
# -O1 -g: fast enough, readable sanitizer reports; Debug keeps assertions (Boost's too) on.
CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCHATDESK_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" >/dev/null
ninja -C "$dir" -j "${JOBS:-2}" "${targets[@]/%/_fuzz}"

findings_dir="$PWD/$dir/findings"
logs_dir="$PWD/$dir/logs"
mkdir -p "$findings_dir" "$logs_dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Sanitizer reports end the run (libFuzzer saves the input); leaks count as findings.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# A final-stats value from a libFuzzer log ("stat::number_of_executed_units: 123"), or "?".
stat() { awk -v key="stat::$1:" '$1 == key { v = $2 } END { print (v == "" ? "?" : v) }' "$2"; }

total_findings=0
for t in "${targets[@]}"; do
  bin="$dir/tests/fuzz/${t}_fuzz"
  corpus="$work/$t"
  cp -r "tests/fuzz/corpus/$t" "$corpus"
  # The shipped configuration is the most realistic seed and must not go stale as a copy.
  [ "$t" = config ] && cp config/chatdesk.yaml "$corpus/chatdesk.yaml"
  seeds=$(find "$corpus" -type f | wc -l)
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  log="$logs_dir/$t.log"
  stamp="$work/$t.stamp"
  touch "$stamp"
  status=0
  "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=5 -print_final_stats=1 \
    -artifact_prefix="$findings_dir/$t-" "${dict[@]}" "$corpus" >"$log" 2>&1 || status=$?
  new=$(find "$findings_dir" -maxdepth 1 -type f -name "$t-*" -newer "$stamp" | sort)
  execs=$(stat number_of_executed_units "$log")
  rate=$(stat average_exec_per_sec "$log")
  units=$(find "$corpus" -type f | wc -l)
  seed=$(sed -n 's/^INFO: Seed: \([0-9]*\).*/\1/p' "$log" | head -n 1)
  if [ "$status" -eq 0 ] && [ -z "$new" ]; then
    echo "fuzz: $t: $execs execs in ${seconds} s ($rate/s), corpus $seeds -> $units, seed $seed, no findings"
  else
    total_findings=$((total_findings + 1))
    echo "fuzz: $t: FINDING after $execs execs (exit $status, seed $seed); log $log"
    # The sanitizer's or the target's report, then what libFuzzer did with the input.
    grep -m 1 -A 40 -E '^==[0-9]+==ERROR|runtime error|^fuzz finding|ERROR: libFuzzer' "$log" || tail -n 40 "$log"
    for f in $new; do echo "fuzz: $t: reproduce with $bin $f"; done
  fi
done

echo "fuzz: ${#targets[@]} targets, ${total_findings} findings"
[ "$total_findings" -eq 0 ]
