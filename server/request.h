/* request.h -- an OpenAI request body (POST /v1/chat/completions, /v1/completions) parsed and
 * checked into generation options, or an OpenAI-style error naming the field. Pure: no HTTP, no
 * model (the model's id comes in); tests/fuzz/fuzz_server_request.c fuzzes it. */
#ifndef DP_SERVER_REQUEST_H
#define DP_SERVER_REQUEST_H
#include <stddef.h>
#include "core/buf.h"
#include "doppler.h"

#define SRV_MAX_STOP 16       /* stop strings per request */
#define SRV_MAX_MESSAGES 4096 /* chat messages per request */

typedef enum srv_kind { SRV_CHAT, SRV_COMPLETION } srv_kind;

typedef struct srv_params {
  srv_kind kind;
  int stream;                 /* 1: server-sent events */
  int include_usage;          /* stream_options.include_usage */
  int seed_given;             /* 0: the server draws a seed */
  dp_generate_options o;      /* max_tokens 0 = until end-of-sequence or a full context */
  const char *stops[SRV_MAX_STOP];  /* o.stop points here; the strings live in text */
  dp_chat_message *msgs;      /* chat: n_msgs messages (strings in text) */
  size_t n_msgs;
  const char *prompt;         /* completion: the prompt (in text) */
  dp_buf text;                /* every string above, NUL-separated */
} srv_params;

typedef struct srv_error {
  int status;                 /* HTTP status: 400, 413, ... */
  const char *type;           /* "invalid_request_error", ... */
  const char *code;           /* NULL or an OpenAI code ("model_not_found", "context_length_exceeded") */
  char param[96];             /* the field at fault ("messages[2].role"), "" if none */
  char message[384];
} srv_error;

/* Parse body[0..len) for `kind`; model_id is the served model (the only id accepted in "model");
 * def: the options of fields left out (dp_generate_defaults(); max_tokens is OpenAI's: 16 for
 * completions, 0 = until the end for chat). 0 and *p filled (free with srv_params_free), or -1
 * and *e filled (nothing to free). */
int srv_request_parse(srv_kind kind, const char *body, size_t len, const char *model_id, const dp_generate_options *def,
                      srv_params *p, srv_error *e);
void srv_params_free(srv_params *p);
/* Fill e (printf-style message); returns -1. */
int srv_error_set(srv_error *e, int status, const char *param, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#endif
