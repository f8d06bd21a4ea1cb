/* weights.c -- uploads a model's weights into GPU buffers (dp_rt_model_load / _free).
 *
 * Called by the public API (src/api/) and the GPU tests. Builds the layer plan (model/plan.h)
 * from the file's hyper-parameters, checks it against the file, then streams every tensor the
 * plan names from the model file (format/model_file.h: HF dir, GGUF or RDRR shards) through one
 * bounded host staging buffer: RAM use is O(staging), never a copy of the model. Matrices keep
 * their stored type (the matmul/embed kernels take F32, F16, BF16, Q8_0, Q4_K, Q6_K, MXFP4 rows)
 * in a dp_weight each (kernels/ops.h: parts of whole rows, each its own buffer within the
 * storage binding limit, so a tensor may exceed a binding or maxBufferSize); 1-D tensors (norm
 * weights, biases, sinks) become f32 in a buffer of their own, since the kernels read those as
 * f32. Where the ops layer wants it (CPU adapters), the matrices (q|k|v, o, gate|up, down, the
 * LM head) also get texture copies (dp_wtex, one per part), written with the same rows; the
 * matmuls read those instead of the buffers. Also fills the per-layer RoPE inverse-frequency
 * tables with the rules of model/rope.h. Tied embeddings share one dp_weight. With
 * q4k_dequant (--q4k-matmul dequant) Q4_K matrices are expanded on the host, chunk by chunk,
 * to F32 rows (F16 with f16: --compute-precision f16, which also stores F32 matrices as F16)
 * before they are written (quant/quant.h), and are dense from then on.
 *
 * Resumable (runtime.h dp_rt_load_*): begin creates every buffer and lists the uploads (jobs of
 * whole rows, at most the staging buffer each); steps run jobs while the model file holds their
 * bytes, and stop for a piece the host must supply or after 64 MiB of queued writes (a drain
 * the host waits for): no step waits for the GPU. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "model/rope.h"
#include "quant/quant.h"
#include "runtime/runtime.h"

#define STAGING_BYTES (4u << 20)      /* host staging buffer: one upload job at most */
#define DRAIN_BYTES (64ull << 20)     /* a step ends after this many bytes of queued writes */

/* One upload: stored bytes [off, off+n) of tensor t into rows [row, ...) of weight w, or (w
 * NULL) the whole 1-D tensor t as f32 into buf, or (is_copy) one of experts.c's copies of an MoE
 * layer (runtime.h dp_rt_copy). */
typedef struct upload_job {
  const dp_tensor_info *t;
  uint64_t off, n, row, rows, cols;
  dp_weight *w;
  dp_dtype to;           /* w's type: t's, or Q4_K's expansion */
  dp_gpu_buffer *buf;
  int is_copy;
  dp_rt_copy copy;
} upload_job;

struct dp_rt_loader {
  dp_rt_model *m;
  dp_model_file *mf;
  uint8_t *staging;      /* [STAGING_BYTES] */
  float *wide;           /* expanded rows (gpu_type), [wide_n] floats */
  uint64_t wide_n;
  upload_job *jobs;
  size_t n_jobs, cap_jobs, next;
  uint64_t since_drain, bytes_done, bytes_total;
};
typedef dp_rt_loader uploader;

static dp_status add_job(uploader *u, upload_job j) {
  if (u->n_jobs == u->cap_jobs) {
    size_t nc = u->cap_jobs ? 2 * u->cap_jobs : 256;
    upload_job *nj = dp_realloc(u->jobs, nc * sizeof *nj);
    if (!nj) return DP_ERR_NOMEM;
    u->jobs = nj, u->cap_jobs = nc;
  }
  u->jobs[u->n_jobs++] = j;
  u->bytes_total += j.n;
  return DP_OK;
}

static dp_status own(dp_rt_model *m, dp_gpu_buffer *b) {
  if (m->n_owned == m->cap_owned) {
    size_t nc = m->cap_owned ? 2 * m->cap_owned : 64;
    dp_gpu_buffer **nb = dp_realloc(m->owned, nc * sizeof *nb);
    if (!nb) { dp_gpu_buffer_free(b); return DP_ERR_NOMEM; }
    m->owned = nb, m->cap_owned = nc;
  }
  m->owned[m->n_owned++] = b;
  return DP_OK;
}

static dp_status new_buffer(dp_rt_model *m, uint64_t size, const char *label, dp_gpu_buffer **out) {
  dp_status st = dp_gpu_buffer_create(m->gpu, size ? size : 4, label, out);
  if (st) return st;
  return own(m, *out);
}

