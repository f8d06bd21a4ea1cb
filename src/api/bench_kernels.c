/* bench_kernels.c -- `doppler bench kernels` (dp_bench_kernels in include/doppler.h,
 * docs/bench.md): the matrix products y[m, n] = x[m, k] . W[n, k]^T of the op layer
 * (dp_op_matmul: the GEMV for m <= 4, the tiled / register-tiled matmul above) for each
 * weight type, at the shapes of ../shared/docs/anchors.md by default (W 4096 x 14336,
 * Llama-3-8B's ffn_down; m = 1 decode, 8, 512 prefill).
 * Weights are random normal rows quantized on the CPU (src/quant) row block by row block, so
 * the host holds one quantized copy. On GPUs several copies rotate (together past 256 MB, so
 * repeated products do not run from a 50 MB L2); CPU adapters get one copy. Timing: one
 * untimed product (pipeline compilation), one timed to size the batches (about 0.25 s of
 * work each, 1..200 products, 3 batches, 1 when a product takes over 0.5 s: slow adapters run
 * few), wall clock around a finished queue, median batch. Depends on the device, op and
 * quant layers; called by cli/cmd_bench.c. Also the kernel variant table as the API lists
 * and dumps it (`doppler bench kernels --list / --dump NAME`). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/error.h"
#include "gpu/gpu.h"
#include "kernels/ops.h"
#include "quant/quant.h"
#include "doppler.h"

#define ROTATE_BYTES (256ull << 20)
#define MAX_COPIES 8
#define BATCH_S 0.25
#define MAX_CONFIGS 12
#define ROUNDS 2

/* DOPPLER_BENCH_CONFIGS (measurements, docs/bench.md): "A;B;..." where each configuration is a
 * comma-separated list of NAME=VALUE environment settings that dp_ops_create reads (the
 * DOPPLER_GEMV_* knobs). One ops context per configuration, made with its settings in the
 * environment (removed after); every product is then timed under each configuration in turn,
 * ROUNDS rounds, the order reversed every other round, all in this process on the same weights
 * (clock and cache drift spread over every configuration). Labels: the settings as written. */
