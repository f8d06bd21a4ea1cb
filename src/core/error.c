/* error.c -- the last-error message buffer (see error.h). */
#include "core/error.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char g_msg[1024];
static dp_status g_code;

dp_status dp_error(dp_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_msg, sizeof g_msg, fmt, ap);
  va_end(ap);
  g_code = code;
  return code;
}

dp_status dp_error_wrap(dp_status code, const char *fmt, ...) {
  char prefix[512], old[sizeof g_msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, g_msg, sizeof old);
  size_t pl = strlen(prefix);
  if (pl > sizeof g_msg - 3) pl = sizeof g_msg - 3;
  memcpy(g_msg, prefix, pl);
  memcpy(g_msg + pl, ": ", 2);
  size_t ol = strlen(old), room = sizeof g_msg - pl - 3;
  if (ol > room) ol = room;
  memcpy(g_msg + pl + 2, old, ol);
  g_msg[pl + 2 + ol] = 0;
  return code;
}

void dp_error_clear(void) { g_msg[0] = 0; g_code = DP_OK; }
dp_status dp_error_status(void) { return g_code; }
const char *dp_error_message(void) { return g_msg; }

const char *dp_status_name(dp_status s) {
  static const char *names[] = {"ok", "invalid argument", "I/O error", "format error", "unsupported",
                                "out of memory", "GPU error", "not found", "cancelled",
                                "context full", "internal error"};
  return (unsigned)s < sizeof names / sizeof *names ? names[s] : "unknown error";
}