static dp_status write_bytes(uploader *u, dp_gpu_buffer *b, uint64_t off, const void *p, size_t n) {
  dp_status st = dp_gpu_buffer_write(u->m->gpu, b, off, p, n);
  if (!st) u->since_drain += n;
  return st;
}

/* A 1-D tensor (norm, bias, sinks) as f32. */
static dp_status upload_vec(uploader *u, const char *name, uint64_t expect, dp_rt_weight *w) {
  memset(w, 0, sizeof *w);
  if (!name[0]) return DP_OK;
  const dp_tensor_info *t = dp_model_file_find(u->mf, name);
  if (!t) return dp_error(DP_ERR_NOT_FOUND, "%s: tensor %s missing", dp_model_file_path(u->mf), name);
  uint64_t n = dp_tensor_nelems(t);
  if (expect && n != expect)
    return dp_error(DP_ERR_FORMAT, "%s: tensor %s: %llu elements, expected %llu", dp_model_file_path(u->mf), name,
                    (unsigned long long)n, (unsigned long long)expect);
  if (t->nbytes > STAGING_BYTES || n * 4 > STAGING_BYTES)
    return dp_error(DP_ERR_UNSUPPORTED, "%s: tensor %s: %llu elements exceed the staging buffer", dp_model_file_path(u->mf), name,
                    (unsigned long long)n);
  dp_status st = new_buffer(u->m, n * 4, name, &w->buf);
  if (!st) st = add_job(u, (upload_job){t, 0, t->nbytes, 0, n, n, NULL, DP_F32, w->buf, 0, {0}});
  if (st) return st;
  w->dtype = DP_F32, w->rows = 1, w->cols = n;
  u->m->weight_bytes += n * 4;
  return DP_OK;
}

static int matmul_dtype_ok(dp_dtype t, uint64_t K) {
  switch (t) {
  case DP_F32: case DP_F16: case DP_BF16: return 1;
  case DP_Q8_0: case DP_MXFP4: return K % 32 == 0;
  case DP_Q4_K: case DP_Q6_K: return K % 256 == 0;
  default: return 0;
  }
}

/* Find and check a matrix [rows, cols]. */
static dp_status find_mat(uploader *u, const char *name, uint64_t rows, uint64_t cols, const dp_tensor_info **out) {
  const dp_tensor_info *t = *out = dp_model_file_find(u->mf, name);
  if (!t) return dp_error(DP_ERR_NOT_FOUND, "%s: tensor %s missing", dp_model_file_path(u->mf), name);
  if (t->n_dims != 2 || t->shape[0] != rows || t->shape[1] != cols)
    return dp_error(DP_ERR_FORMAT, "%s: tensor %s: shape [%llu, %llu] expected, found %d dims [%llu, %llu]",
                    dp_model_file_path(u->mf), name, (unsigned long long)rows, (unsigned long long)cols, t->n_dims,
                    (unsigned long long)t->shape[0], (unsigned long long)(t->n_dims > 1 ? t->shape[1] : 0));
  if (!matmul_dtype_ok(t->dtype, cols))
    return dp_error(DP_ERR_UNSUPPORTED, "%s: tensor %s: dtype %s with row length %llu is not supported by the GPU kernels",
                    dp_model_file_path(u->mf), name, dp_dtype_name(t->dtype), (unsigned long long)cols);
  return DP_OK;
}

/* Matrices t[0..n) (equal type and row length `cols`) stacked row-wise in one dp_weight (ops.h:
 * split into parts of whole rows where it exceeds a storage binding; with texture copies when
 * `tex` and the ops layer uses them), streamed in chunks of whole rows through the staging
 * buffer, each chunk starting 4-byte aligned in its part (ops.h dp_weight_write). */
/* The type a matrix stored as t has on the GPU (dp_rt_load_opts): Q4_K expanded, F32 as F16. */
static dp_dtype gpu_type(const dp_rt_model *m, dp_dtype t) {
  if (t == DP_Q4_K && m->q4k_dequant) return m->f16 ? DP_F16 : DP_F32;
  return t == DP_F32 && m->f16 ? DP_F16 : t;
}

/* n elements of type `from` in the staging buffer -> type `to` (F32 or F16): the F32 values in
 * wide (n floats); F16 ones then back in the staging buffer (its source bytes are read). *out:
 * where the converted rows are. */
