#!/usr/bin/env bash
# Runs every test of scgate from a fresh clone: formatting and lints, the Rust unit and
# integration tests (a real gateway on port 0), and the real-client compatibility suite
# (socketcluster-client 14.3.2 and 20.0.2 from npm), and the sample page in a real headless
# Chromium. Installs what it needs on the way: the wasm32-wasip2 target for the guest plugins,
# redis-server and nats-server for the broker tests, chromium for the page, and the npm
# packages of the compat suite, the page and its test.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nodejs npm
fi
cargo --version
node --version

step "engines for the broker tests: redis-server, nats-server (apt, skipped when present)"
# Each broker test starts its own server process on a free port; only the binaries are needed.
if ! command -v redis-server >/dev/null || ! command -v nats-server >/dev/null; then
  apt-get update -qq && apt-get install -y -qq redis-server nats-server
fi
redis-server --version

step "browser for the sample page's test: chromium (apt, skipped when present)"
# Debian's build, driven by playwright-core; a test tool's own browser download is not used.
if ! command -v chromium >/dev/null; then
  apt-get update -qq && apt-get install -y -qq chromium
fi
chromium --version

step "sample page: socketcluster-client's browser build into public/vendor/ (scripts/public-deps.sh)"
scripts/public-deps.sh

step "guest plugins: rustup target wasm32-wasip2, plugins/build.sh"
plugins/build.sh

step "guests in C, Python and JavaScript: toolchains from apt, pip and npm; scripts/guests.sh"
scripts/guests.sh

step "cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

step "cargo test (unit and integration tests)"
cargo test --quiet

step "fuzz regressions: the fuzz corpus and every saved failure, replayed (fuzz/; scripts/fuzz.sh fuzzes)"
# A crate of its own (no wasmtime): builds in seconds. Long fuzzing runs are not part of CI.
cargo clippy --quiet --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings
cargo test --quiet --manifest-path fuzz/Cargo.toml

step "compat: real socketcluster-client 14.3.2 and 20.0.2 against a real gateway"
# The dev profile (dependencies optimised, see Cargo.toml): reuses the build of the step above
# instead of compiling wasmtime a second time for release.
cargo build --quiet --bin scgate --example embedded
bin="${CARGO_TARGET_DIR:-$PWD/target}/debug"
SCGATE_BIN="$bin/examples/embedded" SCGATE_SERVE_BIN="$bin/scgate" tests/compat/run.sh

step "new-plugin end to end: rust, python, js and c, built as their READMEs say, served, invoked"
# Each language's toolchain runs for up to a few minutes on a loaded machine: a longer timeout.
SCGATE_BIN="$bin/examples/embedded" SCGATE_SERVE_BIN="$bin/scgate" \
  tests/compat/run.sh --test-timeout=900000 e2e/

step "browser: the sample page in headless Chromium against scgate serve --dev"
SCGATE_SERVE_BIN="$bin/scgate" tests/browser/run.sh
