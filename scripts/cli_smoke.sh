#!/usr/bin/env bash
# cli_smoke.sh -- the CLI's user-facing contract: JSON shapes; one-line errors shaped
# `doppler CMD: WHAT`, exit 2 for usage errors and 1 for runtime failures; prompts from -p, -f
# and stdin alike; -n -1 to a full context; progress on stderr only; make install relocatable.
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
# bench: the JSON records and the table on doppler-tiny at tiny sizes (no timing asserted)
out=$($D bench models/doppler-tiny-f16 -p 16 -n 8 -d 16 -r 2 --json) && python3 -c '
import json,sys; d=json.loads(sys.argv[1]); assert len(d)==3, d
assert [(r["n_prompt"],r["n_gen"],r["n_depth"]) for r in d]==[(16,0,0),(0,8,0),(0,8,16)], d
for r in d:
    for k in ("model_type","model_size","model_n_params","avg_ts","stddev_ts","adapter","dispatches_per_token"): assert k in r, k
    assert len(r["samples_ts"])==2 and r["avg_ts"]>0 and r["stddev_ts"]>=0 and r["model_n_params"]==5770496, r
    assert (r["flops_fraction"] is None)==(r["n_gen"]>0) and (r["bw_fraction"] is None)==(r["n_prompt"]>0), r
assert d[1]["bytes_per_token"]<d[2]["bytes_per_token"], d' "$out" && ok || no "bench --json: $out"
out=$($D bench models/doppler-tiny-q4_k_m -p 16 -n 4 -r 1 --ceilings 10,1) && [ $(printf '%s\n' "$out" | grep -c '^| llama') -eq 2 ] && \
  [[ $out == *"| pp16 |"* ]] && [[ $out == *"q4_k/q6_k"* ]] && [[ $out == *"ceilings (--ceilings): 10.0 GB/s"* ]] && ok || no "bench table: $out"
for flags in "-r 0" "-p x" "--ceilings 5" "--frob 1"; do
  err=$($D bench models/doppler-tiny-f16 $flags 2>&1 >/dev/null); rc=$?
  [ $rc -eq 2 ] && [[ $err == "doppler bench: "* ]] && ok || no "bench $flags: rc=$rc '$err'"
