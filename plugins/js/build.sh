#!/usr/bin/env bash
# Builds the JavaScript plugins (`ping`, `publish-filter`) into WebAssembly components with
# componentize-js (StarlingMonkey), into ../dist/js/. Needs `npm ci` here (scripts/guest-toolchains.sh
# runs it; the version is pinned in package.json and package-lock.json). `-d ...` disables the
# engine's WASI features, so the component has no WASI imports and loads without `wasi = true`
# (by default it would import wasi:http, which scgate does not link).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

componentize=node_modules/.bin/componentize-js
[[ -x $componentize ]] || { echo "error: $componentize missing: run scripts/guest-toolchains.sh" >&2; exit 1; }
mkdir -p ../dist/js

build() { # NAME WORLD
    local src="$1/$1.js" out="../dist/js/$1.wasm"
    # componentize takes seconds and rebuilds from scratch: skip it when nothing changed.
    if [[ -f $out && $out -nt $src && $out -nt ../../wit/plugin.wit && $out -nt package-lock.json ]]; then
        return
    fi
    "$componentize" "$src" --wit ../../wit -n "$2" -d stdio random clocks http fetch-event \
        -o "$out.tmp" >/dev/null
    mv "$out.tmp" "$out"
}
build ping handler-plugin
build publish-filter middleware-plugin

for name in ping publish-filter; do
    printf '%9d  %s\n' "$(stat -c %s "../dist/js/$name.wasm")" "plugins/dist/js/$name.wasm"
done
