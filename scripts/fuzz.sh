#!/usr/bin/env bash
# Fuzzes the code that reads what clients send, on the stable toolchain: the WebSocket frame
# parser against tungstenite's (target `frame`), close-frame payloads against tungstenite's
# rules (`close`), and the SocketCluster packet decoder against a plain JSON reading (`packet`).
# See fuzz/src/lib.rs and fuzz/src/main.rs.
#
#   scripts/fuzz.sh DURATION [TARGET...]   seconds per target (default: every target)
#
# FUZZ_SAVE=1 adds inputs with outcomes not seen before to fuzz/corpus/TARGET/ (to commit);
# FUZZ_SEED=N repeats a run. A failure (a panic, or a disagreement with the reference) is saved
# to fuzz/crashes/TARGET/ and the script exits 1: fix it, and commit the file, which
# `cargo test --manifest-path fuzz/Cargo.toml` (run by scripts/test.sh) then replays for good.
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${1:?usage: scripts/fuzz.sh DURATION [TARGET...]}"
shift
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then targets=(frame close packet); fi

# Its own target folder (the crate is a workspace of its own), whatever the caller's says.
export CARGO_TARGET_DIR="$PWD/fuzz/target"
cargo build --quiet --manifest-path fuzz/Cargo.toml
save=()
if [[ "${FUZZ_SAVE:-}" == 1 ]]; then save=(--save); fi
for target in "${targets[@]}"; do
  fuzz/target/debug/fuzz "$target" "$duration" "${save[@]}"
done