done
out=$($D bench kernels --shape 64,256 -m 1,5 --types q8_0,f16 --json) && python3 -c '
import json,sys; d=json.loads(sys.argv[1])
assert [(r["type"],r["m"],r["n"],r["k"]) for r in d]==[("q8_0",1,64,256),("q8_0",5,64,256),("f16",1,64,256),("f16",5,64,256)], d
assert all(r["us"]>0 and r["gbps"]>0 and r["tflops"]>0 and r["reps"]>=1 for r in d), d' "$out" && ok || no "bench kernels --json: $out"
err=$($D bench kernels --types q5_0 2>&1); rc=$?
[ $rc -eq 2 ] && [ $(printf '%s\n' "$err" | wc -l) -eq 1 ] && [[ $err == *q5_0* ]] && ok || no "bench kernels bad type: rc=$rc '$err'"
# convert interrupted by SIGINT (and SIGTERM): no OUT and no OUT.tmp-PID left behind. If the
# conversion won the race and finished first, it must have exited 0 with a complete model.
tmp=$(mktemp -d)
for sig in INT TERM HUP INTx2; do  # INTx2: INT then TERM at once: the 2nd signal removes the tmp in the handler
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
# convert replaces only a model it wrote: a stray file beside a manifest.json is an error (exit 1)
# naming it, and nothing is removed; a SIGKILLed convert's OUT.tmp-PID is removed by the next one
mkdir "$tmp/s" && echo keep > "$tmp/s/notes.txt" && echo '{}' > "$tmp/s/manifest.json"
err=$($D convert $S/fixtures/golden/llama2 "$tmp/s" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $err == *"not an RDRR model"* ]] && [ "$(cat "$tmp/s/notes.txt")" = keep ] && ok || no "convert onto a foreign directory: rc=$rc '$err'"
$D convert $S/models/doppler-tiny "$tmp/k" --quant q4_k_m >/dev/null 2>&1 & pid=$!
sleep 0.3; kill -KILL $pid 2>/dev/null; wait $pid
$D convert $S/fixtures/golden/llama2 "$tmp/k" >/dev/null 2>&1 && [ -z "$(cd "$tmp" && ls -d k.tmp-* 2>/dev/null)" ] && ok || no "SIGKILL leftover not removed"
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
# Exit status and message shape: 2 for usage errors, 1 for runtime failures, one line
# `doppler CMD: ...` on stderr and nothing on stdout.
M=models/doppler-tiny-f16
expect() {  # rc cmd-name args...
  local want=$1 cmd=$2; shift 2
  local out err rc
  out=$($D "$@" 2>"$tmpx/err" </dev/null); rc=$?; err=$(cat "$tmpx/err")
  [ $rc -eq $want ] && [ -z "$out" ] && [ $(printf '%s\n' "$err" | wc -l) -eq 1 ] && [[ $err == "doppler $cmd: "* ]] && ok \
    || no "exit $want expected: doppler $*: rc=$rc '$err'"
}
tmpx=$(mktemp -d)
expect 2 run run -p x -n abc
[ "$(cat "$tmpx/err")" = "doppler run: -n: 'abc' is not a number (see \`doppler run --help\`)" ] && ok || no "-n abc message: $(cat "$tmpx/err")"
expect 2 run run -p x -n -2
expect 2 run run -p x --temp -1
expect 2 run run -p x --top-p 1.5
expect 2 run run -p x --top-k 2.5
expect 2 run run -p x --seed 18446744073709551616
expect 2 run run -p x --ctx 0
expect 2 run run $M -p x --ctx 100000   # past the model's positions
expect 2 run run -p x --bogus
expect 2 run run $M -p x -n 5000          # past what the context leaves after the prompt
expect 1 run run $M -p "The jury said" --ctx 3   # a prompt longer than the context
expect 2 run run -p
expect 2 run run -n 4
expect 2 chat chat --steps 3
expect 2 perplexity perplexity $M --file x --ctx -5
expect 2 logits logits $M --ids 1,2 --out "$tmpx/l" --decode x
expect 2 logits logits $M --ids 1,999999 --out "$tmpx/l"
expect 2 convert convert $M "$tmpx/c" --quant q9_9
expect 2 convert convert $M "$tmpx/c" --shard-size 0
expect 2 tokenize tokenize --model $M
expect 2 inspect inspect $M extra
expect 2 devices devices --nope
expect 2 update-manifest update-manifest
expect 1 run run /nonexistent -p x
expect 1 run run $M -f /nonexistent
expect 1 inspect inspect /nonexistent
expect 1 perplexity perplexity $M --file /nonexistent
expect 1 convert convert /nonexistent "$tmpx/c"
expect 1 tokenize tokenize --model /nonexistent --text x
expect 1 logits logits /nonexistent --ids 1 --out "$tmpx/l"
printf 'The \0jury' >"$tmpx/nul"; expect 1 run run $M -f "$tmpx/nul"
[[ $(cat "$tmpx/err") == *NUL* ]] && ok || no "NUL in a prompt: $(cat "$tmpx/err")"
printf 'The \xffjury' >"$tmpx/bad"; expect 1 run run $M -f "$tmpx/bad"
[[ $(cat "$tmpx/err") == *"not valid UTF-8"* ]] && ok || no "invalid UTF-8 in a prompt: $(cat "$tmpx/err")"
out=$($D frobnicate 2>&1); [ $? -eq 2 ] && ok || no "unknown command: exit 2"
out=$($D --version) && [[ $out =~ ^doppler\ [0-9]+\.[0-9]+\.[0-9]+$ ]] && ok || no "--version: '$out'"
# Prompts: -p TEXT, -f FILE (one trailing newline dropped) and -p - (stdin) give the same stdout,
# prompt echo included, for a short prompt and a ~3 KB one (~830 of the 1024 positions).
G="--temp 0 -n 6"
a=$($D run $M -p "The jury said" $G 2>/dev/null) && [[ $a == "The jury said"?* ]] && ok || no "run -p: '$a'"
echo "The jury said" >"$tmpx/p"
b=$($D run $M -f "$tmpx/p" $G 2>/dev/null) && c=$(printf 'The jury said' | $D run $M -p - $G 2>/dev/null) && \
  [ "$a" = "$b" ] && [ "$a" = "$c" ] && ok || no "-p / -f / -p - fail or differ: '$a' '$b' '$c'"
