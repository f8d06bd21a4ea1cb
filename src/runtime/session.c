/* session.c -- a session: the KV cache and activation buffers of one conversation, and the
 * evaluation entry points that feed tokens (prefill in chunks of up to `chunk` tokens, each
 * one forward pass) and return logits or per-token negative log-likelihoods.
 *
 * Called by the public API (src/api/), generate.c and the GPU tests. Depends on forward.c
 * (graph recording), sampler.c (nll kernel) and the device layer.
 *
 * KV cache sizing (ops.h layout, slot = position % capacity): full-attention layers keep
 * every position of the context; sliding-window layers keep a ring of
 * window + max(chunk, 2 steps) slots -- enough for a prefill chunk to write all its keys before
 * reading, and for a decode batch and the one recorded ahead of it (generate.c) to run up to
 * 2 steps positions past a stop token whose slots are later rewritten.
 * Ordering rule: a queued buffer write lands before the next submit, so anything recorded
 * that reads a buffer is submitted before the CPU writes that buffer again. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "runtime/runtime.h"

#define DEFAULT_CTX 4096   /* default context when the caller gives none (KV memory grows with it) */
#define DEFAULT_CHUNK 512
#define DEFAULT_STEPS 8
#define LOGITS_BYTES (64ull << 20) /* bound on the logits buffer */

static dp_status buf(dp_rt_session *s, uint64_t bytes, const char *label, dp_gpu_buffer **out) {
  return dp_gpu_buffer_create(s->m->gpu, bytes ? bytes : 4, label, out);
}

/* The activation buffers of C rows (qkv1 and gu1: D rows), the LM head's and the input ids. */
static dp_status alloc_acts(dp_rt_session *s, uint64_t C, uint64_t D) {
  const dp_plan *p = s->m->plan;
  uint64_t V = (uint64_t)p->vocab_size, d = (uint64_t)p->d_model, ff = (uint64_t)p->d_ff;
  uint64_t qd = (uint64_t)p->n_heads * p->head_dim, kd = (uint64_t)p->n_kv_heads * p->head_dim;
  dp_status st = DP_OK;
  if (!st) st = buf(s, C * d * 4, "x", &s->x);
  if (!st) st = buf(s, C * d * 4, "h", &s->h);
  if (!st) st = buf(s, C * qd * 4, "q", &s->q);
  if (!st) st = buf(s, C * kd * 4, "k", &s->k);
  if (!st) st = buf(s, C * kd * 4, "v", &s->v);
  if (!st) st = buf(s, C * qd * 4, "att", &s->att);
  if (!st) st = buf(s, C * ff * 4, "gate", &s->gate);
  if (!st) st = buf(s, C * ff * 4, "up", &s->up);
  if (!st) st = buf(s, C * d * 4, "tmp", &s->tmp);
  if (!st) st = buf(s, D * (qd + 2 * kd) * 4, "qkv1", &s->qkv1);
  if (!st) st = buf(s, D * 2 * ff * 4, "gu1", &s->gu1);
  uint64_t kq = d > ff ? d : ff;
  if (qd > kq) kq = qd;
  if (!st && dp_ops_matvec_q8(s->m->ops) && kq % 32 == 0) st = buf(s, dp_xq_bytes((uint32_t)D, (uint32_t)kq), "xq", &s->xq);
  if (!st) st = buf(s, (uint64_t)s->lrows * d * 4, "hrow", &s->hrow);
  if (!st) st = buf(s, C * 4, "ids", &s->ids);
  if (!st) st = buf(s, (uint64_t)s->lrows * V * 4, "logits", &s->logits);
  return st;
}

