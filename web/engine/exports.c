/* exports.c -- the browser build's entry points (wasm exports, all named dpw_*), a thin layer
 * over include/doppler.h for web/engine.js: flat arguments (pointers, ints, doubles; options and
 * results as JSON text) instead of structs, and the token callback forwarded to the JS import
 * dp_host.on_piece. Only doppler.h and core helpers are used. Nothing here waits: loading,
 * generation and logits are the resumable APIs, driven by engine.js between promises. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "doppler.h"

#define EXPORT(name) __attribute__((export_name(#name)))
#define IMPORT(name) __attribute__((import_module("dp_host"), import_name(#name)))

IMPORT(on_piece) int js_on_piece(int token, const char *text, int len);

EXPORT(dpw_alloc) void *dpw_alloc(int n) { return dp_malloc(n > 0 ? (size_t)n : 1); }
EXPORT(dpw_free) void dpw_free(void *p) { dp_free(p); }
EXPORT(dpw_error) const char *dpw_error(void) { return dp_error_message(); }
EXPORT(dpw_string_free) void dpw_string_free(char *s) { dp_string_free(s); }

/* ---- loading ---- */
static struct { const char *file; double offset, length; int whole, optional, drain; } req;
static double progress[2];

static dp_load_options load_opt; /* one load at a time; used until dpw_load_finish */

/* q4k_matmul ("fused" | "dequant" | "dequant_f16") and compute_precision ("f32" | "f16"): the
 * run-time overrides of `doppler run`; NULL or "" = the manifest's hint, else the default. */
EXPORT(dpw_load_begin) dp_load *dpw_load_begin(const char *q4k_matmul, const char *compute_precision) {
  memset(&load_opt, 0, sizeof load_opt);
  if (q4k_matmul && *q4k_matmul && dp_parse_q4k_matmul(q4k_matmul, &load_opt.q4k_matmul, &load_opt.compute_precision)) return NULL;
  if (compute_precision && *compute_precision && dp_parse_compute_precision(compute_precision, &load_opt.compute_precision))
    return NULL;
  dp_load *l = NULL;
  return dp_load_begin(NULL, &load_opt, &l) ? NULL : l;
}
/* The next request in `req` (pointer returned), or NULL when loading ended (then finish). */
EXPORT(dpw_load_next) void *dpw_load_next(dp_load *l) {
  dp_load_request r;
  if (!dp_load_next(l, &r)) return NULL;
  req.file = r.file, req.offset = (double)r.offset, req.length = r.whole ? -1 : (double)r.length;
  req.whole = r.whole, req.optional = r.optional, req.drain = r.drain;
  return &req;
}
EXPORT(dpw_load_supply) int dpw_load_supply(dp_load *l, const void *data, double n) {
  return dp_load_supply(l, data, (uint64_t)n);
}
EXPORT(dpw_load_progress) double *dpw_load_progress(dp_load *l) {
  uint64_t d, t;
  dp_load_progress(l, &d, &t);
  progress[0] = (double)d, progress[1] = (double)t;
  return progress;
}
EXPORT(dpw_load_finish) dp_model *dpw_load_finish(dp_load *l) {
  dp_model *m = NULL;
  return dp_load_finish(l, &m) ? NULL : m;
}
EXPORT(dpw_model_free) void dpw_model_free(dp_model *m) { dp_model_free(m); }

