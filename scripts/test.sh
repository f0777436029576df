#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every crate's tests,
# including the integration tests that drive the real `ufse` binary over
# HTTP and against real SQLite files. `.ci/run` calls exactly this.
#
# Installs what it needs (a Rust toolchain with rustfmt and clippy; for
# the browser SDK the wasm32 target, binaryen and its npm dev dependencies,
# see sdk-wasm/build.sh, and Debian's chromium for its end-to-end test) and
# starts nothing else: the embedded mode needs no outside services.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        echo "cargo not found: install Rust from https://rustup.rs" >&2
        exit 1
    fi
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== browser SDK: build, wasm lints, tests under Node and in headless Chromium"
bash sdk-wasm/build.sh
cargo clippy -p ufse-sdk --target wasm32-unknown-unknown --locked -- -D warnings
if ! command -v chromium >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
fi
# The end-to-end test starts target/debug/ufse, which `cargo test` built.
(cd sdk-wasm && node --test test/)
