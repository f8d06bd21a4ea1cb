/* http.c -- the HTTP side of `doppler serve`, on libmicrohttpd (Debian's libmicrohttpd12): its
 * one internal polling thread (epoll) runs every connection; this file never calls the engine.
 * It opens the listening socket (srv_open prints `listening on http://HOST:PORT` as soon as it
 * listens), routes requests, checks the API key and the body size, answers what needs no model
 * (/health, /metrics, /v1/models, static files of --web), and hands completion requests to the
 * event loop (loop.c) through the inbox with the connection suspended (internal.h describes the
 * hand-over). The loop's answers come back through srv_req_answer / srv_req_stream_* below,
 * which resume the connection. Depends on libmicrohttpd, core/buf.h, the server/ headers. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "server/internal.h"
#include "server/reply.h"
#include "server/static.h"

typedef enum route {
  R_NONE, R_CHAT, R_COMPLETION, R_MODELS, R_MODEL, R_HEALTH, R_METRICS, R_STATIC,
} route;

/* ---- requests and their two owners ---- */

static srv_req *req_new(srv *S, struct MHD_Connection *c, srv_kind kind) {
  srv_req *r = dp_calloc(1, sizeof *r);
  if (!r) return NULL;
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  r->conn = c, r->fd = ci ? ci->connect_fd : -1, r->kind = kind, r->refs = 1, r->srv = S;
  pthread_mutex_lock(&S->mu);
  S->live++;
  pthread_mutex_unlock(&S->mu);
  return r;
}

static void unref_locked(srv *S, srv_req *r) {
  if (--r->refs) return;
  S->live--;
  dp_buf_free(&r->body);
  dp_buf_free(&r->out);
  dp_free(r);
}

static void resume_locked(srv_req *r) {
  if (!r->suspended) return;
  r->suspended = 0;
  MHD_resume_connection(r->conn);
}

/* ---- answers queued by the HTTP thread ---- */

static enum MHD_Result queue(struct MHD_Connection *c, int status, const char *type, const char *body, size_t len,
                             int retry_after) {
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  if (retry_after > 0) {
    char ra[16];
    snprintf(ra, sizeof ra, "%d", retry_after);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
  }
  if (status == 405) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD, POST");
  enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
  MHD_destroy_response(resp);
  return ok;
}

static enum MHD_Result queue_json(struct MHD_Connection *c, int status, const dp_buf *b, int retry_after) {
  if (b->failed) return MHD_NO;
  return queue(c, status, "application/json", b->data ? b->data : "", b->len, retry_after);
}