dp_status dp_rt_session_create_rows(dp_rt_model *m, int rows, dp_rt_session **out) {
  *out = NULL;
  const dp_plan *p = m->plan;
  uint64_t lim = dp_gpu_get_info(m->gpu)->max_storage_binding, lbytes = LOGITS_BYTES < lim ? LOGITS_BYTES : lim;
  uint64_t V = (uint64_t)p->vocab_size, ff = (uint64_t)p->d_ff, row = (uint64_t)p->d_model;
  uint64_t qd = (uint64_t)p->n_heads * p->head_dim, kd = (uint64_t)p->n_kv_heads * p->head_dim;
  if (qd > row) row = qd;
  if (qd + 2 * kd > row) row = qd + 2 * kd; /* a batch's decode rows of q|k|v and gate|up */
  if (2 * ff > row) row = 2 * ff;
  uint64_t r = (uint64_t)(rows > 0 ? rows : 1);
  if (r * row * 4 > lim) r = lim / (row * 4);
  if (r * V * 4 > lbytes) r = lbytes / (V * 4);
  if (r == 0) /* dp_rt_session_create refuses such a model first */
    return dp_error(DP_ERR_UNSUPPORTED, "a decode row of %llu floats does not fit the storage binding limit %llu",
                    (unsigned long long)row, (unsigned long long)lim);
  dp_rt_session *s = dp_calloc(1, sizeof *s);
  if (!s) return DP_ERR_NOMEM;
  s->m = m, s->chunk = (int)r, s->lrows = (int)r, s->pending = -1;
  dp_status st = alloc_acts(s, r, r);
  if (!st && p->n_experts) st = dp_rt_moe_session(s); /* MoE scratch for the batch's rows */
  for (int i = 0; i < 3 && !st; i++) st = dp_op_sites_create(&s->sites[i]);
  if (st) { dp_rt_session_free(s); return st; }
  *out = s;
  return DP_OK;
}

