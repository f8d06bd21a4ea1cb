/* reply.c -- OpenAI response bodies (reply.h), in OpenAI's field order: chat.completion,
 * chat.completion.chunk, text_completion (whole and streamed), usage, error objects. Text is
 * written with dp_buf_json_string (core/buf.h); generated text arrives as whole UTF-8
 * characters (dp_token_fn holds incomplete ones back), so a chunk never splits one. */
#include <string.h>

#include "core/utf8.h"
#include "server/reply.h"

/* A message that may have been cut mid-character by snprintf: only its valid UTF-8 prefix. */
static void json_text(dp_buf *b, const char *s) {
  dp_buf_json_string(b, s, dp_utf8_validate(s, strlen(s)));
}

void srv_reply_error(dp_buf *b, const srv_error *e) {
  dp_buf_puts(b, "{\"error\":{\"message\":");
  json_text(b, e->message);
  dp_buf_puts(b, ",\"type\":");
  json_text(b, e->type ? e->type : "invalid_request_error");
  dp_buf_puts(b, ",\"param\":");
  if (e->param[0]) json_text(b, e->param);
  else dp_buf_puts(b, "null");
  dp_buf_puts(b, ",\"code\":");
  if (e->code) json_text(b, e->code);
  else dp_buf_puts(b, "null");
  dp_buf_puts(b, "}}");
}

static void head(dp_buf *b, const srv_reply_head *h, const char *object) {
  dp_buf_puts(b, "{\"id\":");
  json_text(b, h->id);
  dp_buf_printf(b, ",\"object\":\"%s\",\"created\":%lld,\"model\":", object, h->created);
  json_text(b, h->model);
}

static void usage(dp_buf *b, int n_prompt, int n_generated) {
  dp_buf_printf(b, "\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}", n_prompt, n_generated,
                n_prompt + n_generated);
}

/* The head and choice 0 up to its finish_reason's value. Chat: `"KEY":{"role":"assistant",
 * "content":TEXT},` with KEY "message", or "delta" in a chunk, which names the role only when
 * first and leaves the content out when it has none (the last chunk: an empty delta).
 * Completions: `"text":TEXT,`. */
static void choice(dp_buf *b, const srv_reply_head *h, const char *object, const char *key, int role, int content,
                   const char *text, size_t len) {
  head(b, h, object);
  dp_buf_puts(b, ",\"choices\":[{\"index\":0,");
  if (h->kind == SRV_CHAT) {
    dp_buf_printf(b, "\"%s\":{", key);
    if (role) dp_buf_puts(b, "\"role\":\"assistant\",");
    if (content) {
      dp_buf_puts(b, "\"content\":");
      dp_buf_json_string(b, text, len);
    }
    dp_buf_puts(b, "},");
  } else {
    dp_buf_puts(b, "\"text\":");
    dp_buf_json_string(b, text, len);
    dp_buf_puts(b, ",");
  }
  dp_buf_puts(b, "\"logprobs\":null,\"finish_reason\":");
}

void srv_reply_completion(dp_buf *b, const srv_reply_head *h, const char *text, size_t len, const char *finish,
                          int n_prompt, int n_generated) {
  choice(b, h, h->kind == SRV_CHAT ? "chat.completion" : "text_completion", "message", 1, 1, text, len);
  dp_buf_printf(b, "\"%s\"}],", finish);
  usage(b, n_prompt, n_generated);
  dp_buf_puts(b, "}");
}

void srv_reply_chunk(dp_buf *b, const srv_reply_head *h, int first, const char *text, size_t len, const char *finish) {
  dp_buf_puts(b, "data: ");
  /* the first chunk: role and "" as OpenAI's */
  choice(b, h, h->kind == SRV_CHAT ? "chat.completion.chunk" : "text_completion", "delta", first, len || first, text, len);
  if (finish) dp_buf_printf(b, "\"%s\"", finish);
  else dp_buf_puts(b, "null");
  dp_buf_puts(b, "}]}\n\n");
}

void srv_reply_usage_chunk(dp_buf *b, const srv_reply_head *h, int n_prompt, int n_generated) {
  dp_buf_puts(b, "data: ");
  head(b, h, h->kind == SRV_CHAT ? "chat.completion.chunk" : "text_completion");
  dp_buf_puts(b, ",\"choices\":[],");
  usage(b, n_prompt, n_generated);
  dp_buf_puts(b, "}\n\n");
}

void srv_reply_error_event(dp_buf *b, const srv_error *e) {
  dp_buf_puts(b, "data: ");
  srv_reply_error(b, e);
  dp_buf_puts(b, "\n\n");
}

void srv_reply_done(dp_buf *b) { dp_buf_puts(b, "data: [DONE]\n\n"); }

const char *srv_finish_reason(int stop_reason) { return stop_reason == 0 || stop_reason == 4 ? "length" : "stop"; }
