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
echo "cli_smoke: $n passed, $bad failed"
[ $bad -eq 0 ]