static enum MHD_Result queue_error(srv *S, struct MHD_Connection *c, int status, const char *param, int retry_after,
                                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static enum MHD_Result queue_error(srv *S, struct MHD_Connection *c, int status, const char *param, int retry_after,
                                   const char *fmt, ...) {
  srv_error e;
  srv_error_set(&e, status, param, "%s", "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e.message, sizeof e.message, fmt, ap);
  va_end(ap);
  if (status == 503) e.type = "unavailable_error";
  if (status == 429) e.type = "rate_limit_error";
  if (status == 404) e.type = "not_found_error";
  dp_buf b = {0};
  srv_reply_error(&b, &e);
  enum MHD_Result ok = queue_json(c, status, &b, retry_after);
  dp_buf_free(&b);
  (void)S;
  return ok;
}

static enum MHD_Result answer_health(srv *S, struct MHD_Connection *c) {
  pthread_mutex_lock(&S->mu);
  int ready = S->ready, draining = S->draining;
  pthread_mutex_unlock(&S->mu);
  const char *body = draining ? "{\"status\":\"draining\"}" : ready ? "{\"status\":\"ok\"}" : "{\"status\":\"loading\"}";
  return queue(c, ready && !draining ? 200 : 503, "application/json", body, strlen(body), ready ? 0 : 1);
}

static enum MHD_Result answer_metrics(srv *S, struct MHD_Connection *c) {
  dp_buf b = {0};
  srv_metrics_text(&S->metrics, &b);
  enum MHD_Result ok = b.failed ? MHD_NO : queue(c, 200, "text/plain; version=0.0.4", b.data, b.len, 0);
  dp_buf_free(&b);
  return ok;
}

static void model_object(srv *S, dp_buf *b) {
  dp_buf_puts(b, "{\"id\":");
  dp_buf_json_string(b, S->opt.model_id, strlen(S->opt.model_id));
  dp_buf_printf(b, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":\"doppler\"}", S->created);
}

static enum MHD_Result answer_models(srv *S, struct MHD_Connection *c, const char *url, route rt) {
  dp_buf b = {0};
  if (rt == R_MODEL && strcmp(url + strlen("/v1/models/"), S->opt.model_id))
    return queue_error(S, c, 404, "model", 0, "the model '%.200s' does not exist (this server serves '%.100s')",
                       url + strlen("/v1/models/"), S->opt.model_id);
  if (rt == R_MODELS) dp_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
  model_object(S, &b);
  if (rt == R_MODELS) dp_buf_puts(&b, "]}");
  enum MHD_Result ok = queue_json(c, 200, &b, 0);
  dp_buf_free(&b);
  return ok;
}

/* ---- routing ---- */

static route route_of(const char *url, const char *method, int *bad_method) {
  static const struct { const char *path; const char *method; route r; } T[] = {
    {"/v1/chat/completions", "POST", R_CHAT}, {"/v1/completions", "POST", R_COMPLETION},
    {"/v1/models", "GET", R_MODELS},          {"/health", "GET", R_HEALTH},
    {"/metrics", "GET", R_METRICS},
  };
  int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
  *bad_method = 0;
  for (size_t i = 0; i < sizeof T / sizeof *T; i++)
    if (!strcmp(url, T[i].path)) {
      *bad_method = strcmp(T[i].method, "GET") ? strcmp(method, T[i].method) != 0 : !get;
      return T[i].r;
    }
  if (!strncmp(url, "/v1/models/", 11) && url[11]) return *bad_method = !get, R_MODEL;
  if (!strncmp(url, "/v1/", 4) || !strcmp(url, "/v1")) return R_NONE;
  *bad_method = !get;
  return R_STATIC;
}

static int authorized(srv *S, struct MHD_Connection *c) {
  if (!S->opt.api_key) return 1;
  const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (!h || strncmp(h, "Bearer ", 7)) return 0;
  /* compare every byte whatever the first difference (no timing hint) */
  const char *k = S->opt.api_key, *v = h + 7;
  size_t kl = strlen(k), vl = strlen(v);
  unsigned diff = kl != vl;
  for (size_t i = 0; i < vl; i++) diff |= (unsigned char)v[i] ^ (unsigned char)k[i % (kl ? kl : 1)];
  return !diff;
}

/* The body has been read: hand the request to the loop, or refuse it (loading, draining, full). */
static enum MHD_Result hand_over(srv *S, struct MHD_Connection *c, srv_req *r) {
  pthread_mutex_lock(&S->mu);
  int ready = S->ready, draining = S->draining, full = S->admitted >= S->opt.parallel + S->opt.queue;
  int queued = ready && !draining && !full; /* (the loop may answer r before this thread looks again) */
  if (queued) {
    S->admitted++;
    r->state = SRV_REQ_QUEUED;
    r->refs++; /* the loop's */
    if (S->inbox_tail) S->inbox_tail->next = r;
    else S->inbox = r;
    S->inbox_tail = r;
    r->suspended = 1;
    MHD_suspend_connection(c);
  }
  pthread_mutex_unlock(&S->mu);
  if (queued) {
    srv_wake(S);
    return MHD_YES;
  }
  int status = !ready || draining ? 503 : 429;
  srv_metrics_request(&S->metrics, status);
  if (!ready) return queue_error(S, c, 503, NULL, 1, "the model is loading");
  if (draining) return queue_error(S, c, 503, NULL, 1, "the server is shutting down");
  return queue_error(S, c, 429, NULL, 1, "the server is busy: %d requests generating or waiting (--parallel %d, --queue %d)",
                     S->opt.parallel + S->opt.queue, S->opt.parallel, S->opt.queue);
}

static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max);

/* The loop answered (the connection was resumed): queue that answer. */
static enum MHD_Result queue_answer(srv *S, struct MHD_Connection *c, srv_req *r) {
  pthread_mutex_lock(&S->mu);
  int aborted = r->aborted, stream = r->stream, status = r->status;
  pthread_mutex_unlock(&S->mu);
  if (aborted) return MHD_NO; /* closes the connection */
  if (!stream) return queue_json(c, status, &r->out, 0); /* the loop wrote out before answering and no more */
  struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 << 10, read_stream, r, NULL);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  MHD_add_response_header(resp, "X-Accel-Buffering", "no"); /* nginx: pass the events through unbuffered */
  enum MHD_Result ok = MHD_queue_response(c, 200, resp);
  MHD_destroy_response(resp);
  return ok;
}

