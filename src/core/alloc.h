/* alloc.h -- the one allocation path. All engine allocations go through these so tests can
 * inject failures (dp_alloc_fail_after) and every out-of-memory path can be exercised.
 * On failure they return NULL and set the error message (DP_ERR_NOMEM). */
#ifndef DP_CORE_ALLOC_H
#define DP_CORE_ALLOC_H
#include <stddef.h>
void *dp_malloc(size_t n);
void *dp_calloc(size_t count, size_t size);  /* checks count*size overflow */
void *dp_realloc(void *p, size_t n);
void dp_free(void *p);
char *dp_strdup(const char *s);
char *dp_strndup(const char *s, size_t n);
/* Test hook: allocation number n (0 = the next one) fails; with persistent, all later ones too.
 * n < 0 disables injection. */
void dp_alloc_fail_after(long n, int persistent);
#endif
