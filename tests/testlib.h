/* testlib.h -- tiny test harness shared by tests/test_*.c (CPU) and tests/gpu_*.c (GPU).
 * CHECK(cond, fmt...) records a failure and goes on; each test binary ends with
 * `return dp_test_summary("name");` which prints "N passed, N failed" and the exit code.
 * Random inputs come from dp_test_rand*(): seeded from $DP_TEST_SEED or the clock, and the
 * seed is printed so a failure can be replayed. Never test on zeros. */
#ifndef DP_TESTLIB_H
#define DP_TESTLIB_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern int dp_test_pass, dp_test_fail;
#define CHECK(cond, ...)                                                         \
  do {                                                                           \
    if (cond) dp_test_pass++;                                                    \
    else {                                                                       \
      dp_test_fail++;                                                            \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);            \
      fprintf(stderr, __VA_ARGS__);                                              \
      fputc('\n', stderr);                                                       \
    }                                                                            \
  } while (0)
int dp_test_summary(const char *name);
uint64_t dp_test_seed(void);
uint32_t dp_test_rand_u32(void);
float dp_test_rand_uniform(float lo, float hi);
float dp_test_rand_normal(void);
void dp_test_fill_normal(float *x, size_t n, float scale);
/* ||a-b|| / ||b|| (Frobenius); 0 when both are zero. */
double dp_test_rel_err(const float *a, const float *b, size_t n);
/* The greedy-ids rule of ../shared/fixtures/README.md: the index of the first step where got
 * differs from ref although the reference's top-2 logit margin there is >= 1e-3 * max(1, |top|),
 * or -1 if none (comparison stops at the first accepted difference). *agree gets the number of
 * leading identical steps. ref_logits: [n, V], the reference's raw logits at each step. */
/* Remove a `doppler synth` output directory (config.json, model.safetensors, the directory). */
void dp_test_rm_synth(const char *dir);
int dp_test_greedy_diverges(const int32_t *got, const int32_t *ref, const float *ref_logits, int n, int V, int *agree);
/* The CPU reference as `doppler logits --cpu` runs it: the model at path, T prompt ids, prompt
 * logits [T, V], then n_gen greedy ids (EOS ignored) and their logits [n_gen, V]. */
int dp_test_ref_greedy(const char *path, const int32_t *ids, int T, int n_gen, float *logits, int32_t *gen, float *gl);
/* A greedy run's outputs as compared with the CPU reference (dp_test_ref_greedy): logits of t
 * prompt positions [t, V], then n greedy ids and their logits [n, V]. dp_test_run_alloc
 * poisons all three (NaN logits, ids -1) so nothing left unwritten passes; 0, or -1 out of
 * memory (dp_test_run_free then still frees what was allocated). */
typedef struct dp_test_run { float *logits, *gl; int32_t *gen; } dp_test_run;
int dp_test_run_alloc(dp_test_run *r, int t, int n, int V);
void dp_test_run_free(dp_test_run *r);
/* Replace the first `from` in the file at path that follows the n-th (1-based) occurrence of
 * `anchor` (anchor NULL: from the start), written back atomically. 0, -1 unreadable, -2 absent. */
int dp_test_file_replace(const char *path, const char *anchor, int n, const char *from, const char *to);
/* Clocks and medians for timings (tests and bench/): seconds on the monotonic clock; seconds of
 * this process's CPU time (user + system, other threads such as lavapipe's workers included:
 * steadier than wall time on a shared machine); a qsort comparison of doubles, ascending. */
double dp_test_now(void);
double dp_test_cpu_now(void);
int dp_test_cmp_double(const void *a, const void *b);
/* Path under ../shared (from $DP_SHARED) or the repo (from $DP_ROOT). These (together) and
 * dp_test_tmp (alone) return the next of 8 static buffers: up to 8 results in use at once. */
const char *dp_test_shared(const char *rel);
const char *dp_test_root(const char *rel);
/* A scratch folder for one test binary: dp_test_tmp_open("NAME") makes $TMPDIR (else /tmp)
 * /dp_test_NAME_PID, emptied first, and returns it (NULL after a message when it cannot);
 * dp_test_tmp("FILE") is FOLDER/FILE; dp_test_tmp_close() removes the folder with everything in it. */
const char *dp_test_tmp_open(const char *name);
const char *dp_test_tmp(const char *file);
void dp_test_tmp_close(void);
#endif
