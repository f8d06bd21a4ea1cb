#!/usr/bin/env bash
# web_test.sh -- the browser tests (scripts/test.sh's stage "browser tests"; docs/browser.md).
# Builds build-wasm/doppler.wasm (`make wasm`), then, in headless Debian Chromium
# (/usr/bin/chromium, WebGPU on SwiftShader) driven by npm playwright-core, against build/doppler
# on SwiftShader:
#   * tests/web/engine_test.mjs (wt-web's engine: doppler-tiny greedy text, the dense golden
#     fixtures within the native tolerances, the missing-WebGPU error);
#   * tests/web/*.test.mjs under node's test runner, one file at a time: the static server, the
#     store's SHA-256 and the npm package without a browser; the demo page (greedy text as
#     `doppler run`, reload from OPFS, offline, stop), the model store (resume after a cut,
#     corrupted shard, quota, no WebGPU) and the provider API.
# Measured on the shared 2-core box: 148 s at load ~5, up to 11.6 min at load ~12 (docs/browser.md);
# each part bounded by a 600 s timeout. Needs build/doppler (make).
# Arguments: test files to run instead of all (e.g. tests/web/page.test.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
make --no-print-directory -s wasm
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "web_test: /usr/bin/chromium missing (scripts/setup.sh installs it)"; exit 1; }
[ -d node_modules/playwright-core ] || { echo "web_test: npm playwright-core missing (scripts/setup.sh installs it)"; exit 1; }
[ -x build/doppler ] || { echo "web_test: build/doppler missing (make)"; exit 1; }
t0=$SECONDS
if [ $# -gt 0 ]; then
  timeout 600 node --test --test-concurrency=1 --test-reporter=spec "$@"
else
  timeout 600 node tests/web/engine_test.mjs
  timeout 600 node --test --test-concurrency=1 --test-reporter=spec tests/web/*.test.mjs
fi
echo "web_test: passed in $((SECONDS - t0)) s"
