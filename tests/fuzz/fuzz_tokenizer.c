/* fuzz_tokenizer.c -- libFuzzer target for the tokenizer: the tokenizer.json loader (input as
 * the JSON text: no crash, no leak, errors only), and the encoder/decoder (input as text to a
 * byte-level tokenizer built from a small in-memory tokenizer.json exercising added tokens,
 * Split regex, ByteLevel; and, when DP_SHARED points at ../shared, doppler-tiny's real file):
 * for valid UTF-8, decode(encode(x)) == x must hold (and the tokens' pieces concatenate to x)
 * and the streaming decode must agree; invalid
 * UTF-8 must be refused. The first input byte picks the mode.
 * Built and run by scripts/fuzz.sh (clang-14, -fsanitize=fuzzer,address,undefined). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/buf.h"
#include "core/utf8.h"
#include "tokenizer/tokenizer.h"

static const char TINY[] =
    "{\"model\":{\"type\":\"BPE\",\"vocab\":{"
    "\"a\":0,\"b\":1,\"c\":2,\"\xc4\xa0\":3,\"ab\":4,\"\xc4\xa0" "a\":5,\"abc\":6,\"<|x|>\":7,\"d\":8},"
    "\"merges\":[\"a b\",[\"\xc4\xa0\",\"a\"],\"ab c\"],\"ignore_merges\":false},"
    "\"added_tokens\":[{\"id\":7,\"content\":\"<|x|>\",\"special\":true,\"lstrip\":true,\"rstrip\":false,\"normalized\":false,\"single_word\":false}],"
    "\"normalizer\":null,"
    "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
    "\"(?i:'s|'t)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
    "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}]},"
    "\"decoder\":{\"type\":\"ByteLevel\"},\"post_processor\":null}";

static dp_tokenizer *g_tiny, *g_real;

static void init(void) {
  if (g_tiny) return;
  if (dp_tokenizer_load_json_text(TINY, sizeof TINY - 1, NULL, 0, &g_tiny)) { fprintf(stderr, "fuzz: tiny tokenizer failed\n"); abort(); }
  const char *sh = getenv("DP_SHARED");
  if (sh) {
    char p[1024];
    snprintf(p, sizeof p, "%s/models/doppler-tiny/tokenizer.json", sh);
    dp_tokenizer_load_json(p, &g_real);
  }
}

static void roundtrip(dp_tokenizer *t, const uint8_t *d, size_t n, int complete_vocab) {
  dp_token_list ids = {0};
  int valid = dp_utf8_validate((const char *)d, n) == n;
  dp_status st = dp_tokenizer_encode(t, (const char *)d, n, DP_TOK_PARSE_SPECIAL, &ids);
  if (!valid) { if (st == DP_OK) abort(); dp_token_list_free(&ids); return; }
  if (st) { dp_token_list_free(&ids); return; } /* e.g. regex budget: an error, not a crash */
  dp_buf out = {0}, s = {0};
  if (dp_tokenizer_decode(t, ids.ids, ids.n, 0, &out)) abort();
  /* every byte has a token in a real byte-level vocabulary: exact round trip, and the pieces
   * of the ids (dp_tokenizer_piece, raw bytes) concatenate to the text too */
  if (complete_vocab && (out.len != n || memcmp(out.data, d, n))) abort();
  dp_buf pieces = {0};
  for (size_t i = 0; i < ids.n; i++) if (dp_tokenizer_piece(t, ids.ids[i], &pieces)) abort();
  if (complete_vocab && (pieces.len != n || (n && memcmp(pieces.data, d, n)))) abort();
  dp_buf_free(&pieces);
  dp_detok *dt;
  if (dp_detok_new(t, 0, &dt) == DP_OK) {
    for (size_t i = 0; i < ids.n; i++) dp_detok_push(dt, ids.ids[i], &s);
    dp_detok_flush(dt, &s);
    if (s.len != out.len || (s.len && memcmp(s.data, out.data, s.len))) abort();
    dp_detok_free(dt);
  }
  dp_buf_free(&out); dp_buf_free(&s);
  dp_token_list_free(&ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  init();
  if (size < 1) return 0;
  uint8_t mode = data[0] % 3;
  data++; size--;
  if (mode == 0) { /* loader */
    dp_tokenizer *t = NULL;
    if (dp_tokenizer_load_json_text((const char *)data, size, NULL, 0, &t) == DP_OK) {
      roundtrip(t, (const uint8_t *)"ab c<|x|> 's", 12, 0);
      dp_tokenizer_free(t);
    }
  } else if (mode == 1) roundtrip(g_tiny, data, size, 0);
  else roundtrip(g_real ? g_real : g_tiny, data, size, g_real != NULL);
  return 0;
}
