#!/usr/bin/env bash
# Runs every test of scgate from a fresh clone: formatting and lints, the Rust unit and
# integration tests (a real gateway on port 0), and the real-client compatibility suite
# (socketcluster-client 14.3.2 and 20.0.2 from npm). Installs what it needs on the way.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nodejs npm
fi
cargo --version
node --version

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

step "cargo test (unit and integration tests)"
cargo test --quiet

step "compat: real socketcluster-client 14.3.2 and 20.0.2 against a real gateway"
cargo build --release --quiet --example embedded
SCGATE_BIN="$PWD/target/release/examples/embedded" tests/compat/run.sh
