#!/usr/bin/env bash
# web_test.sh -- the browser tests (scripts/test.sh's stage "browser tests"; docs/browser.md):
# every tests/web/*.test.mjs under node's test runner, one file at a time: the static server and
# the store's SHA-256 without a browser, then the demo page, the model store and the provider
# API in headless Debian Chromium (/usr/bin/chromium, WebGPU on SwiftShader) driven by
# playwright-core, compared with build/doppler on SwiftShader. About 2 minutes on 2 cores;
# bounded by a 10-minute timeout. Needs build/doppler (make) and build-wasm/doppler.wasm
# (make wasm). Files to run may be given: scripts/web_test.sh tests/web/page.test.mjs
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "web_test: $chromium is missing (scripts/setup.sh installs Debian's chromium)"; exit 1; }
[ -d node_modules/playwright-core ] || { echo "web_test: node_modules/playwright-core is missing (scripts/setup.sh)"; exit 1; }
[ -x build/doppler ] || { echo "web_test: build/doppler is missing (make)"; exit 1; }
[ -f build-wasm/doppler.wasm ] || { echo "web_test: build-wasm/doppler.wasm is missing (make wasm)"; exit 1; }
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(tests/web/*.test.mjs)
t0=$SECONDS
timeout 600 node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
echo "web_test: ${#files[@]} files passed in $((SECONDS - t0)) s"