/* *req_cls of a request answered on its first call (no srv_req): the rest of its body is dropped. */
static int answered_early;

static enum MHD_Result first_call(srv *S, struct MHD_Connection *c, const char *url, const char *method, void **req_cls);

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *version, const char *upload, size_t *upload_size, void **req_cls) {
  srv *S = cls;
  srv_req *r = *req_cls;
  (void)version;
  if (!r) return first_call(S, c, url, method, req_cls);
  if (*req_cls == &answered_early || r->refused) {
    *upload_size = 0;
    return MHD_YES;
  }
  /* state is written by the loop only while the connection is suspended (then this is not
   * called); its resume orders that write before this read */
  if (r->state == SRV_REQ_ANSWERED) return queue_answer(S, c, r);
  if (*upload_size) { /* more of the body */
    if (r->body.len + *upload_size > SRV_MAX_BODY) {
      *upload_size = 0;
      r->refused = 1;
      srv_metrics_request(&S->metrics, 413);
      return queue_error(S, c, 413, NULL, 0, "the request body is more than %u bytes", SRV_MAX_BODY);
    }
    dp_buf_append(&r->body, upload, *upload_size);
    *upload_size = 0;
    return r->body.failed ? MHD_NO : MHD_YES;
  }
  if (r->state == SRV_REQ_READING) return hand_over(S, c, r);
  return MHD_YES; /* queued and resumed without an answer: cannot happen (the loop answers first) */
}

/* First call: the headers are in. Answer what needs no model nor body; else a srv_req. */
static enum MHD_Result first_call(srv *S, struct MHD_Connection *c, const char *url, const char *method, void **req_cls) {
  *req_cls = &answered_early;
  int bad_method;
  route rt = route_of(url, method, &bad_method);
  if (rt == R_NONE) return queue_error(S, c, 404, NULL, 0, "no such endpoint: %.200s", url);
  if (bad_method) return queue_error(S, c, 405, NULL, 0, "%.20s is not allowed on %.200s", method, url);
  if (rt != R_HEALTH && rt != R_STATIC && !authorized(S, c)) {
    srv_metrics_request(&S->metrics, 401);
    return queue_error(S, c, 401, NULL, 0, "a valid API key is required: `Authorization: Bearer KEY`");
  }
  if (rt == R_HEALTH) return answer_health(S, c);
  if (rt == R_METRICS) return answer_metrics(S, c);
  if (rt == R_MODELS || rt == R_MODEL) return answer_models(S, c, url, rt);
  if (rt == R_STATIC) {
    if (!S->opt.web_dir) return queue_error(S, c, 404, NULL, 0, "no such endpoint: %.200s", url);
    int status = 0;
    struct MHD_Response *resp = srv_static_file(S->opt.web_dir, url, &status);
    if (!resp) return queue_error(S, c, status, NULL, 0, "%.200s: %s", url, status == 404 ? "not found" : "cannot be read");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok;
  }
  const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (cl && strtoull(cl, NULL, 10) > SRV_MAX_BODY) {
    srv_metrics_request(&S->metrics, 413);
    return queue_error(S, c, 413, NULL, 0, "the request body is %.20s bytes, more than %u", cl, SRV_MAX_BODY);
  }
  srv_req *r = req_new(S, c, rt == R_CHAT ? SRV_CHAT : SRV_COMPLETION);
  if (!r) return MHD_NO;
  *req_cls = r;
  return MHD_YES;
}