static dp_status make_configs(dp_gpu *g, const char *spec, char (*label)[160], dp_ops **cops, int *n) {
  *n = 0;
  char buf[2048];
  if (strlen(spec) >= sizeof buf) return dp_error(DP_ERR_INVALID_ARG, "DOPPLER_BENCH_CONFIGS: longer than %zu bytes", sizeof buf - 1);
  strcpy(buf, spec);
  char *save = NULL;
  for (char *c = strtok_r(buf, ";", &save); c; c = strtok_r(NULL, ";", &save)) {
    if (*n == MAX_CONFIGS) return dp_error(DP_ERR_INVALID_ARG, "DOPPLER_BENCH_CONFIGS: more than %d configurations", MAX_CONFIGS);
    if (strlen(c) >= sizeof label[0]) return dp_error(DP_ERR_INVALID_ARG, "DOPPLER_BENCH_CONFIGS: '%s' too long", c);
    strcpy(label[*n], c);
    char names[16][64];
    int nn = 0;
    char *s2 = NULL;
    for (char *a = strtok_r(c, ",", &s2); a; a = strtok_r(NULL, ",", &s2)) {
      char *eq = strchr(a, '=');
      if (!eq || eq == a || eq - a >= 64 || nn == 16)
        return dp_error(DP_ERR_INVALID_ARG, "DOPPLER_BENCH_CONFIGS: '%s' is not NAME=VALUE (at most 16 per configuration)", a);
      *eq = 0;
      strcpy(names[nn++], a);
      setenv(a, eq + 1, 1);
    }
    dp_status st = dp_ops_create(g, &cops[*n]);
    for (int i = 0; i < nn; i++) unsetenv(names[i]);
    if (st) return st;
    (*n)++;
  }
  return DP_OK;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Normal deviates (sum of 4 uniforms, xorshift64*) scaled by sd: deterministic from the state. */
static void fill_normal(uint64_t *state, float *x, size_t n, float sd) {
  for (size_t i = 0; i < n; i++) {
    double s = 0;
    for (int j = 0; j < 4; j++) {
      uint64_t z = *state;
      z ^= z >> 12, z ^= z << 25, z ^= z >> 27;
      *state = z;
      s += (double)((z * 2685821657736338717ull) >> 11) / 9007199254740992.0;
    }
    x[i] = (float)((s - 2.0) * 1.7320508 * sd); /* variance of a sum of 4 U(0,1): 1/3 */
  }
}

/* W[n, k] of type t: random rows quantized 64 at a time into *out (row_bytes * n bytes). */
static dp_status make_weights(dp_dtype t, uint32_t n, uint32_t k, uint8_t **out) {
  uint64_t rb = dp_dtype_row_bytes(t, k);
  uint8_t *w = dp_malloc(rb * n + 4);
  float *f = dp_malloc((size_t)64 * k * sizeof *f);
  uint64_t state = 0x9e3779b97f4a7c15ull ^ (uint64_t)t;
  dp_status st = w && f ? DP_OK : DP_ERR_NOMEM;
  for (uint32_t r = 0; !st && r < n; r += 64) {
    uint32_t nr = n - r < 64 ? n - r : 64;
    fill_normal(&state, f, (size_t)nr * k, 0.02f);
    st = dp_quantize(t, f, w + rb * r, (uint64_t)nr * k);
  }
  dp_free(f);
  if (st) { dp_free(w); return st; }
  memset(w + rb * n, 0, 4);
  *out = w;
  return DP_OK;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct product {
  dp_ops *o;
  dp_gpu_buffer **w;     /* [copies] each W [n, k] of type t (rows as stored), used in turn */
  int copies, next;
  dp_gpu_buffer *x, *y;  /* x [m, k] f32, y [m, n] f32 */
  dp_dtype t;
  uint32_t m, n, k;
  dp_weight *wq8[MAX_COPIES]; /* q8 input: the copies as one-part dp_weights, and x quantized into xq */
  dp_gpu_buffer *xq;
  int q8;
} product;

/* Record `count` products (rotating the weight copies) and wait; seconds elapsed. */
static dp_status run_products(product *p, int count, double *secs) {
  dp_gpu *g = dp_ops_gpu(p->o);
  dp_status st = dp_gpu_finish(g);
  double t0 = now_s();
  for (int i = 0; !st && i < count; i++) {
    if (p->q8 && dp_ops_linear_q8_fused(p->o, p->wq8[p->next], p->m)) { /* quantized inside the product, as decode does */
      dp_gemv_pro f = {DP_PRO_NONE, {NULL, 0}, 0, 0, 0, 0, 1};
      st = dp_op_linear(p->o, dp_view_of(p->y, 0), dp_view_of(p->x, 0), p->wq8[p->next], 0, p->n, (dp_view){0}, p->m, &f,
                        DP_MM_ROWS);
      p->next = (p->next + 1) % p->copies;
      continue;
    }
    if (p->q8) { /* the input quantized each time (the runtime shares it between products) */
      dp_gemv_pro q = {DP_PRO_Q8, {NULL, 0}, 0, 0, 0, 0, 0};
      st = dp_op_quantize_x(p->o, dp_view_of(p->xq, 0), dp_view_of(p->x, 0), p->m, p->k, NULL);
      if (!st) st = dp_op_linear(p->o, dp_view_of(p->y, 0), dp_view_of(p->xq, 0), p->wq8[p->next], 0, p->n, (dp_view){0}, p->m,
                                 &q, DP_MM_ROWS);
      p->next = (p->next + 1) % p->copies;
      continue;
    }
    st = dp_op_matmul(p->o, dp_view_of(p->y, 0), dp_view_of(p->x, 0), dp_view_of(p->w[p->next], 0), p->t, (dp_view){0},
                      p->m, p->n, p->k, 0);
    p->next = (p->next + 1) % p->copies;
  }
  if (!st) st = dp_gpu_finish(g);
  *secs = now_s() - t0;
  return st;
}

/* Time one product shape: fills r->reps, r->us. */
static dp_status time_product(product *p, dp_bench_kernel *r) {
  dp_gpu *g = dp_ops_gpu(p->o);
  dp_status st = dp_gpu_buffer_create(g, (uint64_t)p->m * p->k * 4, "bench-x", &p->x);
  if (!st) st = dp_gpu_buffer_create(g, (uint64_t)p->m * p->n * 4, "bench-y", &p->y);
  if (!st && p->q8) st = dp_gpu_buffer_create(g, dp_xq_bytes(p->m, p->k), "bench-xq", &p->xq);
  float *xf = st ? NULL : dp_malloc((size_t)p->m * p->k * sizeof *xf);
  if (!st && !xf) st = DP_ERR_NOMEM;
  uint64_t state = 12345;
  if (!st) fill_normal(&state, xf, (size_t)p->m * p->k, 1.0f);
  if (!st) st = dp_gpu_buffer_write(g, p->x, 0, xf, (size_t)p->m * p->k * 4);
  dp_free(xf);
  double one = 0, t[3];
  if (!st) st = run_products(p, 1, &one); /* pipeline compilation */
  if (!st) st = run_products(p, 1, &one);
  int reps = one > 0 ? (int)(BATCH_S / one) : 200, batches = one > 0.5 ? 1 : 3;
  reps = reps < 1 ? 1 : reps > 200 ? 200 : reps;
  for (int b = 0; !st && b < batches; b++) {
    st = run_products(p, reps, &t[b]);
    t[b] /= reps;
  }
  if (!st) {
    qsort(t, (size_t)batches, sizeof *t, cmp_d);
    r->reps = reps * batches;
    r->us = t[batches / 2] * 1e6;
  }
  dp_gpu_buffer_free(p->x);
  dp_gpu_buffer_free(p->y);
  dp_gpu_buffer_free(p->xq);
  p->x = p->y = p->xq = NULL;
  return st;
}

static const char *const ALL_TYPES[] = {"f16", "bf16", "q8_0", "q4_k", "q6_k", "mxfp4"};

dp_status dp_bench_kernels(const dp_bench_kernels_options *opt, int (*cb)(void *, const dp_bench_kernel *), void *user) {
  dp_bench_kernels_options o;
  memset(&o, 0, sizeof o);
  if (opt) o = *opt;
  static const int default_ms[] = {1, 8, 512};
  uint32_t N = o.n > 0 ? (uint32_t)o.n : 4096, K = o.k > 0 ? (uint32_t)o.k : 14336;
  const int *ms = o.ms ? o.ms : default_ms;
  int n_ms = o.ms ? o.n_ms : 3;
  const char *const *types = o.types ? o.types : ALL_TYPES;
  int n_types = o.types ? o.n_types : (int)(sizeof ALL_TYPES / sizeof *ALL_TYPES);
  if (o.matvec_input < DP_MATVEC_AUTO || o.matvec_input > DP_MATVEC_Q8)
    return dp_error(DP_ERR_INVALID_ARG, "matvec input %d", o.matvec_input);
  for (int i = 0; i < n_ms; i++)
    if (ms[i] < 1) return dp_error(DP_ERR_INVALID_ARG, "matrix rows m = %d must be >= 1", ms[i]);
  dp_dtype dt[16];
  if (n_types > 16) return dp_error(DP_ERR_INVALID_ARG, "at most 16 weight types");
  for (int i = 0; i < n_types; i++) {
    int ok = 0;
    for (size_t j = 0; j < sizeof ALL_TYPES / sizeof *ALL_TYPES; j++) ok |= !strcmp(types[i], ALL_TYPES[j]);
    if (!ok || dp_dtype_from_name(types[i], &dt[i]))
      return dp_error(DP_ERR_INVALID_ARG, "unknown weight type '%s' (f16, bf16, q8_0, q4_k, q6_k, mxfp4)", types[i]);
    if (dp_dtype_row_bytes(dt[i], K) == UINT64_MAX)
      return dp_error(DP_ERR_INVALID_ARG, "k = %u is not a multiple of %s's block of %u", K, types[i],
                      dp_dtype_block_elems(dt[i]));
  }
  dp_gpu *g = NULL;
  dp_ops *ops = NULL;
  dp_status st = dp_gpu_open(o.adapter, &g);
  if (!st) st = dp_ops_create(g, &ops);
  if (!st && o.matvec_input) dp_ops_set_matvec_input(ops, o.matvec_input == DP_MATVEC_Q8);
  const dp_gpu_info *in = g ? dp_gpu_get_info(g) : NULL;
  int cpu = in && !strcmp(in->adapter_type, "cpu"), stop = 0, n_cfg = 0;
  dp_ops *cops[MAX_CONFIGS] = {NULL};
  static char label[MAX_CONFIGS][160];
  const char *spec = getenv("DOPPLER_BENCH_CONFIGS");
  if (!st && spec && *spec) st = make_configs(g, spec, label, cops, &n_cfg);
  for (int c = 0; !st && c < n_cfg && o.matvec_input; c++) dp_ops_set_matvec_input(cops[c], o.matvec_input == DP_MATVEC_Q8);
  for (int ti = 0; !st && !stop && ti < n_types; ti++) {
    dp_dtype t = dt[ti];
    uint64_t wbytes = dp_dtype_row_bytes(t, K) * N;
    dp_bench_kernel r;
    memset(&r, 0, sizeof r);
    r.adapter = in->adapter, r.type = types[ti], r.n = (int)N, r.k = (int)K, r.input = "f32";
    if (wbytes > in->max_storage_binding) {
      r.skipped = "the weights exceed the adapter's storage binding limit";
      for (int mi = 0; !stop && mi < n_ms; mi++) r.m = ms[mi], stop = cb && cb(user, &r);
      continue;
    }
    uint8_t *wq = NULL;
    product p = {ops, NULL, cpu ? 1 : (int)((ROTATE_BYTES + wbytes - 1) / wbytes), 0, NULL, NULL, t, 0, N, K, {NULL}, NULL, 0};
    if (p.copies > MAX_COPIES) p.copies = MAX_COPIES;
    dp_gpu_buffer *w[MAX_COPIES] = {NULL};
    p.w = w;
    st = make_weights(t, N, K, &wq);
    for (int c = 0; !st && c < p.copies; c++) {
      /* 16 bytes of slack rounded to 16, as dp_weight_create's parts (gemv_i8_wide reads vec4s) */
      st = dp_gpu_buffer_create(g, ((wbytes + 15) & ~15ull) + 16, "bench-w", &w[c]);
      if (!st) st = dp_gpu_buffer_write(g, w[c], 0, wq, (size_t)((wbytes + 3) & ~3ull));
      if (!st) st = dp_gpu_finish(g); /* one copy's upload staging at a time */
    }
    dp_free(wq);
    for (int c = 0; !st && c < p.copies; c++) { /* the copies as dp_weights for the q8 input's dp_op_linear */
      p.wq8[c] = dp_calloc(1, sizeof *p.wq8[c] + sizeof p.wq8[c]->part[0]);
      if (!p.wq8[c]) { st = DP_ERR_NOMEM; break; }
      *p.wq8[c] = (dp_weight){t, N, K, dp_dtype_row_bytes(t, K), N, 1, 0};
      p.wq8[c]->part[0].buf = w[c];
    }
    for (int mi = 0; !st && !stop && mi < n_ms; mi++) {
      p.m = r.m = ms[mi];
      int nc = n_cfg ? n_cfg : 1;
      for (int j = 0; j < nc * (n_cfg ? ROUNDS : 1) && !st && !stop; j++) { /* each configuration in turn */
        int ci = (j / nc) % 2 ? nc - 1 - j % nc : j % nc;
        p.o = n_cfg ? cops[ci] : ops;
        r.config = n_cfg ? label[ci] : NULL;
        int can = dp_ops_matvec_q8(p.o) && dp_ops_linear_q8(p.o, p.wq8[0], p.m);
        for (int q8 = 0; q8 < 2 && !st && !stop; q8++) { /* f32 input, then q8 where it applies */
          p.q8 = q8;
          if (q8 && (!can || o.matvec_input == DP_MATVEC_F32)) break;
          if (!q8 && can && o.matvec_input == DP_MATVEC_Q8) continue;
          r.input = q8 ? (dp_ops_linear_q8_fused(p.o, p.wq8[0], p.m) ? "q8-fused" : "q8") : "f32";
          if (!(st = time_product(&p, &r))) {
            r.gbps = (double)wbytes / (r.us * 1e-6) * 1e-9;
            r.tflops = 2.0 * r.m * r.n * (double)r.k / (r.us * 1e-6) * 1e-12;
            stop = cb && cb(user, &r);
          }
        }
      }
    }
    for (int c = 0; c < p.copies; c++) { dp_gpu_buffer_free(w[c]); dp_free(p.wq8[c]); }
  }
  for (int c = 0; c < n_cfg; c++) dp_ops_free(cops[c]);
  dp_ops_free(ops);
  dp_gpu_close(g);
  return st;
}

dp_status dp_kernel_list(int (*cb)(void *user, const char *name, const char *op, const char *condition), void *user) {
  dp_kernel_variant e;
  for (size_t i = 0, n = dp_kernel_variant_count(); i < n; i++) {
    dp_status st = dp_kernel_variant_get(i, &e);
    if (st) return st;
    if (cb(user, e.name, e.op, e.condition)) break;
  }
  return DP_OK;
}

dp_status dp_kernel_dump(const char *adapter, const char *name, char **wgsl) {
  *wgsl = NULL;
  long i = dp_kernel_variant_find(name);
  if (i < 0) return dp_error(DP_ERR_NOT_FOUND, "no kernel variant '%s' (see `doppler bench kernels --list`)", name);
  dp_gpu *g = NULL;
  dp_ops *ops = NULL;
  dp_status st = dp_gpu_open(adapter && *adapter ? adapter : NULL, &g);
  if (!st) st = dp_ops_create(g, &ops);
  const char *src = st ? NULL : dp_ops_variant_source(ops, (size_t)i);
  if (!st && !src) st = dp_error_status() ? dp_error_status() : DP_ERR_NOMEM;
  if (src) {
    size_t n = strlen(src) + 1;
    if (!(*wgsl = dp_malloc(n))) st = DP_ERR_NOMEM;
    else memcpy(*wgsl, src, n);
  }
  dp_ops_free(ops);
  dp_gpu_close(g);
  return st;
}