dp_status dp_rt_session_create(dp_rt_model *m, int ctx, int chunk, int steps, dp_rt_session **out) {
  *out = NULL;
  const dp_plan *p = m->plan;
  const dp_gpu_info *gi = dp_gpu_get_info(m->gpu);
  if (ctx <= 0) ctx = p->max_pos > 0 && p->max_pos < DEFAULT_CTX ? p->max_pos : DEFAULT_CTX;
  if (p->max_pos > 0 && ctx > p->max_pos) ctx = p->max_pos;
  if (chunk <= 0) chunk = DEFAULT_CHUNK;
  if (chunk > ctx) chunk = ctx;
  if (steps <= 0) steps = DEFAULT_STEPS;
  uint64_t V = (uint64_t)p->vocab_size, d = (uint64_t)p->d_model;
  uint64_t qd = (uint64_t)p->n_heads * p->head_dim, kd = (uint64_t)p->n_kv_heads * p->head_dim;
  /* Every activation is bound whole: a prefill chunk has at most the rows whose widest
   * activation fits one storage binding; a single row that cannot is an error (never a clamp). */
  uint64_t lim = gi->max_storage_binding, ff = (uint64_t)p->d_ff, row = d;
  if (qd > row) row = qd;
  if (ff > row) row = ff;
  if (p->n_experts) { /* MoE: a token's rows of every chosen expert (experts.c) */
    uint64_t kr = (uint64_t)p->n_experts_per_tok * ((uint64_t)p->moe_d_ff > d ? (uint64_t)p->moe_d_ff : d);
    if (kr > row) row = kr;
  }
  const struct { const char *what; uint64_t bytes; } one[] = {
    {"an activation row", row * 4}, {"the decode q|k|v row", (qd + 2 * kd) * 4}, {"the decode gate|up row", 2 * ff * 4},
    {"a logits row", V * 4}, {"the token history", ((uint64_t)ctx + (uint64_t)steps + 1) * 4}};
  for (size_t i = 0; i < sizeof one / sizeof *one; i++)
    if (one[i].bytes > lim)
      return dp_error(DP_ERR_UNSUPPORTED, "%s of %llu bytes exceeds the adapter's storage binding limit %llu", one[i].what,
                      (unsigned long long)one[i].bytes, (unsigned long long)lim);
  if ((uint64_t)chunk * row * 4 > lim) {
    chunk = (int)(lim / (row * 4));
    dp_log(DP_LOG_INFO, "prefill chunks of %d tokens: rows of %llu floats, storage bindings of %llu bytes", chunk,
           (unsigned long long)row, (unsigned long long)lim);
  }
  dp_rt_session *s = dp_calloc(1, sizeof *s);
  if (!s) return DP_ERR_NOMEM;
  s->m = m, s->ctx = ctx, s->chunk = chunk, s->steps = steps, s->pending = -1;
  uint64_t lbytes = LOGITS_BYTES < lim ? LOGITS_BYTES : lim;
  uint64_t lr = lbytes / (V * 4);
  s->lrows = (int)(lr < 1 ? 1 : lr > (uint64_t)chunk ? (uint64_t)chunk : lr);
  dp_status st = DP_OK;
  if (!(s->kc = dp_calloc((size_t)p->n_layers, sizeof *s->kc)) || !(s->vc = dp_calloc((size_t)p->n_layers, sizeof *s->vc)) ||
      !(s->cap = dp_calloc((size_t)p->n_layers, sizeof *s->cap)))
    st = DP_ERR_NOMEM;
  for (int i = 0; !st && i < p->n_layers; i++) {
    uint64_t cap = (uint64_t)ctx;
    int w = p->layers[i].sliding_window;
    if (w > 0) {
      uint64_t ring = (uint64_t)w + (uint64_t)(chunk > 2 * steps ? chunk : 2 * steps);
      if (ring < cap) cap = ring;
    }
    s->cap[i] = (uint32_t)cap;
    if (cap * kd * 4 > gi->max_storage_binding)
      st = dp_error(DP_ERR_UNSUPPORTED, "layer %d: KV cache of %llu bytes exceeds the adapter's storage binding limit %llu; use a shorter context",
                    i, (unsigned long long)(cap * kd * 4), (unsigned long long)gi->max_storage_binding);
    if (!st) st = buf(s, cap * kd * 4, "k-cache", &s->kc[i]);
    if (!st) st = buf(s, cap * kd * 4, "v-cache", &s->vc[i]);
  }
  if (!st) st = alloc_acts(s, (uint64_t)chunk, 1);
  if (!st) st = buf(s, 4, "cur-id", &s->cur_id);
  if (!st) st = buf(s, ((uint64_t)ctx + (uint64_t)steps + 1) * 4, "hist", &s->hist);
  if (!st) st = buf(s, V * 4, "sample-work", &s->work);
  if (!st) st = buf(s, (uint64_t)steps * 4, "out-ids", &s->out_ids);
  if (!st) st = buf(s, (uint64_t)chunk * 4, "targets", &s->targets);
  if (!st) st = buf(s, (uint64_t)chunk * 4, "nll", &s->nll);
  if (!st && p->n_experts) st = dp_rt_moe_session(s);
  for (int i = 0; i < 3 && !st; i++) st = dp_op_sites_create(&s->sites[i]);
  if (st) { dp_rt_session_free(s); return st; }
  *out = s;
  return DP_OK;
}

void dp_rt_session_free(dp_rt_session *s) {
  if (!s) return;
  for (int i = 0; i < 3; i++) dp_op_sites_free(s->sites[i]); /* before the buffers they bind */
  if (s->kc)
    for (int i = 0; i < s->m->plan->n_layers; i++) { dp_gpu_buffer_free(s->kc[i]); dp_gpu_buffer_free(s->vc[i]); }
  dp_free(s->kc);
  dp_free(s->vc);
  dp_free(s->cap);
  dp_gpu_buffer *all[] = {s->x, s->h, s->q, s->k, s->v, s->att, s->gate, s->up, s->tmp, s->qkv1, s->gu1, s->xq, s->hrow, s->ids, s->cur_id,
                          s->logits, s->hist, s->work, s->out_ids, s->targets, s->nll, s->moe_logits, s->moe_ids,
                          s->moe_w, s->moe_grp, s->moe_g, s->moe_u, s->moe_y};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) dp_gpu_buffer_free(all[i]);
  dp_free(s);
}

void dp_rt_session_reset(dp_rt_session *s) {
  s->pos = 0;
  s->pending = -1;
  s->pending_in_cur = 0;
  s->logits_valid = 0;
  s->cancel = 0;
  s->n_sampled = 0; /* a reset session with the same seed reproduces its draws */
}

