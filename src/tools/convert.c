/* convert.c -- the converter (see convert.h). Called by cli/cmd_convert.c; depends on
 * model_file (reading any source), quant (dp_quantize/dp_dequantize, the q4_k_m rule and the
 * row-size fallback), rdrr_write.c and gguf_write.c.
 *
 * Type choice per tensor: MXFP4 stays MXFP4; 1-D tensors (norms, biases, sinks) and MoE router
 * weights become F32; everything else gets the requested type, or q4_k_m's per-tensor rule, or
 * (mxfp4) MXFP4 for MoE experts' matrices and Q8_0 for the other matrices, or the nearest type
 * whose block divides the rows (Q8_0, else F16) with a notice. A tensor whose
 * chosen type equals its stored type is copied byte for byte (GGUF blocks survive untouched).
 * Data flows in row chunks: stored rows (in place when mapped) -> f32 -> quantize -> write,
 * so memory stays bounded by one chunk whatever the tensor size. A synthetic source
 * (opts.gen: synth --quant) replaces the stored rows: the generator writes the output type's
 * blocks directly (or f32 values for float outputs), 8 Mi elements a step on several threads.
 *
 * GGUF output: llama.cpp names (gguf_names.c), Q/K rows permuted back to llama.cpp's order,
 * Gemma norms stored as w+1, per-expert tensors merged into [E, out, in]. */
#include "tools/convert.h"
#include "format/model_file.h"
#include "format/gguf.h"
#include "format/gguf_names.h"
#include "tools/gguf_write.h"
#include "tools/rdrr_write.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/file.h"
#include "core/log.h"
#include "core/parallel.h"
#include "quant/quant.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Elements per chunk: small enough that the f32 staging, the quantized output and the bytes
 * being hashed stay in L2 (256 KiB of f32); F32 sources are quantized straight from the
 * mapping, so the pipeline makes no copy of the input at all. */
#define CHUNK_ELEMS (1u << 16)
/* A synthetic source (opts.gen) is generated GEN_CHUNK_ELEMS at a time, split over threads. */
#define GEN_CHUNK_ELEMS (1u << 23)

/* ---------------------------------------------------------------- type choice */

static int is_router(const char *n) { return strstr(n, "mlp.router.weight") || strstr(n, "block_sparse_moe.gate.weight"); }
static int is_float(dp_dtype t) { return t <= DP_MXFP4; }

int dp_convert_quant_known(const char *quant) {
  dp_dtype t;
  return !strcmp(quant, "q4_k_m") || (!dp_dtype_from_name(quant, &t) && is_float(t));
}

/* an MoE expert's matrix (mixtral block_sparse_moe.experts.E.w1, gpt-oss mlp.experts.E.gate_proj) */
static int is_expert(const dp_tensor_info *t) { return t->n_dims == 2 && strstr(t->name, ".experts.") != NULL; }

dp_status dp_convert_tensor_type(const dp_model_file *mf, const dp_tensor_info *t, const char *quant, dp_dtype *out, int *fell_back) {
  *fell_back = 0;
  if (!is_float(t->dtype)) return dp_error(DP_ERR_UNSUPPORTED, "%s: tensor %s: dtype %s cannot be converted", dp_model_file_path(mf), t->name, dp_dtype_name(t->dtype));
  if (t->dtype == DP_MXFP4) { *out = DP_MXFP4; return DP_OK; }
  if (t->n_dims < 2 || is_router(t->name)) { *out = DP_F32; return DP_OK; }
  if (!quant) { *out = t->dtype; return DP_OK; }
  uint64_t row = t->shape[t->n_dims - 1];
  const dp_hparams *hp = dp_model_file_hparams(mf);
  dp_dtype want;
  if (!strcmp(quant, "q4_k_m")) {
    int layer = -1;
    sscanf(t->name, "model.layers.%d.", &layer);
    int out_or_tied = !strcmp(t->name, "lm_head.weight") || (hp->tie_embeddings && !strcmp(t->name, "model.embed_tokens.weight"));
    *out = dp_q4km_tensor_type(t->name, layer, hp->n_layers, out_or_tied, row);
    *fell_back = *out != DP_Q4_K && *out != DP_Q6_K;
    return DP_OK;
  }
  if (!dp_convert_quant_known(quant) || dp_dtype_from_name(quant, &want))
    return dp_error(DP_ERR_INVALID_ARG, "--quant: unknown type \"%s\" (f32, f16, bf16, q8_0, q4_k, q6_k, q4_k_m, mxfp4)", quant);
  if (want == DP_MXFP4 && !is_expert(t)) want = DP_Q8_0; /* mxfp4: the experts; every other matrix q8_0 */
  *out = dp_quant_fallback(want, row);
  *fell_back = *out != want;
  return DP_OK;
}

