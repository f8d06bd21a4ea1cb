/* gpu_kernels_variants.c -- every entry of the ops' variant table (dp_kernel_variant_get, as
 * `doppler bench kernels --list` prints it) that can run on this adapter
 * (dp_ops_variant_available) runs through dp_kernel_check (src/api/kernel_check.c): a small
 * problem that makes its op pick it, outputs poisoned first, compared with the CPU reference,
 * and checked to be the variant that ran. An entry the check does not know fails, so a variant
 * added to the table cannot go untested. Then the hot-swap path of the ops: the built-in module
 * given back as a replacement passes the same check, and a replacement that computes something
 * else fails it. The per-op tests (gpu_kernels_*.c) cover the edge shapes. */
#include "gpu_kernels_util.h"
#include "api/kernel_check.h"

int main(void) {
  if (kt_open()) return dp_test_summary("gpu_kernels_variants");
  size_t n = dp_kernel_variant_count(), ran = 0;
  for (size_t i = 0; i < n; i++) {
    dp_kernel_variant e;
    KT_OK(dp_kernel_variant_get(i, &e));
    if (!dp_ops_variant_available(O, i)) { printf("  %-40s not on this adapter (%s)\n", e.name, e.condition); continue; }
    double worst = 0;
    dp_status st = dp_kernel_check(O, i, &worst);
    printf("  %-40s %-10s rel err %.2e\n", e.name, e.op, worst);
    CHECK(st == DP_OK, "%s: %s", e.name, dp_error_message());
    ran++;
  }
  printf("%zu of %zu variants run\n", ran, n);
  CHECK(ran > 0, "no variant ran");

  /* hot swap: the dumped module is accepted; the same module with the sum's sign flipped is not */
  long a = dp_kernel_variant_find("add");
  CHECK(a >= 0, "no variant 'add'");
  if (a >= 0) {
    const char *src = dp_ops_variant_source(O, (size_t)a);
    CHECK(src != NULL, "add: %s", dp_error_message());
    char *same = src ? strdup(src) : NULL, *bad = src ? strdup(src) : NULL;
    char *at = bad ? strstr(bad, "Y[i] = A[i] + B[i]") : NULL;
    CHECK(at != NULL, "add.wgsl no longer computes `Y[i] = A[i] + B[i]`: update this test");
    KT_OK(dp_ops_variant_replace(O, (size_t)a, same));
    CHECK(dp_kernel_check(O, (size_t)a, NULL) == DP_OK, "add, its own module swapped in: %s", dp_error_message());
    if (at) {
      at[12] = '-';
      KT_OK(dp_ops_variant_replace(O, (size_t)a, bad));
      dp_status st = dp_kernel_check(O, (size_t)a, NULL);
      CHECK(st != DP_OK, "add computing a - b passed the check");
      printf("  add swapped for a - b: %s\n", dp_error_message());
    }
    KT_OK(dp_ops_variant_replace(O, (size_t)a, NULL));
    CHECK(dp_kernel_check(O, (size_t)a, NULL) == DP_OK, "add, built-in again: %s", dp_error_message());
    free(same);
    free(bad);
  }
  kt_close();
  return dp_test_summary("gpu_kernels_variants");
}