/* Feed n tokens (no pending handling). logits: [n][V] to the host or NULL. */
static dp_status feed(dp_rt_session *s, const int32_t *ids, size_t n, float *logits) {
  const dp_plan *p = s->m->plan;
  dp_gpu *g = s->m->gpu;
  uint64_t V = (uint64_t)p->vocab_size;
  uint32_t *u = dp_malloc((size_t)s->chunk * sizeof *u);
  if (!u) return DP_ERR_NOMEM;
  dp_status st = DP_OK;
  for (size_t done = 0; done < n && !st;) {
    uint32_t T = (uint32_t)(n - done < (size_t)s->chunk ? n - done : (size_t)s->chunk);
    for (uint32_t t = 0; t < T; t++) {
      if (ids[done + t] < 0 || ids[done + t] >= p->vocab_size) {
        st = dp_error(DP_ERR_INVALID_ARG, "token id %d at input position %zu is outside the vocabulary (%d)", ids[done + t],
                      done + t, p->vocab_size);
        break;
      }
      u[t] = (uint32_t)ids[done + t];
    }
    if (st) break;
    s->logits_valid = 0;
    if ((st = dp_gpu_buffer_write(g, s->ids, 0, u, T * 4))) break;
    if ((st = dp_gpu_buffer_write(g, s->hist, (uint64_t)s->pos * 4, u, T * 4))) break;
    if ((st = dp_rt_record_body(s, dp_view_of(s->ids, 0), T, (uint32_t)s->pos))) break;
    int last_in_row0 = 0;
    if (logits) {
      for (uint32_t r0 = 0; r0 < T && !st; r0 += (uint32_t)s->lrows) {
        uint32_t nr = T - r0 < (uint32_t)s->lrows ? T - r0 : (uint32_t)s->lrows;
        st = dp_rt_record_head(s, r0, nr);
        if (!st) st = dp_gpu_buffer_read(g, s->logits, 0, logits + (done + r0) * V, (size_t)(nr * V * 4));
        last_in_row0 = nr == 1;
      }
    }
    if (!st && !last_in_row0 && done + T == n) st = dp_rt_record_head(s, T - 1, 1);
    if (!st) st = dp_gpu_submit(g);
    if (st) break;
    s->pos += (int)T;
    done += T;
    if (done == n) s->logits_valid = 1;
  }
  dp_free(u);
  return st;
}

static dp_status check_room(dp_rt_session *s, size_t n) {
  size_t have = (size_t)s->pos + (s->pending >= 0);
  if (have + n > (size_t)s->ctx)
    return dp_error(DP_ERR_CONTEXT_FULL, "context length %d exceeded: %zu tokens in the session + %zu new", s->ctx, have, n);
  return DP_OK;
}

/* Feed the pending token (sampled, not yet trusted in the cache), if any. */
static dp_status feed_pending(dp_rt_session *s) {
  if (s->pending < 0) return DP_OK;
  int32_t t = s->pending;
  s->pending = -1, s->pending_in_cur = 0;
  dp_status st = feed(s, &t, 1, NULL);
  if (st) s->pending = t;
  return st;
}

dp_status dp_rt_eval(dp_rt_session *s, const int32_t *ids, size_t n, float *logits) {
  dp_status st = check_room(s, n);
  if (!st) st = feed_pending(s);
  if (!st && n) st = feed(s, ids, n, logits);
  return st;
}