/* ---------------------------------------------------------------- plan */

typedef struct plan_t {
  char name[192];
  dp_dtype dt;
  int n_dims;
  uint64_t shape[4];
  uint64_t nbytes, offset; /* offset: GGUF data-relative */
  size_t first;            /* components comp[first .. first+n_comp) */
  int n_comp, flags, heads;
} plan_t;

#define PLAN_ROPE_FREQS 0x100 /* computed from hparams (no source component) */

typedef struct conv {
  dp_model_file *mf;
  const dp_convert_opts *o;
  plan_t *p;
  size_t np;
  const dp_tensor_info **comp;
  dp_dtype *comp_dt;
  size_t ncomp;
  uint64_t total_in, done_in;
  size_t tensors_done;     /* output tensors complete (progress) */
  double t0, last_draw;
  float *f32;
  uint8_t *raw, *out, *perm;
} conv;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void progress(conv *c, int final) {
  if (!c->o || !c->o->progress) return;
  double t = now();
  if (!final && t - c->last_draw < 0.1) return;
  c->last_draw = t;
  dp_convert_progress p = {final ? c->np : c->tensors_done, c->np, c->done_in, c->total_in, t - c->t0, final};
  c->o->progress(c->o->progress_ctx, &p);
}

static dp_status plan_add(conv *c, const char *name, const dp_tensor_info *t, dp_dtype dt, int flags, int n_dims, const uint64_t *shape) {
  plan_t *p = &c->p[c->np++];
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "%s", name);
  p->dt = dt;
  p->n_dims = n_dims;
  memcpy(p->shape, shape, sizeof p->shape);
  uint64_t last = t->n_dims ? t->shape[t->n_dims - 1] : 1;
  p->nbytes = dp_dtype_row_bytes(dt, last) * (last ? dp_tensor_nelems(t) / last : 0);
  p->first = c->ncomp;
  p->n_comp = 1;
  p->flags = flags;
  c->comp[c->ncomp] = t;
  c->comp_dt[c->ncomp++] = dt;
  return DP_OK;
}

/* Merged GGUF expert tensor: gather experts 1.. of the same projection after expert 0. */
static dp_status plan_experts(conv *c, plan_t *p, const dp_hparams *hp) {
  for (int e = 1;; e++) {
    char hf[192];
    int layer, flags;
    if (dp_gguf_name_to_hf(hp->arch, p->name, e, hf, sizeof hf, &layer, &flags)) break;
    const dp_tensor_info *t = dp_model_file_find(c->mf, hf);
    if (!t) break;
    dp_dtype dt;
    int fb;
    dp_status st = dp_convert_tensor_type(c->mf, t, c->o->quant, &dt, &fb);
    if (st) return st;
    const dp_tensor_info *t0 = c->comp[p->first];
    if (dt != p->dt || t->n_dims != t0->n_dims || memcmp(t->shape, t0->shape, sizeof t->shape))
      return dp_error(DP_ERR_FORMAT, "%s: tensor %s: experts differ in type or shape", dp_model_file_path(c->mf), t->name);
    c->comp[c->ncomp] = t;
    c->comp_dt[c->ncomp++] = dt;
    p->n_comp++;
    p->nbytes += p->nbytes / (uint64_t)(p->n_comp - 1);
  }
  p->shape[0] = (uint64_t)p->n_comp;
  return DP_OK;
}

