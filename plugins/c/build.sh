#!/usr/bin/env bash
# Builds the C plugins (`ping`, `publish-filter`) into WebAssembly components, into
# ../dist/c/: clang-19 with Debian's wasi-libc (apt, installed by scripts/guest-toolchains.sh),
# linked by the `wasm-component-ld` that ships with the Rust toolchain, which turns the module
# into a component. The bindings in gen/ come from `wit-bindgen c` (see README.md: regenerate
# them when wit/plugin.wit changes). No stdio is used, so the components import no WASI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

cc=clang-19
command -v "$cc" >/dev/null || { echo "error: $cc missing: run scripts/guest-toolchains.sh" >&2; exit 1; }
host=$(rustc -vV | sed -n 's/^host: //p')
linker="$(rustc --print sysroot)/lib/rustlib/$host/bin/wasm-component-ld"
[[ -x $linker ]] || { echo "error: $linker missing (it ships with rustup's stable toolchain)" >&2; exit 1; }

# wasm-component-ld takes the component type from a WIT package with exactly one world:
# one small package per world, that includes the gateway's world from wit/plugin.wit.
worlds=$(mktemp -d)
trap 'rm -rf "$worlds"' EXIT
for world in handler-plugin middleware-plugin; do
    mkdir -p "$worlds/$world/deps"
    cp ../../wit/plugin.wit "$worlds/$world/deps/scgate-plugin.wit"
    printf 'package scgate:c-guest;\nworld %s { include scgate:plugin/%s@0.1.0; }\n' \
        "$world" "$world" >"$worlds/$world/world.wit"
done

build() { # NAME WORLD SOURCE
    # -mexec-model=reactor: a library of exports, no main. -Os and --strip-all: small output.
    "$cc" --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -Os -std=c11 \
        -Wall -Wextra -Werror -Igen -fuse-ld="$linker" -Wl,--strip-all \
        -Wl,--component-type,"$worlds/$2" \
        -o "../dist/c/$1.wasm" "$3" "gen/${2//-/_}.c"
}
mkdir -p ../dist/c
build ping handler-plugin ping/ping.c
build publish-filter middleware-plugin publish-filter/publish_filter.c

for name in ping publish-filter; do
    printf '%9d  %s\n' "$(stat -c %s "../dist/c/$name.wasm")" "plugins/dist/c/$name.wasm"
done
