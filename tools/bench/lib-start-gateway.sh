#!/usr/bin/env bash
# Used by lib.sh's start_gateway: writes CONFIG from TEMPLATE with @PORT@ set to PORT, then
# becomes COMMAND... --config CONFIG (exec: the gateway keeps this process's id, so its CPU time
# and RSS are read from the id lib.sh knows). Usage: lib-start-gateway.sh TEMPLATE PORT CONFIG COMMAND...
set -euo pipefail
template=$1 port=$2 config=$3
shift 3
sed -e "s/@PORT@/$port/g" "$template" >"$config"
exec "$@" --config "$config"