/* The stream's bytes: what the loop wrote so far, else suspend until it writes more. */
static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max) {
  srv_req *r = cls;
  srv *S = r->srv;
  ssize_t n;
  (void)pos;
  pthread_mutex_lock(&S->mu);
  size_t avail = r->out.len - r->out_pos;
  if (r->aborted) n = MHD_CONTENT_READER_END_WITH_ERROR;
  else if (avail) {
    n = (ssize_t)(avail < max ? avail : max);
    memcpy(buf, r->out.data + r->out_pos, (size_t)n);
    r->out_pos += (size_t)n;
    if (r->out_pos == r->out.len) r->out.len = r->out_pos = 0;
  } else if (r->finished) n = MHD_CONTENT_READER_END_OF_STREAM;
  else {
    r->suspended = 1;
    MHD_suspend_connection(r->conn);
    n = 0;
  }
  pthread_mutex_unlock(&S->mu);
  return n;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe) {
  srv *S = cls;
  srv_req *r = *req_cls;
  (void)c, (void)toe;
  if (!r || *req_cls == &answered_early) return;
  *req_cls = NULL;
  pthread_mutex_lock(&S->mu);
  r->gone = 1;
  r->suspended = 0;
  unref_locked(S, r);
  pthread_mutex_unlock(&S->mu);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  size_t n = strlen(line);
  while (n && line[n - 1] == '\n') line[--n] = 0;
  fprintf(stderr, "doppler serve: %s\n", line);
}

/* ---- the loop's side (internal.h) ---- */

void srv_wake(srv *S) {
  char b = 1;
  ssize_t w = write(S->wake[1], &b, 1); /* a full pipe already wakes the loop */
  (void)w;
}

srv_req *srv_inbox_take(srv *S) {
  pthread_mutex_lock(&S->mu);
  srv_req *r = S->inbox;
  if (r) {
    S->inbox = r->next;
    if (!S->inbox) S->inbox_tail = NULL;
    r->next = NULL;
  }
  pthread_mutex_unlock(&S->mu);
  return r;
}

void srv_req_answer(srv *S, srv_req *r, int status, const dp_buf *body) {
  srv_metrics_request(&S->metrics, status); /* counted before the client can see the answer */
  pthread_mutex_lock(&S->mu);
  if (!r->gone && r->state != SRV_REQ_ANSWERED) {
    r->status = status;
    r->out.len = 0;
    dp_buf_append(&r->out, body->data ? body->data : "", body->len);
    r->finished = 1;
    r->state = SRV_REQ_ANSWERED;
    resume_locked(r);
  }
  pthread_mutex_unlock(&S->mu);
}

void srv_req_answer_error(srv *S, srv_req *r, const srv_error *e) {
  dp_buf b = {0};
  srv_reply_error(&b, e);
  srv_req_answer(S, r, e->status, &b);
  dp_buf_free(&b);
}

void srv_req_stream_start(srv *S, srv_req *r) {
  srv_metrics_request(&S->metrics, 200);
  pthread_mutex_lock(&S->mu);
  if (!r->gone && r->state != SRV_REQ_ANSWERED) {
    r->status = 200;
    r->stream = 1;
    r->state = SRV_REQ_ANSWERED;
    resume_locked(r);
  }
  pthread_mutex_unlock(&S->mu);
}

void srv_req_stream_write(srv *S, srv_req *r, const char *bytes, size_t n, int finished) {
  pthread_mutex_lock(&S->mu);
  if (!r->gone && !r->aborted) {
    dp_buf_append(&r->out, bytes, n);
    if (finished) r->finished = 1;
    if (r->out.failed) r->aborted = 1; /* out of memory: end the stream with an error */
    resume_locked(r);
  }
  pthread_mutex_unlock(&S->mu);
}

