/* log.c -- leveled logging to stderr (see log.h). */
#include "core/log.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_level = -1;

int dp_log_level(void) {
  if (g_level < 0) {
    const char *e = getenv("DOPPLER_LOG");
    g_level = DP_LOG_WARN;
    if (e) {
      static const char *names[] = {"debug", "info", "warn", "error", "quiet"};
      for (int i = 0; i < 5; i++) if (!strcmp(e, names[i])) g_level = i;
    }
  }
  return g_level;
}

void dp_log_set_level(int level) { g_level = level; }

void dp_log(int level, const char *fmt, ...) {
  if (level < dp_log_level()) return;
  static const char *tag[] = {"debug", "info", "warning", "error"};
  if (level != DP_LOG_INFO) fprintf(stderr, "doppler: %s: ", tag[level]);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}