head -c 3000 $S/models/doppler-tiny/heldout.txt | iconv -f utf-8 -t utf-8 -c >"$tmpx/big"
a=$($D run $M -p "$(cat "$tmpx/big")" $G 2>/dev/null) && b=$($D run $M -f "$tmpx/big" $G 2>/dev/null) && \
  c=$($D run $M -p - $G <"$tmpx/big" 2>/dev/null) && [ ${#a} -gt 2900 ] && [ "$a" = "$b" ] && [ "$a" = "$c" ] && ok \
  || no "big prompt: -p / -f / -p - fail or differ (${#a} ${#b} ${#c} chars)"
# --verbose-prompt: every token fed, BOS first, `ID -> 'PIECE'` on stderr; stdout unchanged
a=$($D run $M -p "The jury said" $G 2>/dev/null); b=$($D run $M -p "The jury said" $G --verbose-prompt 2>"$tmpx/err")
v=$(grep -- "->" "$tmpx/err")
[ "$a" = "$b" ] && [ "$v" = "     0 -> '<|begin_of_text|>'
   476 -> 'The'
   502 -> ' j'
  1162 -> 'ury'
   549 -> ' said'" ] && ok || no "--verbose-prompt: '$v'"
# -n -1: until end-of-sequence or a full context; --ignore-eos makes it the context: a notice, exit 0
out=$($D run $M -p "The jury said" -n -1 --ctx 16 --ignore-eos 2>"$tmpx/err"); rc=$?
[ $rc -eq 0 ] && [[ $out == "The jury said"?* ]] && grep -q "^doppler run: context full (16 tokens)" "$tmpx/err" && \
  grep -q "prefill: 5 tokens.*decode: 11 tokens" "$tmpx/err" && ok || no "-n -1 --ctx 16: rc=$rc $(cat "$tmpx/err")"
# a file inside a model directory stands for the directory
a=$($D run $M -p "The jury said" $G 2>/dev/null) && b=$($D run $M/manifest.json -p "The jury said" $G 2>/dev/null) && \
  [[ $a == "The jury said"?* ]] && [ "$a" = "$b" ] && ok || no "run MODEL/manifest.json: '$b'"
out=$($D update-manifest $M/manifest.json --compute-precision f16 --dry-run) && [[ $out == *"f32 -> f16"* ]] && ok \
  || no "update-manifest MODEL/manifest.json: '$out'"
for f in config.json model.safetensors; do
  out=$($D inspect $S/models/doppler-tiny/$f) && [[ ${out%%$'\n'*} == *"models/doppler-tiny (hf)" ]] && ok || no "inspect $f: '${out%%$'\n'*}'"
done
# convert: --quant in any case gives the same bytes; stdout empty, stderr one summary line (not a terminal)
$D convert $M "$tmpx/a" --quant Q8_0 >"$tmpx/out" 2>"$tmpx/err" && $D convert $M "$tmpx/b" --quant q8_0 2>/dev/null && \
  cmp -s "$tmpx/a/shard_00000.bin" "$tmpx/b/shard_00000.bin" && [ ! -s "$tmpx/out" ] && \
  [[ $(cat "$tmpx/err") =~ ^converted\ [0-9]+\ tensors,\ .*MB/s\)$ ]] && ok || no "convert --quant Q8_0: $(cat "$tmpx/err")"
# perplexity: stdout only `perplexity: X.XXXX`; stderr (not a terminal) one summary line
out=$($D perplexity $M --file $S/models/doppler-tiny/heldout.txt --ctx 32 --windows 2 2>"$tmpx/err")
[[ $out =~ ^perplexity:\ [0-9]+\.[0-9]{4}$ ]] && [ $(wc -l <"$tmpx/err") -eq 1 ] && ! grep -q "^perplexity:" "$tmpx/err" && \
  ok || no "perplexity output: '$out' / '$(cat "$tmpx/err")'"
# make install: relocatable (Dawn through $ORIGIN/../lib), default model from share/doppler/models
make -s install PREFIX="$tmpx/inst" >/dev/null 2>&1 && mv "$tmpx/inst" "$tmpx/moved" && \
  out=$(cd / && env -u LD_LIBRARY_PATH -u DOPPLER_MODELS -u DOPPLER_MODEL_DIR "$tmpx/moved/bin/doppler" run -p "The jury said" $G 2>/dev/null) && \
  [ "$out" = "$a" ] && ok || no "make install + run from elsewhere: '$out'"
# $DOPPLER_MODELS (a folder of models or a model) and its older name $DOPPLER_MODEL_DIR
q=$($D run models/doppler-tiny-q4_k_m -p "The jury said" $G 2>/dev/null)
b=$(DOPPLER_MODELS=$PWD/models/doppler-tiny-q4_k_m $D run -p "The jury said" $G 2>/dev/null)
c=$(DOPPLER_MODEL_DIR=$PWD/models/doppler-tiny-q4_k_m $D run -p "The jury said" $G 2>/dev/null)
d=$(cd / && DOPPLER_MODELS="$tmpx/moved/share/doppler/models" "$tmpx/moved/bin/doppler" run -p "The jury said" $G 2>/dev/null)
[[ $q == "The jury said"?* ]] && [ "$b" = "$q" ] && [ "$c" = "$q" ] && [ "$d" = "$a" ] && ok \
  || no "DOPPLER_MODELS: '$q' '$b' '$c' '$d'"
for v in DOPPLER_MODELS DOPPLER_MODEL_DIR; do  # consulted: a folder without the model is an error
  out=$(env $v="$tmpx" $D run -p x 2>&1); [ $? -eq 1 ] && [[ $out == *DOPPLER_MODELS* ]] && ok || no "$v without a model: '$out'"
done
rm -rf "$tmpx"
# kernel variants: --list one a line NAME<TAB>OP<TAB>CONDITION (matrix products' OPs contain matmul);
# --dump NAME a complete module; --kernel NAME=FILE swaps it in (dumped modules: identical
# logits), a module that fails to compile or to match the CPU reference exits 1, an unknown NAME 2.
tmpk=$(mktemp -d)
$D bench kernels --list > "$tmpk/list" && awk -F'\t' 'NF != 3 { exit 1 }' "$tmpk/list" && [ $(wc -l < "$tmpk/list") -gt 20 ] && \
  grep -q $'^matmul_gemv_q4_k\tmatmul\t' "$tmpk/list" && [ $(awk -F'\t' '$1 ~ /^matmul/ && $2 !~ /matmul/' "$tmpk/list" | wc -l) -eq 0 ] \
  && ok || no "bench kernels --list: $(head -3 "$tmpk/list")"
err=$($D bench kernels --dump nosuch 2>&1 >/dev/null); [ $? -eq 2 ] && [[ $err == *nosuch* ]] && ok || no "bench kernels --dump nosuch: '$err'"
err=$($D run models/doppler-tiny-f16 -p "The jury said" -n 2 --verbose 2>&1 >/dev/null) && \
  [[ $err == *"doppler run: kernel rmsnorm rmsnorm"* ]] && printf '%s\n' "$err" | grep -q '^doppler run: kernel [a-z_]*matmul[a-z_]* [a-z0-9_]* (' && ok \
  || no "run --verbose: no kernel lines: '$err'"
sw=""
for k in rmsnorm glu_inplace rope_kv; do
  $D bench kernels --dump $k > "$tmpk/$k.wgsl" && grep -q '@compute' "$tmpk/$k.wgsl" && ok || no "bench kernels --dump $k"
  sw="$sw --kernel $k=$tmpk/$k.wgsl"
done
M=models/doppler-tiny-f16
$D logits $M --ids 0,476,502 --out "$tmpk/a.st" >/dev/null 2>&1 && $D logits $M --ids 0,476,502 --out "$tmpk/b.st" $sw >/dev/null 2>&1 && \
  cmp -s "$tmpk/a.st" "$tmpk/b.st" && ok || no "logits with the dumped kernels swapped in differ"
a=$($D run $M -p "The jury said" -n 6 2>/dev/null) && b=$($D run $M -p "The jury said" -n 6 $sw 2>/dev/null) && [ "$a" = "$b" ] && ok || no "run --kernel (dumped): '$a' vs '$b'"
$D bench kernels --dump add | sed 's/Y\[i\] = A\[i\] + B\[i\]/Y[i] = A[i] - B[i]/' > "$tmpk/sub.wgsl"
printf 'fn broken( {\n' > "$tmpk/bad.wgsl"
for c in "run $M -p x -n 1" "logits $M --ids 1 --out $tmpk/c.st" "perplexity $M --file README.md --windows 1 --quiet" "bench $M -p 4 -n 0 -r 1"; do
  cmd=${c%% *}
  for kb in "add=$tmpk/sub.wgsl" "rmsnorm=$tmpk/bad.wgsl"; do
    err=$($D $c --kernel $kb 2>&1 >/dev/null); rc=$?
    [ $rc -eq 1 ] && [ $(printf '%s\n' "$err" | wc -l) -eq 1 ] && [[ $err == "doppler $cmd: kernel ${kb%%=*}: "* ]] && ok || no "$cmd --kernel $kb: rc=$rc '$err'"
  done
  err=$($D $c --kernel nosuch=$tmpk/bad.wgsl 2>&1 >/dev/null); rc=$?
  [ $rc -eq 2 ] && [[ $err == *nosuch* ]] && ok || no "$cmd --kernel nosuch: rc=$rc '$err'"
done
rm -rf "$tmpk"
# run-time overrides: --q4k-matmul / --compute-precision / --matvec-input on run, chat, logits, perplexity, bench;
# a bad value exits 2 naming the flag; the manifest's hints are read (update-manifest writes
# them) and a flag wins over them; --verbose says which is in force and why; the seed's aliases.
tmpo=$(mktemp -d); Q=models/doppler-tiny-q4_k_m
for c in "run $Q -p x -n 1" "chat $Q" "logits $Q --ids 1 --out $tmpo/x.st" "perplexity $Q --file README.md --windows 1 --quiet" "bench $Q -p 4 -n 0 -r 1"; do
  cmd=${c%% *}
  for fv in "--q4k-matmul nope" "--compute-precision f64" "--matvec-input q4"; do
    err=$($D $c $fv 2>&1 >/dev/null </dev/null); rc=$?
    [ $rc -eq 2 ] && [ $(printf '%s\n' "$err" | wc -l) -eq 1 ] && [[ $err == "doppler $cmd: ${fv%% *}: "* ]] && ok || no "$cmd $fv: rc=$rc '$err'"
  done
done
cp -r $Q "$tmpo/q" && $D update-manifest "$tmpo/q" --q4k-matmul dequant --compute-precision f32 >/dev/null && ok || no "update-manifest hints"
L="logits $tmpo/q --ids 0,476,502 --adapter lavapipe --verbose --out"
err=$($D $L "$tmpo/h.st" 2>&1 >/dev/null) && [[ $err == *"q4k-matmul dequant (manifest hint); compute-precision f32 (manifest hint)"* ]] && \
  [[ $err != *"_q4_k ("* ]] && ok || no "hints read: '$err'"
err=$($D $L "$tmpo/f.st" --q4k-matmul fused_q4k 2>&1 >/dev/null) && [[ $err == *"q4k-matmul fused (flag); compute-precision f32 (manifest hint)"* ]] && \
  [[ $err == *"_q4_k ("* ]] && ok || no "flag wins over the hint: '$err'"
err=$($D $L "$tmpo/g.st" --q4k-matmul dequant_f16 2>&1 >/dev/null) && [[ $err == *"q4k-matmul dequant (flag); compute-precision f16 (flag)"* ]] && \
  ok || no "dequant_f16 alias: '$err'"
# --matvec-input: a CPU adapter keeps f32 input (its own kernel family); with the GPU family forced
# (DOPPLER_KERNEL_FAMILY=gpu, as the lent GPUs run) q8 runs quantize_x and matmul_gemv_i8, f32 does not
err=$($D $L "$tmpo/m.st" --matvec-input q8 2>&1 >/dev/null) && [[ $err == *"; matvec-input f32"* ]] && ok || no "matvec-input on lavapipe: '$err'"
err=$(DOPPLER_KERNEL_FAMILY=gpu $D run $Q -p x -n 2 --adapter lavapipe --verbose 2>&1 >/dev/null) && [[ $err == *"; matvec-input f32"* ]] && \
  [[ $err != *"gemv_i8"* ]] && ok || no "gpu family, default input on a CPU adapter: '$err'"
err=$(DOPPLER_KERNEL_FAMILY=gpu $D run $Q -p x -n 2 --adapter lavapipe --matvec-input q8 --verbose 2>&1 >/dev/null) && \
  [[ $err == *"; matvec-input q8"* ]] && [[ $err == *"matmul_gemv_i8_q4_k ("* ]] && [[ $err == *"quantize_x ("* ]] && ok || no "gpu family, q8: '$err'"
err=$($D $L "$tmpo/s.st" --compute-precision f16 --adapter swiftshader 2>&1 >/dev/null) && [[ $err == *"no shader-f16; using f32"* ]] && \
  [[ $err == *"compute-precision f32 (fallback: no shader-f16)"* ]] && ok || no "f16 fallback on swiftshader: '$err'"
python3 - "$tmpo/h.st" "$tmpo/f.st" <<'PY' && ok || no "logits: dequant (hint) vs fused (flag) beyond 1e-4"
import json, struct, sys, math
def logits(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8+n])['logits']
    s, e = h['data_offsets']; d = b[8+n+s:8+n+e]; return struct.unpack('<%df' % (len(d)//4), d)
a, r = logits(sys.argv[1]), logits(sys.argv[2])
err = math.sqrt(sum((x-y)**2 for x, y in zip(a, r)) / sum(y*y for y in r))
sys.exit(0 if err <= 1e-4 else 1)
PY
err=$($D bench $Q -p 0 -n 4 -r 1 --q4k-matmul dequant --verbose 2>&1 >/dev/null) && [[ $err == *"doppler bench: q4k-matmul dequant (flag)"* ]] && ok || no "bench --q4k-matmul: '$err'"
rm -rf "$tmpo"
# --expert-budget (MoE): below top-k and a bad unit are usage errors on every command that takes it;
# a quarter of the experts gives the resident logits, and --verbose names the budget and counters
M=$S/fixtures/golden/mixtral; tmpe=$(mktemp -d)
for c in "run $M -p x -n 1" "chat $M" "logits $M --ids 1 --out $tmpe/x.st" "perplexity $M --file README.md --quiet"; do
  cmd=${c%% *}
  for fv in "--expert-budget 1" "--expert-budget 5X"; do
    err=$($D $c $fv --adapter lavapipe 2>&1 >/dev/null </dev/null); rc=$?
    [ $rc -eq 2 ] && [ $(printf '%s\n' "$err" | wc -l) -eq 1 ] && [[ $err == "doppler $cmd: "*"expert-budget"* ]] && ok || no "$cmd $fv: rc=$rc '$err'"
  done
done
E="logits $M --ids 3,1,4,1,5,9,2,6,5,3,5,8,9,7,9 --decode 4 --adapter lavapipe"
$D $E --out "$tmpe/full.st" 2>/dev/null && err=$($D $E --out "$tmpe/b.st" --expert-budget 2 --verbose 2>&1 >/dev/null) && \
  [[ $err == *"experts: budget 2 of 8 per layer (paged), hits "*", misses "*", paged "*" bytes"* ]] && cmp -s "$tmpe/full.st" "$tmpe/b.st" && \
  ok || no "--expert-budget 2: '$err' $(cmp "$tmpe/full.st" "$tmpe/b.st" 2>&1)"
rm -rf "$tmpe"
echo "cli_smoke: $n passed, $bad failed"
[ $bad -eq 0 ]
