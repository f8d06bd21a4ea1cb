/* wgsl_layout.c -- dp_wgsl_layout (wgsl_layout.h): a scan of a WGSL module's resource
 * declarations `@group(G) @binding(N) var<...> NAME: TYPE;` (attributes in either order). */
#include "gpu/wgsl_layout.h"
#include <stdlib.h>
#include <string.h>
#include "core/error.h"

static const char *skip_space(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

/* "@name(" at p: the number inside, else -1 */
static long attr_num(const char *p, const char *name, const char **end) {
  size_t n = strlen(name);
  if (p[0] != '@' || strncmp(p + 1, name, n) || p[1 + n] != '(') return -1;
  char *e;
  long v = strtol(p + 2 + n, &e, 10);
  e = (char *)skip_space(e);
  if (e == p + 2 + n || *e != ')') return -1;
  *end = e + 1;
  return v;
}

/* whether needle occurs in p[0, len) */
static int has(const char *p, size_t len, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; i + n <= len; i++)
    if (!memcmp(p + i, needle, n)) return 1;
  return 0;
}

static int kind_of(const char *p, const char **end) {
  if (strncmp(p, "var", 3)) return -1;
  p = skip_space(p + 3);
  const char *semi = strchr(p, ';');
  if (!semi) return -1;
  *end = semi;
  if (*p == '<') {
    const char *close = strchr(p, '>');
    if (!close || close > semi) return -1;
    size_t len = (size_t)(close - p);
    if (has(p, len, "uniform")) return DP_WGSL_UNIFORM;
    if (!has(p, len, "storage")) return -1;
    return has(p, len, "read_write") ? DP_WGSL_STORAGE_RW : DP_WGSL_STORAGE_RO;
  }
  if (has(p, (size_t)(semi - p), "texture_2d<u32>")) return DP_WGSL_TEXTURE_U32;
  return -1;
}

dp_status dp_wgsl_layout(const char *src, uint8_t kinds[DP_WGSL_MAX_BINDINGS], size_t *n) {
  memset(kinds, 0, DP_WGSL_MAX_BINDINGS);
  *n = 0;
  for (const char *p = src; *p;) {
    if (p[0] == '/' && p[1] == '/') { /* line comment */
      const char *e = strchr(p, '\n');
      p = e ? e + 1 : p + strlen(p);
      continue;
    }
    if (p[0] == '/' && p[1] == '*') {
      const char *e = strstr(p + 2, "*/");
      p = e ? e + 2 : p + strlen(p);
      continue;
    }
    const char *e;
    long group = -1, binding = -1, v;
    const char *q = p;
    for (int i = 0; i < 2; i++) { /* @group(G) @binding(N), either order */
      if ((v = attr_num(q, "group", &e)) >= 0) group = v, q = skip_space(e);
      else if ((v = attr_num(q, "binding", &e)) >= 0) binding = v, q = skip_space(e);
    }
    if (binding < 0 && group < 0) { p++; continue; }
    if (binding < 0 || group < 0) { p = q > p ? q : p + 1; continue; } /* not a resource declaration */
    if (group != 0) return dp_error(DP_ERR_INVALID_ARG, "WGSL: @group(%ld): kernels use group 0 only", group);
    if (binding >= DP_WGSL_MAX_BINDINGS)
      return dp_error(DP_ERR_INVALID_ARG, "WGSL: @binding(%ld): at most %d bindings", binding, DP_WGSL_MAX_BINDINGS);
    int k = kind_of(q, &e);
    if (k < 0)
      return dp_error(DP_ERR_INVALID_ARG, "WGSL: @binding(%ld): expected var<uniform>, var<storage, read|read_write> or texture_2d<u32>",
                      binding);
    if (binding == 0 ? k != DP_WGSL_UNIFORM : k == DP_WGSL_UNIFORM)
      return dp_error(DP_ERR_INVALID_ARG, "WGSL: @binding(%ld): the uniform parameters are binding 0 and only it", binding);
    if (kinds[binding] && kinds[binding] != k)
      return dp_error(DP_ERR_INVALID_ARG, "WGSL: @binding(%ld) declared twice with different types", binding);
    kinds[binding] = (uint8_t)k;
    if ((size_t)binding + 1 > *n) *n = (size_t)binding + 1;
    p = e;
  }
  return DP_OK;
}
