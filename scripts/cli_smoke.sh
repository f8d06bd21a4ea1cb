#!/usr/bin/env bash
# cli_smoke.sh -- the CLI's user-facing contract: JSON shapes and one-line errors with a
# non-zero exit for bad input.
set -uo pipefail
cd "$(dirname "$0")/.."
D=${DOPPLER_BIN:-./build/doppler}
n=0; bad=0
ok() { n=$((n+1)); }
no() { bad=$((bad+1)); echo "cli_smoke FAIL: $*"; }

out=$($D devices --json) && python3 -c '
import json,sys; d=json.loads(sys.argv[1])
assert d["backend"]=="vulkan", d; assert isinstance(d["features"],list); assert isinstance(d["limits"],dict)
assert d["limits"]["maxComputeWorkgroupsPerDimension"]>=65535' "$out" && ok || no "devices --json: $out"
for a in lavapipe swiftshader; do
  out=$($D devices --json --adapter $a) && python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["driver"]==sys.argv[2], d' "$out" $a && ok || no "devices --adapter $a"
done
err=$($D devices --adapter nosuch 2>&1); rc=$?
[ $rc -ne 0 ] && [ $(printf '%s\n' "$err" | wc -l) -eq 1 ] && [[ $err == *nosuch* ]] && ok || no "unknown adapter: rc=$rc '$err'"
err=$(DOPPLER_ADAPTER=/nonexistent/icd.json $D devices 2>&1); rc=$?
[ $rc -ne 0 ] && [ $(printf '%s\n' "$err" | wc -l) -eq 1 ] && ok || no "missing ICD: rc=$rc '$err'"
err=$($D frobnicate 2>&1); rc=$?
[ $rc -ne 0 ] && [[ $err == *frobnicate* ]] && ok || no "unknown command"
# tokenize --model: the tokenizer.json inside an RDRR directory, the GGUF tokenizer metadata of a
# .gguf (no tokenizer.json beside it); both must give eval.json's prompt ids (BOS 0 added).
S=${DP_SHARED:-../shared}
GG=$S/fixtures/gguf/doppler-tiny-llamacpp-f16.gguf
for m in models/doppler-tiny-f16 "$GG"; do
  out=$($D tokenize --model "$m" --text "The jury said" --add-special --json) && [ "$out" = "[0,476,502,1162,549]" ] && ok || no "tokenize --model $m: '$out'"
done
a=$($D tokenize --model models/doppler-tiny-f16 --file $S/models/doppler-tiny/heldout.txt) && \
b=$($D tokenize --model "$GG" --file $S/models/doppler-tiny/heldout.txt) && [ "$a" = "$b" ] && \
  [ $(printf '%s\n' "$a" | wc -w) -gt 80000 ] && ok || no "tokenize heldout: RDRR tokenizer.json and GGUF metadata differ"
out=$($D tokenize --model "$GG" --decode --text "0 476 502 1162 549") && [ "$out" = "<|begin_of_text|>The jury said" ] && ok || no "tokenize --decode (gguf): '$out'"
out=$(printf '"The jury"\n" said"\n' | $D tokenize --model models/doppler-tiny-f16 --jsonl) && [ "$out" = $'[476,502,1162]\n[549]' ] && ok || no "tokenize --jsonl: '$out'"
tmp=$(mktemp -d)  # an RDRR directory without its tokenizer.json: one-line error
ln -s "$PWD/models/doppler-tiny-f16/manifest.json" "$PWD/models/doppler-tiny-f16/shard_00000.bin" "$tmp/"
err=$($D tokenize --model "$tmp" --text x 2>&1); rc=$?
[ $rc -ne 0 ] && [ $(printf '%s\n' "$err" | wc -l) -eq 1 ] && [[ $err == *"no tokenizer.json"* ]] && ok || no "tokenize without tokenizer: rc=$rc '$err'"
rm -rf "$tmp"
# convert interrupted by SIGINT (and SIGTERM): no OUT and no OUT.tmp-PID left behind. If the
# conversion won the race and finished first, it must have exited 0 with a complete model.
tmp=$(mktemp -d)
for sig in INT TERM INTx2; do  # INTx2: INT then TERM at once: the 2nd signal removes the tmp in the handler
  for delay in 0.05 0.15; do
    rm -rf "$tmp"/o*
    $D convert $S/models/doppler-tiny "$tmp/o" --quant q4_k_m >/dev/null 2>"$tmp/err" & pid=$!
    sleep $delay; kill -${sig%x2} $pid 2>/dev/null; [ $sig = INTx2 ] && kill -TERM $pid 2>/dev/null; wait $pid; rc=$?
    left=$(cd "$tmp" && ls -d o.tmp-* 2>/dev/null)
    if [ $rc -eq 0 ]; then  # finished before the signal
      [ -z "$left" ] && $D inspect "$tmp/o" >/dev/null && ok || no "convert finished before SIG$sig: tmp '$left'"
    else
      [ -z "$left" ] && [ ! -e "$tmp/o" ] && [ $rc -ge 128 ] && ok || no "convert SIG$sig after ${delay}s: rc=$rc left '$left' $(ls "$tmp")"
    fi
  done
