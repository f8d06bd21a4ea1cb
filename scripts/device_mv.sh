#!/usr/bin/env bash
# device_mv.sh -- wip-mv's one device call (issue 13 item 1, the decode GEMVs): run from the
# repository root on the device as `bash devbin/mv/run.sh` (a copy of this file) with the binary in
# devbin/mv. Every comparison is in one process (DOPPLER_BENCH_CONFIGS: each configuration an ops
# context, interleaved, 2 rounds, the order reversed in the second) or, for the decode benches,
# alternating processes on one synthesized model. Writes $OUT/summary.txt.
set -uo pipefail
cd "$(dirname "$0")/../.."
D=devbin/mv
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
L=$D/lib; [ -d $L ] || L=devbin/final/lib
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json XDG_RUNTIME_DIR=/tmp DOPPLER_ADAPTER=default
export LD_LIBRARY_PATH=$PWD/$L:$PWD/node_modules/bun-webgpu-linux-x64
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; S=$OUT/summary.txt
ts() { echo "== $(date +%T) $*" | tee -a "$S"; }
ts card: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader)
ts commit: $(cat $D/commit)
OLD="DOPPLER_GEMV_I8_Q6V=0"  # main's matmul_gemv_i8 (Q6_K by word loads; SPR 1, U 2, R 1, WG 256 as before)
I8="$OLD;DOPPLER_GEMV_I8_U=2;DOPPLER_GEMV_I8_U=4;DOPPLER_GEMV_I8_SPR=2;DOPPLER_GEMV_I8_SPR=2,DOPPLER_GEMV_I8_U=4;DOPPLER_GEMV_I8_R=2,DOPPLER_GEMV_I8_WG=128"
ts "A. int8-input GEMVs 4096 x 14336 (configs: $I8)"
DOPPLER_BENCH_CONFIGS="$I8" timeout 70 $D/doppler bench kernels -m 1 --types q4_k,q6_k,q8_0 --matvec-input q8 2>&1 | tee -a "$S"
M=/tmp/mv_models; mkdir -p $M
ts synth llama-3.1-8b, llama-3.2-1b q4_k_m
timeout 40 $D/doppler synth --preset llama-3.1-8b --quant q4_k_m --out $M/8b --no-tokenizer 2>&1 | tail -2 | tee -a "$S"
timeout 20 $D/doppler synth --preset llama-3.2-1b --quant q4_k_m --out $M/1b --no-tokenizer 2>&1 | tail -2 | tee -a "$S"
for mdl in 8b 1b; do
  for cfg in old new u4 old new; do
    case $cfg in old) E="DOPPLER_GEMV_I8_Q6V=0";; new) E="DOPPLER_GEMV_I8_Q6V=1";; u4) E="DOPPLER_GEMV_I8_U=4";; esac
    ts "B. $mdl $cfg ($E): bench -p 0 -n 128 -r 3"
    env $E timeout 40 $D/doppler bench $M/$mdl -p 0 -n 128 -r 3 2>&1 | grep -v "^$" | tail -4 | tee -a "$S"
  done
done
rm -rf $M
ts "C. int8-input GEMVs 14336 x 4096 (K of the 8B LM head) and 2048 x 2048 (1B)"
I8B="$OLD;DOPPLER_GEMV_I8_U=2;DOPPLER_GEMV_I8_U=4"
DOPPLER_BENCH_CONFIGS="$I8B" timeout 40 $D/doppler bench kernels -m 1 --shape 14336,4096 --types q6_k,q4_k --matvec-input q8 2>&1 | tee -a "$S"
DOPPLER_BENCH_CONFIGS="$I8B" timeout 20 $D/doppler bench kernels -m 1 --shape 2048,2048 --types q4_k,q6_k --matvec-input q8 2>&1 | tee -a "$S"
SGC="DOPPLER_GEMV_U=2;DOPPLER_GEMV_U=4;DOPPLER_GEMV_SPR=2,DOPPLER_GEMV_U=4;DOPPLER_GEMV_R=1,DOPPLER_GEMV_SPR=4"
ts "D. f32-input GEMVs 4096 x 14336 (configs: $SGC)"
DOPPLER_BENCH_CONFIGS="$SGC" timeout 50 $D/doppler bench kernels -m 1 --types f16,bf16,mxfp4 2>&1 | tee -a "$S"
ts done
