/* buf.h -- a growable byte buffer (strings, JSON output, file images). */
#ifndef DP_CORE_BUF_H
#define DP_CORE_BUF_H
#include <stddef.h>
#include <stdint.h>
#include "doppler_status.h"

typedef struct dp_buf {
  char *data; /* always NUL-terminated when non-NULL */
  size_t len, cap;
  int failed; /* sticky: an allocation failed; all later appends are no-ops */
} dp_buf;

dp_status dp_buf_reserve(dp_buf *b, size_t extra);
dp_status dp_buf_append(dp_buf *b, const void *p, size_t n);
dp_status dp_buf_puts(dp_buf *b, const char *s);
dp_status dp_buf_printf(dp_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Append s as a JSON string literal (quotes, escapes; bytes >= 0x80 copied as-is). */
dp_status dp_buf_json_string(dp_buf *b, const char *s, size_t n);
void dp_buf_free(dp_buf *b);
#endif
