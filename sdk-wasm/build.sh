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
    # Stale package lists on a fresh machine fail the install: refresh them (once, with scripts/test.sh).
    if [ -z "${UFSE_APT_UPDATED:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
        export UFSE_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q binaryen >/dev/null
fi
if [ ! -d node_modules/terser ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi

cargo build --locked -q -p ufse-sdk --target wasm32-unknown-unknown --profile sdk
mkdir -p dist
raw=../target/wasm32-unknown-unknown/sdk/ufse_sdk.wasm
# Stripping drops the target-features section, so the features rustc used
# are named again here.
features="--enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-mutable-globals --enable-multivalue --enable-reference-types"
# The linker exports two globals of its own, __heap_base and __data_end,
# that the glue never reads: wasm-metadce keeps what the glue can reach,
# every other export, and drops them.
graph=$(mktemp)
trap 'rm -f "$graph"' EXIT
node -e '
const names = WebAssembly.Module.exports(new WebAssembly.Module(require("fs").readFileSync(process.argv[1])))
  .map((e) => e.name).filter((n) => !n.startsWith("__"));
console.log(JSON.stringify([{ name: "glue", root: true, reaches: names }, ...names.map((n) => ({ name: n, export: n }))]));
' "$raw" >"$graph"
# shellcheck disable=SC2086
wasm-metadce $features "$raw" --graph-file "$graph" -o dist/ufse.wasm >/dev/null
# shellcheck disable=SC2086
wasm-opt -Oz --converge $features dist/ufse.wasm -o dist/ufse.wasm
node build.mjs
