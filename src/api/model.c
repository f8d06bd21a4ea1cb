/* model.c -- the public API's models and sessions (include/doppler.h): a loaded model's info,
 * tokenizer access and chat template (loading itself is src/api/load.c); sessions wrap
 * runtime sessions. Also the logits-level
 * entry points (eval, greedy, score) used by `doppler logits` / `perplexity` and the tests.
 * Called by cli/ and by hosts embedding the engine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/alloc.h"
#include "core/error.h"

dp_status dp_model_kernels_used(const dp_model *m, int (*cb)(void *user, const char *name, const char *op, uint64_t n),
                                void *user) {
  dp_kernel_variant e;
  for (size_t i = 0, n = dp_kernel_variant_count(); i < n; i++) {
    uint64_t runs = dp_ops_variant_runs(m->rt->ops, i);
    if (!runs) continue;
    dp_status st = dp_kernel_variant_get(i, &e);
    if (st) return st;
    if (cb(user, e.name, e.op, runs)) break;
  }
  return DP_OK;
}

void dp_model_free(dp_model *m) {
  if (!m) return;
  dp_tokenizer_free(m->tok);
  dp_rt_model_free(m->rt);
  dp_gpu_close(m->gpu);
  dp_free(m);
}

dp_status dp_model_get_info(const dp_model *m, dp_model_info *info) {
  if (!m || !info) return dp_error(DP_ERR_INVALID_ARG, "dp_model_get_info: NULL argument");
  const dp_plan *p = m->rt->plan;
  memset(info, 0, sizeof *info);
  info->arch = m->arch, info->source_kind = m->kind, info->adapter = m->adapter;
  info->n_layers = p->n_layers, info->d_model = p->d_model, info->n_heads = p->n_heads;
  info->n_kv_heads = p->n_kv_heads, info->head_dim = p->head_dim, info->vocab_size = p->vocab_size;
  info->max_context = p->max_pos;
  info->bos_id = m->tok ? dp_tokenizer_bos(m->tok) : p->bos_id;
  info->eos_id = m->tok ? dp_tokenizer_eos(m->tok) : p->n_eos ? p->eos_ids[0] : -1;
  info->add_bos = m->tok ? dp_tokenizer_add_bos(m->tok) : 0;
  info->has_tokenizer = m->tok != NULL;
  info->eog_ids = m->rt->eos, info->n_eog = m->rt->n_eos;
  info->weight_bytes = m->rt->weight_bytes;
  info->q4k_matmul = m->ov.q4k == DP_Q4K_DEQUANT ? "dequant" : "fused", info->q4k_matmul_from = m->ov.q4k_from;
  info->compute_precision = m->ov.prec == DP_PRECISION_F16 ? "f16" : "f32", info->compute_precision_from = m->ov.prec_from;
  info->matvec_input = dp_ops_matvec_q8(m->rt->ops) ? "q8" : "f32";
  return DP_OK;
}

static dp_status need_tok(const dp_model *m) {
  if (!m->tok) return dp_error(DP_ERR_UNSUPPORTED, "this model has no tokenizer (pass token ids instead)");
  return DP_OK;
}

dp_status dp_tokenize(dp_model *m, const char *text, int add_bos, int32_t *ids, size_t cap, size_t *n) {
  if (!m || !text || !n || (cap && !ids)) return dp_error(DP_ERR_INVALID_ARG, "dp_tokenize: NULL argument");
  dp_status st = need_tok(m);
  if (st) return st;
  dp_token_list l = {0};
  unsigned flags = DP_TOK_PARSE_SPECIAL;
  int want_bos = add_bos < 0 ? dp_tokenizer_add_bos(m->tok) : add_bos;
  st = dp_tokenizer_encode(m->tok, text, strlen(text), flags, &l);
  int32_t bos = dp_tokenizer_bos(m->tok);
  int prepend = !st && want_bos && bos >= 0 && !(l.n && l.ids[0] == bos);
  if (!st) {
    *n = l.n + (size_t)prepend;
    for (size_t i = 0; i < *n && i < cap; i++) ids[i] = prepend ? (i ? l.ids[i - 1] : bos) : l.ids[i];
  }
  dp_token_list_free(&l);
  return st;
}

dp_status dp_tokenize_prompt(dp_session *s, const char *prompt, const dp_generate_options *o, int32_t *ids, size_t cap,
                             size_t *n) {
  if (!s || !prompt || !n) return dp_error(DP_ERR_INVALID_ARG, "dp_tokenize_prompt: NULL argument");
  int add_bos = o ? o->add_bos : -1;
  if (dp_session_position(s) > 0) add_bos = 0; /* BOS only at the start of a conversation */
  return dp_tokenize(s->m, prompt, add_bos, ids, cap, n);
}

dp_status dp_token_piece(const dp_model *m, int32_t id, char *buf, size_t cap, size_t *len) {
  if (!m || !len || (cap && !buf)) return dp_error(DP_ERR_INVALID_ARG, "dp_token_piece: NULL argument");
  dp_status st = need_tok(m);
  if (st) return st;
  dp_buf b = {0};
  st = dp_tokenizer_piece(m->tok, id, &b);
  if (!st && b.failed) st = DP_ERR_NOMEM;
  if (!st) {
    *len = b.len;
    size_t k = b.len < cap ? b.len : cap ? cap - 1 : 0;
    if (cap) { memcpy(buf, b.data ? b.data : "", k); buf[k] = 0; }
  }
  dp_buf_free(&b);
  return st;
}

