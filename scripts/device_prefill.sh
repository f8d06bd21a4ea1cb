#!/usr/bin/env bash
# device_prefill.sh -- one device call (docs/device.md) for the prefill kernels of issue 13
# (matmul_tiled128, attention_fa): the GPU kernel tests on the card, then `doppler bench
# kernels -m 512` and the llama-3.2-1b q4_k_m prefill with the new kernels and with the old ones
# (DOPPLER_MM128=0: matmul_tiled64; DOPPLER_ATTN_FA=0: the one-workgroup-per-query attention),
# each step under its own timeout, logs in $OUT as they come. Carry [".gl", "devbin",
# "node_modules/bun-webgpu-linux-x64"], devbin/ = doppler + gpu_kernels_{matmul,attn,variants}
# and, since doppler links the server, libmicrohttpd.so.12 with its libraries (libgnutls etc.:
# the card's machine lacks them). The device copies the session's checkout (/work/main for a
# helper's worktree), so the binaries go into an ignored folder there: `BIN=devbin/pre bash
# scripts/device_prefill.sh` (setup: scripts/device_env.sh; $BIN/lib holds the libraries).
set -uo pipefail
BIN_DEFAULT=devbin . "$(dirname "$0")/device_env.sh"
B=$PWD/$BIN; O=$OUT; cd /tmp
step() { # step NAME SECONDS [ENV=V ...] -- CMD...: run, log to $O/NAME.txt with its wall time
  local name=$1 t=$2; shift 2
  local t0=$(date +%s%N)
  timeout "$t" env "$@" > "$O/$name.txt" 2>&1
  local rc=$?
  echo "== $name rc=$rc $(( ($(date +%s%N) - t0) / 1000000 )) ms" | tee -a "$O/steps.txt"
  tail -12 "$O/$name.txt"
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$O/gpu.txt"
step t_matmul 60 "$B/gpu_kernels_matmul"
step t_attn 40 "$B/gpu_kernels_attn"
step t_variants 60 "$B/gpu_kernels_variants"
step k_new 60 "$B/doppler" bench kernels -m 512
step k_old 60 DOPPLER_MM128=0 "$B/doppler" bench kernels -m 512
step synth 100 "$B/doppler" synth --preset llama-3.2-1b --quant q4_k_m --no-tokenizer --out /tmp/m1
step b_new 45 "$B/doppler" bench /tmp/m1 -p 512 -n 128 -r 3
step b_old 45 DOPPLER_MM128=0 DOPPLER_ATTN_FA=0 "$B/doppler" bench /tmp/m1 -p 512 -n 128 -r 3
step b_prof 40 "$B/doppler" bench /tmp/m1 -p 512 -n 0 -r 1 --profile
step b_mm_only 30 DOPPLER_ATTN_FA=0 "$B/doppler" bench /tmp/m1 -p 512 -n 0 -r 3
step k_tn8 40 DOPPLER_MM128_TN=8 "$B/doppler" bench kernels -m 512 --types f16,q4_k,q6_k
step b_tn4 30 DOPPLER_MM128_TN=4 "$B/doppler" bench /tmp/m1 -p 512 -n 0 -r 3
step b_wg256 30 DOPPLER_MM128_WG=256 "$B/doppler" bench /tmp/m1 -p 512 -n 0 -r 3
step b_wg128 30 DOPPLER_MM128_WG=128 "$B/doppler" bench /tmp/m1 -p 512 -n 0 -r 3
