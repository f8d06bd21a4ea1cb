/* gguf_names.h -- HF tensor names <-> llama.cpp GGUF tensor names, per architecture, with
 * the transforms llama.cpp applies on the way to GGUF:
 *   DP_GN_PERM_Q / DP_GN_PERM_K: llama-family q/k rows permuted (heads of n_heads / n_kv_heads)
 *   DP_GN_NORM1: Gemma norm weights stored as w + 1
 *   DP_GN_EXPERT: HF per-expert tensor <-> one slice of the merged GGUF [E, out, in] tensor */
#ifndef DP_FORMAT_GGUF_NAMES_H
#define DP_FORMAT_GGUF_NAMES_H
#include <stddef.h>
#include "format/hparams.h"

enum { DP_GN_PERM_Q = 1, DP_GN_PERM_K = 2, DP_GN_NORM1 = 4, DP_GN_EXPERT = 8 };

/* HF name -> GGUF name. *layer, *expert: -1 when absent. Returns 0, or -1 if unmapped. */
int dp_gguf_name_from_hf(dp_arch a, const char *hf, char *out, size_t cap, int *layer, int *expert, int *flags);
/* GGUF name (+ expert index for merged tensors) -> HF name. Returns 0, or -1 if unmapped.
 * *flags tells whether the GGUF tensor is a merged expert tensor (DP_GN_EXPERT). */
int dp_gguf_name_to_hf(dp_arch a, const char *gguf, int expert, char *out, size_t cap, int *layer, int *flags);
/* llama.cpp's general.architecture for a dp_arch ("llama", "qwen3", "gemma3", "gpt-oss"). */
const char *dp_gguf_arch_name(dp_arch a);
#endif
