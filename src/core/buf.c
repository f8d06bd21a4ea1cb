/* buf.c -- growable byte buffer (see buf.h). */
#include "core/buf.h"
#include "core/alloc.h"
#include "core/error.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

dp_status dp_buf_reserve(dp_buf *b, size_t extra) {
  if (b->failed) return DP_ERR_NOMEM;
  if (b->len + extra + 1 <= b->cap) return DP_OK;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1) cap *= 2;
  char *p = dp_realloc(b->data, cap);
  if (!p) { b->failed = 1; return DP_ERR_NOMEM; }
  b->data = p;
  b->cap = cap;
  return DP_OK;
}

dp_status dp_buf_append(dp_buf *b, const void *p, size_t n) {
  if (dp_buf_reserve(b, n)) return DP_ERR_NOMEM;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = 0;
  return DP_OK;
}

dp_status dp_buf_puts(dp_buf *b, const char *s) { return dp_buf_append(b, s, strlen(s)); }

dp_status dp_buf_printf(dp_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || dp_buf_reserve(b, (size_t)n)) return DP_ERR_NOMEM;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return DP_OK;
}

dp_status dp_buf_json_string(dp_buf *b, const char *s, size_t n) {
  dp_buf_append(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
    case '"': dp_buf_append(b, "\\\"", 2); break;
    case '\\': dp_buf_append(b, "\\\\", 2); break;
    case '\n': dp_buf_append(b, "\\n", 2); break;
    case '\r': dp_buf_append(b, "\\r", 2); break;
    case '\t': dp_buf_append(b, "\\t", 2); break;
    case '\b': dp_buf_append(b, "\\b", 2); break;
    case '\f': dp_buf_append(b, "\\f", 2); break;
    default:
      if (c < 0x20) dp_buf_printf(b, "\\u%04x", c);
      else dp_buf_append(b, &s[i], 1);
    }
  }
  return dp_buf_append(b, "\"", 1);
}

void dp_buf_free(dp_buf *b) {
  dp_free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
  b->failed = 0;
}
