#!/usr/bin/env bash
# device_mv.sh -- wip-mv's one device call (issue 13 item 1, the decode GEMVs; docs/device.md):
# `bash devbin/mv/run.sh` (a copy of this file) with doppler, gpu_kernels_gemv_i8 and lib/ in
# devbin/mv. Kernel comparisons run in one process (DOPPLER_BENCH_CONFIGS: an ops context per
# configuration, interleaved, 2 rounds, the second in reverse order, docs/bench.md); decode
# comparisons alternate processes on one synthesized model. Writes $OUT/summary.txt.
set -uo pipefail
BIN_DEFAULT=devbin/mv
source "$(dirname "$0")/../../scripts/device_env.sh"
[ -d $BIN/lib ] || export LD_LIBRARY_PATH=$PWD/devbin/final/lib:$LD_LIBRARY_PATH
log card: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader)
log commit: $(cat $BIN/commit)
# configurations: old = main's kernels (Q6_K, Q8_0 by word loads; SPR 1, U 2); new = this branch's defaults
C="DOPPLER_GEMV_I8_WIDE=0;DOPPLER_GEMV_I8_WIDE=1"
C="$C;DOPPLER_GEMV_I8_U=4,DOPPLER_GEMV_U=4"
C="$C;DOPPLER_GEMV_I8_SPR=2,DOPPLER_GEMV_SPR=2"
C="$C;DOPPLER_GEMV_I8_SPR=2,DOPPLER_GEMV_I8_U=4,DOPPLER_GEMV_SPR=4,DOPPLER_GEMV_U=4"
C="$C;DOPPLER_GEMV_I8_WG=128,DOPPLER_GEMV_WG=128"
C="$C;DOPPLER_GEMV_I8_R=2,DOPPLER_GEMV_I8_WG=128,DOPPLER_GEMV_R=1,DOPPLER_GEMV_SPR=4"
log "A. bench kernels -m 1, 4096 x 14336, every type (q8 input where it applies; configs: $C)"
DOPPLER_BENCH_CONFIGS="$C" timeout 75 $BIN/doppler bench kernels -m 1 --matvec-input q8 2>&1 | tee -a "$S"
C2="DOPPLER_GEMV_I8_WIDE=0;DOPPLER_GEMV_I8_WIDE=1;DOPPLER_GEMV_I8_U=4;DOPPLER_GEMV_I8_SPR=2;DOPPLER_GEMV_I8_R=2;DOPPLER_GEMV_I8_R=4"
log "C. bench kernels -m 1 q6_k, q4_k at 14336 x 4096 (the 8B LM head's K), later 2048 x 2048 and 512 x 2048 (1B) (configs: $C2)"
DOPPLER_BENCH_CONFIGS="$C2" timeout 25 $BIN/doppler bench kernels -m 1 --shape 14336,4096 --types q6_k,q4_k --matvec-input q8 2>&1 | tee -a "$S"
M=/tmp/mv_models; mkdir -p $M
log synth llama-3.2-1b, llama-3.1-8b q4_k_m
timeout 20 $BIN/doppler synth --preset llama-3.2-1b --quant q4_k_m --out $M/1b --no-tokenizer 2>&1 | tail -1 | tee -a "$S"
timeout 40 $BIN/doppler synth --preset llama-3.1-8b --quant q4_k_m --out $M/8b --no-tokenizer 2>&1 | tail -1 | tee -a "$S"
env_of() { case $1 in old) echo DOPPLER_GEMV_I8_WIDE=0;; new) echo DOPPLER_GEMV_I8_WIDE=1;; r2) echo DOPPLER_GEMV_I8_R=2;; esac; }
for mdl in 1b 8b; do
  cfgs="old new r2 old new"; [ $mdl = 8b ] && cfgs="old new old new"
  for cfg in $cfgs; do
    log "B. $mdl $cfg ($(env_of $cfg)): doppler bench MODEL -p 0 -n 128 -r 3"
    env $(env_of $cfg) timeout 40 $BIN/doppler bench $M/$mdl -p 0 -n 128 -r 3 2>&1 | grep "tg128\|rror" | tee -a "$S"
  done
  if [ $mdl = 1b ]; then
    for cfg in old new; do
      log "P. 1b $cfg profile inside the pass (DOPPLER_PROFILE_INPASS=1): -p 0 -n 64 -r 1 --profile"
      env $(env_of $cfg) DOPPLER_PROFILE_INPASS=1 timeout 25 $BIN/doppler bench $M/1b -p 0 -n 64 -r 1 --profile 2>&1 | grep -i "gemv\|quantize\|total\|profile" | head -8 | tee -a "$S"
    done
  fi
done
rm -rf $M
for sh in 2048,2048 512,2048; do
  DOPPLER_BENCH_CONFIGS="$C2" timeout 20 $BIN/doppler bench kernels -m 1 --shape $sh --types q6_k,q4_k --matvec-input q8 2>&1 | tee -a "$S"
done
log "E. gpu_kernels_gemv_i8 on the card"
timeout 30 $BIN/gpu_kernels_gemv_i8 2>&1 | tail -3 | tee -a "$S"
log done
