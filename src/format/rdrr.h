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

typedef struct dp_rdrr_writer dp_rdrr_writer;
/* dir must exist and be empty (the converter passes its temporary directory). */
dp_status dp_rdrr_writer_open(const char *dir, uint64_t shard_size, dp_rdrr_writer **out);
/* Start a tensor of nbytes bytes; the next dp_rdrr_writer_write calls supply exactly them. */
dp_status dp_rdrr_writer_begin(dp_rdrr_writer *w, const char *name, dp_dtype dt, int n_dims, const uint64_t *shape, uint64_t nbytes);
dp_status dp_rdrr_writer_write(dp_rdrr_writer *w, const void *p, uint64_t n);
/* Close the last shard and write manifest.json. `fields` is JSON text of extra top-level
 * members without braces ("\"model_id\": ..., \"hparams\": {...}, ..."). Frees w. */
dp_status dp_rdrr_writer_finish(dp_rdrr_writer *w, const char *fields);
void dp_rdrr_writer_abort(dp_rdrr_writer *w); /* frees w; the caller removes the directory */

/* Validate a manifest text alone (structure, tensor table, shard table): for the fuzzer and
 * update-manifest. `what` names it in errors. */
dp_status dp_rdrr_manifest_check(const char *text, size_t len, const char *what);

/* ---- on disk: what the converter may replace or remove (rdrr_dir.c) ---- */
/* DP_OK when `out` may be replaced by a conversion of `src`: absent, an empty directory, a GGUF
 * file (gguf=1), or an RDRR directory holding only a valid manifest.json, the shards it lists,
 * the tokenizer files and NAME.tmp-PID temporaries, all regular files. Else an error (exit 1 in
 * the CLI) naming what is there: a symbolic link, a foreign or extra file, the source itself. */
dp_status dp_rdrr_check_replaceable(const char *out, int gguf, const char *src);
/* Remove a directory the converter wrote, by the names it writes only (lstat, unlinkat, rmdir;
 * no recursion, symlinks never followed). Anything else stays, and the error names it. */
dp_status dp_rdrr_dir_remove(const char *dir);
/* Remove OUT.tmp-PID / OUT.old-PID left by converters that are gone (killed, crashed); those of
 * a running process stay. A notice names each one removed. No-op on WASI. */
void dp_convert_remove_stale(const char *out);
#endif