static dp_status make_plan(conv *c, int gguf) {
  size_t n = dp_model_file_tensor_count(c->mf);
  const dp_hparams *hp = dp_model_file_hparams(c->mf);
  c->p = dp_calloc(n + 1, sizeof *c->p); /* + rope_freqs.weight (GGUF) */
  c->comp = dp_calloc(n ? n : 1, sizeof *c->comp);
  c->comp_dt = dp_calloc(n ? n : 1, sizeof *c->comp_dt);
  if (!c->p || !c->comp || !c->comp_dt) return DP_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    const dp_tensor_info *t = dp_model_file_tensor(c->mf, i);
    dp_dtype dt;
    int fb;
    dp_status st = dp_convert_tensor_type(c->mf, t, c->o->quant, &dt, &fb);
    if (st) return st;
    if (fb) dp_log(DP_LOG_WARN, "notice: tensor %s: rows of %llu elements do not fit %s blocks; stored as %s", t->name,
                   (unsigned long long)t->shape[t->n_dims - 1], c->o->quant, dp_dtype_name(dt));
    c->total_in += t->nbytes;
    if (!gguf) {
      if ((st = plan_add(c, t->name, t, dt, 0, t->n_dims, t->shape))) return st;
      continue;
    }
    char gn[192];
    int layer, expert, flags;
    if (dp_gguf_name_from_hf(hp->arch, t->name, gn, sizeof gn, &layer, &expert, &flags))
      return dp_error(DP_ERR_UNSUPPORTED, "%s: tensor %s: no GGUF name for it", dp_model_file_path(c->mf), t->name);
    if ((flags & DP_GN_EXPERT) && expert != 0) continue; /* gathered with expert 0 */
    uint64_t shape[4] = {0};
    int nd = t->n_dims;
    if (flags & DP_GN_EXPERT) {
      if (nd > 3) return dp_error(DP_ERR_UNSUPPORTED, "%s: tensor %s: too many dimensions", dp_model_file_path(c->mf), t->name);
      shape[0] = 1;
      memcpy(shape + 1, t->shape, (size_t)nd * sizeof *shape);
      nd++;
    } else memcpy(shape, t->shape, sizeof shape);
    if ((st = plan_add(c, gn, t, dt, flags, nd, shape))) return st;
    plan_t *p = &c->p[c->np - 1];
    if (flags & (DP_GN_PERM_Q | DP_GN_PERM_K)) p->heads = (flags & DP_GN_PERM_Q) ? hp->n_heads : hp->n_kv_heads;
    if ((flags & DP_GN_EXPERT) && (st = plan_experts(c, p, hp))) return st;
  }
  if (gguf && hp->rope.type == DP_ROPE_LLAMA3) { /* llama.cpp carries llama3 RoPE scaling as a tensor */
    plan_t *p = &c->p[c->np++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "rope_freqs.weight");
    p->dt = DP_F32;
    p->n_dims = 1;
    p->shape[0] = (uint64_t)(hp->rope.rotary_dim / 2);
    p->nbytes = p->shape[0] * 4;
    p->flags = PLAN_ROPE_FREQS;
    if (hp->rope.rotary_dim < 2 || hp->rope.rotary_dim / 2 > 512)
      return dp_error(DP_ERR_UNSUPPORTED, "%s: rope dimension %d: no rope_freqs for it", dp_model_file_path(c->mf), hp->rope.rotary_dim);
  }
  return DP_OK;
}

/* ---------------------------------------------------------------- data */

typedef dp_status (*sink_fn)(void *ctx, const void *p, uint64_t n);

/* A synthetic source (opts.gen): rows [r, r + k) of t written to out (rb bytes a row) by the
 * generator, on several threads (core/parallel.h), each run at least ~64 Ki elements. */
typedef struct genjob {
  const dp_convert_opts *o;
  const dp_tensor_info *t;
  dp_dtype dt;
  uint64_t row_len, row0, rb;
  uint8_t *out;
} genjob;
static void gen_run(void *a, uint64_t i0, uint64_t i1) {
  const genjob *g = a;
  g->o->gen(g->o->gen_ctx, g->t, g->dt, g->row_len, g->row0 + i0, i1 - i0, g->out + i0 * g->rb);
}
static void gen_rows(conv *c, const dp_tensor_info *t, dp_dtype dt, uint64_t row_len, uint64_t r, uint64_t k, void *out) {
  genjob g = {c->o, t, dt, row_len, r, dp_dtype_row_bytes(dt, row_len), out};
  dp_parallel_for(k, row_len >= CHUNK_ELEMS ? 1 : CHUNK_ELEMS / row_len, gen_run, &g);
}

