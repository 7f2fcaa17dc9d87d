#!/usr/bin/env bash
# Runs the sample page (public/) in a real headless Chromium against a real `scgate serve --dev`:
# the page must load with no console error, connect, log in, subscribe, publish and receive,
# ping, see access-control's errors, and show a hot-reloaded plugin's new version. Screenshots
# of the final state go to target/browser/ (desktop and phone width).
#
#   SCGATE_SERVE_BIN  the scgate binary (default ../../target/debug/scgate; a relative path is
#                     taken relative to the caller's directory)
#   CHROMIUM          the browser (default /usr/bin/chromium, Debian's `chromium` package)
#   extra args        passed to `node --test`
#
# Needs public/vendor/ (scripts/public-deps.sh) and plugins/dist/ (plugins/build.sh).
set -euo pipefail
if [[ -n "${SCGATE_SERVE_BIN:-}" && "$SCGATE_SERVE_BIN" != /* ]]; then SCGATE_SERVE_BIN="$PWD/$SCGATE_SERVE_BIN"; fi
cd "$(dirname "${BASH_SOURCE[0]}")"
export SCGATE_SERVE_BIN="${SCGATE_SERVE_BIN:-$PWD/../../target/debug/scgate}"

# (Re)install when node_modules is missing or was installed from another package-lock.json.
stamp=node_modules/.browser-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -d node_modules || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

echo "run.sh: node $(node --version), $("${CHROMIUM:-/usr/bin/chromium}" --version 2>/dev/null), server $SCGATE_SERVE_BIN"
# A test that hangs fails after 5 minutes (the hot reload includes a cargo build of the ping
# plugin, about a minute when its dependencies are not built yet); --test-force-exit so that a
# leaked handle can never hang CI after the results are in.
exec node --test --test-concurrency=1 --test-timeout=300000 --test-force-exit "$@" test/
