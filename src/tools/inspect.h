/* inspect.h -- model summaries for `doppler inspect` and the manifest editor behind
 * `doppler update-manifest` (both kept here so tests can drive them without the CLI). */
#ifndef DP_FORMAT_INSPECT_H
#define DP_FORMAT_INSPECT_H
#include <stdint.h>
#include "core/buf.h"
#include "format/model_file.h"

/* Logical parameter count: elements of every tensor (a quantized or MXFP4 tensor counts its
 * elements, scales are not parameters; lm_head is skipped when it is tied to the embedding). */
uint64_t dp_model_params(const dp_model_file *mf);
/* JSON (json=1: keys architecture, n_params, tensors[{name, dtype, shape, bytes}], ...) or text. */
dp_status dp_inspect(dp_model_file *mf, int json, dp_buf *out);

typedef struct dp_manifest_edit {
  const char *q4k_matmul;        /* fused|dequant or NULL */
  const char *compute_precision; /* f16|f32 or NULL */
  const char *q4k_layout;        /* a tensor layout for every q4_k tensor, or NULL (unsafe) */
  int dry_run, allow_unsafe;
} dp_manifest_edit;
/* Apply the edit to DIR/manifest.json (atomically) or, with dry_run, only describe it, under an
 * exclusive lock on DIR (concurrent editors take turns, no edit is lost). `report` receives one
 * line per change with the value it replaces (the same flag with that value undoes it). Unsafe
 * edits without allow_unsafe: DP_ERR_INVALID_ARG; any edit whose result would not load (checked
 * with the reader's full open): refused, nothing written. The input need not load, so a layout
 * an older tool changed can be changed back. */
dp_status dp_manifest_update(const char *dir, const dp_manifest_edit *e, dp_buf *report);
#endif
