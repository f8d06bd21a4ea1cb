/* test_quant_gguf.c -- the Q4_K/Q6_K blocks llama.cpp wrote (../shared/fixtures/gguf):
 *  - dp_dequantize equals, bit for bit, a second decoder written here from the GGUF block
 *    definitions (the rules of ../shared/tools/checks.py, itself checked against ggml);
 *  - the decoded tensors match the f16 file of the same model within the quantization error;
 *  - dp_q4km_tensor_type reproduces llama.cpp's Q4_K_M type choice for every tensor;
 *  - re-quantizing llama.cpp's decoded values (which lie on a Q4_K/Q6_K grid) with our encoder
 *    comes back almost exactly, and our encoder's error on the f16 weights is no worse than
 *    llama.cpp's own blocks (by a small margin).
 * A throwaway GGUF walk lives here; the real reader is src/format's. */
#include "quant/quant.h"
#include "testlib.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/file.h"

typedef struct { char name[96]; uint32_t nd, type; uint64_t dims[4], off, n; const uint8_t *data; } tinfo;
typedef struct { uint8_t *buf; size_t len; int nt; tinfo t[256]; } gguf;

/* The whole file (core's reader; NULL if unreadable). Free with free(): dp_free is free. */
static uint8_t *slurp(const char *path, size_t *len) {
  char *d;
  return dp_file_read_all(path, &d, len) ? NULL : (uint8_t *)d;
}

static uint64_t rd(const uint8_t **p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v |= (uint64_t)(*p)[i] << (8 * i);
  *p += n;
  return v;
}

