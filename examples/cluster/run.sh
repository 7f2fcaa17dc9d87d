#!/usr/bin/env bash
# Three scgate nodes on one machine, one redis-server, a socketcluster-client on each node:
# every client subscribes to `chat` and publishes one line; each prints the three lines it
# receives, whichever node they were published on. Exits 0 when every client saw all three.
#
#   examples/cluster/run.sh            (builds target/debug/scgate if SCGATE_BIN is not set)
#
# Needs redis-server and node/npm (scripts/test.sh installs both). Ports: redis 6390, nodes
# 8001-8003 (override with REDIS_PORT / BASE_PORT).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

REDIS_PORT="${REDIS_PORT:-6390}"
BASE_PORT="${BASE_PORT:-8000}"
if [[ -z "${SCGATE_BIN:-}" ]]; then
  cargo build --quiet --bin scgate
  SCGATE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/scgate"
fi
# The clients use the socketcluster-client of the compat suite.
if [[ ! -d tests/compat/node_modules ]]; then (cd tests/compat && npm ci --no-audit --no-fund); fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "${empty:-}"
}
trap cleanup EXIT

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
pids+=($!)
until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.1; done
echo "redis-server on port $REDIS_PORT"

empty="$(mktemp -d)"
ports=()
for i in 1 2 3; do
  port=$((BASE_PORT + i))
  "$SCGATE_BIN" serve --host 127.0.0.1 --port "$port" --admin-port 0 --workers 2 --plugins-dir "$empty" \
    --public-dir "$empty" --broker "redis://127.0.0.1:$REDIS_PORT" \
    > "$empty/node$i.log" 2>&1 &
  pids+=($!)
  ports+=("$port")
done
for i in 1 2 3; do
  until grep -q "scgate READY" "$empty/node$i.log"; do sleep 0.1; done
  echo "node $i: $(grep 'scgate READY' "$empty/node$i.log")"
done

node examples/cluster/clients.js "${ports[@]}"
