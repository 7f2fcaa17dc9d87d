#!/usr/bin/env bash
# Builds scgate in release mode and runs it with the sample page in public/ on port 8000
# (or whatever flags are given: `scripts/run.sh --port 9000 --workers 2`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin scgate
exec ./target/release/scgate serve "$@"
