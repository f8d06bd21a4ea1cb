/* file.c -- file I/O helpers (see file.h). */
#include "core/file.h"
#include "core/alloc.h"
#include "core/error.h"
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#if !defined(__wasi__)
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#endif

dp_status dp_file_read_all(const char *path, char **data, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return dp_error(DP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  dp_status st = DP_OK;
  char *buf = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (cap - n < 65536) {
      cap = cap ? cap * 2 : 1 << 16;
      char *nb = dp_realloc(buf, cap + 1);
      if (!nb) { st = DP_ERR_NOMEM; break; }
      buf = nb;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) {
      if (ferror(f)) st = dp_error(DP_ERR_IO, "%s: read error at byte %zu", path, n);
      break;
    }
  }
  fclose(f);
  if (st) { dp_free(buf); return st; }
  if (!buf && !(buf = dp_malloc(1))) return DP_ERR_NOMEM;
  buf[n] = 0;
  *data = buf;
  *len = n;
  return DP_OK;
}

dp_status dp_file_size(const char *path, uint64_t *size) {
  struct stat s;
  if (stat(path, &s)) return dp_error(DP_ERR_IO, "%s: %s", path, strerror(errno));
  *size = (uint64_t)s.st_size;
  return DP_OK;
}

int dp_file_exists(const char *path) { struct stat s; return stat(path, &s) == 0 && S_ISREG(s.st_mode); }
int dp_is_dir(const char *path) { struct stat s; return stat(path, &s) == 0 && S_ISDIR(s.st_mode); }

dp_status dp_file_map(const char *path, dp_mapped *m) {
  memset(m, 0, sizeof *m);
#if !defined(__wasi__)
  int fd = open(path, O_RDONLY);
  if (fd < 0) return dp_error(DP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat s;
  if (fstat(fd, &s)) { close(fd); return dp_error(DP_ERR_IO, "%s: %s", path, strerror(errno)); }
  if (s.st_size > 0) {
    void *p = mmap(NULL, (size_t)s.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      close(fd);
      m->data = p;
      m->size = (uint64_t)s.st_size;
      m->is_mmap = 1;
      return DP_OK;
    }
  }
  close(fd);
#endif
  char *d;
  size_t n;
  dp_status st = dp_file_read_all(path, &d, &n);
  if (st) return st;
  m->data = (const uint8_t *)d;
  m->size = n;
  return DP_OK;
}

void dp_file_unmap(dp_mapped *m) {
#if !defined(__wasi__)
  if (m->is_mmap && m->data) munmap((void *)m->data, (size_t)m->size);
  else
#endif
    dp_free((void *)m->data);
  memset(m, 0, sizeof *m);
}

dp_status dp_file_pread(FILE *f, const char *path, uint64_t offset, void *dst, size_t n) {
  if (fseeko(f, (off_t)offset, SEEK_SET))
    return dp_error(DP_ERR_IO, "%s: cannot seek to byte %llu", path, (unsigned long long)offset);
  size_t r = fread(dst, 1, n, f);
  if (r != n)
    return dp_error(DP_ERR_FORMAT, "%s: truncated: wanted %zu bytes at byte %llu, got %zu", path, n,
                    (unsigned long long)offset, r);
  return DP_OK;
}

char *dp_path_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = dp_malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  size_t k = a;
  if (a && dir[a - 1] != '/') p[k++] = '/';
  memcpy(p + k, name, b + 1);
  return p;
}

dp_status dp_atomic_open(dp_atomic_file *af, const char *path) {
  memset(af, 0, sizeof *af);
  af->path = dp_strdup(path);
  af->tmp = dp_malloc(strlen(path) + 32);
  if (!af->path || !af->tmp) { dp_free(af->path); dp_free(af->tmp); return DP_ERR_NOMEM; }
#if defined(__wasi__)
  static unsigned serial; /* no processes to tell apart in the browser */
  sprintf(af->tmp, "%s.tmp-%u", path, ++serial);
#else
  sprintf(af->tmp, "%s.tmp-%ld", path, (long)getpid());
#endif
  af->f = fopen(af->tmp, "wb");
  if (!af->f) {
    dp_status st = dp_error(DP_ERR_IO, "%s: cannot create: %s", af->tmp, strerror(errno));
    dp_free(af->path); dp_free(af->tmp);
    af->path = af->tmp = NULL;
    return st;
  }
  return DP_OK;
}

dp_status dp_atomic_write(dp_atomic_file *af, const void *p, size_t n) {
  if (n && fwrite(p, 1, n, af->f) != n) return dp_error(DP_ERR_IO, "%s: write failed: %s", af->tmp, strerror(errno));
  return DP_OK;
}

dp_status dp_atomic_commit(dp_atomic_file *af) {
  dp_status st = DP_OK;
  if (fflush(af->f) || fsync(fileno(af->f))) st = dp_error(DP_ERR_IO, "%s: write failed: %s", af->tmp, strerror(errno));
  if (fclose(af->f) && !st) st = dp_error(DP_ERR_IO, "%s: close failed: %s", af->tmp, strerror(errno));
  af->f = NULL;
  if (!st && rename(af->tmp, af->path)) st = dp_error(DP_ERR_IO, "%s: rename failed: %s", af->path, strerror(errno));
  if (st) remove(af->tmp);
  dp_free(af->path); dp_free(af->tmp);
  af->path = af->tmp = NULL;
  return st;
}

void dp_atomic_abort(dp_atomic_file *af) {
  if (af->f) fclose(af->f);
  if (af->tmp) remove(af->tmp);
  dp_free(af->path); dp_free(af->tmp);
  memset(af, 0, sizeof *af);
}

dp_status dp_file_write_atomic(const char *path, const void *p, size_t n) {
  dp_atomic_file af;
  dp_status st = dp_atomic_open(&af, path);
  if (st) return st;
  if ((st = dp_atomic_write(&af, p, n))) { dp_atomic_abort(&af); return st; }
  return dp_atomic_commit(&af);
}

dp_status dp_dir_lock(const char *dir, int *fd) {
  *fd = -1;
#if !defined(__wasi__)
  int d = open(dir, O_RDONLY | O_DIRECTORY);
  if (d < 0) return dp_error(DP_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
  while (flock(d, LOCK_EX)) {
    if (errno == EINTR) continue;
    dp_status st = dp_error(DP_ERR_IO, "%s: cannot lock: %s", dir, strerror(errno));
    close(d);
    return st;
  }
  *fd = d;
#else
  (void)dir;
#endif
  return DP_OK;
}

void dp_dir_unlock(int fd) {
#if !defined(__wasi__)
  if (fd >= 0) close(fd); /* closing the descriptor releases the flock */
#else
  (void)fd;
#endif
}

dp_status dp_file_copy(const char *from, const char *to) {
  char *d;
  size_t n;
  dp_status st = dp_file_read_all(from, &d, &n);
  if (st) return st;
  st = dp_file_write_atomic(to, d, n);
  dp_free(d);
  return st;
}
