/* metrics.c -- counters, gauges and the batch-size histogram of the server (metrics.h), written
 * as Prometheus text for GET /metrics: requests by status, cancellations, prompt and generated
 * tokens, running and queued requests (the queue depth), generated tokens/s over the last
 * SRV_TPS_WINDOW seconds, and doppler_batch_size, the sessions of each decode step. */
#include <string.h>
#include <time.h>

#include "server/metrics.h"

static const int STATUS[SRV_STATUS_CODES] = {200, 400, 401, 404, 405, 413, 429, 500, 503, 0}; /* 0: any other */
static const int BUCKET_LE[SRV_BATCH_BUCKETS - 1] = {1, 2, 4, 8, 16, 32, 64};

static int64_t now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

void srv_metrics_init(srv_metrics *m, int slots) {
  memset(m, 0, sizeof *m);
  pthread_mutex_init(&m->mu, NULL);
  m->slots = slots;
}

void srv_metrics_destroy(srv_metrics *m) { pthread_mutex_destroy(&m->mu); }

void srv_metrics_request(srv_metrics *m, int status) {
  int i = 0;
  while (i < SRV_STATUS_CODES - 1 && STATUS[i] != status) i++;
  pthread_mutex_lock(&m->mu);
  m->requests[i]++;
  pthread_mutex_unlock(&m->mu);
}

void srv_metrics_cancelled(srv_metrics *m) {
  pthread_mutex_lock(&m->mu);
  m->cancelled++;
  pthread_mutex_unlock(&m->mu);
}

void srv_metrics_tokens(srv_metrics *m, int prompt, int generated) {
  int64_t s = now_s();
  pthread_mutex_lock(&m->mu);
  m->prompt_tokens += (uint64_t)prompt;
  m->generated_tokens += (uint64_t)generated;
  int k = (int)(s % SRV_TPS_WINDOW);
  if (m->tps_second[k] != s) m->tps_second[k] = s, m->tps_tokens[k] = 0;
  m->tps_tokens[k] += (uint64_t)generated;
  pthread_mutex_unlock(&m->mu);
}

void srv_metrics_batch(srv_metrics *m, int sessions) {
  int b = 0;
  while (b < SRV_BATCH_BUCKETS - 1 && sessions > BUCKET_LE[b]) b++;
  pthread_mutex_lock(&m->mu);
  m->batch[b]++;
  m->batch_steps++;
  m->batch_sessions += (uint64_t)sessions;
  pthread_mutex_unlock(&m->mu);
}

void srv_metrics_gauges(srv_metrics *m, int running, int queued) {
  pthread_mutex_lock(&m->mu);
  m->running = running, m->queued = queued;
  pthread_mutex_unlock(&m->mu);
}

void srv_metrics_ready(srv_metrics *m) {
  pthread_mutex_lock(&m->mu);
  m->ready = 1;
  pthread_mutex_unlock(&m->mu);
}

void srv_metrics_text(srv_metrics *m, dp_buf *b) {
  int64_t s = now_s();
  pthread_mutex_lock(&m->mu);
  dp_buf_puts(b, "# HELP doppler_requests_total Completion requests answered, by HTTP status.\n"
                 "# TYPE doppler_requests_total counter\n");
  for (int i = 0; i < SRV_STATUS_CODES; i++)
    if (STATUS[i]) dp_buf_printf(b, "doppler_requests_total{status=\"%d\"} %llu\n", STATUS[i], (unsigned long long)m->requests[i]);
    else dp_buf_printf(b, "doppler_requests_total{status=\"other\"} %llu\n", (unsigned long long)m->requests[i]);
  dp_buf_printf(b, "# HELP doppler_requests_cancelled_total Generations cancelled because the client disconnected.\n"
                   "# TYPE doppler_requests_cancelled_total counter\ndoppler_requests_cancelled_total %llu\n",
                (unsigned long long)m->cancelled);
  dp_buf_printf(b, "# HELP doppler_prompt_tokens_total Prompt tokens prefilled.\n"
                   "# TYPE doppler_prompt_tokens_total counter\ndoppler_prompt_tokens_total %llu\n",
                (unsigned long long)m->prompt_tokens);
  dp_buf_printf(b, "# HELP doppler_generated_tokens_total Tokens generated.\n"
                   "# TYPE doppler_generated_tokens_total counter\ndoppler_generated_tokens_total %llu\n",
                (unsigned long long)m->generated_tokens);
  uint64_t recent = 0;
  for (int k = 0; k < SRV_TPS_WINDOW; k++)
    if (s - m->tps_second[k] < SRV_TPS_WINDOW) recent += m->tps_tokens[k];
  dp_buf_printf(b, "# HELP doppler_tokens_per_second Tokens generated per second, all sessions, over the last %d s.\n"
                   "# TYPE doppler_tokens_per_second gauge\ndoppler_tokens_per_second %.3f\n",
                SRV_TPS_WINDOW, (double)recent / SRV_TPS_WINDOW);
  dp_buf_printf(b, "# HELP doppler_requests_running Requests generating (at most doppler_slots).\n"
                   "# TYPE doppler_requests_running gauge\ndoppler_requests_running %d\n"
                   "# HELP doppler_queue_depth Requests waiting for a slot.\n"
                   "# TYPE doppler_queue_depth gauge\ndoppler_queue_depth %d\n"
                   "# HELP doppler_slots Sessions decoding at once (--parallel).\n"
                   "# TYPE doppler_slots gauge\ndoppler_slots %d\n"
                   "# HELP doppler_model_loaded 1 once the model has loaded.\n"
                   "# TYPE doppler_model_loaded gauge\ndoppler_model_loaded %d\n",
                m->running, m->queued, m->slots, m->ready);
  dp_buf_puts(b, "# HELP doppler_batch_size Sessions per decode step.\n# TYPE doppler_batch_size histogram\n");
  uint64_t cum = 0;
  for (int i = 0; i < SRV_BATCH_BUCKETS; i++) {
    cum += m->batch[i];
    if (i < SRV_BATCH_BUCKETS - 1) dp_buf_printf(b, "doppler_batch_size_bucket{le=\"%d\"} %llu\n", BUCKET_LE[i], (unsigned long long)cum);
    else dp_buf_printf(b, "doppler_batch_size_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
  }
  dp_buf_printf(b, "doppler_batch_size_sum %llu\ndoppler_batch_size_count %llu\n", (unsigned long long)m->batch_sessions,
                (unsigned long long)m->batch_steps);
  pthread_mutex_unlock(&m->mu);
}
