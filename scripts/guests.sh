#!/usr/bin/env bash
# The plugins in Python, JavaScript and C: installs their toolchains
# (scripts/guest-toolchains.sh), then builds each language's `ping` and `publish-filter` into
# plugins/dist/<lang>/. The Rust ones are built by plugins/build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/guest-toolchains.sh
for lang in c python js; do
    "plugins/$lang/build.sh"
done