static void skip_val(const uint8_t **p, uint32_t type) {
  static const int sz[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  if (type == 8) { uint64_t n = rd(p, 8); *p += n; }
  else if (type == 9) {
    uint32_t et = (uint32_t)rd(p, 4);
    uint64_t n = rd(p, 8);
    for (uint64_t i = 0; i < n; i++) skip_val(p, et);
  } else *p += sz[type];
}

static int gguf_open(gguf *g, const char *path) {
  g->buf = slurp(path, &g->len);
  if (!g->buf || memcmp(g->buf, "GGUF", 4)) return -1;
  const uint8_t *p = g->buf + 8;
  uint64_t nt = rd(&p, 8), nkv = rd(&p, 8), align = 32;
  for (uint64_t i = 0; i < nkv; i++) {
    uint64_t kl = rd(&p, 8);
    int is_align = kl == 17 && !memcmp(p, "general.alignment", 17);
    p += kl;
    uint32_t type = (uint32_t)rd(&p, 4);
    if (is_align && type == 4) { align = rd(&p, 4); continue; }
    skip_val(&p, type);
  }
  if (nt > 256) return -1;
  g->nt = (int)nt;
  for (int i = 0; i < g->nt; i++) {
    tinfo *t = &g->t[i];
    uint64_t nl = rd(&p, 8);
    snprintf(t->name, sizeof t->name, "%.*s", (int)nl, (const char *)p);
    p += nl;
    t->nd = (uint32_t)rd(&p, 4);
    t->n = 1;
    for (uint32_t d = 0; d < t->nd; d++) t->dims[d] = rd(&p, 8), t->n *= t->dims[d];
    t->type = (uint32_t)rd(&p, 4);
    t->off = rd(&p, 8);
  }
  size_t start = ((size_t)(p - g->buf) + align - 1) / align * align;
  for (int i = 0; i < g->nt; i++) g->t[i].data = g->buf + start + g->t[i].off;
  return 0;
}

static dp_dtype ggml_type(uint32_t t) {
  switch (t) {
  case 0: return DP_F32; case 1: return DP_F16; case 8: return DP_Q8_0; case 12: return DP_Q4_K;
  case 14: return DP_Q6_K; case 30: return DP_BF16; case 39: return DP_MXFP4; default: return DP_DTYPE_COUNT;
  }
}

/* Second decoder, element by element, from the block definitions (checks.py's rules). */
static float h2f(const uint8_t *p) { return dp_f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }
static float ref_elem(dp_dtype t, const uint8_t *blk, int i) {
  if (t == DP_Q4_K) {
    const uint8_t *sc = blk + 4;
    int j = i / 32, s, m;
    if (j < 4) s = sc[j] & 63, m = sc[j + 4] & 63;
    else s = (sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4), m = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
    uint8_t byte = blk[16 + (j / 2) * 32 + i % 32];
    int q = j % 2 == 0 ? byte & 0xF : byte >> 4;
    return (h2f(blk) * (float)s) * (float)q - h2f(blk + 2) * (float)m;
  }
  /* Q6_K: element i = half*128 + part*32 + l */
  int half = i / 128, part = (i % 128) / 32, l = i % 32;
  const uint8_t *L = blk + half * 64, *H = blk + 128 + half * 32;
  const int8_t *S = (const int8_t *)(blk + 192 + half * 8);
  int lo = (part & 1) ? L[l + 32] : L[l];
  lo = part >= 2 ? lo >> 4 : lo & 0xF;
  int q = (lo | (((H[l] >> (2 * part)) & 3) << 4)) - 32;
  return h2f(blk + 208) * (float)S[l / 16 + 2 * part] * (float)q;
}

static double sq_err(const float *a, const float *b, uint64_t n) {
  double s = 0;
  for (uint64_t i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
  return s;
}
static double sq_norm(const float *a, uint64_t n) {
  double s = 0;
  for (uint64_t i = 0; i < n; i++) s += (double)a[i] * a[i];
  return s;
}

int main(void) {
  gguf *q = calloc(1, sizeof *q), *f = calloc(1, sizeof *f);
  CHECK(gguf_open(q, dp_test_shared("fixtures/gguf/doppler-tiny-llamacpp-q4_k_m.gguf")) == 0, "open q4_k_m gguf");
  CHECK(gguf_open(f, dp_test_shared("fixtures/gguf/doppler-tiny-llamacpp-f16.gguf")) == 0, "open f16 gguf");
  if (dp_test_fail) return dp_test_summary("test_quant_gguf");
  int n_layers = 0;
  for (int i = 0; i < q->nt; i++)
    if (!strncmp(q->t[i].name, "blk.", 4) && atoi(q->t[i].name + 4) + 1 > n_layers) n_layers = atoi(q->t[i].name + 4) + 1;
  int counts[DP_DTYPE_COUNT] = {0}, bit_bad = 0, mix_bad = 0;
  double err_theirs[DP_DTYPE_COUNT] = {0}, err_ours[DP_DTYPE_COUNT] = {0}, norm[DP_DTYPE_COUNT] = {0};
  double requant_err[DP_DTYPE_COUNT] = {0}, requant_norm[DP_DTYPE_COUNT] = {0};
  long blocks_same[DP_DTYPE_COUNT] = {0}, blocks[DP_DTYPE_COUNT] = {0};
  for (int i = 0; i < q->nt; i++) {
    tinfo *t = &q->t[i];
    dp_dtype dt = ggml_type(t->type);
    CHECK(dt != DP_DTYPE_COUNT, "tensor %s: unexpected ggml type %u", t->name, t->type);
    if (dt != DP_Q4_K && dt != DP_Q6_K) continue;
    counts[dt]++;
    /* mix rule: token_embd is tied to the output in doppler-tiny */
    int tied = !strcmp(t->name, "token_embd.weight") || !strcmp(t->name, "output.weight");
    dp_dtype want = dp_q4km_tensor_type(t->name, -1, n_layers, tied, t->dims[0]);
    if (want != dt) mix_bad++, fprintf(stderr, "  mix: %s is %s in llama.cpp's file, rule says %s\n",
                                       t->name, dp_dtype_name(dt), dp_dtype_name(want));
    float *mine = malloc(t->n * 4), *src = malloc(t->n * 4), *re = malloc(t->n * 4);
    uint8_t *blk = malloc(dp_dtype_row_bytes(dt, t->n));
    CHECK(dp_dequantize(dt, t->data, mine, t->n) == DP_OK, "dequantize %s", t->name);
    uint32_t bb = dp_dtype_block_bytes(dt);
    for (uint64_t e = 0; e < t->n; e++) {
      float r = ref_elem(dt, t->data + (e / 256) * bb, (int)(e % 256));
      if (memcmp(&r, &mine[e], 4)) bit_bad++;
    }
    /* the same tensor at f16 */
    tinfo *ft = NULL;
    for (int k = 0; k < f->nt; k++)
      if (!strcmp(f->t[k].name, t->name)) ft = &f->t[k];
    CHECK(ft && ggml_type(ft->type) == DP_F16 && ft->n == t->n, "tensor %s in the f16 file", t->name);
    if (ft) {
      dp_dequantize(DP_F16, ft->data, src, t->n);
      err_theirs[dt] += sq_err(mine, src, t->n);
      norm[dt] += sq_norm(src, t->n);
      dp_quantize(dt, src, blk, t->n);
      dp_dequantize(dt, blk, re, t->n);
      err_ours[dt] += sq_err(re, src, t->n);
    }
    /* requantize llama.cpp's decoded values */
    dp_quantize(dt, mine, blk, t->n);
    dp_dequantize(dt, blk, re, t->n);
    requant_err[dt] += sq_err(re, mine, t->n);
    requant_norm[dt] += sq_norm(mine, t->n);
    for (uint64_t b = 0; b < t->n / 256; b++, blocks[dt]++) blocks_same[dt] += !memcmp(blk + b * bb, t->data + b * bb, bb);
    free(mine), free(src), free(re), free(blk);
  }
  CHECK(counts[DP_Q4_K] > 0 && counts[DP_Q6_K] > 0, "q4_k %d, q6_k %d tensors", counts[DP_Q4_K], counts[DP_Q6_K]);
  CHECK(bit_bad == 0, "%d elements differ from the reference decoder", bit_bad);
  CHECK(mix_bad == 0, "%d tensors get a different type than llama.cpp's Q4_K_M", mix_bad);
  for (int k = 0; k < 2; k++) {
    dp_dtype dt = k ? DP_Q6_K : DP_Q4_K;
    double theirs = sqrt(err_theirs[dt] / norm[dt]), ours = sqrt(err_ours[dt] / norm[dt]);
    double rq = sqrt(requant_err[dt] / requant_norm[dt]);
    printf("%s: %d tensors; rel err vs f16: llama.cpp %.5f, ours %.5f; requantized llama.cpp values: rel err %.2e, "
           "%ld/%ld blocks byte-identical\n", dp_dtype_name(dt), counts[dt], theirs, ours, rq, blocks_same[dt], blocks[dt]);
    CHECK(theirs < (k ? 0.03 : 0.12), "llama.cpp's %s blocks decode close to the f16 weights: %.4f", dp_dtype_name(dt), theirs);
    CHECK(ours <= theirs * 1.01, "our %s error %.5f no worse than llama.cpp's %.5f", dp_dtype_name(dt), ours, theirs);
    CHECK(rq < theirs / 10, "requantizing grid values: %.2e", rq);
  }
  free(q->buf), free(f->buf), free(q), free(f);
  return dp_test_summary("test_quant_gguf");
}
