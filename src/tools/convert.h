/* convert.h -- `doppler convert`: any model source (HF dir, GGUF, RDRR) -> RDRR directory, or
 * a GGUF file when dst ends in ".gguf". Atomic (temporary name, checked by reopening it, renamed
 * at the end), deterministic (same input and options give byte-identical output), and it only
 * ever replaces what it recognises as a model it wrote (rdrr.h dp_rdrr_check_replaceable);
 * leftovers of killed converters are removed first (dp_convert_remove_stale). */
#ifndef DP_FORMAT_CONVERT_H
#define DP_FORMAT_CONVERT_H
#include <stdint.h>
#include "core/dtype.h"
#include "doppler_status.h"

struct dp_tensor_info;
typedef struct dp_convert_progress {
  uint64_t tensors_done, tensors;   /* output tensors written so far / in all */
  uint64_t bytes_done, bytes;       /* source tensor bytes read so far / in all */
  double seconds;                   /* since the first tensor */
  int final;                        /* 1: the conversion finished (the last call) */
} dp_convert_progress;

typedef struct dp_convert_opts {
  const char *quant;    /* NULL: keep stored types; f32|f16|bf16|q8_0|q4_k|q6_k|q4_k_m|mxfp4 (experts MXFP4, other matrices q8_0) */
  uint64_t shard_size;  /* RDRR shard bytes; 0 = 64 MiB */
  /* Progress: called as chunks are written (at most every 0.1 s) and once at the end with
   * final = 1. NULL: none. The converter itself prints nothing; the CLI draws it on stderr. */
  void (*progress)(void *ctx, const struct dp_convert_progress *p);
  void *progress_ctx;
  /* Polled between chunks; non-zero stops the conversion: the temporary output is removed and
   * DP_ERR_CANCELLED returned. NULL: never. The CLI's SIGINT/SIGTERM handler drives it. */
  int (*cancelled)(void *ctx);
  void *cancel_ctx;
  /* Optional: a full load check of a model path (the CLI passes dp_model_check: layer plan,
   * every tensor's shape, tokenizer). Called on the source before anything is written and on
   * the finished temporary output before it is renamed into place; an error fails the
   * conversion and nothing is left at OUT. The converter itself always reopens its output and
   * compares every tensor's name, shape and type with the source. */
  dp_status (*check)(const char *path, void *ctx);
  void *check_ctx;
  /* Optional synthetic source (synth --quant, tools/synth.h): when set, no tensor byte of the
   * source is read (its data may be a sparse file of zeros) and gen writes the data instead:
   * rows [row0, row0 + rows) of row_len elements of source tensor t, as dt's blocks when dt is
   * a block type (Q8_0, Q4_K, Q6_K, MXFP4), else as f32 values (then converted to the output
   * type as read values are). Called from several threads at once on disjoint row ranges
   * (core/parallel.h, 8 Mi elements per step): what it writes must depend only on its
   * arguments, so the output is the same for any thread count. Type choice, GGUF transforms,
   * writers and the output check are the converter's as for any source. */
  void (*gen)(void *ctx, const struct dp_tensor_info *t, dp_dtype dt, uint64_t row_len, uint64_t row0, uint64_t rows, void *out);
  void *gen_ctx;
} dp_convert_opts;

dp_status dp_convert(const char *src, const char *dst, const dp_convert_opts *o);
/* The output check dp_convert makes first (after removing dead converters' leftovers): dst may
 * be absent, a GGUF file for a .gguf path, an empty directory or an RDRR directory this project
 * wrote (dp_rdrr_check_replaceable); anything else is DP_ERR_INVALID_ARG, left untouched. */
dp_status dp_convert_check_output(const char *dst);
/* 1 if quant names a type dp_convert accepts (f32, f16, bf16, q8_0, q4_k, q6_k, q4_k_m). */
int dp_convert_quant_known(const char *quant);
/* The stored type a tensor gets (exposed for tests and inspect). quant as in opts. */
struct dp_model_file;
dp_status dp_convert_tensor_type(const struct dp_model_file *mf, const struct dp_tensor_info *t, const char *quant, dp_dtype *out, int *fell_back);
#endif
