#!/usr/bin/env bash
# device_q8b.sh -- one call on the lent NVIDIA machine (docs/device.md) for the int8 input
# quantized inside the decode products (matmul_gemv_i8_fused) against the quantize_x dispatches
# (DOPPLER_Q8_FUSED=0): unpack the Vulkan loader carried in .gl/, then
#  1. gpu_kernels_gemv_i8 on the card (fused bit for bit the two-dispatch form);
#  2. llama-3.2-1b q4_k_m made once by `synth --preset` (what `bench --preset` does), then
#     `doppler bench DIR -p 512 -n 128 -r 3 --profile`, fused and unfused, and fused except the
#     LM head (DOPPLER_Q8_FUSED_MAXN);
#  3. `doppler bench kernels -m 1 --types q4_k,q6_k,q8_0 --matvec-input q8`, fused and unfused.
# The device copy is the session's checkout (/work/main), not a worktree: copy `doppler`,
# `gpu_kernels_gemv_i8` and lib/ (libmicrohttpd.so.12 and the libraries it needs) into an
# ignored folder there (devbin/q8b), carry [".gl", "devbin", "node_modules/bun-webgpu-linux-x64"]
# and run `bash scripts/device_q8b.sh` (setup: scripts/device_env.sh). Logs to $OUT
# (summary.txt has everything in order). ~110 s.
set -uo pipefail
BIN_DEFAULT=devbin/q8b . "$(dirname "$0")/device_env.sh"
log "card: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader)"
"$BIN/doppler" devices --json > "$OUT/devices.json" 2>&1
grep -o '"maxComputeWorkgroupStorageSize": *[0-9]*' "$OUT/devices.json" | head -2 | tee -a "$S"
timeout 25 "$BIN/gpu_kernels_gemv_i8" > "$OUT/gpu_kernels_gemv_i8.log" 2>&1
log "gpu_kernels_gemv_i8 rc=$?: $(tail -1 "$OUT/gpu_kernels_gemv_i8.log")"
grep -E "FAIL|skip|DIFFERENT" "$OUT/gpu_kernels_gemv_i8.log" | head -5 | tee -a "$S"
log "llama-3.2-1b q4_k_m: synth --preset"
timeout 70 "$BIN/doppler" synth --preset llama-3.2-1b --quant q4_k_m --no-tokenizer --out /tmp/m1b 2>&1 | tail -2 | tee -a "$S"
for fz in 1 0; do
  log "bench llama-3.2-1b q4_k_m -p 512 -n 128 -r 3 --profile, DOPPLER_Q8_FUSED=$fz"
  DOPPLER_Q8_FUSED=$fz timeout 40 "$BIN/doppler" bench /tmp/m1b -p 512 -n 128 -r 3 --profile 2>&1 | tee -a "$S"
done
log "bench llama-3.2-1b q4_k_m -p 512 -n 128 -r 3, fused except the LM head (DOPPLER_Q8_FUSED_MAXN=65536)"
DOPPLER_Q8_FUSED_MAXN=65536 timeout 30 "$BIN/doppler" bench /tmp/m1b -p 512 -n 128 -r 3 2>&1 | tee -a "$S"
for fz in 1 0; do
  log "bench kernels -m 1 q4_k,q6_k,q8_0 --matvec-input q8, DOPPLER_Q8_FUSED=$fz"
  DOPPLER_Q8_FUSED=$fz timeout 20 "$BIN/doppler" bench kernels -m 1 --types q4_k,q6_k,q8_0 --matvec-input q8 2>&1 | tee -a "$S"
done
log "done"
