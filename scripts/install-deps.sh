#!/usr/bin/env bash
# Installs what chatdesk needs on Debian bookworm (apt-get; sudo when not root) and the browser
# test's npm packages. Does nothing that is already done, so it is cheap to call every time.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  libboost1.81-dev libboost-json1.81-dev libhiredis-dev prometheus-cpp-dev catch2
  libyaml-cpp-dev libhowardhinnant-date-dev tzdata libssl-dev
  redis-server prometheus prometheus-alertmanager
  nginx-light   # scripts/run.sh --nodes and the [nginx] tests: our own nginx (-p, -c), not the service
  chromium fonts-wqy-microhei nodejs npm
  clang libclang-rt-14-dev   # scripts/fuzz.sh: clang and its libFuzzer/sanitizer runtimes
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node and npm may come from elsewhere than Debian (e.g. a preinstalled toolchain); accept those.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  # Debian starts the system nginx (port 80, /etc/nginx) on install; chatdesk never uses it, it runs
  # nginx itself with a config of its own. Stop and disable the service this script just brought.
  if [[ " ${missing[*]} " == *" nginx-light "* ]]; then
    if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
      $sudo systemctl disable --now nginx
    elif [ -s /run/nginx.pid ] && command -v service >/dev/null; then
      $sudo service nginx stop || true
    fi
  fi
fi

# The browser test's driver (playwright-core drives Debian's /usr/bin/chromium; no browser download).
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  (cd tests/browser && npm ci --no-audit --no-fund)
fi

# The benchmarks' baseline relay (tools/bench/node-relay: the `ws` package).
if [ ! -d tools/bench/node-relay/node_modules/ws ]; then
  (cd tools/bench/node-relay && npm ci --no-audit --no-fund)
fi
