/* alloc.c -- allocation wrappers with failure injection (see alloc.h). */
#include "core/alloc.h"
#include "core/error.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static long g_fail_at = -1;
static int g_fail_persistent;

void dp_alloc_fail_after(long n, int persistent) {
  g_fail_at = n;
  g_fail_persistent = persistent;
}

static int inject(void) {
  if (g_fail_at < 0) return 0;
  if (g_fail_at == 0) {
    if (!g_fail_persistent) g_fail_at = -1;
    return 1;
  }
  g_fail_at--;
  return 0;
}

void *dp_malloc(size_t n) {
  void *p = inject() ? NULL : malloc(n ? n : 1);
  if (!p) dp_error(DP_ERR_NOMEM, "out of memory allocating %zu bytes", n);
  return p;
}

void *dp_calloc(size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) {
    dp_error(DP_ERR_NOMEM, "allocation size overflow (%zu x %zu)", count, size);
    return NULL;
  }
  void *p = inject() ? NULL : calloc(count ? count : 1, size ? size : 1);
  if (!p) dp_error(DP_ERR_NOMEM, "out of memory allocating %zu x %zu bytes", count, size);
  return p;
}

void *dp_realloc(void *p, size_t n) {
  void *q = inject() ? NULL : realloc(p, n ? n : 1);
  if (!q) dp_error(DP_ERR_NOMEM, "out of memory reallocating %zu bytes", n);
  return q;
}

void dp_free(void *p) { free(p); }

char *dp_strndup(const char *s, size_t n) {
  char *d = dp_malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

char *dp_strdup(const char *s) { return dp_strndup(s, strlen(s)); }
