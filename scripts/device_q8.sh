#!/usr/bin/env bash
# device_q8.sh -- one call on the lent NVIDIA machine (docs/device.md) for the int8-input decode
# GEMV (matvec input q8): unpack the Vulkan loader carried in .gl/, then
#  1. the kernel tests of the new variants on the card (gpu_kernels_gemv_i8, gpu_kernels_variants,
#     gpu_kernels_gemv_sg);
#  2. `doppler bench kernels -m 1 --types q4_k,q6_k,q8_0` at the anchor shape (f32 input = the old
#     kernels, q8 = quantize_x + matmul_gemv_i8);
#  3. llama-3.2-1b q4_k_m made once by `synth --preset` (what `bench --preset` does), then
#     `doppler bench DIR -p 512 -n 128 -r 3` with --matvec-input q8 and f32, and a --profile run;
#  4. bench kernels sweeps (rows per subgroup DOPPLER_GEMV_I8_R, workgroup DOPPLER_GEMV_WG) and
#     the transposed shape 14336 x 4096.
# The device copy is the session's checkout (/work/main), not this worktree: copy the binaries,
# $BIN/lib (libmicrohttpd.so.12 and the libraries it needs) into an ignored folder there
# (devbin/q8), carry [".gl", "devbin/q8", "node_modules/bun-webgpu-linux-x64"] and run
# `BIN=devbin/q8 bash scripts/device_q8.sh` (setup: scripts/device_env.sh); TESTS="" skips the
# tests. Logs to $OUT (summary.txt has everything in order).
set -uo pipefail
BIN_DEFAULT=devbin . "$(dirname "$0")/device_env.sh"
log "card: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader)"
"$BIN/doppler" devices --json > "$OUT/devices.json" 2>&1
for t in ${TESTS-gpu_kernels_gemv_i8 gpu_kernels_variants gpu_kernels_gemv_sg}; do
  timeout 120 "$BIN/$t" > "$OUT/$t.log" 2>&1; rc=$?
  log "$t rc=$rc: $(tail -1 "$OUT/$t.log")"
  grep -E "FAIL|skip|adapter:" "$OUT/$t.log" | head -5 | tee -a "$S"
done
[ -f "$OUT/gpu_kernels_gemv_i8.log" ] && grep -E "vs f32 input" "$OUT/gpu_kernels_gemv_i8.log" | head -3 | tee -a "$S"
K="$BIN/doppler bench kernels -m 1 --types q4_k,q6_k,q8_0"
log "bench kernels, anchor shape 4096 x 14336, f32 (old) and q8 (new, R=1 WG=256)"
timeout 90 $K 2>&1 | tee -a "$S"
log "llama-3.2-1b q4_k_m: synth --preset"
timeout 120 "$BIN/doppler" synth --preset llama-3.2-1b --quant q4_k_m --no-tokenizer --out /tmp/m1b 2>&1 | tail -2 | tee -a "$S"
for mv in q8 f32; do
  log "bench llama-3.2-1b q4_k_m -p 512 -n 128 -r 3 --matvec-input $mv"
  timeout 90 "$BIN/doppler" bench /tmp/m1b -p 512 -n 128 -r 3 --matvec-input $mv --verbose 2>&1 | tee -a "$S"
done
log "profile, --matvec-input q8"
timeout 60 "$BIN/doppler" bench /tmp/m1b -p 0 -n 64 -r 1 --profile --matvec-input q8 2>&1 | tee -a "$S"
for cfg in "2 256" "4 256" "1 64" "2 64" "1 128"; do
  set -- $cfg
  log "bench kernels q8, DOPPLER_GEMV_I8_R=$1 DOPPLER_GEMV_WG=$2"
  DOPPLER_GEMV_I8_R=$1 DOPPLER_GEMV_WG=$2 timeout 60 $K --matvec-input q8 2>&1 | tail -3 | tee -a "$S"
done
log "bench kernels 14336 x 4096 (gate/up shape), f32 and q8"
timeout 60 $K --shape 14336,4096 2>&1 | tail -6 | tee -a "$S"
log "done"
