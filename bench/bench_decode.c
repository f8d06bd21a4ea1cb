/* bench_decode.c -- decode and prefill speed of the GPU runtime.
 *
 *   bench_decode [MODEL] [-n TOKENS] [--steps S[,S...]] [--prompt-len P] [--reps R] [--adapter A]
 *
 * MODEL defaults to ../shared/models/doppler-tiny (HF, f32 weights). For each steps-per-submit
 * value: prefill a P-token prompt (ids cycling through the vocabulary), then greedy-decode
 * TOKENS tokens with EOS ignored; the median over R repetitions of decode tok/s (tokens after
 * the first / time after the first), prefill tok/s and time to first token is printed, one
 * line per setting. Not a test: numbers go to notes/performance.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "doppler.h"
#include "testlib.h"

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int on_tok(void *u, int32_t t, const char *s, size_t n) { return 0; }

int main(int argc, char **argv) {
  const char *model = NULL, *adapter = NULL, *steps_arg = "1,4,8,16";
  int n = 128, plen = 16, reps = 3;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-n") && i + 1 < argc) n = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps_arg = argv[++i];
    else if (!strcmp(argv[i], "--prompt-len") && i + 1 < argc) plen = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--adapter") && i + 1 < argc) adapter = argv[++i];
    else if (argv[i][0] != '-') model = argv[i];
    else { fprintf(stderr, "bench_decode: unknown flag %s\n", argv[i]); return 2; }
  }
  char path[1024];
  snprintf(path, sizeof path, "%s", model ? model : dp_test_shared("models/doppler-tiny"));
  dp_load_options lo = {adapter, 0};
  dp_model *m;
  if (dp_model_load(path, &lo, &m)) { fprintf(stderr, "bench_decode: %s\n", dp_error_message()); return 1; }
  dp_model_info mi;
  dp_model_get_info(m, &mi);
  printf("model %s (%s, %s), adapter: %s\n", path, mi.arch, mi.source_kind, mi.adapter);
  int32_t *prompt = malloc((size_t)plen * sizeof *prompt);
  for (int i = 0; i < plen; i++) prompt[i] = (int32_t)((i * 37 + 11) % mi.vocab_size);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", steps_arg);
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    int steps = atoi(tok);
    dp_session_options so = {plen + n + 8 <= mi.max_context ? plen + n + 8 : 0, steps};
    dp_session *s;
    if (dp_session_create(m, &so, &s)) { fprintf(stderr, "bench_decode: %s\n", dp_error_message()); return 1; }
    dp_generate_options o = dp_generate_defaults();
    o.sampling.temperature = 0;
    o.max_tokens = n;
    o.ignore_eos = 1;
    double dec[16], pre[16], ttft[16];
    if (reps > 16) reps = 16;
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up (pipeline compilation) */
      dp_generate_stats st;
      dp_session_reset(s);
      if (dp_generate_ids(s, prompt, (size_t)plen, &o, on_tok, NULL, &st)) {
        fprintf(stderr, "bench_decode: %s\n", dp_error_message());
        return 1;
      }
      if (r < 0) continue;
      dec[r] = (st.n_generated - 1) / (st.decode_ms / 1e3);
      pre[r] = st.n_prompt / (st.prefill_ms / 1e3);
      ttft[r] = st.ttft_ms;
    }
    qsort(dec, (size_t)reps, sizeof *dec, cmp_d);
    qsort(pre, (size_t)reps, sizeof *pre, cmp_d);
    qsort(ttft, (size_t)reps, sizeof *ttft, cmp_d);
    printf("steps/submit %3d: decode %7.1f tok/s (%d tokens), prefill %7.1f tok/s (%d tokens), ttft %6.1f ms (median of %d)\n",
           steps, dec[reps / 2], n, pre[reps / 2], plen, ttft[reps / 2], reps);
    dp_session_free(s);
  }
  free(prompt);
  dp_model_free(m);
  return 0;
}
