#!/usr/bin/env bash
# Configures and builds chatdesk. Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
# BUILD_TARGETS (space-separated) builds only those targets instead of everything.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
# shellcheck disable=SC2086 # word splitting of the target list is intended
ninja -C "$dir" -j "${JOBS:-$(nproc)}" ${BUILD_TARGETS:-}
