/* request.c -- parse and check an OpenAI request body (srv_request_parse, request.h) for the
 * event loop (loop.c). Every member of the body is looked up in one table of the fields the
 * server knows: a field it does not know, or one whose value it cannot honour (`n` > 1,
 * `logprobs`, `tools`, `response_format`, a non-zero `frequency_penalty`, ...), is a 400 naming
 * the field, never silently ignored. Wrong types, values out of range, an unknown model, a NUL
 * character in a text and a body that is not UTF-8 are 400s too. Depends on core/json.h, core/buf.h,
 * core/utf8.h and doppler.h (dp_generate_options); no model, no HTTP. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/utf8.h"
#include "server/request.h"

int srv_error_set(srv_error *e, int status, const char *param, const char *fmt, ...) {
  e->status = status;
  e->type = status == 401 ? "authentication_error" : status >= 500 ? "server_error" : "invalid_request_error";
  e->code = NULL;
  snprintf(e->param, sizeof e->param, "%s", param ? param : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  return -1;
}

typedef struct parse_ctx {
  srv_params *p;
  srv_error *e;
  const char *model_id;
  size_t *msg_off;          /* offsets of role/content pairs in p->text while parsing */
  size_t stop_off[SRV_MAX_STOP], prompt_off;
  int has_input;            /* messages / prompt seen */
} parse_ctx;

static const char *type_name(const dp_json *v) {
  static const char *names[] = {"null", "a boolean", "a number", "a string", "an array", "an object"};
  return names[v->type];
}

static int bad_type(parse_ctx *c, const char *key, const dp_json *v, const char *want) {
  return srv_error_set(c->e, 400, key, "'%s' must be %s, not %s", key, want, type_name(v));
}

/* A number within [lo, hi] ((lo, hi] with lo_open), whole when integer is set. */
static int number(parse_ctx *c, const char *key, const dp_json *v, double lo, double hi, int lo_open, int integer,
                  double *out) {
  if (!dp_json_is(v, DP_JSON_NUMBER)) return bad_type(c, key, v, integer ? "an integer" : "a number");
  double x = v->u.number;
  if (integer && x != floor(x)) return srv_error_set(c->e, 400, key, "'%s' must be an integer, not %.17g", key, x);
  if (!(x >= lo && x <= hi) || (lo_open && x == lo))
    return srv_error_set(c->e, 400, key, "'%s' is %.17g, out of range %c%.17g, %.17g]", key, x, lo_open ? '(' : '[', lo, hi);
  *out = x;
  return 0;
}

/* Append a JSON string's bytes (checked: no NUL; the body was checked to be UTF-8) to p->text;
 * its offset in *off. */
static int keep_text(parse_ctx *c, const char *key, const char *s, size_t n, size_t *off) {
  if (memchr(s, 0, n)) return srv_error_set(c->e, 400, key, "'%s' contains a NUL character", key);
  *off = c->p->text.len;
  dp_buf_append(&c->p->text, s, n);
  if (dp_buf_append(&c->p->text, "", 1)) return srv_error_set(c->e, 500, NULL, "out of memory");
  return 0;
}

/* ---- the fields ---- */

static int f_model(parse_ctx *c, const char *key, const dp_json *v) {
  if (!dp_json_is(v, DP_JSON_STRING)) return bad_type(c, key, v, "a string");
  if (strcmp(v->u.str, c->model_id)) {
    srv_error_set(c->e, 400, key, "the model '%.200s' does not exist (this server serves '%.100s')", v->u.str, c->model_id);
    c->e->code = "model_not_found";
    return -1;
  }
  return 0;
}

/* Message content: a string, or an array of {"type": "text", "text": ...} parts (joined by
 * newlines); null for an assistant message. */
