/* load.c -- model loading (include/doppler.h): the resumable loader dp_load_* and
 * dp_model_load, the same loop over a local model.
 *
 * A dp_load opens the GPU at once, then walks phases: the manifest (supplied models only),
 * the tokenizer files (supplied: tokenizer.json and tokenizer_config.json, both optional;
 * local: format's choice beside the weights or inside the GGUF), then the weights through the
 * runtime's resumable uploader (runtime/weights.c: NEED -> a read request for the piece of a
 * shard, DRAIN -> a drain request). Each dp_load_next runs everything whose bytes are at hand
 * and returns the next request; dp_load_supply answers it. The model is assembled (tokenizer,
 * end-of-generation ids, chat template, kernel hot swap) by dp_load_finish. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/kernel_check.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"

enum { PH_MANIFEST, PH_TOKENIZER, PH_TOK_CONFIG, PH_WEIGHTS, PH_DONE, PH_FAILED };

struct dp_load {
  dp_model *m;
  dp_model_file *mf;
  dp_rt_loader *L;
  const dp_load_options *opt;
  int supplied, phase, open;  /* open: a request is waiting for dp_load_supply */
  dp_load_request req;
  dp_mf_piece piece;
  char *tok, *cfg;            /* supplied tokenizer files (NULL: absent) */
  size_t tok_len, cfg_len;
  dp_status err;
  char msg[1024];
};

static void fail(dp_load *l, dp_status st) {
  if (!st || l->phase == PH_FAILED) return;
  l->err = st;
  snprintf(l->msg, sizeof l->msg, "%s", dp_error_message());
  l->phase = PH_FAILED;
}

/* The model as far as the model file goes: arch and kind names, the run-time overrides
 * (flags > manifest hints > defaults, src/api/overrides.c), the weight uploader. */
static dp_status start_weights(dp_load *l) {
  const dp_hparams *hp = dp_model_file_hparams(l->mf);
  snprintf(l->m->arch, sizeof l->m->arch, "%s", hp->arch == DP_ARCH_GEMMA3 ? "gemma3" : dp_arch_name(hp->arch));
  snprintf(l->m->kind, sizeof l->m->kind, "%s", dp_model_file_kind(l->mf));
  l->phase = PH_WEIGHTS;
  dp_status st = dp_api_resolve_overrides(l->opt, l->mf, dp_gpu_get_info(l->m->gpu), &l->m->ov);
  dp_rt_load_opts lo = dp_api_load_opts(&l->m->ov);
  lo.expert_slots = l->opt ? l->opt->expert_budget_n : 0, lo.expert_bytes = l->opt ? l->opt->expert_budget_bytes : 0;
  if (!st && l->supplied && (lo.expert_slots || lo.expert_bytes)) /* paging reads the model file later */
    st = dp_error(DP_ERR_UNSUPPORTED, "an expert budget pages experts from a local model file; a supplied model loads every expert");
  return st ? st : dp_rt_load_begin(l->m->gpu, l->mf, &lo, &l->L);
}

dp_status dp_load_begin(const char *path, const dp_load_options *opt, dp_load **out) {
  *out = NULL;
  dp_load *l = dp_calloc(1, sizeof *l);
  if (!l || !(l->m = dp_calloc(1, sizeof *l->m))) { dp_free(l); return DP_ERR_NOMEM; }
  l->opt = opt;
  l->supplied = !path || !*path;
  dp_status st = l->supplied ? DP_OK : dp_model_file_open(path, &l->mf);
  if (!st) st = dp_gpu_open(opt ? opt->adapter : NULL, &l->m->gpu);
  if (!st) snprintf(l->m->adapter, sizeof l->m->adapter, "%s", dp_gpu_get_info(l->m->gpu)->adapter);
  if (!st && !l->supplied) st = start_weights(l);
  if (st) {
    dp_rt_load_free(l->L);
    dp_model_file_close(l->mf);
    dp_model_free(l->m);
    dp_free(l);
    return st;
  }
  *out = l;
  return DP_OK;
}

static int ask(dp_load *l, const char *file, uint64_t off, uint64_t len, int whole, int optional, int drain, dp_load_request *r) {
  l->req = (dp_load_request){file, off, whole ? DP_LOAD_WHOLE : len, whole, optional, drain};
  l->open = !drain;
  *r = l->req;
  return 1;
}