dp_status dp_rt_eval_start(dp_rt_session *s, const int32_t *ids, size_t n, dp_gpu_readback **rb) {
  *rb = NULL;
  const dp_plan *p = s->m->plan;
  dp_gpu *g = s->m->gpu;
  if (!n || n > (size_t)s->lrows)
    return dp_error(DP_ERR_INVALID_ARG, "logits of %zu ids at once: 1..%d (dp_session_logits_rows)", n, s->lrows);
  dp_status st = check_room(s, n);
  if (!st) st = feed_pending(s);
  if (st) return st;
  uint32_t u[DP_RT_EVAL_MAX_ROWS], T = (uint32_t)n;
  if (n > DP_RT_EVAL_MAX_ROWS) return dp_error(DP_ERR_INVALID_ARG, "logits of %zu ids at once: at most %d", n, DP_RT_EVAL_MAX_ROWS);
  for (uint32_t t = 0; t < T; t++) {
    if (ids[t] < 0 || ids[t] >= p->vocab_size)
      return dp_error(DP_ERR_INVALID_ARG, "token id %d at input position %u is outside the vocabulary (%d)", ids[t], t, p->vocab_size);
    u[t] = (uint32_t)ids[t];
  }
  s->logits_valid = 0;
  if ((st = dp_gpu_buffer_write(g, s->ids, 0, u, T * 4))) return st;
  if ((st = dp_gpu_buffer_write(g, s->hist, (uint64_t)s->pos * 4, u, T * 4))) return st;
  if ((st = dp_rt_record_body(s, dp_view_of(s->ids, 0), T, (uint32_t)s->pos))) return st;
  if ((st = dp_rt_record_head(s, 0, T))) return st;
  if ((st = dp_gpu_read_start(g, s->logits, 0, (size_t)T * (size_t)p->vocab_size * 4, rb))) return st;
  /* the last row's prediction back in row 0 for sampling, after the copy (a later submit) */
  if (T > 1 && (st = dp_rt_record_head(s, T - 1, 1))) return st;
  s->pos += (int)T;
  s->logits_valid = 1;
  return DP_OK;
}

int dp_rt_eval_rows(const dp_rt_session *s) { return s->lrows < DP_RT_EVAL_MAX_ROWS ? s->lrows : DP_RT_EVAL_MAX_ROWS; }

dp_status dp_rt_score(dp_rt_session *s, const int32_t *ids, size_t n, double *nll) {
  const dp_plan *p = s->m->plan;
  dp_gpu *g = s->m->gpu;
  dp_rt_session_reset(s);
  if (n < 2) return DP_OK;
  if (n > (size_t)s->ctx) return dp_error(DP_ERR_CONTEXT_FULL, "scoring %zu tokens in a context of %d", n, s->ctx);
  uint32_t *u = dp_malloc((size_t)s->chunk * sizeof *u);
  float *f = dp_malloc((size_t)s->chunk * sizeof *f);
  dp_status st = u && f ? DP_OK : DP_ERR_NOMEM;
  for (size_t done = 0; done < n - 1 && !st;) {
    uint32_t T = (uint32_t)(n - 1 - done < (size_t)s->chunk ? n - 1 - done : (size_t)s->chunk);
    for (uint32_t t = 0; t < T && !st; t++) {
      int32_t a = ids[done + t], b = ids[done + t + 1];
      if (a < 0 || a >= p->vocab_size || b < 0 || b >= p->vocab_size)
        st = dp_error(DP_ERR_INVALID_ARG, "token id at position %zu is outside the vocabulary (%d)", done + t, p->vocab_size);
      u[t] = (uint32_t)a;
      f[t] = 0;
    }
    if (st) break;
    if ((st = dp_gpu_buffer_write(g, s->ids, 0, u, T * 4))) break;
    for (uint32_t t = 0; t < T; t++) u[t] = (uint32_t)ids[done + t + 1];
    if ((st = dp_gpu_buffer_write(g, s->targets, 0, u, T * 4))) break;
    if ((st = dp_rt_record_body(s, dp_view_of(s->ids, 0), T, (uint32_t)s->pos))) break;
    for (uint32_t r0 = 0; r0 < T && !st; r0 += (uint32_t)s->lrows) {
      uint32_t nr = T - r0 < (uint32_t)s->lrows ? T - r0 : (uint32_t)s->lrows;
      st = dp_rt_record_head(s, r0, nr);
      if (!st) st = dp_rt_record_nll(s, nr, r0, r0);
    }
    if (!st) st = dp_gpu_buffer_read(g, s->nll, 0, f, T * 4);
    for (uint32_t t = 0; t < T && !st; t++) nll[done + t] = f[t];
    s->pos += (int)T;
    done += T;
  }
  dp_free(u);
  dp_free(f);
  dp_rt_session_reset(s);
  return st;
}
