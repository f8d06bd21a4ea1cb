/* rdrr_dir.c -- what the converter may replace or remove on disk (see rdrr.h and docs/formats.md
 * "What convert replaces"). Called by convert.c; depends on core (file, json) and rdrr_read.c's
 * manifest check.
 *
 * An output path is replaced only when it holds what the converter itself writes: nothing, an
 * empty directory, a GGUF file (for a .gguf output), or an RDRR directory whose manifest.json
 * passes the manifest check and which holds nothing but manifest.json, the shards it lists,
 * the tokenizer files and our own atomic-write temporaries (NAME.tmp-PID), all regular files.
 * Removal goes by those names only: each entry is lstat'ed (never followed) and unlinked
 * relative to the directory, and the directory is rmdir'ed; nothing is ever recursed into, so
 * a symlink or a foreign file inside stops the removal instead of reaching what it points to.
 * A source file is never replaced or removed: an output equal to the source, or holding it, is
 * refused. Temporaries of convert and synth (OUT.tmp-PID, OUT.old-PID, OUT.synth-PID) are
 * directories carrying a marker (DP_TMP_MARKER: "doppler TOOL PID\n"); leftovers of a process
 * that died (SIGKILL, power loss) are removed by the next run to OUT once no process PID runs,
 * and only when the marker names that PID: a user's file or directory that merely has such a
 * name is never touched (native builds only: WASI has no processes and one converter at a time). */
#include "tools/rdrr_write.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include "core/log.h"
#include "format/json_status.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#if !defined(__wasi__)
#include <signal.h> /* kill(pid, 0): is the converter that left a temporary still running? */
#endif

static long proc_id(void) {
#if defined(__wasi__)
  return 0;
#else
  return (long)getpid();
#endif
}

static const char *const TOKENIZER_FILES[] = {"tokenizer.json", "tokenizer_config.json", "tokenizer.gguf"};

/* "s" is "prefix" followed by one or more digits and nothing else; *num gets the number. */
static int digits_after(const char *s, const char *prefix, long *num) {
  size_t n = strlen(prefix);
  if (strncmp(s, prefix, n) || !s[n] || strspn(s + n, "0123456789") != strlen(s + n) || strlen(s + n) > 9) return 0;
  if (num) sscanf(s + n, "%ld", num);
  return 1;
}

/* A name the converter (or our atomic writer inside it) creates in an RDRR directory; with
 * n_shards >= 0 only the shards the manifest lists count. in_tmp: a temporary directory of ours,
 * which may also hold the marker, a GGUF output (model.gguf) and synth's checkpoint files. */
static int known_name(const char *name, long n_shards, int in_tmp) {
  static const char *const TMP_ONLY[] = {DP_TMP_MARKER, "model.gguf", "config.json", "model.safetensors"};
  char base[256];
  const char *t = strstr(name, ".tmp-");
  size_t len = t && digits_after(t, ".tmp-", NULL) ? (size_t)(t - name) : strlen(name);
  if (len >= sizeof base) return 0;
  memcpy(base, name, len);
  base[len] = 0;
  if (!strcmp(base, "manifest.json")) return 1;
  for (size_t i = 0; i < sizeof TOKENIZER_FILES / sizeof *TOKENIZER_FILES; i++)
    if (!strcmp(base, TOKENIZER_FILES[i])) return 1;
  for (size_t i = 0; in_tmp && i < sizeof TMP_ONLY / sizeof *TMP_ONLY; i++)
    if (!strcmp(base, TMP_ONLY[i])) return 1;
  if (len == 15 && !strncmp(base, "shard_", 6) && strspn(base + 6, "0123456789") == 5 && !strcmp(base + 11, ".bin"))
    return n_shards < 0 || atol(base + 6) < n_shards;
  return 0;
}

static int same_file(const struct stat *a, const struct stat *b) { return a->st_dev == b->st_dev && a->st_ino == b->st_ino; }

/* Number of shards a valid manifest in dir lists, or an error naming why it is not one. */
static dp_status manifest_shards(const char *dir, long *n) {
  char *mp = dp_path_join(dir, "manifest.json"), *text = NULL;
  size_t len;
  if (!mp) return DP_ERR_NOMEM;
  dp_status st = dp_file_read_all(mp, &text, &len);
  if (!st) st = dp_rdrr_manifest_check(text, len, mp);
  dp_json_doc *d = st ? NULL : dp_json_parse(text, len, mp);
  if (!st && !d) st = dp_json_fail_status();
  if (!st) *n = (long)dp_json_len(dp_json_get(dp_json_root(d), "shards"));
  if (d) dp_json_free(d);
  dp_free(text);
  dp_free(mp);
  return st;
}