done
# RDRR hashes: open checks sizes only; inspect --verify (or DOPPLER_VERIFY=1) hashes every shard
$D convert $S/models/doppler-tiny "$tmp/v" --quant q8_0 --shard-size 1048576 2>/dev/null && \
  $D inspect "$tmp/v" --verify >/dev/null && ok || no "convert + inspect --verify"
printf 'X' | dd of="$tmp/v/shard_00003.bin" bs=1 seek=10 conv=notrunc 2>/dev/null
$D inspect "$tmp/v" >/dev/null && ok || no "inspect without --verify opens a model with a bad hash"
for verify in flag env; do
  if [ $verify = flag ]; then err=$($D inspect --verify "$tmp/v" 2>&1 >/dev/null); rc=$?
  else err=$(DOPPLER_VERIFY=1 $D inspect "$tmp/v" 2>&1 >/dev/null); rc=$?; fi
  [ $rc -eq 1 ] && [ $(printf '%s\n' "$err" | wc -l) -eq 1 ] && [[ $err == *"shard_00003.bin: SHA-256 mismatch"* ]] && ok || no "verify ($verify): rc=$rc '$err'"
done
rm -rf "$tmp"
# synth: a random odd-shaped checkpoint, then GPU logits against the CPU reference (checks.py rules)
tmp=$(mktemp -d)
PYNP=/usr/bin/python3; [ -x $PYNP ] || PYNP=python3  # Debian's python3 has python3-numpy (a pyenv one may not)
$D synth --arch gemma3 --out "$tmp/g" --vocab 333 --d-model 72 --heads 3 --head-dim 24 --ff 100 --config-form old --seed 7 && \
  $D logits "$tmp/g" --ids 5,17,300,2,9,11,40,41,42 --decode 6 --out "$tmp/gpu.st" 2>/dev/null && \
  $D logits "$tmp/g" --ids 5,17,300,2,9,11,40,41,42 --decode 6 --out "$tmp/cpu.st" --cpu 2>/dev/null && \
  $PYNP - "$tmp/gpu.st" "$tmp/cpu.st" <<'PY' && ok || no "synth + logits GPU vs --cpu"
import json, struct, sys
import numpy as np
def load(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); d = {}
    for k, v in h.items():
        if k == "__metadata__": continue
        s, e = v["data_offsets"]; dt = {"F32": np.float32, "I32": np.int32}[v["dtype"]]
        d[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=dt).reshape(v["shape"])
    return d
g, c = load(sys.argv[1]), load(sys.argv[2])
for k in ("logits", "gen_logits"):
    e = np.linalg.norm(g[k] - c[k]) / np.linalg.norm(c[k]); assert e <= 1e-4, (k, e)
assert (g["gen_ids"] == c["gen_ids"]).all(), (g["gen_ids"], c["gen_ids"])
PY
err=$($D synth --arch nosuch --out "$tmp/x" 2>&1); rc=$?
[ $rc -eq 2 ] && [[ $err == *nosuch* ]] && [ ! -e "$tmp/x" ] && ok || no "synth bad arch: rc=$rc '$err'"
# synth presets: listed; a bad name lists them, a cut past the end and a size beside a preset are refused
$D synth --list-presets | grep -q "gemma-3-4b *google/gemma-3-4b-it" && ok || no "synth --list-presets"
err=$($D synth --preset llama-9 --out "$tmp/x" 2>&1); rc=$?
[ $rc -eq 2 ] && [[ $err == *"llama-3.1-8b"* ]] && [ ! -e "$tmp/x" ] && ok || no "synth bad preset: rc=$rc '$err'"
err=$($D synth --preset qwen3-0.6b --layers 29 --out "$tmp/x" 2>&1); rc=$?
[ $rc -eq 2 ] && [[ $err == *"28 layers"* ]] && [ ! -e "$tmp/x" ] && ok || no "synth preset cut past the end: rc=$rc '$err'"
err=$($D synth --preset qwen3-0.6b --vocab 100 --out "$tmp/x" 2>&1); rc=$?
[ $rc -eq 2 ] && [[ $err == *"only --layers"* ]] && [ ! -e "$tmp/x" ] && ok || no "synth preset with a size: rc=$rc '$err'"
rm -rf "$tmp"
echo "cli_smoke: $n passed, $bad failed"
[ $bad -eq 0 ]
