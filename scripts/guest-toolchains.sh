#!/usr/bin/env bash
# Installs the toolchains of the Python, JavaScript and C plugins, each from its own registry
# at a pinned version, and does nothing for those already in place (a second run takes about
# a second):
#   C           apt: clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32 (Debian 12's versions)
#   Python      pip: componentize-py (plugins/python/requirements.txt) in plugins/python/.venv
#   JavaScript  npm: @bytecodealliance/componentize-js (plugins/js/package-lock.json)
# Node.js and npm come from scripts/test.sh's first step; Rust's wasm-component-ld (the C
# linker) ships with the Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=()
command -v clang-19 >/dev/null || apt_packages+=(clang-19 lld-19)
# wasi-libc's sysroot, and the compiler-rt builtins clang links into every wasm32 module.
[[ -f /usr/include/wasm32-wasi/stdlib.h ]] || apt_packages+=(wasi-libc)
compgen -G "/usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a" >/dev/null \
    || apt_packages+=(libclang-rt-19-dev-wasm32)
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_packages+=(python3 python3-venv)
if ((${#apt_packages[@]})); then
    echo "apt-get install ${apt_packages[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

venv=plugins/python/.venv
requirements=plugins/python/requirements.txt
# The stamp records which requirements the venv was made from, so a changed pin reinstalls.
if ! cmp -s "$requirements" "$venv/.requirements" 2>/dev/null; then
    echo "pip install -r $requirements (in $venv)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/.requirements"
fi

# The same kind of stamp: the lock file `npm ci` last installed.
js=plugins/js
if ! cmp -s "$js/package-lock.json" "$js/node_modules/.scgate-lock" 2>/dev/null; then
    echo "npm ci (in $js)"
    (cd "$js" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$js/package-lock.json" "$js/node_modules/.scgate-lock"
fi

printf '%s\n' "$(clang-19 --version | head -1)" \
    "componentize-py $("$venv/bin/componentize-py" --version | awk '{print $2}')" \
    "componentize-js $(node -p "require('./plugins/js/node_modules/@bytecodealliance/componentize-js/package.json').version")"
