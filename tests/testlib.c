/* testlib.c -- see testlib.h. */
#include "testlib.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/file.h"
#include "format/model_file.h"
#include "ref/forward.h"
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int dp_test_pass, dp_test_fail;
static uint64_t g_state, g_seed;
static int g_seeded;

uint64_t dp_test_seed(void) {
  if (!g_seeded) {
    const char *e = getenv("DP_TEST_SEED");
    g_seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
    g_state = g_seed * 0x9E3779B97F4A7C15ull + 1;
    g_seeded = 1;
    fprintf(stderr, "test seed: DP_TEST_SEED=%llu\n", (unsigned long long)g_seed);
  }
  return g_seed;
}

uint32_t dp_test_rand_u32(void) {
  dp_test_seed();
  g_state ^= g_state << 13; g_state ^= g_state >> 7; g_state ^= g_state << 17;
  return (uint32_t)(g_state >> 32);
}

float dp_test_rand_uniform(float lo, float hi) {
  return lo + (hi - lo) * (float)((dp_test_rand_u32() >> 8) * (1.0 / 16777216.0));
}

float dp_test_rand_normal(void) {
  double u1 = ((dp_test_rand_u32() >> 8) + 1) * (1.0 / 16777217.0);
  double u2 = (dp_test_rand_u32() >> 8) * (1.0 / 16777216.0);
  return (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
}

void dp_test_fill_normal(float *x, size_t n, float scale) {
  for (size_t i = 0; i < n; i++) x[i] = scale * dp_test_rand_normal();
}

double dp_test_rel_err(const float *a, const float *b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - b[i];
    num += d * d;
    den += (double)b[i] * b[i];
  }
  if (den == 0) return num == 0 ? 0 : INFINITY;
  if (isnan(num)) return INFINITY;
  return sqrt(num / den);
}

/* base/rel in the next of a ring of 8 path buffers (up to 8 results in use at once). */
typedef struct path_ring { char buf[8][4096]; int k; } path_ring;
static const char *path_join(path_ring *r, const char *base, const char *rel) {
  r->k = (r->k + 1) % 8;
  snprintf(r->buf[r->k], sizeof r->buf[r->k], "%s/%s", base, rel);
  return r->buf[r->k];
}
static const char *env_join(const char *env, const char *dflt, const char *rel) {
  static path_ring ring;
  const char *base = getenv(env);
  return path_join(&ring, base ? base : dflt, rel);
}
const char *dp_test_shared(const char *rel) { return env_join("DP_SHARED", "../shared", rel); }
const char *dp_test_root(const char *rel) { return env_join("DP_ROOT", ".", rel); }

static char tmp_dir[1024];

static int rm_rf(const char *dir) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd);
}

const char *dp_test_tmp_open(const char *name) {
  const char *t = getenv("TMPDIR");
  snprintf(tmp_dir, sizeof tmp_dir, "%s/dp_test_%s_%ld", t && *t ? t : "/tmp", name, (long)getpid());
  if (rm_rf(tmp_dir) || mkdir(tmp_dir, 0700)) {
    fprintf(stderr, "%s: cannot make the scratch folder %s\n", name, tmp_dir);
    return NULL;
  }
  return tmp_dir;
}

const char *dp_test_tmp(const char *file) {
  static path_ring ring; /* its own: paths under ../shared stay valid however many come here */
  return path_join(&ring, tmp_dir, file);
}

void dp_test_tmp_close(void) {
  if (tmp_dir[0] && rm_rf(tmp_dir)) fprintf(stderr, "cannot remove %s\n", tmp_dir);
}

int dp_test_run_alloc(dp_test_run *r, int t, int n, int V) {
  size_t nl = (size_t)t * (size_t)V, ng = (size_t)n * (size_t)V;
  r->logits = dp_malloc((nl ? nl : 1) * sizeof *r->logits);
  r->gl = dp_malloc((ng ? ng : 1) * sizeof *r->gl);
  r->gen = dp_malloc((n ? (size_t)n : 1) * sizeof *r->gen);
  if (!r->logits || !r->gl || !r->gen) return -1;
  memset(r->logits, 0xff, nl * sizeof *r->logits); /* poison: NaN */
  memset(r->gl, 0xff, ng * sizeof *r->gl);
  memset(r->gen, 0xff, (size_t)n * sizeof *r->gen);
  return 0;
}

void dp_test_run_free(dp_test_run *r) {
  dp_free(r->logits);
  dp_free(r->gl);
  dp_free(r->gen);
  r->logits = r->gl = NULL, r->gen = NULL;
}

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
double dp_test_now(void) { return clock_s(CLOCK_MONOTONIC); }
double dp_test_cpu_now(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

int dp_test_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int dp_test_summary(const char *name) {
  printf("%s: %d passed, %d failed\n", name, dp_test_pass, dp_test_fail);
  return dp_test_fail ? 1 : 0;
}

int dp_test_greedy_diverges(const int32_t *got, const int32_t *ref, const float *ref_logits, int n, int V, int *agree) {
  *agree = n;
  for (int i = 0; i < n; i++) {
    if (got[i] == ref[i]) continue;
    *agree = i;
    const float *row = ref_logits + (size_t)i * (size_t)V;
    float a = -INFINITY, b = -INFINITY;
    for (int j = 0; j < V; j++) {
      if (row[j] > a) b = a, a = row[j];
      else if (row[j] > b) b = row[j];
    }
    return a - b > 1e-3f * fmaxf(1.0f, fabsf(a)) ? i : -1;
  }
  return -1;
}

void dp_test_rm_synth(const char *dir) {
  char p[1200];
  snprintf(p, sizeof p, "%s/config.json", dir);
  unlink(p);
  snprintf(p, sizeof p, "%s/model.safetensors", dir);
  unlink(p);
  rmdir(dir);
}

int dp_test_ref_greedy(const char *path, const int32_t *ids, int T, int n_gen, float *logits, int32_t *gen, float *gl) {
  dp_model_file *mf = NULL;
  dp_ref_model *rm = NULL;
  dp_ref_state *rs = NULL;
  dp_status st = dp_model_file_open(path, &mf);
  if (!st) st = dp_ref_model_load(mf, &rm);
  if (!st) st = dp_ref_state_new(rm, T + n_gen + 1, &rs);
  if (!st) st = dp_ref_greedy(rm, rs, ids, T, n_gen, 1, logits, gen, gl);
  dp_ref_state_free(rs);
  dp_ref_model_free(rm);
  dp_model_file_close(mf);
  return st;
}

int dp_test_file_replace(const char *path, const char *anchor, int n, const char *from, const char *to) {
  char *t;
  size_t len;
  if (dp_file_read_all(path, &t, &len)) return -1;
  char *h = t;
  for (int i = 0; anchor && i < n && h; i++) h = strstr(i ? h + 1 : h, anchor);
  h = h ? strstr(h, from) : NULL;
  if (h) {
    dp_buf b = {0};
    dp_buf_append(&b, t, (size_t)(h - t));
    dp_buf_puts(&b, to);
    dp_buf_puts(&b, h + strlen(from));
    dp_file_write_atomic(path, b.data, b.len);
    dp_buf_free(&b);
  }
  dp_free(t);
  return h ? 0 : -2;
}
