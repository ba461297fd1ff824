#!/usr/bin/env bash
# Every test of the wasm package: the packed tarball installed and type-checked in a fresh
# project, wasm-bindgen tests in Node, headless Chromium and a service worker, then the
# browser tests (against a real `gatebell serve`, inside an app's own worker, and Firefox ESR
# decrypting real pushes). Installs what is missing (wasm32 target, wasm-bindgen-cli at the
# pinned version, npm packages, Chromium, Firefox ESR).
# Honours CARGO_TARGET_DIR.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$root"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/firefox-esr ]; then
  apt-get update
  apt-get install -y chromium firefox-esr
fi
(cd "$here" && npm ci --no-audit --no-fund)

# Builds wasm/pkg, installing the wasm-bindgen CLI (and its test runner) of the pinned version.
cargo xtask wasm

echo "== the packed tarball installs into a fresh project and type-checks (tsc --strict)"
version="$(node -p "require('$here/pkg/package.json').version")"
fresh="$(mktemp -d)"
cp "$here"/tests/packed/*.ts "$fresh/"
(
  cd "$fresh"
  echo '{"name": "fresh-app", "private": true, "type": "module"}' > package.json
  npm install --no-audit --no-fund --offline "$here/pkg/gatebell-push-$version.tgz" >/dev/null
  tsc="$here/node_modules/.bin/tsc"
  flags=(--strict --noEmit --module esnext --moduleResolution bundler --target es2022)
  "$tsc" "${flags[@]}" --lib esnext,dom page.ts
  "$tsc" "${flags[@]}" --lib esnext,webworker worker.ts
)
rm -rf "$fresh"

# wasm/tests/runner.mjs runs the Node suite with wasm-bindgen-test-runner and drives the browser
# and service-worker suites' pages with Playwright (notification permission granted, so the
# service-worker suite shows real notifications); its header says why not ChromeDriver.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="node $here/tests/runner.mjs"
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-60}
echo "== wasm-bindgen tests (Node, Chromium, service worker)"
for suite in node browser service_worker; do
  cargo test -p gatebell-wasm --target wasm32-unknown-unknown --test "$suite"
done

echo "== browser end-to-end test"
cargo build --workspace --exclude gatebell-wasm --lib --bins --tests
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
export GATEBELL_BIN="$target_dir/debug/gatebell"
cd "$here"
# One file at a time, each run in-process (no test-runner child) under a 5-minute bound. A file
# that fails its tests fails the run; so does one that never finishes, after Node writes a
# diagnostic report of where it sat (JavaScript and native stacks, open handles), printed here.
reports="$(mktemp -d)"
for file in push_service push worker firefox; do
  status=0
  timeout --signal=USR2 --kill-after=15 300 node --report-on-signal --report-signal=SIGUSR2 \
    --report-directory="$reports" --test-reporter=spec "tests/browser/$file.test.mjs" || status=$?
  if [ "$status" = 124 ] || [ "$status" = 137 ]; then
    echo "!! tests/browser/$file.test.mjs did not finish within 300 s; where it was:"
    for report in "$reports"/*.json; do
      [ -e "$report" ] || continue
      node -e 'const r = require(process.argv[1]);
        console.log(JSON.stringify({ js: r.javascriptStack, native: r.nativeStack.slice(0, 20),
          handles: r.libuv.filter((h) => h.is_active).map((h) => h.type) }, null, 1));' "$report"
    done
    exit 1
  elif [ "$status" != 0 ]; then
    exit "$status"
  fi
done
rm -rf "$reports"
