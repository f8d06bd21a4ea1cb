/* parallel.c -- dp_parallel_for (see parallel.h). Depends on nothing else in the project. */
#include "core/parallel.h"
#ifndef __wasm__ /* the WebAssembly build has no threads: the caller's thread does everything */
#include <pthread.h>
#include <unistd.h>
#endif

typedef struct pjob {
  void (*fn)(void *, uint64_t, uint64_t);
  void *ctx;
  uint64_t i0, i1;
} pjob;

#ifndef __wasm__
static void *pjob_run(void *a) {
  pjob *j = a;
  j->fn(j->ctx, j->i0, j->i1);
  return 0;
}
#endif

int dp_parallel_runs(uint64_t n, uint64_t grain) {
#ifdef __wasm__
  (void)n, (void)grain;
  return 1;
#else
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  uint64_t by_size = grain ? n / grain : n;
  uint64_t nt = ncpu < 2 ? 1 : ncpu < DP_PARALLEL_MAX ? (uint64_t)ncpu : DP_PARALLEL_MAX;
  if (by_size < nt) nt = by_size ? by_size : 1;
  return (int)nt;
#endif
}

void dp_parallel_for(uint64_t n, uint64_t grain, void (*fn)(void *ctx, uint64_t i0, uint64_t i1), void *ctx) {
  if (!n) return;
  int nt = dp_parallel_runs(n, grain);
  if (nt <= 1) {
    fn(ctx, 0, n);
    return;
  }
#ifndef __wasm__
  pjob jobs[DP_PARALLEL_MAX];
  pthread_t th[DP_PARALLEL_MAX];
  int started[DP_PARALLEL_MAX] = {0};
  for (int i = 0; i < nt; i++) {
    jobs[i] = (pjob){fn, ctx, n * (uint64_t)i / (uint64_t)nt, n * (uint64_t)(i + 1) / (uint64_t)nt};
    if (i > 0) started[i] = pthread_create(&th[i], 0, pjob_run, &jobs[i]) == 0;
  }
  pjob_run(&jobs[0]);
  for (int i = 1; i < nt; i++) {
    if (started[i]) pthread_join(th[i], 0);
    else pjob_run(&jobs[i]);
  }
#endif
}
