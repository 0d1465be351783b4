#!/usr/bin/env bash
# Installs, builds and runs every test (unit, integration with real redis-server/prometheus tools,
# browser in headless Chromium). Usage: scripts/test.sh [--sanitize address,undefined|thread]
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=""
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize=$2; shift 2 ;;
    *) echo "usage: scripts/test.sh [--sanitize address,undefined|thread]" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh
labels=""
if [ -n "$sanitize" ]; then
  dir="build-${sanitize//,/-}"
  # -Og -g1: GCC's optimisation for debugging and line tables only. Measured on the heaviest
  # file (session_socket_test.cpp, ASan+UBSan, one core): 164 s at -O1 -g, 127 s at -O1 -g1,
  # 55 s at -Og -g1, 38 s at -O0 -g1. -Og rather than -O0 for the suites' run time; -g1 keeps
  # file:line in reports (docs/testing.md, "CI time"). The sanitizers watch
  # the C++ code, which the unit and integration suites exercise; browser and dashboard suites
  # add nothing there and run in the plain build.
  # Only what those suites run: the bench programs and fuzzers are not built here (CI time).
  BUILD_TARGETS="chatdesk_unit_tests chatdesk_bench_unit_tests chatdesk_integration_tests
    chatdesk-gateway chatdesk-simulator chatdesk-token" \
    CMAKE_BUILD_TYPE=Debug scripts/build.sh "$dir" -DCHATDESK_SANITIZE="$sanitize" -DCMAKE_CXX_FLAGS_DEBUG="-Og -g1"
  labels="unit|integration"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
else
  dir=build
  scripts/build.sh "$dir"
fi
mkdir -p "$dir/test-artifacts"
cd "$dir"
ctest --output-on-failure --timeout 600 -j "$(nproc)" ${labels:+-L "$labels"}