/* The model as JSON (free with dpw_string_free): what loadModel resolves to. */
EXPORT(dpw_model_info) char *dpw_model_info(dp_model *m) {
  dp_model_info in;
  dp_bench_model bm;
  if (dp_model_get_info(m, &in) || dp_bench_model_info(m, &bm)) return NULL;
  char *tmpl = NULL;
  dp_chat_message probe = {"user", "x"};
  int has_tmpl = in.has_tokenizer && !dp_chat_format(m, &probe, 1, 1, &tmpl);
  dp_string_free(tmpl);
  dp_buf b = {0};
  const char *keys[] = {"arch", "source_kind", "adapter", "quant"}, *vals[] = {in.arch, in.source_kind, in.adapter, bm.quant};
  dp_buf_puts(&b, "{");
  for (int i = 0; i < 4; i++) {
    dp_buf_printf(&b, "\"%s\":", keys[i]);
    dp_buf_json_string(&b, vals[i], strlen(vals[i]));
    dp_buf_puts(&b, ",");
  }
  dp_buf_printf(&b,
                "\"vocab\":%d,\"n_layers\":%d,\"d_model\":%d,\"n_heads\":%d,\"n_kv_heads\":%d,\"head_dim\":%d,\"max_context\":%d,"
                "\"bos_id\":%d,\"eos_id\":%d,\"add_bos\":%d,\"has_tokenizer\":%s,\"has_chat_template\":%s,\"n_params\":%llu,"
                "\"weight_bytes\":%llu,\"eog_ids\":[",
                in.vocab_size, in.n_layers, in.d_model, in.n_heads, in.n_kv_heads, in.head_dim, in.max_context, in.bos_id,
                in.eos_id, in.add_bos, in.has_tokenizer ? "true" : "false", has_tmpl ? "true" : "false",
                (unsigned long long)bm.n_params, (unsigned long long)in.weight_bytes);
  for (int i = 0; i < in.n_eog; i++) dp_buf_printf(&b, "%s%d", i ? "," : "", in.eog_ids[i]);
  dp_buf_printf(&b, "]}");
  if (b.failed) { dp_buf_free(&b); return NULL; }
  return b.data;
}

/* ---- sessions, chat template, tokens ---- */
EXPORT(dpw_session_create) dp_session *dpw_session_create(dp_model *m, int ctx) {
  dp_session_options o = {ctx, 0};
  dp_session *s = NULL;
  return dp_session_create(m, &o, &s) ? NULL : s;
}
EXPORT(dpw_session_free) void dpw_session_free(dp_session *s) { dp_session_free(s); }
EXPORT(dpw_session_reset) void dpw_session_reset(dp_session *s) { dp_session_reset(s); }
EXPORT(dpw_session_cancel) void dpw_session_cancel(dp_session *s) { dp_session_cancel(s); }
EXPORT(dpw_session_position) int dpw_session_position(dp_session *s) { return dp_session_position(s); }
EXPORT(dpw_session_context_length) int dpw_session_context_length(dp_session *s) { return dp_session_context_length(s); }

/* messages: JSON [{"role":..,"content":..}, ...]. The rendered prompt (dpw_string_free), or
 * NULL (dpw_error; a model without a template: "this model has no chat template"). */
EXPORT(dpw_chat_format) char *dpw_chat_format(dp_model *m, const char *json, int len, int *status) {
  *status = DP_OK;
  dp_json_doc *d = dp_json_parse(json, (size_t)len, "messages");
  if (!d) { *status = DP_ERR_INVALID_ARG; return NULL; }
  const dp_json *a = dp_json_root(d);
  size_t n = dp_json_len(a);
  dp_chat_message *msg = dp_calloc(n ? n : 1, sizeof *msg);
  char *out = NULL;
  if (!msg) { dp_json_free(d); *status = DP_ERR_NOMEM; return NULL; }
  for (size_t i = 0; i < n; i++) {
    msg[i].role = dp_json_get_str(dp_json_at(a, i), "role", "user");
    msg[i].content = dp_json_get_str(dp_json_at(a, i), "content", "");
  }
  *status = dp_chat_format(m, msg, n, 1, &out);
  dp_free(msg);
  dp_json_free(d);
  return out;
}

/* ---- generation ---- */
typedef struct web_gen {
  dp_gen *g;
  dp_json_doc *opts;        /* holds the stop strings until finish */
  const char *stop[16];
  dp_generate_stats stats;
} web_gen;

static int on_token(void *user, int32_t token, const char *text, size_t len) {
  return js_on_piece(token, text, (int)len);
}

/* Options as JSON: doppler.h dp_generate_options field names ("max_tokens", "temperature",
 * "top_k", "top_p", "min_p", "repeat_penalty", "repeat_last_n", "seed", "stop": [..],
 * "add_bos", "ignore_eos"); absent fields keep dp_generate_defaults(). */
