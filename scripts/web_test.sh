#!/usr/bin/env bash
# web_test.sh -- the browser build in headless Chromium (tests/web/engine_test.mjs): builds
# build-wasm/doppler.wasm (`make wasm`), then runs doppler-tiny greedy text against the native
# build on SwiftShader, the dense golden fixtures through the browser within the native
# tolerances, and the missing-WebGPU error. Needs build/doppler (make), /usr/bin/chromium and
# npm playwright-core (scripts/setup.sh). 4-5 min on the shared 2-core box at load 10-12;
# bounded by a 600 s timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory wasm
[ -x /usr/bin/chromium ] || { echo "web_test: /usr/bin/chromium missing (scripts/setup.sh installs it)"; exit 1; }
[ -d node_modules/playwright-core ] || { echo "web_test: npm playwright-core missing (scripts/setup.sh installs it)"; exit 1; }
XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp} timeout 600 node tests/web/engine_test.mjs "$@"