/* Emit component t as type dt, with the GGUF transforms of flags/heads, to sink. */
static dp_status emit(conv *c, const dp_tensor_info *t, dp_dtype dt, int flags, int heads, sink_fn sink, void *ctx) {
  uint64_t nel = dp_tensor_nelems(t);
  if (!nel) return DP_OK;
  int perm = heads > 0, gen = c->o->gen != NULL, blocks = dp_dtype_block_elems(dt) > 1; /* dt: a block type */
  uint64_t last = t->n_dims ? t->shape[t->n_dims - 1] : 1;
  uint64_t row_el = (t->n_dims == 1 && perm) ? 1 : last, rows = nel / row_el;
  uint64_t in_rb = t->nbytes / rows, out_rb = dp_dtype_row_bytes(dt, row_el) ;
  if (t->n_dims == 1 && perm) out_rb = dp_dtype_block_bytes(dt), in_rb = dp_dtype_block_bytes(t->dtype);
  uint64_t head = perm ? rows / (uint64_t)heads : 1;
  if (perm && (rows % (uint64_t)heads || head % 2))
    return dp_error(DP_ERR_FORMAT, "%s: tensor %s: %llu rows do not split into %d heads", dp_model_file_path(c->mf), t->name, (unsigned long long)rows, heads);
  uint64_t chunk = (gen ? GEN_CHUNK_ELEMS : CHUNK_ELEMS) / row_el;
  if (chunk < 1) chunk = 1;
  chunk = (chunk + head - 1) / head * head;
  if (chunk > rows) chunk = rows;
  uint64_t cap = chunk * row_el;
  int need_f = gen ? !blocks : !(dt == t->dtype && !(flags & DP_GN_NORM1));
  uint8_t *raw = gen ? NULL : dp_malloc(chunk * in_rb + 1), *out = dp_malloc(chunk * out_rb + 1), *pb = perm ? dp_malloc(chunk * out_rb + 1) : NULL;
  float *f = need_f ? dp_malloc(cap * sizeof(float) + 4) : NULL;
  dp_status st = ((!gen && !raw) || !out || (perm && !pb) || (need_f && !f)) ? DP_ERR_NOMEM : DP_OK;
  for (uint64_t r = 0; r < rows && !st; r += chunk) {
    uint64_t k = rows - r < chunk ? rows - r : chunk, ne = k * row_el;
    const uint8_t *res = out;
    if (gen) gen_rows(c, t, blocks ? dt : DP_F32, row_el, r, k, blocks ? (void *)out : (void *)f);
    else {
      const void *mapped = NULL; /* stored bytes in place (mapped source), no copy */
      if ((st = dp_model_file_peek(c->mf, t, r * in_rb, k * in_rb, &mapped))) break;
      if (!mapped && (st = dp_model_file_read(c->mf, t, r * in_rb, raw, k * in_rb))) break;
      res = mapped ? mapped : raw;
    }
    if (f) {
      const float *x = f;
      if (gen) { /* f holds the generated values */
      } else if (t->dtype == DP_F32 && !(flags & DP_GN_NORM1) && !((uintptr_t)res % sizeof(float))) x = (const float *)res;
      else if (t->dtype == DP_F32) memcpy(f, res, ne * 4);
      else if ((st = dp_dequantize(t->dtype, res, f, ne))) break;
      if (flags & DP_GN_NORM1)
        for (uint64_t i = 0; i < ne; i++) f[i] += 1.0f;
      if (dt == DP_F32) res = (const uint8_t *)x;
      else if ((st = dp_quantize(dt, x, out, ne))) break;
      else res = out;
    }
    if (perm) { /* GGUF row (h, 2i + j) <- HF row (h, j*D/2 + i) */
      for (uint64_t g = 0; g < k; g++) {
        uint64_t h = g / head, q = g % head, src = h * head + (q & 1) * (head / 2) + q / 2;
        memcpy(pb + g * out_rb, res + src * out_rb, out_rb);
      }
      res = pb;
    }
    st = sink(ctx, res, k * out_rb);
    c->done_in += k * in_rb;
    progress(c, 0);
    if (!st && c->o->cancelled && c->o->cancelled(c->o->cancel_ctx)) st = dp_error(DP_ERR_CANCELLED, "conversion interrupted");
  }
  dp_free(raw), dp_free(out), dp_free(pb), dp_free(f);
  if (st && st != DP_ERR_CANCELLED && !strstr(dp_error_message(), t->name)) return dp_error_wrap(st, "tensor %s", t->name);
  return st;
}

/* ---------------------------------------------------------------- RDRR output */

static dp_status rdrr_sink(void *ctx, const void *p, uint64_t n) { return dp_rdrr_writer_write(ctx, p, n); }