dp_status dp_rdrr_check_replaceable(const char *out, int gguf, const char *src) {
  struct stat so, ss;
  int have_src = src && stat(src, &ss) == 0;
  if (lstat(out, &so)) {
    if (errno == ENOENT) return DP_OK;
    return dp_error(DP_ERR_IO, "%s: %s", out, strerror(errno));
  }
  if (S_ISLNK(so.st_mode)) return dp_error(DP_ERR_INVALID_ARG, "%s: is a symbolic link; not replacing it (remove it or pick another output)", out);
  if (have_src && same_file(&so, &ss)) return dp_error(DP_ERR_INVALID_ARG, "%s: is the source model; converting it onto itself would destroy it", out);
  if (gguf) {
    uint8_t magic[4] = {0};
    FILE *f = S_ISREG(so.st_mode) ? fopen(out, "rb") : NULL;
    size_t got = f ? fread(magic, 1, 4, f) : 0;
    if (f) fclose(f);
    if (got == 4 && !memcmp(magic, "GGUF", 4)) return DP_OK;
    return dp_error(DP_ERR_INVALID_ARG, "%s: exists and is not a GGUF file; not replacing it", out);
  }
  if (!S_ISDIR(so.st_mode)) return dp_error(DP_ERR_INVALID_ARG, "%s: exists and is not a directory; not replacing it", out);
  char *mp = dp_path_join(out, "manifest.json");
  if (!mp) return DP_ERR_NOMEM;
  struct stat ms;
  int has_manifest = !lstat(mp, &ms) && S_ISREG(ms.st_mode);
  dp_free(mp);
  long n_shards = -1;
  if (has_manifest && manifest_shards(out, &n_shards))
    return dp_error_wrap(DP_ERR_INVALID_ARG, "%s: exists and is not an RDRR model; not replacing it", out);
  DIR *d = opendir(out);
  if (!d) return dp_error(DP_ERR_IO, "%s: cannot list directory: %s", out, strerror(errno));
  dp_status st = DP_OK;
  struct dirent *e;
  while (!st && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    struct stat es;
    const char *kind = "";
    if (fstatat(dirfd(d), e->d_name, &es, AT_SYMLINK_NOFOLLOW)) { st = dp_error(DP_ERR_IO, "%s/%s: %s", out, e->d_name, strerror(errno)); break; }
    if (S_ISLNK(es.st_mode)) kind = " (a symbolic link)";
    else if (S_ISDIR(es.st_mode)) kind = " (a directory)";
    if (have_src && same_file(&es, &ss))
      st = dp_error(DP_ERR_INVALID_ARG, "%s: holds the source %s; not replacing it", out, e->d_name);
    else if (!has_manifest)
      st = dp_error(DP_ERR_INVALID_ARG, "%s: exists, is not empty and has no RDRR manifest.json (it holds %s%s); not replacing it", out, e->d_name, kind);
    else if (!known_name(e->d_name, n_shards, 0) || !S_ISREG(es.st_mode))
      st = dp_error(DP_ERR_INVALID_ARG, "%s: holds %s%s, which is not part of the RDRR model there; not replacing it", out, e->d_name, kind);
  }
  closedir(d);
  return st;
}

/* 1 if the directory (fd) holds our marker naming process pid (pid < 0: any process). */
static int marked(int fd, long pid) {
  char buf[64], want[64];
  int mf = openat(fd, DP_TMP_MARKER, O_RDONLY | O_NOFOLLOW);
  if (mf < 0) return 0;
  ssize_t n = read(mf, buf, sizeof buf - 1);
  close(mf);
  if (n <= 0) return 0;
  buf[n] = 0;
  static const char *const TOOLS[] = {"convert", "synth"};
  for (int i = 0; i < 2; i++) {
    long got = 0;
    char nl = 0;
    snprintf(want, sizeof want, "doppler %s ", TOOLS[i]);
    if (!strncmp(buf, want, strlen(want)) && sscanf(buf + strlen(want), "%ld%c", &got, &nl) == 2 && nl == '\n' && got > 0 &&
        (pid < 0 || got == pid)) {
      snprintf(want, sizeof want, "doppler %s %ld\n", TOOLS[i], got);
      if (!strcmp(buf, want)) return 1;
    }
  }
  return 0;
}

/* Unlink the marker of the directory fd (if a regular file). */
static void dp_tmpdir_unmark_fd(int fd) {
  struct stat ms;
  if (!fstatat(fd, DP_TMP_MARKER, &ms, AT_SYMLINK_NOFOLLOW) && S_ISREG(ms.st_mode)) unlinkat(fd, DP_TMP_MARKER, 0);
}

void dp_tmpdir_unmark(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (fd >= 0) dp_tmpdir_unmark_fd(fd), close(fd);
}

/* Remove dir by the names we write only; a subdirectory is entered only at depth 0 and only when
 * it carries our marker itself (synth's staged checkpoint). The marker goes last, so a partial
 * removal still is recognisable as ours. */