int dp_load_next(dp_load *l, dp_load_request *r) {
  memset(r, 0, sizeof *r);
  if (!l || l->phase >= PH_DONE) return 0;
  if (l->open) return *r = l->req, 1; /* still unanswered */
  switch (l->phase) {
  case PH_MANIFEST: return ask(l, "manifest.json", 0, 0, 1, 0, 0, r);
  case PH_TOKENIZER: return ask(l, "tokenizer.json", 0, 0, 1, 1, 0, r);
  case PH_TOK_CONFIG: return ask(l, "tokenizer_config.json", 0, 0, 1, 1, 0, r);
  default: break;
  }
  int state;
  dp_status st = dp_rt_load_step(l->L, &state, &l->piece);
  if (st) { fail(l, st); return 0; }
  if (state == DP_RT_LOAD_NEED) return ask(l, l->piece.file, l->piece.offset, l->piece.length, 0, 0, 0, r);
  if (state == DP_RT_LOAD_DRAIN) return ask(l, "", 0, 0, 0, 0, 1, r);
  l->phase = PH_DONE;
  return 0;
}

static dp_status take_copy(const void *data, uint64_t n, char **out, size_t *len) {
  if (!(*out = dp_malloc((size_t)n + 1))) return DP_ERR_NOMEM;
  if (n) memcpy(*out, data, (size_t)n);
  (*out)[n] = 0;
  *len = (size_t)n;
  return DP_OK;
}

dp_status dp_load_supply(dp_load *l, const void *data, uint64_t n) {
  if (!l) return dp_error(DP_ERR_INVALID_ARG, "dp_load_supply: NULL loader");
  if (l->phase == PH_FAILED) return dp_error(l->err, "%s", l->msg);
  if (!l->open) return dp_error(DP_ERR_INVALID_ARG, "dp_load_supply: no request is open (call dp_load_next)");
  const dp_load_request *q = &l->req;
  dp_status st = DP_OK;
  if (!data && (n || !q->optional)) st = dp_error(DP_ERR_NOT_FOUND, "%s: missing (the model needs it)", q->file);
  else if (data && !q->whole && n != q->length)
    st = dp_error(DP_ERR_INVALID_ARG, "%s: %llu bytes supplied for a request of %llu at %llu", q->file, (unsigned long long)n,
                  (unsigned long long)q->length, (unsigned long long)q->offset);
  if (st) { fail(l, st); return st; }
  l->open = 0;
  switch (l->phase) {
  case PH_MANIFEST:
    st = dp_model_file_open_supplied("supplied model", data, (size_t)n, &l->mf);
    if (!st) l->phase = PH_TOKENIZER;
    break;
  case PH_TOKENIZER:
    if (data) st = take_copy(data, n, &l->tok, &l->tok_len);
    l->phase = PH_TOK_CONFIG;
    break;
  case PH_TOK_CONFIG:
    if (data) st = take_copy(data, n, &l->cfg, &l->cfg_len);
    if (!st) st = start_weights(l);
    break;
  default:
    st = dp_model_file_supply(l->mf, l->piece.src, l->piece.offset, data, n);
    break;
  }
  fail(l, st);
  return st;
}

dp_gpu *dp_load_gpu(const dp_load *l) { return l->m->gpu; }

void dp_load_progress(const dp_load *l, uint64_t *done, uint64_t *total) {
  *done = *total = 0;
  if (l && l->L) dp_rt_load_progress(l->L, done, total);
}

/* The tokenizer: supplied files, or the model file's; then its end-of-generation ids and the
 * chat template (only where the model ships one: a base model such as doppler-tiny has none,
 * its vocabulary lacks the turn markers a guessed template would write). */
static dp_status load_tokenizer(dp_load *l) {
  dp_model *m = l->m;
  dp_status st = l->supplied ? (l->tok ? dp_tokenizer_load_json_text(l->tok, l->tok_len, l->cfg, l->cfg_len, &m->tok) : DP_OK)
                             : dp_tokenizer_from_model_file(l->mf, &m->tok);
  if (st) return dp_error_wrap(st, "%s: tokenizer", dp_model_file_path(l->mf));
  if (!m->tok) return DP_OK; /* no tokenizer: ids only */
  const int32_t *eog;
  size_t n = dp_tokenizer_eog_ids(m->tok, &eog);
  for (size_t i = 0; i < n; i++)
    if (eog[i] < m->rt->plan->vocab_size) dp_rt_model_add_eos(m->rt, eog[i]);
  const char *ctsrc = dp_tokenizer_chat_template_src(m->tok);
  m->chat = ctsrc ? dp_chat_template_detect(ctsrc, m->arch, m->tok) : DP_CHAT_NONE;
  return DP_OK;
}