static dp_status parse_options(web_gen *w, const char *json, int len, dp_generate_options *o) {
  *o = dp_generate_defaults();
  if (!json || !len) return DP_OK;
  if (!(w->opts = dp_json_parse(json, (size_t)len, "generate options"))) return DP_ERR_INVALID_ARG;
  const dp_json *r = dp_json_root(w->opts), *stop = dp_json_get(r, "stop");
  o->max_tokens = (int)dp_json_get_int(r, "max_tokens", o->max_tokens);
  o->sampling.temperature = (float)dp_json_get_num(r, "temperature", o->sampling.temperature);
  o->sampling.top_k = (int)dp_json_get_int(r, "top_k", o->sampling.top_k);
  o->sampling.top_p = (float)dp_json_get_num(r, "top_p", o->sampling.top_p);
  o->sampling.min_p = (float)dp_json_get_num(r, "min_p", o->sampling.min_p);
  o->sampling.repeat_penalty = (float)dp_json_get_num(r, "repeat_penalty", o->sampling.repeat_penalty);
  o->sampling.repeat_last_n = (int)dp_json_get_int(r, "repeat_last_n", o->sampling.repeat_last_n);
  o->sampling.seed = (uint64_t)dp_json_get_num(r, "seed", (double)o->sampling.seed);
  o->add_bos = (int)dp_json_get_int(r, "add_bos", o->add_bos);
  o->ignore_eos = dp_json_get_bool(r, "ignore_eos", o->ignore_eos);
  size_t ns = dp_json_len(stop);
  if (ns > 16) return dp_error(DP_ERR_INVALID_ARG, "stop: %zu strings (at most 16)", ns);
  for (size_t i = 0; i < ns; i++) w->stop[i] = dp_json_str(dp_json_at(stop, i), "");
  o->stop = ns ? w->stop : NULL, o->n_stop = ns;
  return DP_OK;
}

EXPORT(dpw_gen_start) web_gen *dpw_gen_start(dp_session *s, const char *prompt, const char *opts, int opts_len) {
  web_gen *w = dp_calloc(1, sizeof *w);
  if (!w) return NULL;
  dp_generate_options o;
  dp_status st = parse_options(w, opts, opts_len, &o);
  if (!st) st = dp_gen_start(s, prompt, &o, on_token, NULL, &w->g);
  if (!st) dp_gen_set_ahead(w->g, 1); /* engine.js steps it alone: record each batch while the one before runs */
  if (st) { dp_json_free(w->opts); dp_free(w); return NULL; }
  return w;
}
EXPORT(dpw_gen_pending) int dpw_gen_pending(web_gen *w) { return dp_gen_pending(w->g); }
EXPORT(dpw_gen_poll) int dpw_gen_poll(web_gen *w) { return dp_gen_poll(w->g); }
EXPORT(dpw_gen_resume) int dpw_gen_resume(web_gen *w) { return dp_gen_resume(w->g); }
/* Ends w; the stats as JSON (dpw_string_free) with the status in "status" (0 = DP_OK). */
EXPORT(dpw_gen_finish) char *dpw_gen_finish(web_gen *w) {
  dp_generate_stats st = {0};
  dp_status s = dp_gen_finish(w->g, &st);
  dp_json_free(w->opts);
  dp_free(w);
  dp_buf b = {0};
  dp_buf_printf(&b,
                "{\"status\":%d,\"n_prompt\":%d,\"n_generated\":%d,\"prefill_ms\":%.3f,\"decode_ms\":%.3f,\"ttft_ms\":%.3f,"
                "\"stop_reason\":%d}",
                (int)s, st.n_prompt, st.n_generated, st.prefill_ms, st.decode_ms, st.ttft_ms, st.stop_reason);
  return b.failed ? NULL : b.data;
}

/* ---- logits ---- */
EXPORT(dpw_logits_rows) int dpw_logits_rows(dp_session *s) { return dp_session_logits_rows(s); }
EXPORT(dpw_logits_start) dp_logits *dpw_logits_start(dp_session *s, const int32_t *ids, int n) {
  dp_logits *r = NULL;
  return dp_logits_start(s, ids, (size_t)n, &r) ? NULL : r;
}
EXPORT(dpw_logits_poll) int dpw_logits_poll(dp_logits *r) { return dp_logits_poll(r); }
EXPORT(dpw_logits_finish) int dpw_logits_finish(dp_logits *r, float *out) { return dp_logits_finish(r, out); }

/* ---- tokens ---- */
EXPORT(dpw_tokenize) int dpw_tokenize(dp_model *m, const char *text, int add_bos, int32_t *ids, int cap) {
  size_t n = 0;
  dp_status st = dp_tokenize(m, text, add_bos, ids, cap > 0 ? (size_t)cap : 0, &n);
  return st ? -1 : (int)n;
}
