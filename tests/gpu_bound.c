/* gpu_bound.c -- bind groups made once (gpu.h dp_gpu_bound, ops.h dispatch sites):
 * * device layer: one bound kernel dispatched 4 times in one submit with different parameters
 *   (a uniform slot each, static offsets) writes 4 different values; its slots grow to 4 (at
 *   most 7 bind groups), and 4 more dispatches in the next submit create none; 100 dispatches
 *   in one submit (past the 64 slots: a flush) and a bound freed before its dispatches are
 *   submitted write what they were given; a binding
 *   the entry point does not use may be left out (placeholder); more bindings than the module
 *   declares is refused naming the kernel; dp_wgsl_layout reads declarations (comments
 *   skipped) and refuses bad ones;
 * * runtime: on doppler-tiny (../shared/models/doppler-tiny), greedy decode in batches of 4:
 *   after the first batches, 24 more tokens create 0 bind groups and compile 0 pipelines while
 *   dispatching; the 32 ids match the CPU reference by the fixtures' greedy-ids rule.
 * About 3 s on lavapipe. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "gpu/gpu.h"
#include "gpu/wgsl_layout.h"
#include "runtime/runtime.h"
#include "testlib.h"

static const char *k_set =
    "struct Params { idx: u32, val: u32, p0: u32, p1: u32 }\n"
    "@group(0) @binding(0) var<uniform> P: Params;\n"
    "// @group(0) @binding(5) var<storage, read> commented_out: array<u32>;\n"
    "@group(0) @binding(1) var<storage, read_write> out: array<u32>;\n"
    "@group(0) @binding(2) var<storage, read> unused: array<u32>;\n"
    "@compute @workgroup_size(1) fn main() { out[P.idx] = P.val; }\n";

static void device_checks(dp_gpu *g) {
  uint8_t kinds[DP_WGSL_MAX_BINDINGS];
  size_t n = 0;
  dp_status st = dp_wgsl_layout(k_set, kinds, &n);
  CHECK(!st && n == 3 && kinds[0] == DP_WGSL_UNIFORM && kinds[1] == DP_WGSL_STORAGE_RW && kinds[2] == DP_WGSL_STORAGE_RO,
        "layout: st %d n %zu kinds %d %d %d", st, n, kinds[0], kinds[1], kinds[2]);
  st = dp_wgsl_layout("@group(0) @binding(3) var W: texture_2d<u32>;", kinds, &n);
  CHECK(!st && n == 4 && kinds[3] == DP_WGSL_TEXTURE_U32 && !kinds[1], "texture layout: st %d n %zu", st, n);
  CHECK(dp_wgsl_layout("@group(1) @binding(0) var<uniform> P: u32;", kinds, &n) == DP_ERR_INVALID_ARG, "group 1 refused");
  CHECK(dp_wgsl_layout("@group(0) @binding(2) var<uniform> P: u32;", kinds, &n) == DP_ERR_INVALID_ARG, "uniform at 2 refused");
  CHECK(dp_wgsl_layout("@group(0) @binding(1) var<storage, read> a: array<u32>;\n"
                       "@group(0) @binding(1) var<storage, read_write> b: array<u32>;", kinds, &n) == DP_ERR_INVALID_ARG,
        "conflicting redeclaration refused");

  dp_gpu_kernel *k = NULL;
  dp_gpu_buffer *out = NULL;
  st = dp_gpu_kernel_get(g, "bound_set", k_set, "main", NULL, 0, &k);
  if (!st) st = dp_gpu_buffer_create(g, 256, "bound-out", &out);
  CHECK(!st, "kernel: %s", dp_error_message());
  if (st) return;
  uint32_t zero[64] = {0};
  dp_gpu_buffer_write(g, out, 0, zero, sizeof zero);
  dp_gpu_buffer *big = NULL;
  dp_gpu_binding b = {out, 0, 0, NULL};
  uint64_t bg0 = dp_gpu_bind_group_count(g), d0 = dp_gpu_dispatch_count(g);
  dp_gpu_bound *bd = NULL;
  st = dp_gpu_bound_create(g, k, 16, &b, 1, &bd); /* binding 2 left out: a placeholder */
  CHECK(!st, "bound: %s", dp_error_message());
  if (st) { dp_gpu_buffer_free(out); return; }
  uint32_t vals[4];
  for (uint32_t i = 0; i < 4; i++) {
    vals[i] = dp_test_rand_u32() | 1u;
    uint32_t p[4] = {i * 3, vals[i], 0, 0};
    st = dp_gpu_dispatch_bound(g, bd, p, 1, 1, 1);
    CHECK(!st, "dispatch %u: %s", i, dp_error_message());
  }
  uint32_t got[16];
  st = dp_gpu_buffer_read(g, out, 0, got, sizeof got);
  CHECK(!st, "read: %s", dp_error_message());
  for (uint32_t i = 0; !st && i < 4; i++) CHECK(got[i * 3] == vals[i], "dispatch %u wrote %u, expected %u", i, got[i * 3], vals[i]);
  CHECK(!st && got[1] == 0 && got[2] == 0, "nothing written between: %u %u", got[1], got[2]);
  uint64_t made = dp_gpu_bind_group_count(g) - bg0;
  CHECK(made >= 1 && made <= 7, "bind groups for 4 dispatches (slots 1, 2, 4): %llu", (unsigned long long)made);
  CHECK(dp_gpu_dispatch_count(g) - d0 == 4, "4 dispatches counted");
  /* the next submit: the same 4 slots, no bind group */
  bg0 = dp_gpu_bind_group_count(g);
  for (uint32_t i = 0; !st && i < 4; i++) {
    vals[i] = dp_test_rand_u32() | 1u;
    uint32_t p[4] = {i * 3 + 1, vals[i], 0, 0};
    st = dp_gpu_dispatch_bound(g, bd, p, 1, 1, 1);
  }
  if (!st) st = dp_gpu_buffer_read(g, out, 0, got, sizeof got);
  CHECK(!st, "second submit: %s", dp_error_message());
  for (uint32_t i = 0; !st && i < 4; i++) CHECK(got[i * 3 + 1] == vals[i], "second submit: dispatch %u wrote %u, expected %u", i, got[i * 3 + 1], vals[i]);
  CHECK(dp_gpu_bind_group_count(g) - bg0 == 0, "second submit: %llu bind groups", (unsigned long long)(dp_gpu_bind_group_count(g) - bg0));
  dp_gpu_bound_free(bd);
  /* 100 dispatches in one submit: past the slots' cap the recording is flushed */
  enum { MANY = 100 };
  static uint32_t want[MANY], many[MANY];
  st = dp_gpu_buffer_create(g, MANY * 4, "bound-many", &big);
  dp_gpu_binding bb = {big, 0, 0, NULL};
  if (!st) st = dp_gpu_bound_create(g, k, 16, &bb, 1, &bd);
  for (uint32_t i = 0; !st && i < MANY; i++) {
    want[i] = dp_test_rand_u32();
    uint32_t p[4] = {i, want[i], 0, 0};
    st = dp_gpu_dispatch_bound(g, bd, p, 1, 1, 1);
  }
  if (!st) st = dp_gpu_buffer_read(g, big, 0, many, sizeof many);
  CHECK(!st, "%d dispatches: %s", MANY, dp_error_message());
  for (uint32_t i = 0; !st && i < MANY; i++)
    if (many[i] != want[i]) { CHECK(0, "dispatch %u of %d wrote %u, expected %u", i, MANY, many[i], want[i]); break; }
  /* freed before its dispatches are submitted: they still read their parameters */
  if (!st) {
    uint32_t p[4] = {5, 0xC0FFEEu, 0, 0};
    st = dp_gpu_dispatch_bound(g, bd, p, 1, 1, 1);
  }
  dp_gpu_bound_free(bd);
  if (!st) st = dp_gpu_buffer_read(g, big, 5 * 4, many, 4);
  CHECK(!st && many[0] == 0xC0FFEEu, "bound freed before submit: %s, wrote %x", st ? dp_error_message() : "ok", many[0]);
  dp_gpu_buffer_free(big);
  /* more bindings than declared */
  dp_gpu_binding three[3] = {b, b, b};
  st = dp_gpu_bound_create(g, k, 16, three, 3, &bd);
  CHECK(st == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "bound_set"), "3 bindings refused: %d %s", st, dp_error_message());
  /* dp_gpu_dispatch: one bind group per call */
  bg0 = dp_gpu_bind_group_count(g);
  uint32_t p[4] = {7, 99, 0, 0};
  st = dp_gpu_dispatch(g, k, p, sizeof p, &b, 1, 1, 1, 1);
  if (!st) st = dp_gpu_buffer_read(g, out, 7 * 4, got, 4);
  CHECK(!st && got[0] == 99 && dp_gpu_bind_group_count(g) - bg0 == 1, "dp_gpu_dispatch: %s", st ? dp_error_message() : "");
  dp_gpu_buffer_free(out);
}

