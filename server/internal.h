/* internal.h -- what the HTTP side (http.c, libmicrohttpd's thread) and the event loop
 * (loop.c, the thread that owns the model and every session) share: the server, its requests,
 * and the hand-over between the two threads (docs/server.md, "Threads").
 *
 * A completion request is read by the HTTP thread (headers, body), put in the inbox, and its
 * connection suspended (MHD_suspend_connection). The loop parses it, generates, and answers
 * through srv_req_answer / srv_req_stream_*, which resume the connection; libmicrohttpd then
 * calls the access handler again (a whole answer is queued) or the stream's content reader
 * (which takes the bytes written so far, or suspends the connection again until more come).
 * srv.mu guards every field marked (mu). A request lives until both sides let go (refs). */
#ifndef DP_SERVER_INTERNAL_H
#define DP_SERVER_INTERNAL_H
#include <pthread.h>
#include <stddef.h>
#include "core/buf.h"
#include "server/metrics.h"
#include "server/request.h"
#include "server/server.h"

#define SRV_MAX_BODY (1u << 20)      /* request body bytes at most (413 beyond) */
#define SRV_MAX_HEADERS (32u << 10)  /* libmicrohttpd's memory per connection: headers beyond it get 431 */

struct MHD_Connection;
struct MHD_Daemon;

typedef enum srv_req_state {
  SRV_REQ_READING,   /* the HTTP thread reads the body */
  SRV_REQ_QUEUED,    /* in the inbox or with the loop; the connection suspended */
  SRV_REQ_ANSWERED,  /* status and bytes set by the loop (a stream: more may follow) */
} srv_req_state;

typedef struct srv_req {
  struct srv *srv;
  struct MHD_Connection *conn;
  int fd;                  /* the connection's socket (peeked while suspended) */
  srv_kind kind;
  dp_buf body;             /* the request body (HTTP thread, then the loop's) */
  int refused;             /* HTTP thread: answered before the loop saw it (413); the rest of the body is dropped */
  /* (mu) */
  int refs;                /* 1 for libmicrohttpd until its completion callback, 1 for the loop */
  srv_req_state state;
  int status;              /* the HTTP status of the answer */
  int stream;              /* the answer is a stream of server-sent events */
  int aborted;             /* close the connection without an answer (the client went away) */
  dp_buf out;              /* a whole answer's body, or stream bytes not yet taken */
  size_t out_pos;          /* bytes of out the stream has taken */
  int finished;            /* no more bytes will come */
  int suspended;           /* the connection is suspended by us */
  int gone;                /* libmicrohttpd is done with the connection */
  struct srv_req *next;    /* inbox link */
} srv_req;

struct srv {
  srv_options opt;
  struct MHD_Daemon *daemon;
  int listen_fd;
  long long created;       /* Unix time the server started (/v1/models) */
  srv_metrics metrics;
  int wake[2];             /* self-pipe: a byte wakes the loop (new request, signal) */
  pthread_mutex_t mu;
  /* (mu) */
  srv_req *inbox, *inbox_tail;
  int admitted;            /* completion requests handed to the loop and not yet finished by it */
  int ready;               /* the model has loaded and the sessions exist */
  int draining;            /* stop signal: no new requests */
  int live;                /* srv_req alive (both sides) */
};

/* ---- http.c, called by the loop ---- */
void srv_wake(srv *S);                      /* make the loop's wait return (async-signal-safe) */
srv_req *srv_inbox_take(srv *S);            /* the oldest request handed over, or NULL */
/* Answer with a whole body (JSON); the connection resumes. */
void srv_req_answer(srv *S, srv_req *r, int status, const dp_buf *body);
void srv_req_answer_error(srv *S, srv_req *r, const srv_error *e);
/* Start a 200 text/event-stream answer; then write bytes (finished: the last) as they come. */
void srv_req_stream_start(srv *S, srv_req *r);
void srv_req_stream_write(srv *S, srv_req *r, const char *bytes, size_t n, int finished);
/* Close the connection without (more of) an answer. */
void srv_req_abort(srv *S, srv_req *r);
/* 1 when the client has gone: libmicrohttpd closed the connection, or the suspended socket
 * reads end-of-file or an error. */
int srv_req_client_gone(srv *S, srv_req *r);
/* The loop lets go of r (after answering it): the admitted count drops. */
void srv_req_release(srv *S, srv_req *r);
void srv_http_quiesce(srv *S);              /* stop accepting connections (drain) */
int srv_http_live(srv *S);                  /* requests still alive (answers still being sent) */
#endif
