#!/usr/bin/env bash
# Builds the browser SDK into dist/:
#   ufse.wasm      the core, for wasm32-unknown-unknown, then wasm-opt -Oz
#   ufse.js        the ES module (minified), loading ufse.wasm beside it
#   ufse.min.js    the single-file script-tag build, wasm inlined, `window.ufse`
# and prints their gzipped sizes, failing if the ES module build (glue and
# wasm together) is over the 6 KB budget.
#
# Installs what it needs: the wasm32 target, binaryen's wasm-opt (Debian),
# and the minifier (npm ci, from package-lock.json).
set -euo pipefail
cd "$(dirname "$0")"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi
if ! command -v wasm-opt >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q binaryen >/dev/null
fi
if [ ! -d node_modules/terser ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi

cargo build --locked -q -p ufse-sdk --target wasm32-unknown-unknown --profile sdk
mkdir -p dist
# Stripping drops the target-features section, so the features rustc used
# are named again here.
wasm-opt -Oz --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-mutable-globals --enable-multivalue --enable-reference-types \
    ../target/wasm32-unknown-unknown/sdk/ufse_sdk.wasm -o dist/ufse.wasm
node build.mjs