static int message_content(parse_ctx *c, const char *key, const dp_json *v, int assistant, size_t *off) {
  if (dp_json_is(v, DP_JSON_STRING)) return keep_text(c, key, v->u.str, v->n, off);
  if (dp_json_is(v, DP_JSON_NULL) && assistant) return keep_text(c, key, "", 0, off);
  if (!dp_json_is(v, DP_JSON_ARRAY)) return bad_type(c, key, v, "a string or an array of text parts");
  *off = c->p->text.len;
  char k[96];
  for (size_t i = 0; i < v->n; i++) {
    const dp_json *part = dp_json_at(v, i);
    snprintf(k, sizeof k, "%s[%zu]", key, i);
    if (!dp_json_is(part, DP_JSON_OBJECT)) return bad_type(c, k, part, "an object");
    const char *type = dp_json_get_str(part, "type", NULL);
    if (!type || strcmp(type, "text"))
      return srv_error_set(c->e, 400, k, "'%s.type' is '%.40s': only text parts are supported", k, type ? type : "(none)");
    for (uint32_t j = 0; j < part->n; j++)
      if (strcmp(part->keys[j], "type") && strcmp(part->keys[j], "text"))
        return srv_error_set(c->e, 400, k, "'%s.%.40s' is not supported", k, part->keys[j]);
    const dp_json *t = dp_json_get(part, "text");
    if (!dp_json_is(t, DP_JSON_STRING)) return bad_type(c, k, t ? t : part, "an object with a string 'text'");
    if (memchr(t->u.str, 0, t->n)) return srv_error_set(c->e, 400, k, "'%s.text' contains a NUL character", k);
    if (i) dp_buf_append(&c->p->text, "\n", 1);
    dp_buf_append(&c->p->text, t->u.str, t->n);
  }
  if (dp_buf_append(&c->p->text, "", 1)) return srv_error_set(c->e, 500, NULL, "out of memory");
  return 0;
}

static int f_messages(parse_ctx *c, const char *key, const dp_json *v) {
  if (!dp_json_is(v, DP_JSON_ARRAY)) return bad_type(c, key, v, "an array");
  if (!v->n) return srv_error_set(c->e, 400, key, "'messages' is empty");
  if (v->n > SRV_MAX_MESSAGES) return srv_error_set(c->e, 400, key, "'messages' has %u entries, more than %d", v->n, SRV_MAX_MESSAGES);
  if (c->msg_off) return srv_error_set(c->e, 400, key, "'messages' is given twice");
  c->msg_off = dp_calloc(2 * v->n, sizeof *c->msg_off);
  if (!c->msg_off) return srv_error_set(c->e, 500, NULL, "out of memory");
  char k[64];
  for (size_t i = 0; i < v->n; i++) {
    const dp_json *m = dp_json_at(v, i);
    snprintf(k, sizeof k, "messages[%zu]", i);
    if (!dp_json_is(m, DP_JSON_OBJECT)) return bad_type(c, k, m, "an object");
    for (uint32_t j = 0; j < m->n; j++)
      if (strcmp(m->keys[j], "role") && strcmp(m->keys[j], "content")) {
        snprintf(k, sizeof k, "messages[%zu].%.32s", i, m->keys[j]);
        return srv_error_set(c->e, 400, k, "'%s' is not supported", k);
      }
    const dp_json *role = dp_json_get(m, "role");
    snprintf(k, sizeof k, "messages[%zu].role", i);
    if (!role) return srv_error_set(c->e, 400, k, "'%s' is missing", k);
    if (!dp_json_is(role, DP_JSON_STRING)) return bad_type(c, k, role, "a string");
    const char *r = role->u.str;
    if (!strcmp(r, "developer")) r = "system"; /* OpenAI's newer name for the system message */
    if (strcmp(r, "system") && strcmp(r, "user") && strcmp(r, "assistant"))
      return srv_error_set(c->e, 400, k, "'%s' is '%.40s': system, developer, user or assistant expected", k, role->u.str);
    if (keep_text(c, k, r, strlen(r), &c->msg_off[2 * i])) return -1;
    const dp_json *content = dp_json_get(m, "content");
    snprintf(k, sizeof k, "messages[%zu].content", i);
    if (!content) return srv_error_set(c->e, 400, k, "'%s' is missing", k);
    if (message_content(c, k, content, !strcmp(r, "assistant"), &c->msg_off[2 * i + 1])) return -1;
  }
  c->p->n_msgs = v->n;
  c->has_input = 1;
  return 0;
}

