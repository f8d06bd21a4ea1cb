/* parallel.h -- the one way this project runs CPU work on several threads: a parallel for over
 * an index range, split into contiguous runs (so a result never depends on the thread count).
 * Used by the block quantizers (quant/quantize.c) and the converter's synthetic source
 * (tools/convert.c, synth --quant). Native builds use pthreads; the WebAssembly build has no
 * threads and runs everything on the caller's thread. */
#ifndef DP_CORE_PARALLEL_H
#define DP_CORE_PARALLEL_H
#include <stdint.h>

#define DP_PARALLEL_MAX 16 /* threads at most (the online CPUs if fewer) */

/* fn(ctx, i0, i1) over [0, n) in up to DP_PARALLEL_MAX contiguous runs of at least `grain`
 * items each (fewer runs when n is small; n < 2 * grain: one call on the caller's thread).
 * The caller's thread runs the first run; a run whose thread cannot be started runs on the
 * caller's thread too. fn must only write what its own run owns. Returns when all are done. */
void dp_parallel_for(uint64_t n, uint64_t grain, void (*fn)(void *ctx, uint64_t i0, uint64_t i1), void *ctx);
/* The number of runs dp_parallel_for would use for n items of that grain (1 in WebAssembly). */
int dp_parallel_runs(uint64_t n, uint64_t grain);
#endif