void srv_req_abort(srv *S, srv_req *r) {
  pthread_mutex_lock(&S->mu);
  if (!r->gone) {
    r->aborted = 1;
    r->state = SRV_REQ_ANSWERED;
    resume_locked(r);
  }
  pthread_mutex_unlock(&S->mu);
}

int srv_req_client_gone(srv *S, srv_req *r) {
  pthread_mutex_lock(&S->mu);
  int gone = r->gone;
  if (!gone && r->suspended && r->fd >= 0) { /* libmicrohttpd does not watch a suspended socket */
    char b;
    ssize_t k = recv(r->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    gone = k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
  }
  pthread_mutex_unlock(&S->mu);
  return gone;
}

void srv_req_release(srv *S, srv_req *r) {
  pthread_mutex_lock(&S->mu);
  S->admitted--;
  unref_locked(S, r);
  pthread_mutex_unlock(&S->mu);
}

void srv_http_quiesce(srv *S) {
  if (S->listen_fd < 0) return;
  MHD_socket fd = MHD_quiesce_daemon(S->daemon);
  if (fd != MHD_INVALID_SOCKET) close(fd);
  S->listen_fd = -1;
}

int srv_http_live(srv *S) {
  pthread_mutex_lock(&S->mu);
  int n = S->live;
  pthread_mutex_unlock(&S->mu);
  return n;
}

/* ---- start and stop ---- */

/* A socket listening on host:port (port 0: a free one); -1 after a message. */
static int listen_on(const char *host, int port, int *ipv6, int *bound_port) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  char ps[16];
  snprintf(ps, sizeof ps, "%d", port);
  int rc = getaddrinfo(host, ps, &hints, &res);
  if (rc) {
    fprintf(stderr, "doppler serve: --host '%s': %s\n", host, gai_strerror(rc));
    return -1;
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  *ipv6 = res->ai_family == AF_INET6;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 512)) {
    fprintf(stderr, "doppler serve: cannot listen on %s port %d: %s\n", host, port, strerror(errno));
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    return -1;
  }
  freeaddrinfo(res);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
  return fd;
}

srv *srv_open(const srv_options *o) {
  srv *S = dp_calloc(1, sizeof *S);
  if (!S) {
    fprintf(stderr, "doppler serve: out of memory\n");
    return NULL;
  }
  S->opt = *o;
  S->created = (long long)time(NULL);
  S->wake[0] = S->wake[1] = -1;
  pthread_mutex_init(&S->mu, NULL);
  srv_metrics_init(&S->metrics, o->parallel);
  int ipv6 = 0, port = 0;
  if (pipe(S->wake) || fcntl(S->wake[0], F_SETFL, O_NONBLOCK) || fcntl(S->wake[1], F_SETFL, O_NONBLOCK)) {
    fprintf(stderr, "doppler serve: pipe: %s\n", strerror(errno));
    srv_close(S);
    return NULL;
  }
  if ((S->listen_fd = listen_on(o->host, o->port, &ipv6, &port)) < 0) {
    srv_close(S);
    return NULL;
  }
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_IPv6 : 0);
  S->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, S,
                               MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                               MHD_OPTION_LISTEN_SOCKET, (MHD_socket)S->listen_fd,
                               MHD_OPTION_NOTIFY_COMPLETED, on_completed, S,
                               MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SRV_MAX_HEADERS,
                               MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                               MHD_OPTION_END);
  if (!S->daemon) {
    fprintf(stderr, "doppler serve: libmicrohttpd did not start on %s port %d\n", o->host, port);
    close(S->listen_fd);
    S->listen_fd = -1;
    srv_close(S);
    return NULL;
  }
  fprintf(stderr, ipv6 ? "listening on http://[%s]:%d\n" : "listening on http://%s:%d\n", o->host, port);
  return S;
}

void srv_close(srv *S) {
  if (!S) return;
  if (S->daemon) MHD_stop_daemon(S->daemon); /* closes the listening socket unless quiesced */
  for (int i = 0; i < 2; i++)
    if (S->wake[i] >= 0) close(S->wake[i]);
  srv_metrics_destroy(&S->metrics);
  pthread_mutex_destroy(&S->mu);
  dp_free(S);
}