static dp_status expand_rows(dp_dtype from, dp_dtype to, uint8_t *staging, float *wide, uint64_t n, const void **out) {
  dp_status st = dp_dequantize(from, staging, wide, n);
  if (st) return st;
  *out = wide;
  if (to == DP_F32) return DP_OK;
  uint16_t *h = (uint16_t *)(void *)staging;
  for (uint64_t i = 0; i < n; i++) h[i] = dp_f32_to_f16(wide[i]);
  *out = staging;
  return DP_OK;
}

/* Matrices t[0..n) (equal type and row length `cols`) stacked row-wise in one dp_weight (ops.h:
 * split into parts of whole rows where it exceeds a storage binding; with texture copies when
 * `tex` and the ops layer uses them), listed as upload jobs of whole rows that fit the staging
 * buffer, each starting 4-byte aligned in its part (ops.h dp_weight_write); run_job expands
 * them first where gpu_type differs from the stored type. */
static dp_status upload_rows(uploader *u, const dp_tensor_info *const *t, int n, uint64_t cols, int tex, dp_weight **out) {
  dp_rt_model *m = u->m;
  dp_dtype tt = gpu_type(m, t[0]->dtype);
  uint64_t rows = 0, rb = dp_dtype_row_bytes(t[0]->dtype, cols), rbt = dp_dtype_row_bytes(tt, cols);
  for (int i = 0; i < n; i++) rows += t[i]->nbytes / rb;
  dp_status st = dp_weight_create(m->ops, tt, rows, cols, tex, t[0]->name, out);
  if (st) return st;
  if (m->n_w == m->cap_w) {
    size_t nc = m->cap_w ? 2 * m->cap_w : 64;
    dp_weight **nw = dp_realloc(m->owned_w, nc * sizeof *nw);
    if (!nw) { dp_weight_free(*out); return DP_ERR_NOMEM; }
    m->owned_w = nw, m->cap_w = nc;
  }
  m->owned_w[m->n_w++] = *out;
  uint64_t a4 = rbt % 4 == 0 ? 1 : rbt % 2 == 0 ? 2 : 4; /* rows per multiple of 4 bytes */
  uint64_t per = STAGING_BYTES / (rb > rbt ? rb : rbt) / a4 * a4, at = 0;
  if (per == 0)
    return dp_error(DP_ERR_UNSUPPORTED, "%s: %llu rows of %llu bytes exceed the staging buffer (%u bytes)", t[0]->name,
                    (unsigned long long)a4, (unsigned long long)(rb > rbt ? rb : rbt), STAGING_BYTES);
  for (int i = 0; i < n; i++) {
    uint64_t tr = t[i]->nbytes / rb;
    for (uint64_t r = 0; r < tr; r += per) {
      uint64_t k = tr - r < per ? tr - r : per;
      if ((st = add_job(u, (upload_job){t[i], r * rb, k * rb, at + r, k, cols, *out, tt, NULL, 0, {0}}))) return st;
    }
    at += tr;
    m->weight_bytes += tr * rbt;
  }
  return DP_OK;
}

/* A matrix [rows, cols] in its stored type, in a dp_weight of its own (with texture copies
 * when `tex` and the ops layer wants them). */
static dp_status upload_mat(uploader *u, const char *name, uint64_t rows, uint64_t cols, int tex, dp_rt_weight *w) {
  memset(w, 0, sizeof *w);
  const dp_tensor_info *t;
  dp_status st = find_mat(u, name, rows, cols, &t);
  if (!st) st = upload_rows(u, &t, 1, cols, tex, &w->mat);
  if (st) return st;
  w->dtype = t->dtype, w->rows = rows, w->cols = cols;
  return DP_OK;
}

/* Matrices with equal type and row length stacked row-wise in one dp_weight, when every part
 * starts at a 256-aligned byte offset both in the weights and in a T = 1 output row (f32):
 * `fused` spans all, parts[i] are row ranges of it. Otherwise each part gets its own. */
