#!/usr/bin/env bash
# Builds the sample plugins and scgate (release), and runs it with them (see scgate.toml) and
# the sample page in public/ on http://localhost:8000/
# (or whatever flags are given: `scripts/run.sh --port 9000 --workers 2`; `scripts/run.sh --dev`
# rebuilds and reloads a plugin of plugins/ when its source is saved).
set -euo pipefail
cd "$(dirname "$0")/.."
plugins/build.sh
# The page's socketcluster-client (browser build, pinned in scripts/public-deps/) into public/vendor/.
scripts/public-deps.sh
cargo build --release --quiet --bin scgate
exec ./target/release/scgate serve "$@"