/* Kernel hot swap (dp_load_options.kernels): each "NAME=MODULE" replaces variant NAME in the
 * model's ops, then must pass dp_kernel_check against the CPU reference. */
static dp_status swap_kernels(dp_model *m, const dp_load_options *opt) {
  dp_ops *o = m->rt->ops;
  for (int j = 0; opt && j < opt->n_kernels; j++) {
    const char *spec = opt->kernels[j], *eq = strchr(spec, '=');
    char name[48];
    if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof name)
      return dp_error(DP_ERR_INVALID_ARG, "kernel '%s': expected NAME=MODULE", spec);
    memcpy(name, spec, (size_t)(eq - spec));
    name[eq - spec] = 0;
    long i = dp_kernel_variant_find(name);
    if (i < 0) return dp_error(DP_ERR_INVALID_ARG, "kernel %s: no such variant (see `doppler bench kernels --list`)", name);
    if (!dp_ops_variant_available(o, (size_t)i))
      return dp_error(DP_ERR_UNSUPPORTED, "kernel %s: the variant does not run on this adapter", name);
    dp_status st = dp_ops_variant_replace(o, (size_t)i, eq + 1);
    if (!st) st = dp_kernel_check(o, (size_t)i, NULL);
    if (st) return dp_error_wrap(st, "kernel %s", name);
  }
  dp_ops_clear_runs(o); /* --verbose reports what the model runs, not the checks */
  return DP_OK;
}

dp_status dp_load_finish(dp_load *l, dp_model **out) {
  *out = NULL;
  if (!l) return dp_error(DP_ERR_INVALID_ARG, "dp_load_finish: NULL loader");
  dp_status st = DP_OK;
  if (l->phase == PH_FAILED) st = dp_error(l->err, "%s", l->msg);
  else if (l->phase != PH_DONE || !l->L) st = dp_error(DP_ERR_CANCELLED, "model load abandoned before its end");
  if (!st) {
    st = dp_rt_load_end(l->L, &l->m->rt);
    l->L = NULL;
  }
  /* experts paged from the model file (an expert budget): the runtime keeps it and closes it */
  int kept = l->m->rt && dp_rt_experts_owns_source(l->m->rt);
  int mv = l->opt ? l->opt->matvec_input : DP_MATVEC_AUTO;
  if (!st && (mv < DP_MATVEC_AUTO || mv > DP_MATVEC_Q8)) st = dp_error(DP_ERR_INVALID_ARG, "dp_load_options.matvec_input: %d", mv);
  if (!st && mv) dp_ops_set_matvec_input(l->m->rt->ops, mv == DP_MATVEC_Q8); /* before any session allocates */
  if (!st) st = swap_kernels(l->m, l->opt);
  if (!st) st = load_tokenizer(l);
  dp_rt_load_free(l->L);
  if (!kept) dp_model_file_close(l->mf);
  dp_free(l->tok);
  dp_free(l->cfg);
  if (st) dp_model_free(l->m);
  else *out = l->m;
  dp_free(l);
  return st;
}

/* The thin loop over a local model: its bytes are at hand, so the loader asks only for drains,
 * which wait for the GPU (dp_load_drain, native.c). */
dp_status dp_model_load(const char *path, const dp_load_options *opt, dp_model **out) {
  *out = NULL;
  if (!path || !path[0]) return dp_error(DP_ERR_INVALID_ARG, "dp_model_load: no model path");
  dp_load *l;
  dp_status st = dp_load_begin(path, opt, &l);
  if (st) return st;
  dp_load_request r;
  while (!st && dp_load_next(l, &r)) {
    if (r.drain) { st = dp_load_drain(l); continue; }
    st = dp_error(DP_ERR_INTERNAL, "%s: the loader asked for %s of a local model", path, r.file);
  }
  dp_model *m = NULL;
  dp_status fs = dp_load_finish(l, &m);
  if (st) { dp_model_free(m); return st; }
  *out = m;
  return fs;
}
