/* server.h -- `doppler serve`: an OpenAI-compatible HTTP server over include/doppler.h
 * (docs/server.md). cli/cmd_serve.c parses the flags, then: srv_open (listen, HTTP thread
 * started: /health says 503 while loading), dp_model_load, srv_serve (the event loop owns the
 * model and every session until SIGTERM has drained the requests in flight), srv_close. */
#ifndef DP_SERVER_SERVER_H
#define DP_SERVER_SERVER_H
#include "doppler.h"

typedef struct srv_options {
  const char *host;      /* address to listen on ("127.0.0.1", "::1", "0.0.0.0", a name) */
  int port;              /* 0: a free port */
  const char *model_id;  /* the id of /v1/models and of the requests' "model" */
  int parallel;          /* sessions generating at once (slots) */
  int ctx;               /* context length of each session (0: the model's, at most 4096) */
  int queue;             /* requests waiting for a slot at most; more get 429 */
  const char *api_key;   /* NULL: none; else requests need `Authorization: Bearer KEY` */
  const char *web_dir;   /* NULL: none; else its files are served at / */
} srv_options;

typedef struct srv srv;
/* Listen on host:port and start the HTTP thread; prints `listening on http://HOST:PORT` on
 * stderr. NULL after a one-line message `doppler serve: ...`. */
srv *srv_open(const srv_options *o);
/* SIGINT / SIGTERM / SIGHUP handler (async-signal-safe): the first stops accepting and drains
 * the requests in flight, a second cancels them. */
void srv_on_signal(int sig);
int srv_stop_requested(void);
/* Serve with model m (sessions created here) until a stop signal has drained everything.
 * Returns the exit status: 0, or 1 after a message. m stays the caller's to free. */
int srv_serve(srv *S, dp_model *m);
/* Stop the HTTP thread and free S. */
void srv_close(srv *S);
#endif
