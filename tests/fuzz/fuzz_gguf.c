/* fuzz_gguf.c -- libFuzzer target for the GGUF reader (src/format/gguf.c): parse, then walk
 * every key and array element through the public accessors; inputs that parse are also opened
 * as a model (src/format/model_file_gguf.c: hyper-parameters from llama.cpp keys without
 * doppler.hparams, rope_freqs.weight, Gemma 3 pattern keys, tensor views) from a temporary file
 * and every tensor's first bytes read. Built and run by scripts/fuzz.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include "format/gguf.h"
#include "format/model_file.h"

static void open_as_model(const uint8_t *data, size_t size) {
  static char path[64];
  if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz_gguf_%ld.gguf", (long)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) return;
  size_t w = fwrite(data, 1, size, f);
  fclose(f);
  dp_model_file *mf = NULL;
  if (w == size && dp_model_file_open(path, &mf) == 0) {
    for (size_t i = 0; i < dp_model_file_tensor_count(mf); i++) {
      const dp_tensor_info *t = dp_model_file_tensor(mf, i);
      uint8_t b[64];
      dp_model_file_read(mf, t, 0, b, t->nbytes < sizeof b ? t->nbytes : sizeof b);
    }
    dp_model_file_close(mf);
  }
  unlink(path);
}

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
    open_as_model(data, size);
  }
  return 0;
}