static dp_status write_tokenizer_gguf(const struct dp_gguf *g, const char *path) {
  dp_gguf_kvbuf k = {{0}, 0};
  for (size_t i = 0; i < g->n_kv; i++)
    if (!strncmp(g->kv[i].key, "tokenizer.", 10)) dp_gguf_kv_copy(&k, &g->kv[i]);
  dp_buf b = {0};
  dp_gguf_put_u32(&b, 0x46554747u);
  dp_gguf_put_u32(&b, 3);
  dp_gguf_put_u64(&b, 0);
  dp_gguf_put_u64(&b, k.n);
  dp_buf_append(&b, k.b.data, k.b.len);
  dp_status st = b.failed || k.b.failed ? DP_ERR_NOMEM : dp_file_write_atomic(path, b.data, b.len);
  dp_buf_free(&b);
  dp_buf_free(&k.b);
  return st;
}

static const char *base_name(const char *p, char *buf, size_t cap) {
  size_t n = strlen(p);
  while (n > 1 && p[n - 1] == '/') n--;
  size_t s = n;
  while (s > 0 && p[s - 1] != '/') s--;
  size_t len = n - s;
  if (len > 5 && !strncmp(p + n - 5, ".gguf", 5)) len -= 5;
  snprintf(buf, cap, "%.*s", (int)(len < cap ? len : cap - 1), p + s);
  return buf;
}

static dp_status write_rdrr(conv *c, const char *tmp, const char *src) {
  dp_rdrr_writer *w;
  dp_status st = dp_rdrr_writer_open(tmp, c->o->shard_size ? c->o->shard_size : DP_RDRR_SHARD_SIZE, &w);
  if (st) return st;
  int counts[DP_DTYPE_COUNT] = {0};
  for (size_t i = 0; i < c->np && !st; c->tensors_done = ++i) {
    plan_t *p = &c->p[i];
    counts[p->dt]++;
    if (!(st = dp_rdrr_writer_begin(w, p->name, p->dt, p->n_dims, p->shape, p->nbytes)))
      st = emit(c, c->comp[p->first], p->dt, 0, 0, rdrr_sink, w);
  }
  if (st) { dp_rdrr_writer_abort(w); return st; }
  const dp_hparams *hp = dp_model_file_hparams(c->mf);
  dp_buf f = {0};
  char id[128];
  dp_buf_puts(&f, "\"model_id\": ");
  base_name(src, id, sizeof id);
  dp_buf_json_string(&f, id, strlen(id));
  dp_buf_printf(&f, ",\n  \"architecture\": \"%s\",\n  \"hparams\": ", dp_arch_name(hp->arch));
  dp_hparams_to_json(hp, &f);
  /* tokenizer files */
  const char *tj = dp_model_file_tokenizer_json(c->mf);
  const struct dp_gguf *g = dp_model_file_gguf(c->mf);
  if (tj) {
    char *to = dp_path_join(tmp, "tokenizer.json");
    st = to ? dp_file_copy(tj, to) : DP_ERR_NOMEM;
    dp_free(to);
    char *dir = dp_strdup(tj), *sl = dir ? strrchr(dir, '/') : NULL;
    if (sl) *sl = 0;
    char *cfg = dir ? dp_path_join(sl ? dir : ".", "tokenizer_config.json") : NULL, *cto = dp_path_join(tmp, "tokenizer_config.json");
    int has_cfg = cfg && dp_file_exists(cfg);
    if (!st && has_cfg) st = cto ? dp_file_copy(cfg, cto) : DP_ERR_NOMEM;
    dp_free(dir), dp_free(cfg), dp_free(cto);
    dp_buf_printf(&f, ",\n  \"tokenizer\": {\"type\": \"huggingface\", \"file\": \"tokenizer.json\"%s}", has_cfg ? ", \"config\": \"tokenizer_config.json\"" : "");
  } else if (g) {
    char *to = dp_path_join(tmp, "tokenizer.gguf");
    st = to ? write_tokenizer_gguf(g, to) : DP_ERR_NOMEM;
    dp_free(to);
    dp_buf_puts(&f, ",\n  \"tokenizer\": {\"type\": \"gguf\", \"file\": \"tokenizer.gguf\"}");
  } else dp_buf_puts(&f, ",\n  \"tokenizer\": null");
  dp_buf_puts(&f, ",\n  \"quantization\": {\"requested\": ");
  const char *q = c->o->quant ? c->o->quant : "source";
  dp_buf_json_string(&f, q, strlen(q));
  dp_buf_puts(&f, ", \"tensor_types\": {");
  int first = 1;
  for (int i = 0; i < DP_DTYPE_COUNT; i++)
    if (counts[i]) dp_buf_printf(&f, "%s\"%s\": %d", first ? "" : ", ", dp_dtype_name((dp_dtype)i), counts[i]), first = 0;
  dp_buf_printf(&f, "}},\n  \"hints\": {\"q4kMatmul\": \"%s\", \"computePrecision\": \"f32\"}", counts[DP_Q4_K] ? "fused" : "dequant");
  if (f.failed) st = DP_ERR_NOMEM;
  if (st) { dp_rdrr_writer_abort(w); dp_buf_free(&f); return st; }
  st = dp_rdrr_writer_finish(w, f.data);
  dp_buf_free(&f);
  return st;
}

