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
/* Apply the edit to DIR/manifest.json (atomically) or, with dry_run, only describe it.
 * `report` receives one line per change. Unsafe edits without allow_unsafe: DP_ERR_INVALID_ARG. */
dp_status dp_manifest_update(const char *dir, const dp_manifest_edit *e, dp_buf *report);
#endif
