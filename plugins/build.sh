#!/usr/bin/env bash
# Builds every scgate plugin as a WebAssembly component (wasm32-wasip2) and copies them to
# dist/: the app plugins as dist/<name>.wasm, the test fixtures as dist/fixtures/<name>.wasm
# (and versioned-a/-b.wasm, one fixture in two versions).
# Idempotent: a second run with no changes rebuilds nothing and copies the same files.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

target=wasm32-wasip2
apps=(ping access-control demo-login)
fixtures=(misbehave bad-init init-trap host-calls)

if ! rustup target list --installed | grep -qx "$target"; then
    # Quiet on success; show rustup's output only if it fails.
    if ! log=$(rustup target add "$target" 2>&1); then
        printf '%s\n' "$log" >&2
        exit 1
    fi
fi

# This workspace's own target dir, whatever the caller's environment says.
export CARGO_TARGET_DIR="$PWD/target"
cargo build --release --target "$target" --quiet

out="target/$target/release"
mkdir -p dist/fixtures
# `login` was renamed `demo-login`: an old copy would load beside it and register its events twice.
rm -f dist/login.wasm
# cargo names the file after the crate, with `-` turned into `_`.
for name in "${apps[@]}"; do
    cp "$out/${name//-/_}.wasm" "dist/$name.wasm"
done
for name in "${fixtures[@]}"; do
    cp "$out/${name//-/_}.wasm" "dist/fixtures/$name.wasm"
done
# The hot-reload fixture in its two versions (fixtures/versioned-b builds the same source).
cp "$out/versioned.wasm" dist/fixtures/versioned-a.wasm
cp "$out/versioned_b.wasm" dist/fixtures/versioned-b.wasm

for file in "${apps[@]/#/dist/}" "${fixtures[@]/#/dist/fixtures/}" dist/fixtures/versioned-{a,b}; do
    printf '%9d  %s\n' "$(stat -c %s "$file.wasm")" "plugins/$file.wasm"
done

# The Rust versions of the plugins every guest language has (tests/guests.rs), beside
# dist/python/, dist/js/ and dist/c/ (scripts/guests.sh). Not in dist/ itself: the repository's
# scgate.toml loads everything there.
guests=(ping publish-filter)
mkdir -p dist/rust
for name in "${guests[@]}"; do
    cp "$out/${name//-/_}.wasm" "dist/rust/$name.wasm"
    printf '%9d  %s\n' "$(stat -c %s "dist/rust/$name.wasm")" "plugins/dist/rust/$name.wasm"
done