/* ---------------------------------------------------------------- GGUF output */

static dp_status verify_output(conv *c, const char *path);
static int cancelled(const dp_convert_opts *o);
static long proc_id(void);

typedef struct gsink { dp_atomic_file *af; } gsink;
static dp_status gguf_sink(void *ctx, const void *p, uint64_t n) { return dp_atomic_write(((gsink *)ctx)->af, p, (size_t)n); }

static uint32_t ggml_type(dp_dtype t) {
  switch (t) {
  case DP_F16: return DP_GGML_F16;
  case DP_BF16: return DP_GGML_BF16;
  case DP_Q8_0: return DP_GGML_Q8_0;
  case DP_Q4_K: return DP_GGML_Q4_K;
  case DP_Q6_K: return DP_GGML_Q6_K;
  case DP_MXFP4: return DP_GGML_MXFP4;
  default: return DP_GGML_F32;
  }
}

static uint32_t file_type(const char *q) { /* llama_ftype */
  if (!q) return 0;
  static const struct { const char *q; uint32_t t; } F[] = {{"f32", 0}, {"f16", 1}, {"q8_0", 7}, {"q4_k", 15}, {"q4_k_m", 15}, {"q6_k", 18}, {"bf16", 32}, {"mxfp4", 38}};
  for (size_t i = 0; i < sizeof F / sizeof *F; i++) if (!strcmp(F[i].q, q)) return F[i].t;
  return 0;
}

