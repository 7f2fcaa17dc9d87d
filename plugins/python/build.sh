#!/usr/bin/env bash
# Builds the Python plugins (`ping`, `publish-filter`) into WebAssembly components with
# componentize-py, into ../dist/python/. Needs the venv that scripts/guest-toolchains.sh makes
# (componentize-py pinned in requirements.txt). `--stub-wasi` leaves the component with no WASI
# imports, so it loads without `wasi = true`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

componentize=.venv/bin/componentize-py
[[ -x $componentize ]] || { echo "error: $componentize missing: run scripts/guest-toolchains.sh" >&2; exit 1; }
mkdir -p ../dist/python

build() { # NAME WORLD
    local out="../dist/python/$1.wasm"
    # componentize takes seconds and rebuilds from scratch: skip it when nothing changed.
    if [[ -f $out && $out -nt $1/app.py && $out -nt ../../wit/plugin.wit && $out -nt requirements.txt ]]; then
        return
    fi
    "$componentize" -d ../../wit -w "$2" componentize --stub-wasi -p "$1" app -o "$out.tmp" >/dev/null
    mv "$out.tmp" "$out"
}
build ping handler-plugin
build publish-filter middleware-plugin

for name in ping publish-filter; do
    printf '%9d  %s\n' "$(stat -c %s "../dist/python/$name.wasm")" "plugins/dist/python/$name.wasm"
done
