/* metrics.h -- the server's counters and the Prometheus text of GET /metrics. Updated by the
 * event loop and the HTTP thread, read by the HTTP thread: every function takes the metrics'
 * own lock. */
#ifndef DP_SERVER_METRICS_H
#define DP_SERVER_METRICS_H
#include <pthread.h>
#include <stdint.h>
#include "core/buf.h"

#define SRV_BATCH_BUCKETS 8   /* le 1, 2, 4, 8, 16, 32, 64, +Inf */
#define SRV_TPS_WINDOW 10     /* seconds the tokens/s gauge averages over */
#define SRV_STATUS_CODES 10

typedef struct srv_metrics {
  pthread_mutex_t mu;
  uint64_t requests[SRV_STATUS_CODES];  /* completion requests answered, by status (SRV_STATUS_LIST) */
  uint64_t cancelled;                   /* generations cancelled because the client went away */
  uint64_t prompt_tokens, generated_tokens;
  int running, queued, slots;           /* sessions generating, requests waiting, --parallel */
  int ready;                            /* the model has loaded */
  uint64_t batch[SRV_BATCH_BUCKETS];    /* decode steps by sessions in the step (not cumulative) */
  uint64_t batch_steps, batch_sessions; /* _count and _sum of the histogram */
  uint64_t tps_tokens[SRV_TPS_WINDOW];  /* tokens generated in each of the last seconds */
  int64_t tps_second[SRV_TPS_WINDOW];   /* the second (monotonic) each slot counts */
} srv_metrics;

void srv_metrics_init(srv_metrics *m, int slots);
void srv_metrics_destroy(srv_metrics *m);
void srv_metrics_request(srv_metrics *m, int status);       /* a completion request answered */
void srv_metrics_cancelled(srv_metrics *m);
void srv_metrics_tokens(srv_metrics *m, int prompt, int generated);
void srv_metrics_batch(srv_metrics *m, int sessions);       /* one decode step of that many sessions */
void srv_metrics_gauges(srv_metrics *m, int running, int queued);
void srv_metrics_ready(srv_metrics *m);
/* The Prometheus text exposition (version 0.0.4). */
void srv_metrics_text(srv_metrics *m, dp_buf *out);
#endif