static int f_prompt(parse_ctx *c, const char *key, const dp_json *v) {
  if (dp_json_is(v, DP_JSON_ARRAY) && v->n == 1 && dp_json_is(dp_json_at(v, 0), DP_JSON_STRING)) v = dp_json_at(v, 0);
  else if (dp_json_is(v, DP_JSON_ARRAY))
    return srv_error_set(c->e, 400, key, "'prompt' must be a string or an array of one string (batches of prompts and "
                                         "token arrays are not supported)");
  if (!dp_json_is(v, DP_JSON_STRING)) return bad_type(c, key, v, "a string");
  c->has_input = 1;
  return keep_text(c, key, v->u.str, v->n, &c->prompt_off);
}

static int f_stream(parse_ctx *c, const char *key, const dp_json *v) {
  if (!dp_json_is(v, DP_JSON_BOOL)) return bad_type(c, key, v, "a boolean");
  c->p->stream = v->u.boolean;
  return 0;
}

static int f_stream_options(parse_ctx *c, const char *key, const dp_json *v) {
  if (!dp_json_is(v, DP_JSON_OBJECT)) return bad_type(c, key, v, "an object");
  for (uint32_t j = 0; j < v->n; j++) {
    char k[96];
    snprintf(k, sizeof k, "stream_options.%.60s", v->keys[j]);
    if (strcmp(v->keys[j], "include_usage")) return srv_error_set(c->e, 400, k, "'%s' is not supported", k);
    if (!dp_json_is(&v->u.items[j], DP_JSON_BOOL)) return bad_type(c, k, &v->u.items[j], "a boolean");
    c->p->include_usage = v->u.items[j].u.boolean;
  }
  return 0;
}

static int f_max_tokens(parse_ctx *c, const char *key, const dp_json *v) {
  double x = 0;
  if (number(c, key, v, 1, 1 << 24, 0, 1, &x)) return -1;
  c->p->o.max_tokens = (int)x;
  return 0;
}

static int f_temperature(parse_ctx *c, const char *key, const dp_json *v) {
  double x = 0;
  if (number(c, key, v, 0, 2, 0, 0, &x)) return -1;
  c->p->o.sampling.temperature = (float)x;
  return 0;
}

static int f_top_p(parse_ctx *c, const char *key, const dp_json *v) {
  double x = 0;
  if (number(c, key, v, 0, 1, 1, 0, &x)) return -1;
  c->p->o.sampling.top_p = (float)x;
  return 0;
}

static int f_top_k(parse_ctx *c, const char *key, const dp_json *v) {
  double x = 0;
  if (number(c, key, v, 0, 2147483647.0, 0, 1, &x)) return -1;
  c->p->o.sampling.top_k = (int)x;
  return 0;
}

static int f_min_p(parse_ctx *c, const char *key, const dp_json *v) {
  double x = 0;
  if (number(c, key, v, 0, 1, 0, 0, &x)) return -1;
  c->p->o.sampling.min_p = (float)x;
  return 0;
}

static int f_repetition_penalty(parse_ctx *c, const char *key, const dp_json *v) {
  double x = 0;
  if (number(c, key, v, 0, 100, 1, 0, &x)) return -1;
  c->p->o.sampling.repeat_penalty = (float)x;
  return 0;
}

static int f_seed(parse_ctx *c, const char *key, const dp_json *v) {
  double x = 0;
  if (number(c, key, v, -9223372036854775808.0, 18446744073709551615.0, 0, 1, &x)) return -1;
  c->p->o.sampling.seed = x < 0 ? (uint64_t)(int64_t)x : x >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)x;
  c->p->seed_given = 1;
  return 0;
}

