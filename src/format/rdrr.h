/* rdrr.h -- the RDRR model directory (docs/formats.md is the spec):
 *   manifest.json      {"format": "rdrr", "version": 1, "model_id", "architecture", "hparams",
 *                       "tokenizer", "quantization", "hints", "shard_size", "alignment",
 *                       "shards": [{file, size, sha256}], "tensors": [{name, dtype, shape,
 *                       shard, offset, size, layout[, layer, expert]}]}
 *   shard_00000.bin ... 64 MiB by default; tensors start 256-byte aligned and may run on into
 *                       the next shard (the shards form one address space); zero padding.
 *   tokenizer.json, tokenizer_config.json (copied from an HF source), tokenizer.gguf (the
 *                       tokenizer.ggml.* metadata of a GGUF source, as a tensor-less GGUF).
 * Reading (dp_model_file_open on the directory) validates shards (missing, extra, truncated)
 * and tensors (bounds, dtype/shape vs size, layout) with errors naming file and tensor; each
 * shard's SHA-256 is checked when it is first read (before any of its bytes are returned), or
 * all at open with DOPPLER_VERIFY=1 / dp_model_file_verify (docs/formats.md). */
#ifndef DP_FORMAT_RDRR_H
#define DP_FORMAT_RDRR_H
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"
#include "doppler_status.h"

#define DP_RDRR_VERSION 1
#define DP_RDRR_SHARD_SIZE (64ull << 20)
#define DP_RDRR_ALIGN 256
#define DP_RDRR_LAYOUT_GGUF "gguf-blocks" /* GGUF block order, rows contiguous, row-major */

/* Validate a manifest text alone (structure, tensor table, shard table): for the fuzzer and
 * update-manifest. `what` names it in errors. */
dp_status dp_rdrr_manifest_check(const char *text, size_t len, const char *what);

#endif
