/* file.h -- file I/O: whole-file reads, read-only mappings (mmap natively, a plain read on
 * wasm32 where mmap is unavailable), ranged reads, atomic writes (temp name + rename), paths. */
#ifndef DP_CORE_FILE_H
#define DP_CORE_FILE_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "doppler_status.h"

/* Read a whole file; *data is NUL-terminated (dp_free it). */
dp_status dp_file_read_all(const char *path, char **data, size_t *len);

typedef struct dp_mapped {
  const uint8_t *data;
  uint64_t size;
  int is_mmap; /* 1: munmap on close, 0: dp_free */
} dp_mapped;
dp_status dp_file_map(const char *path, dp_mapped *m);
void dp_file_unmap(dp_mapped *m);

/* Read exactly n bytes at offset; a short file is a DP_ERR_FORMAT naming path and offset. */
dp_status dp_file_pread(FILE *f, const char *path, uint64_t offset, void *dst, size_t n);
dp_status dp_file_size(const char *path, uint64_t *size);
int dp_file_exists(const char *path);
int dp_is_dir(const char *path);
/* Join a directory and a name into a new string (dp_free it); NULL on OOM. */
char *dp_path_join(const char *dir, const char *name);

/* Atomic output: write to "<path>.tmp-<pid>", then rename over path on commit.
 * An abort (or a crash) never leaves a partial file at `path`. */
typedef struct dp_atomic_file {
  FILE *f;
  char *path, *tmp;
} dp_atomic_file;
dp_status dp_atomic_open(dp_atomic_file *af, const char *path);
dp_status dp_atomic_write(dp_atomic_file *af, const void *p, size_t n);
dp_status dp_atomic_commit(dp_atomic_file *af); /* flush, fsync, rename */
void dp_atomic_abort(dp_atomic_file *af);       /* close and delete the temp file */
dp_status dp_file_write_atomic(const char *path, const void *p, size_t n);

/* Exclusive advisory lock (flock) on a directory, waited for while another process holds it;
 * for read-modify-write of a file inside (update-manifest). *fd is handed to dp_dir_unlock.
 * WASI has one process and no flock: the lock is then a no-op (*fd = -1). */
dp_status dp_dir_lock(const char *dir, int *fd);
void dp_dir_unlock(int fd);
/* Copy a whole file: read, then written atomically to `to`. */
dp_status dp_file_copy(const char *from, const char *to);
#endif
