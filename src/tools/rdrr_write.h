/* rdrr_write.h -- writing RDRR models (offline tools: the converter, synth --quant): the shard
 * and manifest writer (rdrr_write.c) and what the converter may replace or remove on disk
 * (rdrr_dir.c). The format itself and its reader are format/rdrr.h. Not in the browser build. */
#ifndef DP_TOOLS_RDRR_WRITE_H
#define DP_TOOLS_RDRR_WRITE_H
#include "format/rdrr.h"

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
/* Temporary directories of convert and synth (OUT.tmp-PID, OUT.old-PID, OUT.synth-PID) carry
 * DP_TMP_MARKER holding "doppler TOOL PID\n"; only a directory with the marker of a dead PID is
 * ever removed as a leftover (dp_convert_remove_stale). dp_tmpdir_create makes one (an existing one of our PID and marked
 * is removed first; anything else there is an error); dp_tmpdir_mark marks an existing one. */
#define DP_TMP_MARKER ".doppler-tmp"
dp_status dp_tmpdir_create(const char *dir, const char *tool);
dp_status dp_tmpdir_mark(const char *dir, const char *tool);
void dp_tmpdir_unmark(const char *dir); /* just before a finished temporary is renamed onto OUT */
#endif