static dp_status write_gguf(conv *c, const char *dst, const char *src) {
  const dp_hparams *hp = dp_model_file_hparams(c->mf);
  dp_gguf_kvbuf k = {{0}, 0};
  char id[128];
  dp_gguf_kv_str(&k, "general.architecture", dp_gguf_arch_name(hp->arch));
  dp_gguf_kv_str(&k, "general.name", base_name(src, id, sizeof id));
  dp_gguf_kv_u32(&k, "general.alignment", 32);
  dp_gguf_kv_u32(&k, "general.file_type", file_type(c->o->quant));
  dp_gguf_kv_u32(&k, "general.quantization_version", 2);
  dp_gguf_kv_hparams(&k, hp);
  dp_status st = DP_OK;
  const struct dp_gguf *g = dp_model_file_gguf(c->mf);
  const char *tj = dp_model_file_tokenizer_json(c->mf);
  if (g) {
    for (size_t i = 0; i < g->n_kv; i++)
      if (!strncmp(g->kv[i].key, "tokenizer.", 10)) dp_gguf_kv_copy(&k, &g->kv[i]);
  } else if (tj) {
    size_t mark = k.b.len;
    uint64_t nmark = k.n;
    st = dp_gguf_kv_tokenizer(&k, tj, hp);
    if (st == DP_ERR_UNSUPPORTED) { /* keep the weights; say why there is no tokenizer */
      dp_log(DP_LOG_WARN, "notice: %s", dp_error_message());
      k.b.len = mark, k.n = nmark, st = DP_OK;
    }
  }
  dp_buf h = {0};
  uint64_t off = 0;
  dp_gguf_put_u32(&h, 0x46554747u);
  dp_gguf_put_u32(&h, 3);
  dp_gguf_put_u64(&h, c->np);
  dp_gguf_put_u64(&h, k.n);
  dp_buf_append(&h, k.b.data, k.b.len);
  for (size_t i = 0; i < c->np; i++) {
    plan_t *p = &c->p[i];
    dp_gguf_put_str(&h, p->name, strlen(p->name));
    dp_gguf_put_u32(&h, (uint32_t)p->n_dims);
    for (int d = p->n_dims - 1; d >= 0; d--) dp_gguf_put_u64(&h, p->shape[d]);
    dp_gguf_put_u32(&h, ggml_type(p->dt));
    p->offset = off;
    dp_gguf_put_u64(&h, off);
    off = (off + p->nbytes + 31) / 32 * 32;
  }
  static const uint8_t zero[32];
  dp_buf_append(&h, zero, (32 - h.len % 32) % 32);
  if (h.failed || k.b.failed) st = DP_ERR_NOMEM;
  dp_buf_free(&k.b);
  /* written as OUT.tmp-PID/model.gguf (a marked temporary directory), renamed onto OUT */
  size_t dn = strlen(dst);
  char *tdir = dp_malloc(dn + 32), *inner = NULL;
  if (!st && !tdir) st = DP_ERR_NOMEM;
  if (!st) {
    snprintf(tdir, dn + 32, "%s.tmp-%ld", dst, proc_id());
    st = dp_tmpdir_create(tdir, "convert");
    if (!st && !(inner = dp_path_join(tdir, "model.gguf"))) { dp_rdrr_dir_remove(tdir); st = DP_ERR_NOMEM; }
  }
  dp_atomic_file af;
  if (!st && (st = dp_atomic_open(&af, inner))) dp_rdrr_dir_remove(tdir);
  if (st) { dp_buf_free(&h); dp_free(tdir); dp_free(inner); return st; }
  st = dp_atomic_write(&af, h.data, h.len);
  dp_buf_free(&h);
  gsink gs = {&af};
  uint64_t pos = 0;
  for (size_t i = 0; i < c->np && !st; c->tensors_done = ++i) {
    plan_t *p = &c->p[i];
    if (pos < p->offset) st = dp_atomic_write(&af, zero, (size_t)(p->offset - pos));
    if (p->flags & PLAN_ROPE_FREQS) {
      float f[512];
      dp_rope_llama3_factors(&dp_model_file_hparams(c->mf)->rope, dp_model_file_hparams(c->mf)->rope.rotary_dim, f);
      st = dp_atomic_write(&af, f, (size_t)p->nbytes); /* little-endian hosts only, as elsewhere */
    }
    for (int e = 0; e < p->n_comp && !st; e++) st = emit(c, c->comp[p->first + e], p->dt, p->flags, p->heads, gguf_sink, &gs);
    pos = p->offset + p->nbytes;
  }
  if (!st && fflush(af.f)) st = dp_error(DP_ERR_IO, "%s: write failed: %s", af.tmp, strerror(errno));
  if (!st) st = verify_output(c, af.tmp);
  if (!st && cancelled(c->o)) st = dp_error(DP_ERR_CANCELLED, "conversion interrupted");
  if (!st) st = dp_rdrr_check_replaceable(dst, 1, src);
  if (st) dp_atomic_abort(&af);
  else if (!(st = dp_atomic_commit(&af)) && rename(inner, dst)) st = dp_error(DP_ERR_IO, "%s: rename failed: %s", dst, strerror(errno));
  if (st) {
    dp_status keep = dp_error_status();
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", dp_error_message());
    if (dp_rdrr_dir_remove(tdir)) dp_log(DP_LOG_WARN, "notice: %s", dp_error_message());
    dp_error(keep, "%s", msg);
  } else if (dp_rdrr_dir_remove(tdir)) dp_log(DP_LOG_WARN, "notice: %s", dp_error_message());
  dp_free(tdir);
  dp_free(inner);
  return st;
}

/* ---------------------------------------------------------------- verification */

/* Reopen what was written (path: the temporary output) and compare it with the source: the
 * same tensors, each with the shape and the type chosen for it; then the caller's check
 * (the CLI: dp_model_check -- layer plan and tokenizer load). Runs before the rename. */
static dp_status verify_output(conv *c, const char *path) {
  dp_model_file *out = NULL;
  dp_status st = dp_model_file_open(path, &out);
  size_t n = dp_model_file_tensor_count(c->mf);
  if (!st && dp_model_file_tensor_count(out) != n)
    st = dp_error(DP_ERR_INTERNAL, "%s: written model has %zu tensors, source %zu", path, dp_model_file_tensor_count(out), n);
  for (size_t i = 0; i < n && !st; i++) {
    const dp_tensor_info *t = dp_model_file_tensor(c->mf, i), *w = dp_model_file_find(out, t->name);
    dp_dtype want;
    int fb;
    if ((st = dp_convert_tensor_type(c->mf, t, c->o->quant, &want, &fb))) break;
    if (!w || w->dtype != want || w->n_dims != t->n_dims || memcmp(w->shape, t->shape, (size_t)t->n_dims * sizeof *t->shape))
      st = dp_error(DP_ERR_INTERNAL, "%s: tensor %s: %s in the written model", path, t->name, w ? "type or shape differs" : "missing");
  }
  dp_model_file_close(out);
  if (!st && c->o->check) st = c->o->check(path, c->o->check_ctx);
  if (st) return dp_error_wrap(st, "checking the converted model before it replaces anything");
  return DP_OK;
}