dp_status dp_chat_format(dp_model *m, const dp_chat_message *msgs, size_t n, int add_generation_prompt, char **out) {
  *out = NULL;
  dp_status st = need_tok(m);
  if (st) return st;
  if (m->chat == DP_CHAT_NONE) return dp_error(DP_ERR_NOT_FOUND, "this model has no chat template");
  dp_chat_msg *cm = dp_calloc(n ? n : 1, sizeof *cm);
  if (!cm) return DP_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) cm[i].role = msgs[i].role, cm[i].content = msgs[i].content;
  dp_buf b = {0};
  st = dp_chat_render(m->tok, m->chat, cm, n, add_generation_prompt, &b);
  dp_free(cm);
  if (st) { dp_buf_free(&b); return st; }
  *out = b.data ? b.data : dp_strdup("");
  return *out ? DP_OK : DP_ERR_NOMEM;
}

void dp_string_free(char *s) { dp_free(s); }

/* ---- sessions ---- */
dp_status dp_session_create(dp_model *m, const dp_session_options *opt, dp_session **out) {
  *out = NULL;
  if (!m) return dp_error(DP_ERR_INVALID_ARG, "dp_session_create: no model");
  dp_session *s = dp_calloc(1, sizeof *s);
  if (!s) return DP_ERR_NOMEM;
  s->m = m;
  int ctx = opt ? opt->context_length : 0, steps = opt ? opt->steps_per_submit : 0;
  if (ctx < 0 || steps < 0 || steps > 256) {
    dp_free(s);
    return dp_error(DP_ERR_INVALID_ARG, "session options: context_length %d, steps_per_submit %d (0..256)", ctx, steps);
  }
  if (m->rt->plan->max_pos > 0 && ctx > m->rt->plan->max_pos) {
    dp_free(s);
    return dp_error(DP_ERR_INVALID_ARG, "context length %d exceeds the model's maximum of %d positions", ctx,
                    m->rt->plan->max_pos);
  }
  dp_status st = dp_rt_session_create(m->rt, ctx, 0, steps, &s->rt);
  if (st) { dp_free(s); return st; }
  *out = s;
  return DP_OK;
}

void dp_session_free(dp_session *s) {
  if (!s) return;
  dp_rt_session_free(s->rt);
  dp_free(s);
}

void dp_session_reset(dp_session *s) { if (s) dp_rt_session_reset(s->rt); }
void dp_session_cancel(dp_session *s) { if (s) s->rt->cancel = 1; }
int dp_session_position(const dp_session *s) { return s->rt->pos + (s->rt->pending >= 0); }
int dp_session_context_length(const dp_session *s) { return s->rt->ctx; }

dp_status dp_session_eval(dp_session *s, const int32_t *ids, size_t n, float *logits) {
  if (!s || (n && !ids)) return dp_error(DP_ERR_INVALID_ARG, "dp_session_eval: NULL argument");
  return dp_rt_eval(s->rt, ids, n, logits);
}

dp_status dp_session_greedy(dp_session *s, size_t n, int32_t *ids, float *logits) {
  if (!s || (n && !ids)) return dp_error(DP_ERR_INVALID_ARG, "dp_session_greedy: NULL argument");
  if (!n) return DP_OK;
  return dp_rt_greedy(s->rt, n, ids, logits);
}

dp_status dp_session_score(dp_session *s, const int32_t *ids, size_t n, double *nll) {
  if (!s || (n && (!ids || !nll))) return dp_error(DP_ERR_INVALID_ARG, "dp_session_score: NULL argument");
  return dp_rt_score(s->rt, ids, n, nll);
}

/* ---- resumable logits ---- */
struct dp_logits {
  dp_session *s;
  dp_gpu_readback *rb;
};

int dp_session_logits_rows(const dp_session *s) { return dp_rt_eval_rows(s->rt); }

dp_status dp_logits_start(dp_session *s, const int32_t *ids, size_t n, dp_logits **out) {
  *out = NULL;
  if (!s || (n && !ids)) return dp_error(DP_ERR_INVALID_ARG, "dp_logits_start: NULL argument");
  if (s->active) return dp_error(DP_ERR_INVALID_ARG, "dp_logits_start: the session is generating");
  dp_logits *r = dp_calloc(1, sizeof *r);
  if (!r) return DP_ERR_NOMEM;
  r->s = s;
  dp_status st = dp_rt_eval_start(s->rt, ids, n, &r->rb);
  if (st) { dp_free(r); return st; }
  *out = r;
  return DP_OK;
}

int dp_logits_poll(dp_logits *r) { return dp_gpu_read_poll(r->s->m->gpu, r->rb); }

dp_gpu_readback *dp_logits_readback(const dp_logits *r) { return r->rb; }
dp_gpu *dp_logits_gpu(const dp_logits *r) { return r->s->m->gpu; }

dp_status dp_logits_finish(dp_logits *r, float *logits) {
  if (!r) return dp_error(DP_ERR_INVALID_ARG, "dp_logits_finish: NULL argument");
  dp_gpu *g = r->s->m->gpu;
  dp_status st;
  if (logits) st = dp_gpu_read_finish(g, r->rb, logits);
  else { dp_gpu_read_discard(g, r->rb); st = DP_OK; }
  dp_free(r);
  return st;
}
