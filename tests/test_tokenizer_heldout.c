/* test_tokenizer_heldout.c -- the doppler-tiny tokenizer reproduces the perplexity token stream
 * ../shared/models/doppler-tiny/heldout_ids.i32 (84,221 little-endian int32 made with HF
 * tokenizers) exactly, built as ../shared/fixtures/README.md says: heldout.txt split on "\n\n"
 * into 25 documents, each encoded without special tokens, stream = [BOS] doc1 [EOS] [BOS] doc2
 * [EOS] ... (BOS = 0 from tokenizer_config.json's bos_token, EOS = its eos_token). Checked for
 * the tokenizer.json and for the GGUF tokenizer metadata of the llama.cpp conversion. */
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "format/gguf.h"
#include "testlib.h"
#include "tokenizer/tokenizer.h"

static void check_stream(dp_tokenizer *t, const char *name, const char *text, size_t len, const int32_t *want, size_t nwant) {
  dp_token_list s = {0};
  int32_t bos = dp_tokenizer_bos(t), eos = dp_tokenizer_eos(t);
  CHECK(bos == 0 && eos >= 0, "%s: BOS %d (want 0), EOS %d", name, (int)bos, (int)eos);
  size_t docs = 0, pos = 0;
  dp_status st = DP_OK;
  while (pos <= len && !st) {
    const char *sep = NULL;
    for (size_t i = pos; i + 1 < len; i++)
      if (text[i] == '\n' && text[i + 1] == '\n') { sep = text + i; break; }
    size_t end = sep ? (size_t)(sep - text) : len;
    st = dp_token_list_push(&s, bos);
    if (!st) st = dp_tokenizer_encode(t, text + pos, end - pos, 0, &s);
    if (!st) st = dp_token_list_push(&s, eos);
    docs++;
    pos = end + 2;
    if (!sep) break;
  }
  CHECK(st == DP_OK, "%s: encode: %s", name, dp_error_message());
  CHECK(docs == 25, "%s: %zu documents (want 25)", name, docs);
  size_t first = 0;
  while (first < s.n && first < nwant && s.ids[first] == want[first]) first++;
  CHECK(s.n == nwant && first == nwant, "%s: %zu ids (want %zu), first difference at %zu (got %d want %d)", name, s.n, nwant,
        first, first < s.n ? (int)s.ids[first] : -1, first < nwant ? (int)want[first] : -1);
  printf("%s: %zu documents, %zu ids, identical prefix %zu\n", name, docs, s.n, first);
  dp_token_list_free(&s);
}

int main(void) {
  char *text = NULL, *raw = NULL;
  size_t len = 0, rlen = 0;
  dp_status st = dp_file_read_all(dp_test_shared("models/doppler-tiny/heldout.txt"), &text, &len);
  CHECK(st == DP_OK, "heldout.txt: %s", dp_error_message());
  st = dp_file_read_all(dp_test_shared("models/doppler-tiny/heldout_ids.i32"), &raw, &rlen);
  CHECK(st == DP_OK && rlen == 84221 * 4, "heldout_ids.i32: %zu bytes (want %d)", rlen, 84221 * 4);
  if (!text || !raw) { dp_free(text); dp_free(raw); return dp_test_summary("test_tokenizer_heldout"); }
  size_t nwant = rlen / 4;
  int32_t *want = dp_malloc(nwant * sizeof *want);
  for (size_t i = 0; i < nwant; i++) { /* little-endian on any host */
    const uint8_t *b = (const uint8_t *)raw + 4 * i;
    want[i] = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
  }
  dp_tokenizer *tj = NULL;
  st = dp_tokenizer_load_json(dp_test_shared("models/doppler-tiny/tokenizer.json"), &tj);
  CHECK(st == DP_OK, "tokenizer.json: %s", dp_error_message());
  if (tj) check_stream(tj, "tokenizer.json", text, len, want, nwant);
  dp_tokenizer_free(tj);

  dp_gguf *g = NULL;
  st = dp_gguf_open(dp_test_shared("fixtures/gguf/doppler-tiny-llamacpp-f16.gguf"), &g);
  CHECK(st == DP_OK, "gguf: %s", dp_error_message());
  dp_tokenizer *tg = NULL;
  if (g) {
    st = dp_tokenizer_from_gguf(g, &tg);
    CHECK(st == DP_OK, "from gguf: %s", dp_error_message());
  }
  if (tg) check_stream(tg, "gguf", text, len, want, nwant);
  dp_tokenizer_free(tg);
  dp_gguf_free(g);
  dp_free(want);
  dp_free(text);
  dp_free(raw);
  return dp_test_summary("test_tokenizer_heldout");
}
