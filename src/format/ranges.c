/* ranges.c -- the overlap check of ranges.h. Called by the safetensors, GGUF and RDRR readers
 * after each tensor's own bounds are checked; depends on core (error). */
#include "format/ranges.h"
#include "core/error.h"
#include <stdlib.h>

static int by_begin(const void *a, const void *b) {
  const dp_range *x = a, *y = b;
  return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

dp_status dp_ranges_disjoint(dp_range *r, size_t n, const char *what) {
  qsort(r, n, sizeof *r, by_begin);
  const dp_range *prev = NULL;
  for (size_t i = 0; i < n; i++) {
    if (r[i].end == r[i].begin) continue;
    if (prev && r[i].begin < prev->end)
      return dp_error(DP_ERR_FORMAT, "%s: tensor %s: bytes [%llu, %llu) overlap tensor %s [%llu, %llu)", what, r[i].name,
                      (unsigned long long)r[i].begin, (unsigned long long)r[i].end, prev->name, (unsigned long long)prev->begin,
                      (unsigned long long)prev->end);
    if (!prev || r[i].end > prev->end) prev = &r[i];
  }
  return DP_OK;
}