/* ---------------------------------------------------------------- driver */

static long proc_id(void) {
#if defined(__wasi__)
  return 0; /* no processes under WASI: one converter at a time */
#else
  return (long)getpid();
#endif
}

static int ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && !strcmp(s + a - b, suf);
}

static int cancelled(const dp_convert_opts *o) { return o->cancelled && o->cancelled(o->cancel_ctx); }

/* RDRR output: written into OUT.tmp-PID, checked, then renamed into place; an existing model at
 * OUT (checked replaceable again just before) goes aside to OUT.old-PID and is removed by name. */
static dp_status convert_rdrr(conv *c, const char *src, const char *dst) {
  size_t n = strlen(dst);
  while (n > 1 && dst[n - 1] == '/') n--;
  char *tmp = dp_malloc(n + 32), *old = dp_malloc(n + 32), *out = dp_strndup(dst, n);
  dp_status st = tmp && old && out ? DP_OK : DP_ERR_NOMEM;
  if (!st) {
    snprintf(tmp, n + 32, "%s.tmp-%ld", out, proc_id());
    snprintf(old, n + 32, "%s.old-%ld", out, proc_id());
    st = dp_tmpdir_create(tmp, "convert");
  }
  if (!st) {
    st = write_rdrr(c, tmp, src);
    if (!st) st = verify_output(c, tmp);
    if (!st && cancelled(c->o)) st = dp_error(DP_ERR_CANCELLED, "conversion interrupted");
    if (!st) st = dp_rdrr_check_replaceable(out, 0, src);
    int moved = 0;
    if (!st && dp_is_dir(out)) { /* replace an existing model (or empty directory): old aside, new in, old removed */
      if (rename(out, old)) st = dp_error(DP_ERR_IO, "%s: cannot move aside: %s", out, strerror(errno));
      else moved = 1;
      if (moved && dp_tmpdir_mark(old, "convert")) dp_log(DP_LOG_WARN, "notice: %s", dp_error_message());
    }
    if (!st) dp_tmpdir_unmark(tmp); /* from here a crash leaves an unmarked directory: never removed */
    if (!st && rename(tmp, out)) {
      st = dp_error(DP_ERR_IO, "%s: rename failed: %s", out, strerror(errno));
      if (moved) rename(old, out);
      moved = 0;
    }
    if (st) {
      dp_status keep = dp_error_status();
      char msg[1024];
      snprintf(msg, sizeof msg, "%s", dp_error_message());
      if (dp_rdrr_dir_remove(tmp)) dp_log(DP_LOG_WARN, "notice: %s", dp_error_message());
      dp_error(keep, "%s", msg);
    } else if (moved && dp_rdrr_dir_remove(old)) dp_log(DP_LOG_WARN, "notice: the replaced model was not fully removed: %s", dp_error_message());
  }
  dp_free(tmp), dp_free(old), dp_free(out);
  return st;
}

dp_status dp_convert_check_output(const char *dst) {
  dp_convert_remove_stale(dst);
  return dp_rdrr_check_replaceable(dst, ends_with(dst, ".gguf"), NULL);
}

dp_status dp_convert(const char *src, const char *dst, const dp_convert_opts *o) {
  dp_convert_opts dflt = {0};
  if (!o) o = &dflt;
  conv c = {0};
  c.o = o;
  int gguf = ends_with(dst, ".gguf");
  dp_convert_remove_stale(dst);
  dp_status st = dp_rdrr_check_replaceable(dst, gguf, src);
  if (!st) st = dp_model_file_open(src, &c.mf);
  if (st) return st;
  if (o->check && (st = o->check(src, o->check_ctx))) st = dp_error_wrap(st, "%s: source model does not load", src);
  if (!st && !(st = make_plan(&c, gguf))) {
    c.t0 = now();
    st = gguf ? write_gguf(&c, dst, src) : convert_rdrr(&c, src, dst);
    if (!st) progress(&c, 1);
  }
  dp_free(c.p);
  dp_free(c.comp);
  dp_free(c.comp_dt);
  dp_model_file_close(c.mf);
  return st;
}