static int f_stop(parse_ctx *c, const char *key, const dp_json *v) {
  const dp_json *one = dp_json_is(v, DP_JSON_STRING) ? v : NULL;
  size_t n = one ? 1 : dp_json_is(v, DP_JSON_ARRAY) ? v->n : 0;
  if (!one && !dp_json_is(v, DP_JSON_ARRAY)) return bad_type(c, key, v, "a string or an array of strings");
  if (n > SRV_MAX_STOP) return srv_error_set(c->e, 400, key, "'stop' has %zu strings, more than %d", n, SRV_MAX_STOP);
  for (size_t i = 0; i < n; i++) {
    const dp_json *s = one ? one : dp_json_at(v, i);
    char k[32];
    snprintf(k, sizeof k, one ? "stop" : "stop[%zu]", i);
    if (!dp_json_is(s, DP_JSON_STRING)) return bad_type(c, k, s, "a string");
    if (!s->n) return srv_error_set(c->e, 400, k, "'%s' is empty", k);
    if (keep_text(c, k, s->u.str, s->n, &c->stop_off[i])) return -1;
  }
  c->p->o.n_stop = n;
  return 0;
}

/* Fields whose only honourable value is their default: accepted with it, a 400 otherwise. */
static int f_zero_only(parse_ctx *c, const char *key, const dp_json *v) {
  double x = 0;
  if (number(c, key, v, -2, 2, 0, 0, &x)) return -1;
  if (x != 0)
    return srv_error_set(c->e, 400, key, "'%s' is not supported (additive penalties do not map onto this engine's "
                                         "sampler); use 'repetition_penalty'", key);
  return 0;
}

static int f_n(parse_ctx *c, const char *key, const dp_json *v) {
  double x = 0;
  if (number(c, key, v, 1, 1e9, 0, 1, &x)) return -1;
  if (x != 1) return srv_error_set(c->e, 400, key, "'%s' is %.0f: only one choice per request is supported", key, x);
  return 0;
}

static int f_false_only(parse_ctx *c, const char *key, const dp_json *v) {
  if (dp_json_is(v, DP_JSON_BOOL) && !v->u.boolean) return 0;
  return srv_error_set(c->e, 400, key, "'%s' is not supported", key);
}

static int f_logprobs(parse_ctx *c, const char *key, const dp_json *v) {
  if ((dp_json_is(v, DP_JSON_BOOL) && !v->u.boolean) || (dp_json_is(v, DP_JSON_NUMBER) && v->u.number == 0 && c->p->kind == SRV_COMPLETION))
    return 0;
  return srv_error_set(c->e, 400, key, "'%s' is not supported", key);
}

static int f_best_of(parse_ctx *c, const char *key, const dp_json *v) {
  double x = 0;
  if (number(c, key, v, 1, 1e9, 0, 1, &x)) return -1;
  if (x != 1) return srv_error_set(c->e, 400, key, "'%s' is %.0f: only 1 is supported", key, x);
  return 0;
}

static int f_ignore_eos(parse_ctx *c, const char *key, const dp_json *v) {
  if (!dp_json_is(v, DP_JSON_BOOL)) return bad_type(c, key, v, "a boolean");
  c->p->o.ignore_eos = v->u.boolean;
  return 0;
}

static int f_user(parse_ctx *c, const char *key, const dp_json *v) {
  return dp_json_is(v, DP_JSON_STRING) ? 0 : bad_type(c, key, v, "a string"); /* an end-user id: nothing to do with it */
}

enum { CHAT = 1, COMPL = 2, BOTH = 3 };
static const struct {
  const char *name;
  int kinds;
  int (*fn)(parse_ctx *c, const char *key, const dp_json *v);
} FIELDS[] = {
  {"model", BOTH, f_model},
  {"messages", CHAT, f_messages},
  {"prompt", COMPL, f_prompt},
  {"stream", BOTH, f_stream},
  {"stream_options", BOTH, f_stream_options},
  {"max_tokens", BOTH, f_max_tokens},
  {"max_completion_tokens", CHAT, f_max_tokens},
  {"temperature", BOTH, f_temperature},
  {"top_p", BOTH, f_top_p},
  {"top_k", BOTH, f_top_k},
  {"min_p", BOTH, f_min_p},
  {"repetition_penalty", BOTH, f_repetition_penalty},
  {"seed", BOTH, f_seed},
  {"stop", BOTH, f_stop},
  {"frequency_penalty", BOTH, f_zero_only},
  {"presence_penalty", BOTH, f_zero_only},
  {"n", BOTH, f_n},
  {"logprobs", BOTH, f_logprobs},
  {"echo", COMPL, f_false_only},
  {"best_of", COMPL, f_best_of},
  {"user", BOTH, f_user},
  {"ignore_eos", BOTH, f_ignore_eos}, /* llama-server's and vLLM's extension (benchmarks) */
};

