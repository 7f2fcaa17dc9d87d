#!/usr/bin/env bash
# Runs the real-client compatibility suite (socketcluster-client 14.3.2 and 20.0.2, plus raw
# `ws` probes) against a server binary that the caller has already built.
#
#   SCGATE_BIN   server binary, relative to the current directory (default: this folder's
#                ../../target/release/examples/embedded, i.e. the
#                `embedded` example from `cargo build --release --example embedded`)
#   extra args   passed to `node --test`, e.g. ./run.sh --test-name-pattern=heartbeat
#                or ./run.sh test/rpc.test.js (default: every file in test/)
#
# Server logs go to logs/ (override with SCGATE_COMPAT_LOG_DIR).
set -euo pipefail
# A relative SCGATE_BIN is taken relative to the caller's directory; the default, to this folder.
if [[ -n "${SCGATE_BIN:-}" && "$SCGATE_BIN" != /* ]]; then SCGATE_BIN="$PWD/$SCGATE_BIN"; fi
cd "$(dirname "${BASH_SOURCE[0]}")"

SCGATE_BIN="${SCGATE_BIN:-../../target/release/examples/embedded}"
if [[ ! -x "$SCGATE_BIN" ]]; then
  echo "run.sh: server binary not found or not executable: $SCGATE_BIN" >&2
  echo "run.sh: build it first (cargo build --release --example embedded) or set SCGATE_BIN" >&2
  exit 1
fi
SCGATE_BIN="$(cd "$(dirname "$SCGATE_BIN")" && pwd)/$(basename "$SCGATE_BIN")"
export SCGATE_BIN

# (Re)install when node_modules is missing or was installed from another package-lock.json.
stamp=node_modules/.compat-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -d node_modules || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi

# Server output of this run only (see lib/server.js).
if [[ -z "${SCGATE_COMPAT_LOG_DIR:-}" ]]; then rm -rf logs; fi

paths=()
opts=()
for arg in "$@"; do
  if [[ "$arg" == -* ]]; then opts+=("$arg"); else paths+=("$arg"); fi
done
if [[ ${#paths[@]} -eq 0 ]]; then paths=(test/); fi

echo "run.sh: node $(node --version), server $SCGATE_BIN"
# One file at a time (each starts its own servers); a test that hangs fails after 2 minutes;
# --test-force-exit so that a leaked handle can never hang CI after the results are in.
exec node --test --test-concurrency=1 --test-timeout=120000 --test-force-exit "${opts[@]}" "${paths[@]}"
