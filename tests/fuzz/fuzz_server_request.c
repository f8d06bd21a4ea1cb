/* fuzz_server_request.c -- libFuzzer target for `doppler serve`'s request parser
 * (server/request.c) and reply writer (server/reply.c). The first byte picks the endpoint (chat
 * or completions), the rest is the JSON body. A body that passes must give options the engine
 * accepts (ranges, stop strings, roles, texts without NUL); either way the reply written for it
 * (the completion, a stream chunk, or the error object) must parse back as JSON with the text
 * intact. Built and run by scripts/fuzz.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/buf.h"
#include "core/json.h"
#include "core/utf8.h"
#include "server/reply.h"
#include "server/request.h"

static void parse_back(const dp_buf *b, const char *text, size_t len) {
  if (b->failed) return;
  dp_json_doc *d = dp_json_parse(b->data, b->len, "reply");
  if (!d) abort(); /* we wrote JSON that does not parse */
  if (text) {
    const dp_json *c = dp_json_at(dp_json_get(dp_json_root(d), "choices"), 0);
    const dp_json *t = dp_json_get(c, "text");
    if (!t) t = dp_json_get(dp_json_get(c, "message"), "content");
    if (!t || t->n != len || memcmp(t->u.str, text, len)) abort();
  }
  dp_json_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!size) return 0;
  srv_kind kind = data[0] & 1 ? SRV_COMPLETION : SRV_CHAT;
  srv_params p;
  srv_error e;
  dp_buf b = {0};
  /* dp_generate_defaults() (src/api, not linked here) */
  dp_generate_options def = {128, {0.8f, 40, 0.95f, 0.05f, 1.0f, 64, 0x5eed}, -1, NULL, 0, 0};
  if (srv_request_parse(kind, (const char *)data + 1, size - 1, "doppler-tiny-f16", &def, &p, &e)) {
    if (e.status != 400 && e.status != 500) abort();
    srv_reply_error(&b, &e);
    parse_back(&b, NULL, 0);
    dp_buf_free(&b);
    return 0;
  }
  const dp_sampling *s = &p.o.sampling;
  if (p.o.max_tokens < 0 || s->temperature < 0 || s->temperature > 2 || s->top_k < 0 || !(s->top_p > 0 && s->top_p <= 1) ||
      s->min_p < 0 || s->min_p > 1 || !(s->repeat_penalty > 0) || p.o.n_stop > SRV_MAX_STOP || (p.o.n_stop && p.o.stop != p.stops))
    abort();
  for (size_t i = 0; i < p.o.n_stop; i++)
    if (!p.stops[i][0]) abort();
  if (kind == SRV_COMPLETION && (!p.prompt || p.n_msgs)) abort();
  if (kind == SRV_CHAT && !p.n_msgs) abort();
  const char *text = kind == SRV_COMPLETION ? p.prompt : p.msgs[p.n_msgs - 1].content;
  for (size_t i = 0; i < p.n_msgs; i++)
    if (strcmp(p.msgs[i].role, "system") && strcmp(p.msgs[i].role, "user") && strcmp(p.msgs[i].role, "assistant")) abort();
  srv_reply_head h = {kind, "id-1", 1, "doppler-tiny-f16"};
  srv_reply_completion(&b, &h, text, strlen(text), "stop", 1, 2);
  parse_back(&b, text, strlen(text));
  b.len = 0;
  srv_reply_chunk(&b, &h, 1, text, strlen(text), NULL);
  if (!b.failed && (b.len < 8 || memcmp(b.data, "data: ", 6) || memcmp(b.data + b.len - 2, "\n\n", 2))) abort();
  dp_buf_free(&b);
  srv_params_free(&p);
  return 0;
}