static int parse_root(parse_ctx *c, const dp_json *root) {
  if (!dp_json_is(root, DP_JSON_OBJECT)) return srv_error_set(c->e, 400, NULL, "the request body must be a JSON object, not %s", type_name(root));
  int kind = c->p->kind == SRV_CHAT ? CHAT : COMPL;
  for (uint32_t i = 0; i < root->n; i++) {
    const char *key = root->keys[i];
    const dp_json *v = &root->u.items[i];
    size_t f = 0;
    while (f < sizeof FIELDS / sizeof *FIELDS && (strcmp(FIELDS[f].name, key) || !(FIELDS[f].kinds & kind))) f++;
    if (f == sizeof FIELDS / sizeof *FIELDS)
      return srv_error_set(c->e, 400, key, "'%.60s' is not supported by this server", key);
    int required = !strcmp(key, "messages") || !strcmp(key, "prompt");
    if (dp_json_is(v, DP_JSON_NULL) && !required) continue; /* null: the default, as OpenAI takes it */
    if (FIELDS[f].fn(c, key, v)) return -1;
  }
  if (!c->has_input) {
    const char *need = kind == CHAT ? "messages" : "prompt";
    return srv_error_set(c->e, 400, need, "'%s' is required", need);
  }
  if (c->p->include_usage && !c->p->stream)
    return srv_error_set(c->e, 400, "stream_options", "'stream_options' is only allowed with 'stream': true");
  return 0;
}

int srv_request_parse(srv_kind kind, const char *body, size_t len, const char *model_id, const dp_generate_options *def,
                      srv_params *p, srv_error *e) {
  memset(p, 0, sizeof *p);
  memset(e, 0, sizeof *e);
  p->kind = kind;
  p->o = *def;
  p->o.max_tokens = kind == SRV_COMPLETION ? 16 : 0; /* OpenAI's defaults: 16; chat until the end */
  size_t bad = dp_utf8_validate(body, len);
  if (bad != len) return srv_error_set(e, 400, NULL, "the request body is not valid UTF-8 (byte %zu)", bad);
  dp_json_doc *doc = dp_json_parse(body, len, "request body");
  if (!doc) return srv_error_set(e, 400, NULL, "malformed JSON: %s", dp_error_message());
  parse_ctx c = {p, e, model_id, NULL, {0}, 0, 0};
  int rc = parse_root(&c, dp_json_root(doc));
  dp_json_free(doc);
  if (!rc && p->text.failed) rc = srv_error_set(e, 500, NULL, "out of memory");
  if (!rc && p->n_msgs && !(p->msgs = dp_calloc(p->n_msgs, sizeof *p->msgs))) rc = srv_error_set(e, 500, NULL, "out of memory");
  if (!rc) { /* offsets -> pointers, now that the text no longer moves */
    for (size_t i = 0; i < p->n_msgs; i++)
      p->msgs[i].role = p->text.data + c.msg_off[2 * i], p->msgs[i].content = p->text.data + c.msg_off[2 * i + 1];
    for (size_t i = 0; i < p->o.n_stop; i++) p->stops[i] = p->text.data + c.stop_off[i];
    p->o.stop = p->o.n_stop ? p->stops : NULL;
    if (kind == SRV_COMPLETION) p->prompt = p->text.data + c.prompt_off;
  }
  dp_free(c.msg_off);
  if (rc) srv_params_free(p);
  return rc;
}

void srv_params_free(srv_params *p) {
  dp_free(p->msgs);
  dp_buf_free(&p->text);
  memset(p, 0, sizeof *p);
}