static dp_status upload_stack(uploader *u, const char *const *names, const uint64_t *rows, int n, uint64_t cols,
                              dp_rt_weight *parts, dp_rt_weight *fused) {
  const dp_tensor_info *t[4];
  dp_status st;
  memset(fused, 0, sizeof *fused);
  int ok = n <= 4;
  uint64_t at = 0, out_at = 0;
  for (int i = 0; ok && i < n; i++) {
    if ((st = find_mat(u, names[i], rows[i], cols, &t[i]))) return st;
    ok = t[i]->dtype == t[0]->dtype && at % 256 == 0 && out_at % 256 == 0;
    at += t[i]->nbytes, out_at += rows[i] * 4;
  }
  if (!ok) {
    for (int i = 0; i < n; i++)
      if ((st = upload_mat(u, names[i], rows[i], cols, 0, &parts[i]))) return st;
    return DP_OK;
  }
  dp_weight *w;
  if ((st = upload_rows(u, t, n, cols, 1, &w))) return st;
  *fused = (dp_rt_weight){NULL, w, 0, t[0]->dtype, 0, cols};
  for (int i = 0; i < n; i++) {
    parts[i] = (dp_rt_weight){NULL, w, (uint32_t)fused->rows, t[i]->dtype, rows[i], cols};
    fused->rows += rows[i];
  }
  return DP_OK;
}

/* inv_freq table for a layer; reuses an earlier layer's buffer when the table is equal. */
static dp_status upload_rope(uploader *u, int li, float **tables) {
  dp_rt_model *m = u->m;
  const dp_plan *p = m->plan;
  dp_rt_layer *L = &m->layers[li];
  const dp_rope *r = &p->layers[li].rope;
  int rot = r->rotary_dim > 0 ? r->rotary_dim : p->head_dim;
  if (rot > p->head_dim || rot % 2)
    return dp_error(DP_ERR_UNSUPPORTED, "rotary dim %d with head_dim %d", rot, p->head_dim);
  float *f = dp_malloc((size_t)(rot / 2) * sizeof *f);
  if (!f) return DP_ERR_NOMEM;
  float af = 1;
  dp_status st = dp_rope_freqs(r, p->head_dim, f, &af);
  if (st) { dp_free(f); return st; }
  L->rot_dim = rot, L->rope_attn_factor = af, L->rope_style = r->interleaved ? DP_ROPE_PAIRS : DP_ROPE_HALF;
  tables[li] = f;
  for (int j = 0; j < li; j++)
    if (m->layers[j].rot_dim == rot && !memcmp(tables[j], f, (size_t)(rot / 2) * sizeof *f)) {
      L->inv_freq = m->layers[j].inv_freq;
      return DP_OK;
    }
  if ((st = new_buffer(m, (uint64_t)(rot / 2) * 4, "inv_freq", &L->inv_freq))) return st;
  return write_bytes(u, L->inv_freq, 0, f, (size_t)(rot / 2) * 4);
}

/* experts.c's uploads of an MoE layer, listed as jobs like the others (run by run_job through
 * the staging buffer once their stored bytes are at hand) */
_Static_assert(STAGING_BYTES >= DP_RT_EXPERT_STAGING, "MoE copies fit the staging buffer");
static dp_status moe_copy(void *ctx, const dp_rt_copy *c) {
  uploader *u = ctx;
  upload_job j = {c->t, c->f32 ? 0 : c->off, c->f32 ? c->t->nbytes : c->n, 0, 0, 0, NULL, DP_F32, c->buf, 1, *c};
  return add_job(u, j);
}