static dp_status remove_by_name(const char *dir, int depth) {
  struct stat s;
  if (lstat(dir, &s)) return errno == ENOENT ? DP_OK : dp_error(DP_ERR_IO, "%s: %s", dir, strerror(errno));
  if (!S_ISDIR(s.st_mode)) return dp_error(DP_ERR_INTERNAL, "%s: not a directory; not removed", dir);
  DIR *d = opendir(dir);
  if (!d) return dp_error(DP_ERR_IO, "%s: cannot list directory: %s", dir, strerror(errno));
  dp_status st = DP_OK;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, DP_TMP_MARKER)) continue;
    struct stat es;
    int ok = !fstatat(dirfd(d), e->d_name, &es, AT_SYMLINK_NOFOLLOW);
    if (ok && S_ISDIR(es.st_mode) && depth == 0) {
      int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      ok = sub >= 0 && marked(sub, -1);
      if (sub >= 0) close(sub);
      char p[4096]; /* no allocation: this runs on the out-of-memory path too */
      ok = ok && snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < (int)sizeof p && remove_by_name(p, 1) == DP_OK;
    } else {
      ok = ok && known_name(e->d_name, -1, 1) && (S_ISREG(es.st_mode) || S_ISLNK(es.st_mode));
      if (ok && unlinkat(dirfd(d), e->d_name, 0)) ok = 0;
    }
    if (!ok && !st) st = dp_error(DP_ERR_IO, "%s: %s left in place (not a file this converter writes)", dir, e->d_name);
  }
  if (!st) dp_tmpdir_unmark_fd(dirfd(d));
  closedir(d);
  if (!st && rmdir(dir)) st = dp_error(DP_ERR_IO, "%s: cannot remove: %s", dir, strerror(errno));
  return st;
}

dp_status dp_rdrr_dir_remove(const char *dir) { return remove_by_name(dir, 0); }

dp_status dp_tmpdir_mark(const char *dir, const char *tool) {
  char mp[4096], text[64];
  if (snprintf(mp, sizeof mp, "%s/%s", dir, DP_TMP_MARKER) >= (int)sizeof mp) return dp_error(DP_ERR_INVALID_ARG, "%s: path too long", dir);
  int n = snprintf(text, sizeof text, "doppler %s %ld\n", tool, proc_id());
  int fd = open(mp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
  dp_status st = fd < 0 || write(fd, text, (size_t)n) != n ? dp_error(DP_ERR_IO, "%s: cannot write: %s", mp, strerror(errno)) : DP_OK;
  if (fd >= 0) close(fd);
  return st;
}

dp_status dp_tmpdir_create(const char *dir, const char *tool) {
  struct stat s;
  if (!lstat(dir, &s)) { /* left by an earlier process that had our PID: removed only if it is ours */
    int fd = S_ISDIR(s.st_mode) ? open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW) : -1;
    int ours = fd >= 0 && marked(fd, proc_id());
    if (fd >= 0) close(fd);
    if (!ours) return dp_error(DP_ERR_INVALID_ARG, "%s: exists and is not a doppler temporary directory; not touching it", dir);
    dp_status st = remove_by_name(dir, 0);
    if (st) return st;
  }
  if (mkdir(dir, 0755)) return dp_error(DP_ERR_IO, "%s: cannot create: %s", dir, strerror(errno));
  dp_status st = dp_tmpdir_mark(dir, tool);
  if (st) rmdir(dir);
  return st;
}

void dp_convert_remove_stale(const char *out) {
#if !defined(__wasi__)
  size_t n = strlen(out);
  while (n > 1 && out[n - 1] == '/') n--;
  size_t s = n;
  while (s > 0 && out[s - 1] != '/') s--;
  static const char *const KINDS[] = {".tmp-", ".old-", ".synth-"};
  char *dir = dp_strndup(out, s), *base = dp_strndup(out + s, n - s);
  char *pre = base ? dp_malloc(strlen(base) + 8) : NULL;
  DIR *d = dir && pre ? opendir(s ? dir : ".") : NULL;
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      long pid = 0;
      int match = 0;
      for (int k = 0; k < 3 && !match; k++) {
        sprintf(pre, "%s%s", base, KINDS[k]);
        match = digits_after(e->d_name, pre, &pid);
      }
      if (!match) continue;
      if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* its process still runs */
      char *p = dp_path_join(s ? dir : ".", e->d_name);
      if (!p) break;
      int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      int ours = fd >= 0 && marked(fd, pid);
      if (fd >= 0) close(fd);
      if (!ours)
        fprintf(stderr, "doppler convert: notice: %s looks like a leftover of process %ld but has no doppler marker; left alone\n", p, pid);
      else if (remove_by_name(p, 0))
        fprintf(stderr, "doppler convert: notice: leftover of process %ld (gone) not fully removed: %s\n", pid, dp_error_message());
      else
        fprintf(stderr, "doppler convert: notice: removed %s, left by process %ld which is gone\n", p, pid);
      dp_free(p);
    }
    closedir(d);
  }
  dp_free(dir), dp_free(base), dp_free(pre);
#else
  (void)out;
#endif
}
