#!/usr/bin/env bash
# Builds the sample plugins and scgate (release), and runs it with them (see scgate.toml) and
# the sample page in public/ on port 8000
# (or whatever flags are given: `scripts/run.sh --port 9000 --workers 2`).
set -euo pipefail
cd "$(dirname "$0")/.."
plugins/build.sh
cargo build --release --quiet --bin scgate
exec ./target/release/scgate serve "$@"
