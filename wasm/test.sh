#!/usr/bin/env bash
# Every test of the wasm package: wasm-bindgen tests in Node, headless Chromium and a service
# worker, then the end-to-end browser test against a real `gatebell serve`. Installs what is
# missing (wasm32 target, wasm-bindgen-cli at the pinned version, npm packages, Chromium).
# Honours CARGO_TARGET_DIR.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$root"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  apt-get update
  apt-get install -y chromium chromium-driver
fi
(cd "$here" && npm ci --no-audit --no-fund)

# Builds wasm/pkg, installing the wasm-bindgen CLI (and its test runner) of the pinned version.
cargo xtask wasm

export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER=/usr/bin/chromedriver
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-60}
echo "== wasm-bindgen tests (Node, Chromium, service worker)"
cargo test -p gatebell-wasm --target wasm32-unknown-unknown

echo "== browser end-to-end test"
cargo build --workspace --exclude gatebell-wasm --lib --bins --tests
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
export GATEBELL_BIN="$target_dir/debug/gatebell"
cd "$here"
node --test --test-reporter=spec tests/browser/push.test.mjs
