/* reply.h -- OpenAI response bodies written as JSON into a dp_buf: error objects, whole
 * completions, server-sent-event chunks. Pure (no HTTP, no model); loop.c and http.c call it. */
#ifndef DP_SERVER_REPLY_H
#define DP_SERVER_REPLY_H
#include <stddef.h>
#include "core/buf.h"
#include "server/request.h"

/* What every object of one response shares. */
typedef struct srv_reply_head {
  srv_kind kind;
  const char *id;         /* "chatcmpl-..." / "cmpl-..." */
  long long created;      /* Unix seconds */
  const char *model;
} srv_reply_head;

/* {"error": {"message", "type", "param", "code"}} */
void srv_reply_error(dp_buf *b, const srv_error *e);
/* A whole (non-streamed) completion: one choice with text[0..len), finish_reason, usage. */
void srv_reply_completion(dp_buf *b, const srv_reply_head *h, const char *text, size_t len, const char *finish,
                          int n_prompt, int n_generated);
/* One server-sent event "data: {chunk}\n\n": a chat delta (role "assistant" when first is set)
 * or a completion text piece; finish: NULL or the finish_reason of the last chunk. */
void srv_reply_chunk(dp_buf *b, const srv_reply_head *h, int first, const char *text, size_t len, const char *finish);
/* The usage chunk of stream_options.include_usage (choices empty). */
void srv_reply_usage_chunk(dp_buf *b, const srv_reply_head *h, int n_prompt, int n_generated);
/* An error event inside a stream that already started: "data: {"error": ...}\n\n". */
void srv_reply_error_event(dp_buf *b, const srv_error *e);
/* "data: [DONE]\n\n" */
void srv_reply_done(dp_buf *b);
/* dp_generate_stats.stop_reason -> "stop" (end-of-sequence, a stop string, the server's stop) or
 * "length" (max_tokens, a full context). */
const char *srv_finish_reason(int stop_reason);
#endif
