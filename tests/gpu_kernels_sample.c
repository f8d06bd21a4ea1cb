/* gpu_kernels_sample.c -- the GPU family's two-pass sampler (sample_split.wgsl) against the
 * one-workgroup sampler (sample.wgsl, the CPU family's) and, for greedy steps, the CPU
 * reference argmax: the same token in out_ids, cur and hist for greedy and seeded sampling
 * (temperature, top-k at, below and above the 64 candidates per range, top-p, min-p, repetition
 * penalty, EOS masking, NaN logits, ties that overflow a range's candidate list) over fresh
 * random logits, vocabularies of 128,256 (Llama 3), 300,001 (ranges of 2048 tokens) and odd
 * small sizes. Outputs and scratch poisoned with NaN patterns before every run. About 1 s on
 * lavapipe, 7 s on SwiftShader. */
#include "gpu_kernels_util.h"
#include "ref/kernels_ref.h"

typedef struct { float temp; uint32_t top_k; float top_p, min_p, penalty; uint32_t repeat_n, n_eos; int ties, nans; } scase;

/* one sampler run with kernel family cpu: the token as out_ids[out_index], cur[0], hist[hist_pos] */
static void run_sampler(int cpu, const dp_sample_params *p, dp_gpu_buffer *bl, const uint32_t *hist, uint32_t got[3]) {
  dp_ops_set_cpu_kernels(O, cpu);
  dp_gpu_buffer *bw = kt_buf((size_t)p->vocab * 4), *bh = kt_buf(((size_t)p->hist_pos + 4) * 4), *bc = kt_buf(4);
  dp_gpu_buffer *bo = kt_buf(((size_t)p->out_index + 4) * 4);
  if (p->hist_pos) dp_gpu_buffer_write(G, bh, 0, hist, (size_t)p->hist_pos * 4);
  KT_OK(dp_op_sample(O, p, kv(bl), kv(bw), kv(bh), kv(bc), kv(bo)));
  KT_OK(dp_gpu_buffer_read(G, bo, (uint64_t)p->out_index * 4, &got[0], 4));
  KT_OK(dp_gpu_buffer_read(G, bc, 0, &got[1], 4));
  KT_OK(dp_gpu_buffer_read(G, bh, (uint64_t)p->hist_pos * 4, &got[2], 4));
  dp_gpu_buffer_free(bw); dp_gpu_buffer_free(bh); dp_gpu_buffer_free(bc); dp_gpu_buffer_free(bo);
}

static void test_case(uint32_t V, const scase *c, int draws) {
  float *x = kt_randn(V, 3);
  if (c->ties) /* 200 tokens share the largest logit, all in the first range: its candidate list overflows */
    for (uint32_t i = 0; i < 200 && i < V; i++) x[(i * 3u) % V] = 12.0f;
  if (c->nans)
    for (uint32_t i = 0; i < V; i += 997) x[i] = NAN;
  uint32_t hist[64];
  for (int i = 0; i < 64; i++) hist[i] = i % 5 ? dp_test_rand_u32() % V : hist[i > 0 ? i - 1 : 0]; /* some repeats */
  if (c->penalty != 1 && V > 1) { /* the greedy token in the window: the penalty must change the pick */
    uint32_t am;
    dp_ref_argmax(&am, x, 1, V);
    hist[20] = am;
  }
  dp_gpu_buffer *bl = kt_upload(x, (size_t)V * 4);
  for (int d = 0; d < draws; d++) {
    dp_sample_params p;
    memset(&p, 0, sizeof p);
    p.vocab = V, p.temperature = c->temp, p.top_k = c->top_k, p.top_p = c->top_p, p.min_p = c->min_p;
    p.penalty = c->penalty, p.repeat_n = c->repeat_n, p.hist_pos = 24, p.out_index = (uint32_t)d % 3;
    p.seed_lo = 12345u + (uint32_t)d * 7u, p.seed_hi = (uint32_t)d, p.step_lo = (uint32_t)d * 3u, p.step_hi = 0;
    p.n_eos = c->n_eos;
    for (uint32_t e = 0; e < c->n_eos; e++) p.eos[e] = (e * 104729u + 13u) % V;
    uint32_t a[3], b[3];
    run_sampler(1, &p, bl, hist, a);
    run_sampler(0, &p, bl, hist, b);
    int same = a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[0] == a[1] && a[1] == a[2] && a[0] < V;
    CHECK(same, "sample V=%u temp=%g top_k=%u top_p=%g min_p=%g pen=%g eos=%u ties=%d nans=%d draw %d: sample.wgsl %u/%u/%u, "
          "sample_split %u/%u/%u", V, c->temp, c->top_k, c->top_p, c->min_p, c->penalty, c->n_eos, c->ties, c->nans, d, a[0], a[1],
          a[2], b[0], b[1], b[2]);
    if (c->temp == 0 && c->penalty == 1 && c->n_eos == 0 && !c->nans) { /* greedy: the CPU reference */
      uint32_t want;
      dp_ref_argmax(&want, x, 1, V);
      CHECK(b[0] == want, "greedy V=%u: %u, the CPU reference (argmax) %u", V, b[0], want);
    }
  }
  printf("  sample V=%-6u temp=%.1f top_k=%-3u top_p=%.2f min_p=%.2f pen=%.1f eos=%u ties=%d nans=%d: %d draws agree\n", V, c->temp,
         c->top_k, c->top_p, c->min_p, c->penalty, c->n_eos, c->ties, c->nans, draws);
  dp_gpu_buffer_free(bl);
  free(x);
}

int main(void) {
  if (kt_open()) return dp_test_summary("gpu_kernels_sample");
  const scase cs[] = {
    /* temp top_k top_p min_p penalty repeat_n n_eos ties nans */
    {0, 0, 1, 0, 1, 0, 0, 0, 0},            /* greedy */
    {0, 0, 1, 0, 1.5f, 16, 3, 0, 1},        /* greedy, penalty (the argmax repeated), EOS, NaN */
    {0.8f, 40, 0.95f, 0.05f, 1, 0, 0, 0, 0}, /* the CLI's defaults: candidates */
    {1.5f, 64, 1, 0, 1.1f, 24, 2, 0, 1},    /* top-k = candidates per range, penalty, EOS, NaN */
    {1.0f, 65, 0.9f, 0, 1, 0, 0, 0, 0},     /* top-k past the candidates: the whole vocabulary */
    {0.7f, 0, 0.8f, 0.01f, 1, 0, 0, 0, 0},  /* no top-k: the whole vocabulary */
    {1.0f, 40, 1, 0, 1, 0, 0, 1, 0},        /* ties overflow the candidate lists */
    {2.0f, 1, 1, 0, 1, 0, 0, 0, 0},         /* top-1 */
  };
  const uint32_t vocab[] = {128256, 1, 2, 257, 1023, 5001, 300001};
  for (size_t v = 0; v < sizeof vocab / sizeof *vocab; v++)
    for (size_t c = 0; c < sizeof cs / sizeof *cs; c++) {
      /* large vocabularies: the candidate paths (the whole-vocabulary ones are sample.wgsl's
       * loops in one workgroup: slow on CPU adapters, and covered at the small sizes) */
      if (vocab[v] > 200000 && c > 2) continue;
      if (vocab[v] > 100000 && (cs[c].top_k == 0 || cs[c].top_k > 64) && cs[c].temp > 0) continue;
      test_case(vocab[v], &cs[c], vocab[v] > 100000 ? 2 : 3);
    }
  kt_close();
  return dp_test_summary("gpu_kernels_sample");
}
