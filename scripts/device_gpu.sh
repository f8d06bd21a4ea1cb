#!/usr/bin/env bash
# device_gpu.sh -- run on the lent NVIDIA machine (see docs/device.md): unpack the Vulkan
# loader carried in .gl/, point the loader at the NVIDIA ICD, then run `doppler devices`, the
# GPU kernel tests and (with BENCH=1) `doppler bench kernels`, `doppler bench` and synth presets at
# real sizes (PRESETS to choose them). Logs go to $OUT.
set -uo pipefail
# BIN: folder holding doppler, gpu_* and bench_* (docs/device.md carries a slim copy)
. "$(dirname "$0")/device_env.sh"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
"$BIN/doppler" devices --json | tee "$OUT/devices.json"
pass=0; fail=0
for t in "$BIN"/gpu_device "$BIN"/gpu_kernels_* "$BIN"/gpu_synth "$BIN"/gpu_presets; do
  [ -x "$t" ] || continue
  if "$t" >> "$OUT/gpu_tests.log" 2>&1; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAILED: $t"; fi
  tail -1 "$OUT/gpu_tests.log"
done
echo "gpu test binaries: $pass passed, $fail failed" | tee -a "$OUT/gpu_tests.log"
if [ "${BENCH:-0}" = 1 ]; then
  "$BIN/doppler" bench kernels 2>&1 | tee -a "$OUT/bench.log"
  "$BIN/doppler" bench models/doppler-tiny-f16 -n 256 --steps 1,8,16,32 --profile 2>&1 | tee -a "$OUT/bench.log"
fi
if [ "${BENCH:-0}" = 1 ] && [ -d models/doppler-tiny-f16 ]; then
  # End to end: the default model (dispatch-bound at this size) and its q4_k_m variant.
  for m in models/doppler-tiny-f16 models/doppler-tiny-q4_k_m; do
    "$BIN/doppler" run "$m" -p "The jury said" -n 256 --temp 0 --ignore-eos --steps 16 2>&1 >/dev/null | tail -1 | sed "s|^|$m: |" | tee -a "$OUT/bench.log"
  done
fi
if [ "${BENCH:-0}" = 1 ]; then
  # Real sizes: synth presets (no tokenizer travels, the bench runs on ids), llama-bench's tests.
  # Each is bounded (PRESET_TIMEOUT s, default 240) so one slow preset cannot cost the call; the
  # bench prints its write and load times (llama-3.1-8b q4_k_m: docs/device.md's estimate).
  for p in ${PRESETS:-qwen3-0.6b llama-3.2-1b gemma-3-1b llama-3.1-8b}; do
    timeout "${PRESET_TIMEOUT:-240}" "$BIN/doppler" bench --preset "$p" ${QUANT:+--quant $QUANT} -p 512 -n 128 -r 3 2>&1 | tee -a "$OUT/bench.log"
    [ "${PIPESTATUS[0]}" = 124 ] && echo "$p: stopped after ${PRESET_TIMEOUT:-240} s" | tee -a "$OUT/bench.log"
  done
fi
