#!/usr/bin/env bash
# Puts the sample page's third-party files in place: the browser build of socketcluster-client
# (the version pinned in scripts/public-deps/package-lock.json, installed with `npm ci`) is copied
# to public/vendor/, which git ignores. scripts/run.sh and scripts/test.sh run this; run it by
# hand after changing the pinned version. Idempotent: with the lock file unchanged it installs
# nothing and copies the same file.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/public-deps"

# (Re)install when node_modules is missing or was installed from another package-lock.json.
stamp=node_modules/.public-deps-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -d node_modules || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

vendor=../../public/vendor
mkdir -p "$vendor"
# An ES module (`import {create} from './vendor/socketcluster-client.min.js'`).
cp node_modules/socketcluster-client/socketcluster-client.min.js "$vendor/"
