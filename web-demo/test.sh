#!/usr/bin/env bash
# The web demo end to end: builds what is missing (Chromium, npm packages, the wasm package,
# the Next.js export, the server) and runs tests/e2e.test.mjs in headless Chromium against a
# real `gatebell serve`. CI runs it through `cargo xtask test --only demo`. Honours
# CARGO_TARGET_DIR; GATEBELL_UPDATE_DOCS=1 also refreshes docs/demo.png.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$root"
export NEXT_TELEMETRY_DISABLED=1

if [ ! -x /usr/bin/chromium ]; then
  apt-get update
  apt-get install -y chromium
fi
# The package the demo depends on ("@gatebell/push": "file:../wasm/pkg"), built before npm
# links it; its service-worker files are copied into public/ before building.
if [ ! -f wasm/pkg/gatebell_push_bg.wasm ] || [ ! -f wasm/pkg/gatebell_push_worker_bg.wasm ] || [ ! -f wasm/pkg/worker.js ]; then
  cargo xtask wasm
fi
# npm ci only when node_modules was not installed from this package-lock.json (the stamp is the
# one xtask's npm_ci writes, so `cargo xtask run` and this script share it).
if ! cmp -s "$here/package-lock.json" "$here/node_modules/.gatebell-package-lock.json"; then
  (cd "$here" && npm ci --no-audit --no-fund)
  cp "$here/package-lock.json" "$here/node_modules/.gatebell-package-lock.json"
fi

echo "== web-demo: tsc --noEmit, then next build (static export)"
(cd "$here" && npm run build)

# The packages and targets of `cargo test --workspace --exclude gatebell-wasm` (see
# xtask/src/process.rs, NATIVE_TEST_BUILD): the same features, so after `cargo xtask test`'s Rust
# suite this builds nothing, where `-p gatebell-server` would rebuild tokio, hyper and the rest.
cargo build --workspace --exclude gatebell-wasm --lib --bins --tests
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
export GATEBELL_BIN="$target_dir/debug/gatebell"

echo "== web-demo: end-to-end test in Chromium"
cd "$here"
node --test --test-reporter=spec tests/e2e.test.mjs
