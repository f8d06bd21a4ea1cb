#!/usr/bin/env bash
# test.sh -- every test of the project (README's test command runs this through `make check`):
#   1. CPU tests (parsers, quantizers, tokenizer, CPU reference, JSON, hashing)
#   2. GPU tests on lavapipe (f16 + subgroups), then on SwiftShader (no f16, subgroup size 4);
#      the CLI smoke test; `doppler serve` end to end (scripts/server_test.sh, ~45 s)
#   3. the CPU tests again under ASan + UBSan
#   4. the engine core compiled for wasm32-wasi and linked (build-wasm/doppler.wasm)
#   5. the browser tests in headless Chromium (scripts/web_test.sh: the engine's greedy text and
#      golden fixtures vs native SwiftShader; the demo page, model store and JS API)
#   6. fuzz targets for a bounded time (when clang's libFuzzer is available)
# Ends with one line "tests: N passed, N failed" counting the stages.
set -uo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
JOBS=${JOBS:-$(nproc)}
pass=0; fail=0; failed=()
stage() { # name command...
  local name=$1; shift
  echo "=== $name"
  local t0=$SECONDS
  if "$@"; then pass=$((pass+1)); echo "=== $name: ok ($((SECONDS-t0)) s)";
  else fail=$((fail+1)); failed+=("$name"); echo "=== $name: FAILED ($((SECONDS-t0)) s)"; fi
}

cmake -S . -B build >/dev/null && cmake --build build -j "$JOBS" || { echo "tests: 0 passed, 1 failed"; exit 1; }
stage "cpu tests" bash -c "cd build && ctest -L cpu --output-on-failure -j $JOBS"
stage "gpu tests (lavapipe)" bash -c "cd build && DOPPLER_ADAPTER=lavapipe ctest -L gpu --output-on-failure"
stage "gpu tests (swiftshader)" bash -c "cd build && DOPPLER_ADAPTER=swiftshader ctest -L gpu --output-on-failure"
stage "cli smoke" bash scripts/cli_smoke.sh
stage "server tests (doppler serve: OpenAI client, curl, nginx)" bash scripts/server_test.sh
stage "sanitizers (asan+ubsan: cpu tests, gpu tests on lavapipe)" make --no-print-directory sanitize JOBS="$JOBS"
stage "wasm32 compile and link" bash -c "bash scripts/wasm_check.sh && make --no-print-directory wasm"
stage "browser tests" bash scripts/web_test.sh
stage "fuzz (bounded, 20 s per target)" bash scripts/fuzz.sh 20

[ $fail -eq 0 ] || echo "failed stages: ${failed[*]}"
echo "tests: $pass passed, $fail failed"
[ $fail -eq 0 ]