static dp_status load_layer(uploader *u, int li) {
  const dp_plan *p = u->m->plan;
  const dp_layer_plan *P = &p->layers[li];
  dp_rt_layer *L = &u->m->layers[li];
  uint64_t d = p->d_model, qd = (uint64_t)p->n_heads * p->head_dim, kd = (uint64_t)p->n_kv_heads * p->head_dim;
  dp_status st;
  if ((st = upload_vec(u, P->attn_norm, d, &L->attn_norm))) return st;
  const char *qkv_names[3] = {P->q, P->k, P->v};
  uint64_t qkv_rows[3] = {qd, kd, kd};
  dp_rt_weight qkv[3];
  const dp_tensor_info *tq, *tk, *tv;
  if ((st = find_mat(u, P->q, qd, d, &tq)) || (st = find_mat(u, P->k, kd, d, &tk)) || (st = find_mat(u, P->v, kd, d, &tv)))
    return st;
  if (tq->dtype == tk->dtype && tk->dtype != tv->dtype) { /* q | k stacked, v apart */
    if ((st = upload_stack(u, qkv_names, qkv_rows, 2, d, qkv, &L->qk))) return st;
    if ((st = upload_mat(u, P->v, kd, d, 0, &qkv[2]))) return st;
  } else if ((st = upload_stack(u, qkv_names, qkv_rows, 3, d, qkv, &L->qkv))) {
    return st;
  }
  L->q = qkv[0], L->k = qkv[1], L->v = qkv[2];
  if ((st = upload_mat(u, P->o, d, qd, 1, &L->o))) return st;
  if ((st = upload_vec(u, P->q_bias, qd, &L->q_bias))) return st;
  if ((st = upload_vec(u, P->k_bias, kd, &L->k_bias))) return st;
  if ((st = upload_vec(u, P->v_bias, kd, &L->v_bias))) return st;
  if ((st = upload_vec(u, P->o_bias, d, &L->o_bias))) return st;
  if ((st = upload_vec(u, P->q_norm, p->head_dim, &L->q_norm))) return st;
  if ((st = upload_vec(u, P->k_norm, p->head_dim, &L->k_norm))) return st;
  if ((st = upload_vec(u, P->sinks, p->n_heads, &L->sinks))) return st;
  if ((st = upload_vec(u, P->attn_post_norm, d, &L->attn_post_norm))) return st;
  if ((st = upload_vec(u, P->ffn_norm, d, &L->ffn_norm))) return st;
  if ((st = upload_vec(u, P->ffn_post_norm, d, &L->ffn_post_norm))) return st;
  if (P->ffn == DP_FFN_MOE) return dp_rt_moe_load(u->m, u->mf, li, moe_copy, u); /* experts.c */
  const char *gu_names[2] = {P->gate, P->up};
  uint64_t gu_rows[2] = {(uint64_t)p->d_ff, (uint64_t)p->d_ff};
  dp_rt_weight gu[2];
  if ((st = upload_stack(u, gu_names, gu_rows, 2, d, gu, &L->gate_up))) return st;
  L->gate = gu[0], L->up = gu[1];
  if ((st = upload_mat(u, P->down, d, p->d_ff, 1, &L->down))) return st;
  return DP_OK;
}

/* Plan and check the model, create every buffer and list the uploads (the RoPE tables, made
 * here, are written at once); nothing is read from the model file yet. */
dp_status dp_rt_load_begin(dp_gpu *g, dp_model_file *mf, const dp_rt_load_opts *o, dp_rt_loader **out) {
  *out = NULL;
  uploader *u = dp_calloc(1, sizeof *u);
  dp_rt_model *m = dp_calloc(1, sizeof *m);
  if (!u || !m) { dp_free(u); dp_free(m); return DP_ERR_NOMEM; }
  m->gpu = g;
  m->q4k_dequant = o && o->q4k_dequant, m->f16 = o && o->f16;
  u->m = m, u->mf = mf;
  float **tables = NULL;
  dp_status st = dp_plan_build(dp_model_file_hparams(mf), &m->plan);
  if (!st) st = dp_plan_check(m->plan, mf);
  if (!st && m->plan->head_dim > DP_ATTN_MAX_HEAD_DIM) /* refuse now, not at the first forward pass */
    st = dp_error(DP_ERR_UNSUPPORTED, "%s: head_dim %d: the GPU attention kernel takes head_dim <= %d (the CPU reference, --cpu, has no limit)",
                  dp_model_file_path(mf), m->plan->head_dim, DP_ATTN_MAX_HEAD_DIM);
  for (int i = 0; !st && i < m->plan->n_eos; i++) dp_rt_model_add_eos(m, m->plan->eos_ids[i]);
  if (!st) st = dp_ops_create(g, &m->ops);
  if (!st) st = dp_rt_experts_init(m, mf, o); /* experts.c: residency of MoE layers */
  const dp_plan *p = m->plan;
  if (!st && !(m->layers = dp_calloc((size_t)p->n_layers, sizeof *m->layers))) st = DP_ERR_NOMEM;
  if (!st && !(tables = dp_calloc((size_t)p->n_layers, sizeof *tables))) st = DP_ERR_NOMEM;
  if (!st && !(u->staging = dp_malloc(STAGING_BYTES))) st = DP_ERR_NOMEM;
  int tied = !st && (p->tied || !strcmp(p->output, p->embed));
  /* tied: one dp_weight, whose buffers the gather reads and whose textures the LM head reads */
  if (!st) st = upload_mat(u, p->embed, p->vocab_size, p->d_model, tied, &m->embed);
  if (!st) st = upload_vec(u, p->final_norm, p->d_model, &m->final_norm);
  if (!st && tied) m->output = m->embed;
  else if (!st) st = upload_mat(u, p->output, p->vocab_size, p->d_model, 1, &m->output);
  for (int i = 0; !st && i < p->n_layers; i++) {
    st = load_layer(u, i);
    if (!st) st = upload_rope(u, i, tables);
    if (st) dp_error_wrap(st, "%s: layer %d", dp_model_file_path(mf), i);
  }
  if (tables)
    for (int i = 0; i < p->n_layers; i++) dp_free(tables[i]);
  dp_free(tables);
  if (st) { dp_rt_load_free(u); return st; }
  *out = u;
  return DP_OK;
}

