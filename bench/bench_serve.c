/* bench_serve.c -- load benchmark of a running `doppler serve` (never a timed test): for each
 * number of concurrent clients (default 1, 4, 16, 64), every client sends PER requests one
 * after another (POST /v1/completions, greedy, max_tokens N with ignore_eos, so each request
 * generates exactly N tokens), and the run reports requests/s, aggregate generated tokens/s,
 * the median and 95th-percentile request time, and the mean sessions per decode step
 * (doppler_batch_size from /metrics before and after). A small HTTP/1.1 client of its own
 * (`Connection: close`, one request per connection), no dependency beyond libc and the JSON
 * reader, so it travels to the lent GPU machine (scripts/device_serve_bench.sh).
 *   bench_serve URL [--clients 1,4,16,64] [--per N] [--max-tokens N] [--api-key KEY]
 * Figures go to stdout as a Markdown table; notes/performance.md keeps them. */
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/json.h"
#include "testlib.h"

static const char *g_host, *g_port, *g_key;
static int g_max_tokens = 64, g_per = 4;

/* One request on a fresh connection: the status, the body in *body (free it); -1 on a socket error. */
static int http(const char *method, const char *path, const char *payload, dp_buf *body) {
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(g_host, g_port, &hints, &res)) return -1;
  int fd = socket(res->ai_family, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen)) {
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    return -1;
  }
  freeaddrinfo(res);
  dp_buf req = {0};
  dp_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n", method, path, g_host, g_port);
  if (g_key) dp_buf_printf(&req, "Authorization: Bearer %s\r\n", g_key);
  if (payload) dp_buf_printf(&req, "Content-Type: application/json\r\nContent-Length: %zu\r\n", strlen(payload));
  dp_buf_printf(&req, "\r\n%s", payload ? payload : "");
  for (size_t off = 0; off < req.len;) {
    ssize_t w = send(fd, req.data + off, req.len - off, MSG_NOSIGNAL);
    if (w <= 0) { close(fd); dp_buf_free(&req); return -1; }
    off += (size_t)w;
  }
  dp_buf_free(&req);
  dp_buf all = {0};
  char chunk[16384];
  ssize_t n;
  while ((n = recv(fd, chunk, sizeof chunk, 0)) > 0) dp_buf_append(&all, chunk, (size_t)n);
  close(fd);
  int status = -1;
  const char *sep = all.data ? strstr(all.data, "\r\n\r\n") : NULL;
  if (sep && sscanf(all.data, "HTTP/1.%*d %d", &status) == 1) dp_buf_append(body, sep + 4, all.len - (size_t)(sep + 4 - all.data));
  dp_buf_free(&all);
  return status;
}

typedef struct client {
  int id, ok, failed;
  long tokens;
  double *times;            /* [g_per] seconds per request */
} client;

static void *run_client(void *arg) {
  client *c = arg;
  for (int i = 0; i < g_per; i++) {
    char payload[256];
    snprintf(payload, sizeof payload,
             "{\"prompt\":\"Request %d.%d: the jury said\",\"temperature\":0,\"max_tokens\":%d,\"ignore_eos\":true}", c->id, i,
             g_max_tokens);
    dp_buf body = {0};
    double t0 = dp_test_now();
    int st = http("POST", "/v1/completions", payload, &body);
    c->times[i] = dp_test_now() - t0;
    dp_json_doc *d = st == 200 && body.data ? dp_json_parse(body.data, body.len, "answer") : NULL;
    long got = d ? (long)dp_json_get_int(dp_json_get(dp_json_root(d), "usage"), "completion_tokens", -1) : -1;
    if (got >= 0) c->ok++, c->tokens += got;
    else c->failed++, fprintf(stderr, "bench_serve: request failed: status %d: %.200s\n", st, body.data ? body.data : "");
    if (d) dp_json_free(d);
    dp_buf_free(&body);
  }
  return NULL;
}

/* doppler_batch_size_sum and _count from /metrics. */
static void batch_stats(double *sum, double *count) {
  dp_buf b = {0};
  *sum = *count = 0;
  if (http("GET", "/metrics", NULL, &b) == 200) {
    const char *p = strstr(b.data, "\ndoppler_batch_size_sum ");
    if (p) *sum = atof(p + 24);
    p = strstr(b.data, "\ndoppler_batch_size_count ");
    if (p) *count = atof(p + 26);
  }
  dp_buf_free(&b);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  const char *url = NULL, *levels = "1,4,16,64";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--clients") && i + 1 < argc) levels = argv[++i];
    else if (!strcmp(argv[i], "--per") && i + 1 < argc) g_per = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--max-tokens") && i + 1 < argc) g_max_tokens = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--api-key") && i + 1 < argc) g_key = argv[++i];
    else if (!url && !strncmp(argv[i], "http://", 7)) url = argv[i];
    else {
      fprintf(stderr, "usage: bench_serve http://HOST:PORT [--clients 1,4,16,64] [--per N] [--max-tokens N] [--api-key KEY]\n");
      return 2;
    }
  }
  if (!url || g_per < 1 || g_max_tokens < 1) {
    fprintf(stderr, "bench_serve: a URL http://HOST:PORT, --per >= 1 and --max-tokens >= 1 are needed\n");
    return 2;
  }
  static char host[256], port[16] = "80";
  const char *h = url + 7, *colon = strrchr(h, ':'), *slash = strchr(h, '/');
  size_t hl = colon ? (size_t)(colon - h) : slash ? (size_t)(slash - h) : strlen(h);
  snprintf(host, sizeof host, "%.*s", (int)hl, h);
  if (colon) snprintf(port, sizeof port, "%.*s", (int)strspn(colon + 1, "0123456789"), colon + 1);
  g_host = host, g_port = port;
  printf("| clients | requests | tokens each | req/s | aggregate tok/s | p50 s | p95 s | sessions per step |\n"
         "|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  int rc = 0;
  for (const char *p = levels; *p;) {
    int n = atoi(p);
    p += strcspn(p, ",");
    if (*p) p++;
    if (n < 1) continue;
    client *cs = calloc((size_t)n, sizeof *cs);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    double *times = calloc((size_t)n * (size_t)g_per, sizeof *times);
    if (!cs || !th || !times) return 1;
    double s0, c0, s1, c1;
    batch_stats(&s0, &c0);
    double t0 = dp_test_now();
    for (int i = 0; i < n; i++) {
      cs[i] = (client){i, 0, 0, 0, times + (size_t)i * g_per};
      pthread_create(&th[i], NULL, run_client, &cs[i]);
    }
    int ok = 0, failed = 0;
    long tokens = 0;
    for (int i = 0; i < n; i++) {
      pthread_join(th[i], NULL);
      ok += cs[i].ok, failed += cs[i].failed, tokens += cs[i].tokens;
    }
    double wall = dp_test_now() - t0;
    batch_stats(&s1, &c1);
    size_t total = (size_t)n * g_per;
    qsort(times, total, sizeof *times, cmp_double);
    printf("| %d | %d%s | %d | %.2f | %.1f | %.2f | %.2f | %.2f |\n", n, ok, failed ? " (some failed)" : "", g_max_tokens,
           ok / wall, tokens / wall, times[total / 2], times[(size_t)(total * 0.95)], c1 > c0 ? (s1 - s0) / (c1 - c0) : 0);
    fflush(stdout);
    if (failed) rc = 1;
    free(cs), free(th), free(times);
  }
  return rc;
}
