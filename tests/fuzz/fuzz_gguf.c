/* fuzz_gguf.c -- libFuzzer target for the GGUF reader (src/format/gguf.c): parse, then walk
 * every key and array element through the public accessors. Built and run by scripts/fuzz.sh. */
#include <stddef.h>
#include <stdint.h>
#include "format/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dp_gguf *g = NULL;
  if (dp_gguf_parse(data, size, "fuzz", &g) == 0) {
    volatile int64_t sink = 0;
    for (size_t i = 0; i < g->n_kv; i++) {
      const dp_gguf_kv *kv = &g->kv[i];
      sink += dp_gguf_get_int(g, kv->key, 0);
      if (kv->type == DP_GGUF_ARRAY)
        for (uint64_t j = 0; j < kv->n && j < 4096; j++) {
          size_t n = 0;
          const char *s = dp_gguf_arr_str(kv, j, &n);
          sink += s ? (int64_t)n + s[0] * (n > 0) : dp_gguf_arr_int(kv, j);
        }
    }
    for (size_t i = 0; i < g->n_tensors; i++)
      if (g->t[i].offset + g->t[i].nbytes > size) __builtin_trap();
    (void)sink;
    dp_gguf_free(g);
  }
  return 0;
}