/* Run one upload job whose bytes are at hand. */
static dp_status run_job(uploader *u, const upload_job *j) {
  dp_status st;
  if (j->is_copy) {
    if ((st = dp_rt_copy_run(u->m, u->mf, &j->copy, u->staging))) return st;
    u->since_drain += j->copy.f32 ? dp_tensor_nelems(j->t) * 4 : j->copy.n;
    return DP_OK;
  }
  if (j->w) {
    if ((st = dp_model_file_read(u->mf, j->t, j->off, u->staging, j->n))) return st;
    const void *rows = u->staging;
    if (j->to != j->t->dtype) { /* expanded (gpu_type): k * cols floats of room */
      uint64_t need = j->rows * j->cols;
      if (need > u->wide_n) {
        float *w = dp_realloc(u->wide, (size_t)need * sizeof *w);
        if (!w) return DP_ERR_NOMEM;
        u->wide = w, u->wide_n = need;
      }
      if ((st = expand_rows(j->t->dtype, j->to, u->staging, u->wide, need, &rows))) return st;
    }
    if ((st = dp_weight_write(u->m->ops, j->w, j->row, j->rows, rows))) return st;
    u->since_drain += j->rows * dp_dtype_row_bytes(j->to, j->cols) * (j->w->tex ? 2 : 1);
    return DP_OK;
  }
  float *f = (float *)u->staging;
  if ((st = dp_model_file_read_f32(u->mf, j->t, f))) return st;
  return write_bytes(u, j->buf, 0, f, j->rows * 4);
}

dp_status dp_rt_load_step(dp_rt_loader *u, int *state, dp_mf_piece *piece) {
  while (u->next < u->n_jobs) {
    if (u->since_drain >= DRAIN_BYTES) {
      u->since_drain = 0;
      *state = DP_RT_LOAD_DRAIN;
      return dp_gpu_submit(u->m->gpu);
    }
    const upload_job *j = &u->jobs[u->next];
    if (dp_model_file_missing(u->mf, j->t, j->off, j->n, piece)) {
      *state = DP_RT_LOAD_NEED;
      return DP_OK;
    }
    dp_status st = run_job(u, j);
    if (st) return dp_error_wrap(st, "%s: tensor %s", dp_model_file_path(u->mf), j->t->name);
    dp_model_file_release(u->mf); /* a job's pieces serve only that job: memory stays one job */
    u->bytes_done += j->n;
    u->next++;
  }
  *state = DP_RT_LOAD_DONE;
  return dp_gpu_submit(u->m->gpu);
}

void dp_rt_load_progress(const dp_rt_loader *u, uint64_t *done, uint64_t *total) {
  *done = u->bytes_done, *total = u->bytes_total;
}

dp_status dp_rt_load_end(dp_rt_loader *u, dp_rt_model **out) {
  *out = NULL;
  if (u->next < u->n_jobs) {
    dp_rt_load_free(u);
    return dp_error(DP_ERR_INVALID_ARG, "model load ended before every tensor was uploaded");
  }
  dp_log(DP_LOG_INFO, "%s: %llu bytes of weights on the GPU", dp_model_file_path(u->mf), (unsigned long long)u->m->weight_bytes);
  *out = u->m;
  u->m = NULL;
  dp_rt_load_free(u);
  return DP_OK;
}

void dp_rt_load_free(dp_rt_loader *u) {
  if (!u) return;
  dp_rt_model_free(u->m);
  dp_free(u->jobs);
  dp_free(u->staging);
  dp_free(u->wide);
  dp_free(u);
}

void dp_rt_model_free(dp_rt_model *m) {
  if (!m) return;
  dp_rt_batch_free(m->batch);
  for (size_t i = 0; i < m->n_owned; i++) dp_gpu_buffer_free(m->owned[i]);
  dp_free(m->owned);
  for (size_t i = 0; i < m->n_w; i++) dp_weight_free(m->owned_w[i]);
  dp_free(m->owned_w);
  for (int i = 0; m->layers && i < m->plan->n_layers; i++) dp_rt_moe_free(m->layers[i].moe);
  dp_rt_experts_free(m->ex);
  dp_free(m->layers);
  if (m->ops) dp_ops_free(m->ops);
  dp_plan_free(m->plan);
  dp_free(m);
}
