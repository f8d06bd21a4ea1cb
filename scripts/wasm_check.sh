#!/usr/bin/env bash
# wasm_check.sh -- compile the engine core (everything but the native Dawn glue and the CLI)
# for wasm32-wasi with clang-14, so nothing that cannot run in a browser creeps in.
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
out=build-wasm; mkdir -p "$out"
mkdir -p "$out/gen"
cc -O0 -o "$out/dp_embed" tools/embed.c
"$out/dp_embed" "$out/gen/kernels_embedded.c" src/kernels/*.wgsl
srcs=(src/core/*.c src/format/*.c src/quant/*.c src/tokenizer/*.c src/kernels/*.c \
      src/model/*.c src/runtime/*.c src/ref/*.c src/api/*.c src/gpu/wgsl_layout.c src/gpu/gpu_common.c)
n=0
for f in "${srcs[@]}" "$out/gen/kernels_embedded.c"; do
  clang-14 --target=wasm32-wasi -std=c11 -O1 \
    -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -D_WASI_EMULATED_MMAN \
    -Wall -Wno-unused-parameter -Wno-sign-compare -Werror=implicit-function-declaration \
    -Iinclude -Isrc -c "$f" -o "$out/$(basename "$f" .c).o"
  n=$((n+1))
done
echo "wasm-check: $n files compiled for wasm32-wasi"
# The browser cannot block: the generation path (recording, sampling, the resumable steps of
# runtime and API) never calls the device layer's waits. Only the native drivers do
# (src/api/native.c, src/runtime/blocking.c), and the still-blocking paths: dp_session_eval's
# logits and scoring (session.c; the browser uses dp_logits_*), benchmarks. Model loading
# (weights.c, api/load.c) and the browser's exports (web/engine/exports.c) are resumable too.
# tests/gpu_resumable.c and tests/gpu_load_steps.c check the same at run time with the device
# layer's wait counter.
core=(src/runtime/generate.c src/runtime/batch.c src/runtime/forward.c src/runtime/sampler.c src/runtime/weights.c src/api/generate.c src/api/batch.c
      src/api/load.c src/kernels/*.c web/engine/exports.c)
if hits=$(grep -nE '\bdp_gpu_(read_wait|buffer_read|finish)\b' "${core[@]}"); then
  echo "wasm-check: blocking GPU waits in the generation core:"; echo "$hits"; exit 1
fi
echo "wasm-check: no blocking GPU wait in ${#core[@]} generation and loading files"