typedef struct ids_acc { int32_t ids[64]; int n; } ids_acc;
static int on_ids(void *user, const int32_t *ids, size_t n) {
  ids_acc *a = user;
  for (size_t i = 0; i < n && a->n < 64; i++) a->ids[a->n++] = ids[i];
  return 0;
}

static void decode_checks(dp_gpu *g) {
  const char *path = dp_test_shared("models/doppler-tiny");
  dp_model_file *mf = NULL;
  dp_rt_model *m = NULL;
  dp_rt_session *s = NULL;
  dp_status st = dp_model_file_open(path, &mf);
  if (!st) st = dp_rt_model_load(g, mf, &m);
  if (!st) st = dp_rt_session_create(m, 256, 0, 4, &s);
  CHECK(!st, "load %s: %s", path, dp_error_message());
  enum { T = 5, WARM = 8, MORE = 24, N = WARM + MORE };
  const int32_t prompt[T] = {1, 415, 2083, 300, 17};
  dp_rt_sampling sp = {0};
  sp.no_eos = 1;
  ids_acc acc = {{0}, 0};
  int got = 0;
  if (!st) st = dp_rt_eval(s, prompt, T, NULL);
  if (!st) st = dp_rt_generate(s, &sp, WARM, on_ids, &acc, &got, NULL);
  CHECK(!st && got == WARM, "warm-up: %d tokens: %s", got, st ? dp_error_message() : "");
  uint64_t bg0 = dp_gpu_bind_group_count(g), k0 = dp_gpu_kernel_count(g), d0 = dp_gpu_dispatch_count(g);
  if (!st) st = dp_rt_generate(s, &sp, MORE, on_ids, &acc, &got, NULL);
  CHECK(!st && got == MORE, "steady state: %d tokens: %s", got, st ? dp_error_message() : "");
  uint64_t bg = dp_gpu_bind_group_count(g) - bg0, kc = dp_gpu_kernel_count(g) - k0, dd = dp_gpu_dispatch_count(g) - d0;
  printf("steady-state decode of %d tokens: %llu dispatches, %llu bind groups, %llu pipelines\n", MORE,
         (unsigned long long)dd, (unsigned long long)bg, (unsigned long long)kc);
  CHECK(!st && dd >= (uint64_t)MORE * 8, "dispatches recorded: %llu", (unsigned long long)dd);
  CHECK(!st && bg == 0, "bind groups created in steady-state decode: %llu", (unsigned long long)bg);
  CHECK(!st && kc == 0, "pipelines compiled in steady-state decode: %llu", (unsigned long long)kc);
  CHECK(!st && s->sites[DP_RT_SITES_BODY] && dp_op_sites_count(s->sites[DP_RT_SITES_BODY]) > 0, "body sites resolved");
  /* outputs unchanged: the CPU reference's greedy ids */
  int V = m ? m->plan->vocab_size : 0;
  float *lg = dp_malloc((size_t)T * V * sizeof *lg), *gl = dp_malloc((size_t)N * V * sizeof *gl);
  int32_t ref[N];
  if (!st && lg && gl) {
    st = dp_test_ref_greedy(path, prompt, T, N, lg, ref, gl);
    CHECK(!st, "reference: %s", dp_error_message());
    int agree = 0;
    int bad = st ? 0 : dp_test_greedy_diverges(acc.ids, ref, gl, N, V, &agree);
    CHECK(!st && acc.n == N && bad < 0, "greedy ids vs the CPU reference: diverge at %d (%d agree)", bad, agree);
  }
  dp_free(lg);
  dp_free(gl);
  dp_rt_session_free(s);
  dp_rt_model_free(m);
  dp_model_file_close(mf);
}

int main(void) {
  dp_gpu *g = NULL;
  dp_status st = dp_gpu_open(NULL, &g);
  CHECK(!st, "open: %s", dp_error_message());
  if (st) return dp_test_summary("gpu_bound");
  device_checks(g);
  decode_checks(g);
  dp_gpu_close(g);
  return dp_test_summary("gpu_bound");
}
