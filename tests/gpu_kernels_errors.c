/* gpu_kernels_errors.c -- failures surface as engine errors: a WGSL compile error returns
 * DP_ERR_GPU with the shader compiler's message; ops reject bad shapes, misaligned views,
 * views past their buffer and unsupported types with one-line messages, recording nothing. */
#include "gpu_kernels_util.h"

int main(void) {
  if (kt_open()) return dp_test_summary("gpu_kernels_errors");
  const char *bad = "@compute @workgroup_size(64)\nfn main() {\n  let x: u32 = undefined_thing;\n}\n";
  dp_gpu_kernel *k = NULL;
  dp_status s = dp_gpu_kernel_get(G, "broken", bad, "main", NULL, 0, &k);
  printf("  compile error: status %s: %s\n", dp_status_name(s), dp_error_message());
  CHECK(s == DP_ERR_GPU, "broken WGSL gave status %d", s);
  CHECK(strstr(dp_error_message(), "undefined_thing") != NULL, "message lacks the shader's text: %s", dp_error_message());

  dp_gpu_buffer *a = kt_buf(1024), *b = kt_buf(1024);
  s = dp_op_matmul(O, kv(a), kv(b), kv(b), DP_Q4_K, dp_view_of(NULL, 0), 1, 1, 100, 0);
  printf("  bad K: %s\n", dp_error_message());
  CHECK(s == DP_ERR_INVALID_ARG, "q4_k with K=100 gave %d", s);
  s = dp_op_add(O, kv(a), dp_view_of(b, 4), kv(b), 8);
  printf("  misaligned: %s\n", dp_error_message());
  CHECK(s == DP_ERR_INVALID_ARG, "misaligned view gave %d", s);
  s = dp_op_add(O, kv(a), kv(a), kv(b), 1000);
  printf("  past the buffer: %s\n", dp_error_message());
  CHECK(s == DP_ERR_INVALID_ARG, "oversized add gave %d", s);
  s = dp_op_matmul(O, kv(a), kv(b), kv(b), DP_I32, dp_view_of(NULL, 0), 1, 1, 4, 0);
  printf("  unsupported: %s\n", dp_error_message());
  CHECK(s == DP_ERR_UNSUPPORTED, "i32 weights gave %d", s);
  dp_attn_desc d = {1, 3, 2, 8, 0, 4, 0, 1, 0};
  s = dp_op_attention(O, &d, kv(a), kv(b), kv(b), kv(b), dp_view_of(NULL, 0));
  printf("  bad heads: %s\n", dp_error_message());
  CHECK(s == DP_ERR_INVALID_ARG, "3 heads over 2 kv heads gave %d", s);
  CHECK(dp_gpu_finish(G) == DP_OK, "device unhappy after rejected ops: %s", dp_error_message());
  dp_gpu_buffer_free(a); dp_gpu_buffer_free(b);
  kt_close();
  return dp_test_summary("gpu_kernels_errors");
}
