/* convert.h -- `doppler convert`: any model source (HF dir, GGUF, RDRR) -> RDRR directory, or
 * a GGUF file when dst ends in ".gguf". Atomic (temporary name, renamed at the end), and
 * deterministic (same input and options give byte-identical output). */
#ifndef DP_FORMAT_CONVERT_H
#define DP_FORMAT_CONVERT_H
#include <stdint.h>
#include "core/dtype.h"
#include "doppler_status.h"

typedef struct dp_convert_opts {
  const char *quant;    /* NULL: keep stored types; f32|f16|bf16|q8_0|q4_k|q6_k|q4_k_m */
  uint64_t shard_size;  /* RDRR shard bytes; 0 = 64 MiB */
  int progress;         /* 1: progress bar on stderr (the CLI sets it only on a terminal) */
  /* Polled between chunks; non-zero stops the conversion: the temporary output is removed and
   * DP_ERR_CANCELLED returned. NULL: never. The CLI's SIGINT/SIGTERM handler drives it. */
  int (*cancelled)(void *ctx);
  void *cancel_ctx;
} dp_convert_opts;

dp_status dp_convert(const char *src, const char *dst, const dp_convert_opts *o);
/* The output check dp_convert makes first: dst may be a .gguf path, or absent, an empty
 * directory or an RDRR directory (replaced); anything else is DP_ERR_INVALID_ARG. */
dp_status dp_convert_check_output(const char *dst);
/* 1 if quant names a type dp_convert accepts (f32, f16, bf16, q8_0, q4_k, q6_k, q4_k_m). */
int dp_convert_quant_known(const char *quant);
/* The stored type a tensor gets (exposed for tests and inspect). quant as in opts. */
struct dp_model_file;
struct dp_tensor_info;
dp_status dp_convert_tensor_type(const struct dp_model_file *mf, const struct dp_tensor_info *t, const char *quant, dp_dtype *out, int *fell_back);
#endif
