/* expert_budget.c -- the public side of expert residency (doppler.h): parsing an
 * --expert-budget value and the residency counters of a loaded model. The residency itself is
 * the runtime's (src/runtime/experts.c). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/error.h"

dp_status dp_parse_expert_budget(const char *s, int *n, uint64_t *bytes) {
  *n = 0, *bytes = 0;
  if (!s || !isdigit((unsigned char)s[0])) return dp_error(DP_ERR_INVALID_ARG, "'%s': expected a count of experts (4) or a size (64M, 2G)", s ? s : "");
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno == ERANGE) return dp_error(DP_ERR_INVALID_ARG, "'%s': too large", s);
  if (!*end) {
    if (v == 0 || v > 1u << 20) return dp_error(DP_ERR_INVALID_ARG, "'%s': a count of experts per layer must be in [1, 1048576]", s);
    *n = (int)v;
    return DP_OK;
  }
  static const char units[] = "BKMGT";
  const char *u = strchr(units, toupper((unsigned char)end[0]));
  if (!u || !end[0] || (end[1] && !((end[1] == 'B' || end[1] == 'b') && !end[2] && u != units)) )
    return dp_error(DP_ERR_INVALID_ARG, "'%s': unknown unit '%s' (B, K, M, G, T; binary multiples)", s, end);
  int shift = (int)(u - units) * 10;
  if (v == 0 || (shift && v > (~0ull >> shift))) return dp_error(DP_ERR_INVALID_ARG, "'%s': a size must be in [1 B, 16 EiB)", s);
  *bytes = (uint64_t)v << shift;
  return DP_OK;
}

dp_status dp_model_expert_stats(const dp_model *m, dp_expert_stats *out) {
  if (!m || !out) return dp_error(DP_ERR_INVALID_ARG, "dp_model_expert_stats: NULL argument");
  memset(out, 0, sizeof *out);
  const dp_rt_experts *ex = m->rt->ex;
  if (!ex) return DP_OK;
  out->moe = 1, out->slots = (int)ex->slots, out->n_experts = m->rt->plan->n_experts, out->paged = ex->paged;
  out->budget_bytes = ex->budget_bytes;
  out->hits = ex->hits, out->misses = ex->misses, out->paged_bytes = ex->paged_bytes;
  return DP_OK;
}
