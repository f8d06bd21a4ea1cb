/* web.c -- the device layer (gpu.h) for the browser build: every WebGPU call is a JS import
 * (module "dp_gpu", implemented by web/engine/gpu.js on navigator.gpu) over small integer
 * handles; WGSL sources are the same embedded strings the native build compiles.
 *
 * The adapter and device are opened by JS before the core runs (requestAdapter /
 * requestDevice are promises): dp_gpu_open only reads what JS found, as JSON (adapter info,
 * features, the adapter's own limits, which the device was created with), into dp_gpu_info;
 * adapter_type comes from the adapter info as natively ("cpu" for SwiftShader / llvmpipe), so
 * the ops layer makes the same kernel choice as on the same adapter natively.
 *
 * Recording mirrors dawn.c: every pipeline has an explicit bind-group layout read from its
 * module (wgsl_layout.h; binding 0 the uniform arena at a dynamic offset, left-out bindings on
 * placeholders); bind groups are made per dp_gpu_dispatch or once per dp_gpu_bound; uniform
 * parameters are packed into a host arena here and uploaded by one queue write at submit; JS
 * keeps one command encoder and compute pass open until submit.
 * Read-backs: read_start records the copy, submits and starts mapAsync in JS; poll asks JS
 * whether the promise resolved; finish copies the mapped bytes into wasm memory. Nothing here
 * can block: dp_gpu_read_wait (and with it dp_gpu_buffer_read and dp_gpu_finish) fails with
 * DP_ERR_UNSUPPORTED; the host awaits the maps in JS and calls back into the core.
 * Errors: validation and out-of-memory errors arrive asynchronously in JS (error scopes and
 * the uncaptured-error event); they are collected there and surface at the next submit, poll
 * or finish as DP_ERR_GPU with the browser's message. Profiling is not offered (UNSUPPORTED).
 * Depends on core (alloc, error, json) only. */
#include "gpu/gpu.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/json.h"
#include "gpu/wgsl_layout.h"
#include <stdio.h>
#include <string.h>

#define IMPORT(name) __attribute__((import_module("dp_gpu"), import_name(#name)))
#define UNIFORM_ARENA_BYTES (1u << 20)

IMPORT(info_json) int js_info_json(char *buf, int cap);
IMPORT(take_error) int js_take_error(char *buf, int cap);  /* 0 none, else bytes; lost: negative */
IMPORT(buffer_create) int js_buffer_create(double size, const char *label, int label_len);
IMPORT(buffer_free) void js_buffer_free(int h);
IMPORT(buffer_write) void js_buffer_write(int h, double offset, const void *src, int n);
IMPORT(texture_create) int js_texture_create(int w, int h, const char *label, int label_len);
IMPORT(texture_write) void js_texture_write(int t, int x, int y, int w, int h, const void *data, int n);
IMPORT(texture_free) void js_texture_free(int t);
IMPORT(copy) void js_copy(int src, double so, int dst, double dof, double n);
IMPORT(kernel_create) int js_kernel_create(const char *name, int name_len, const char *src, int src_len,
                                           const char *entry, int entry_len, const char *consts, int consts_len,
                                           const uint8_t *kinds, int n_kinds);
IMPORT(bind_group_create) int js_bind_group_create(int k, int usize, const void *bindings, int n);
IMPORT(bind_group_free) void js_bind_group_free(int bg);
IMPORT(dispatch) void js_dispatch(int k, int bg, int uoff, int gx, int gy, int gz);
IMPORT(submit) void js_submit(const void *arena, int used);
IMPORT(read_start) int js_read_start(int buf, double offset, double n4);
IMPORT(read_poll) int js_read_poll(int rb);                /* 0 pending, 1 mapped, -1 failed */
IMPORT(read_finish) int js_read_finish(int rb, void *dst, int n); /* 0 ok */
IMPORT(read_discard) void js_read_discard(int rb);

struct dp_gpu_buffer { int h; uint64_t size; };
struct dp_gpu_texture { int h; uint32_t width, height; };
struct dp_gpu_readback { int h; size_t n; };
struct dp_gpu_kernel {
  char *key;
  int h;
  char label[64];                      /* "name:entry" */
  uint8_t kinds[DP_WGSL_MAX_BINDINGS]; /* DP_WGSL_* per binding number (wgsl_layout.h) */
  size_t n_kinds;
};
struct dp_gpu_bound {
  dp_gpu_kernel *k;
  int bg;
  size_t params_size;
  uint32_t usize;        /* uniform binding size: params_size rounded up to 16 */
};

struct dp_gpu {
  dp_gpu_info info;
  char features[32][32];
  size_t n_features;
  uint8_t *uniform_host;
  uint32_t uniform_used, uniform_align;
  dp_gpu_kernel **kernels;
  size_t n_kernels, cap_kernels;
  uint64_t n_dispatch, n_wait, n_bind_groups;
  dp_gpu_buffer *hold_ro, *hold_rw;     /* placeholders for bindings a dispatch leaves out */
  dp_gpu_texture *hold_tex;
  int lost;
};

/* One binding as gpu.js reads it, for binding numbers 1.. of a bind group: byte offset and
 * size as doubles (exact below 2^53), then the buffer and texture handles (both 0: the module
 * declares no binding with this number). */
typedef struct js_binding { double offset, size; int32_t buf, tex; } js_binding;
_Static_assert(sizeof(js_binding) == 24, "js_binding layout read by web/engine/gpu.js");

/* A pending error from JS as DP_ERR_GPU (DP_OK when none). */
static dp_status take_error(dp_gpu *g) {
  char msg[1024];
  int n = js_take_error(msg, (int)sizeof msg - 1);
  if (!n) return DP_OK;
  if (n < 0) { g->lost = 1; n = -n; }
  if (n > (int)sizeof msg - 1) n = (int)sizeof msg - 1;
  msg[n] = 0;
  return dp_error(DP_ERR_GPU, "%s%s", g->lost ? "WebGPU device lost: " : "WebGPU: ", msg);
}

static uint64_t lim(const dp_json *l, const char *key, uint64_t dflt) {
  double v = dp_json_get_num(l, key, -1);
  return v < 0 ? dflt : (uint64_t)v;
}

dp_status dp_gpu_open(const char *choice, dp_gpu **out) {
  *out = NULL;
  if (choice && *choice && strcmp(choice, "auto") && strcmp(choice, "default") && strcmp(choice, "browser"))
    return dp_error(DP_ERR_INVALID_ARG, "adapter '%s': the browser build uses the page's navigator.gpu adapter", choice);
  int n = js_info_json(NULL, 0);
  if (n <= 0) return dp_error(DP_ERR_GPU, "WebGPU is unavailable (no adapter was opened by the page)");
  char *text = dp_malloc((size_t)n + 1);
  if (!text) return DP_ERR_NOMEM;
  js_info_json(text, n);
  text[n] = 0;
  dp_json_doc *d = dp_json_parse(text, (size_t)n, "adapter info");
  dp_free(text);
  if (!d) return dp_error(DP_ERR_GPU, "adapter info from JS: %s", dp_error_message());
  dp_gpu *g = dp_calloc(1, sizeof *g);
  if (!g || !(g->uniform_host = dp_malloc(UNIFORM_ARENA_BYTES))) {
    if (g) dp_free(g);
    dp_json_free(d);
    return DP_ERR_NOMEM;
  }
  const dp_json *r = dp_json_root(d), *l = dp_json_get(r, "limits"), *f = dp_json_get(r, "features");
  dp_gpu_info *in = &g->info;
  snprintf(in->backend, sizeof in->backend, "%s", dp_json_get_str(r, "backend", "webgpu"));
  snprintf(in->adapter, sizeof in->adapter, "%s", dp_json_get_str(r, "adapter", ""));
  snprintf(in->vendor, sizeof in->vendor, "%s", dp_json_get_str(r, "vendor", ""));
  snprintf(in->architecture, sizeof in->architecture, "%s", dp_json_get_str(r, "architecture", ""));
  snprintf(in->adapter_type, sizeof in->adapter_type, "%s", dp_json_get_str(r, "adapter_type", "unknown"));
  snprintf(in->driver_choice, sizeof in->driver_choice, "browser");
  for (size_t i = 0; i < dp_json_len(f) && g->n_features < 32; i++) {
    const char *name = dp_json_str(dp_json_at(f, i), "");
    snprintf(g->features[g->n_features++], sizeof g->features[0], "%s", name);
    if (!strcmp(name, "shader-f16")) in->has_f16 = 1;
    if (!strcmp(name, "subgroups")) in->has_subgroups = 1;
    if (!strcmp(name, "timestamp-query")) in->has_timestamp = 1;
  }
  in->subgroup_min = (uint32_t)lim(r, "subgroup_min", 0);
  in->subgroup_max = (uint32_t)lim(r, "subgroup_max", 0);
  in->max_storage_binding = lim(l, "maxStorageBufferBindingSize", 134217728);
  in->max_buffer = lim(l, "maxBufferSize", 268435456);
  in->max_uniform_binding = lim(l, "maxUniformBufferBindingSize", 65536);
  in->max_workgroups_per_dim = (uint32_t)lim(l, "maxComputeWorkgroupsPerDimension", 65535);
  in->max_invocations = (uint32_t)lim(l, "maxComputeInvocationsPerWorkgroup", 256);
  in->max_wg_size_x = (uint32_t)lim(l, "maxComputeWorkgroupSizeX", 256);
  in->max_wg_size_y = (uint32_t)lim(l, "maxComputeWorkgroupSizeY", 256);
  in->max_wg_size_z = (uint32_t)lim(l, "maxComputeWorkgroupSizeZ", 64);
  in->max_wg_storage = (uint32_t)lim(l, "maxComputeWorkgroupStorageSize", 16384);
  in->max_storage_buffers = (uint32_t)lim(l, "maxStorageBuffersPerShaderStage", 8);
  in->min_storage_offset_align = (uint32_t)lim(l, "minStorageBufferOffsetAlignment", 256);
  in->min_uniform_offset_align = (uint32_t)lim(l, "minUniformBufferOffsetAlignment", 256);
  in->max_texture_2d = (uint32_t)lim(l, "maxTextureDimension2D", 8192);
  dp_json_free(d);
  g->uniform_align = in->min_uniform_offset_align ? in->min_uniform_offset_align : 256;
  *out = g;
  return DP_OK;
}

void dp_gpu_close(dp_gpu *g) {
  if (!g) return;
  dp_gpu_buffer_free(g->hold_ro);
  dp_gpu_buffer_free(g->hold_rw);
  dp_gpu_texture_free(g->hold_tex);
  for (size_t i = 0; i < g->n_kernels; i++) { dp_free(g->kernels[i]->key); dp_free(g->kernels[i]); }
  dp_free(g->kernels);
  dp_free(g->uniform_host);
  dp_free(g);
}

const dp_gpu_info *dp_gpu_get_info(const dp_gpu *g) { return &g->info; }

size_t dp_gpu_feature_names(const dp_gpu *g, const char **names, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < g->n_features && n < max; i++) names[n++] = g->features[i];
  return n;
}

/* ---- buffers and textures ---- */

dp_status dp_gpu_buffer_create(dp_gpu *g, uint64_t size, const char *label, dp_gpu_buffer **out) {
  *out = NULL;
  if (g->lost) return take_error(g);
  size = (size + 3) & ~(uint64_t)3;
  if (!size) size = 4;
  if (size > g->info.max_buffer)
    return dp_error(DP_ERR_GPU, "buffer '%s' of %llu bytes exceeds the device limit maxBufferSize %llu", label ? label : "",
                    (unsigned long long)size, (unsigned long long)g->info.max_buffer);
  dp_gpu_buffer *b = dp_calloc(1, sizeof *b);
  if (!b) return DP_ERR_NOMEM;
  b->h = js_buffer_create((double)size, label ? label : "", label ? (int)strlen(label) : 0);
  b->size = size;
  if (!b->h) {
    dp_free(b);
    dp_status st = take_error(g);
    return st ? st : dp_error(DP_ERR_GPU, "cannot create GPU buffer '%s' of %llu bytes", label ? label : "", (unsigned long long)size);
  }
  *out = b;
  return DP_OK;
}

void dp_gpu_buffer_free(dp_gpu_buffer *b) {
  if (!b) return;
  js_buffer_free(b->h);
  dp_free(b);
}

uint64_t dp_gpu_buffer_size(const dp_gpu_buffer *b) { return b->size; }

dp_status dp_gpu_buffer_write(dp_gpu *g, dp_gpu_buffer *b, uint64_t offset, const void *src, size_t n) {
  if (g->lost) return take_error(g);
  if ((offset | n) & 3) return dp_error(DP_ERR_INVALID_ARG, "buffer write of %zu bytes at %llu: not a multiple of 4", n, (unsigned long long)offset);
  if (offset + n > b->size)
    return dp_error(DP_ERR_INVALID_ARG, "buffer write [%llu, +%zu) past the end of a %llu-byte buffer",
                    (unsigned long long)offset, n, (unsigned long long)b->size);
  if (n) js_buffer_write(b->h, (double)offset, src, (int)n);
  return DP_OK;
}

dp_status dp_gpu_texture_create(dp_gpu *g, uint32_t width, uint32_t height, const char *label, dp_gpu_texture **out) {
  *out = NULL;
  if (g->lost) return take_error(g);
  if (!width || !height || width > g->info.max_texture_2d || height > g->info.max_texture_2d)
    return dp_error(DP_ERR_INVALID_ARG, "texture '%s' of %u x %u texels: each side must be 1..%u (maxTextureDimension2D)",
                    label ? label : "", width, height, g->info.max_texture_2d);
  dp_gpu_texture *t = dp_calloc(1, sizeof *t);
  if (!t) return DP_ERR_NOMEM;
  t->h = js_texture_create((int)width, (int)height, label ? label : "", label ? (int)strlen(label) : 0);
  if (!t->h) {
    dp_free(t);
    dp_status st = take_error(g);
    return st ? st : dp_error(DP_ERR_GPU, "cannot create texture '%s' of %u x %u texels", label ? label : "", width, height);
  }
  t->width = width, t->height = height;
  *out = t;
  return DP_OK;
}

dp_status dp_gpu_texture_write(dp_gpu *g, dp_gpu_texture *t, uint32_t x, uint32_t y, uint32_t w, uint32_t h,
                               const void *data) {
  if (g->lost) return take_error(g);
  if ((uint64_t)x + w > t->width || (uint64_t)y + h > t->height)
    return dp_error(DP_ERR_INVALID_ARG, "texture write of %u x %u texels at (%u, %u) outside a %u x %u texture", w, h, x, y,
                    t->width, t->height);
  if (w && h) js_texture_write(t->h, (int)x, (int)y, (int)w, (int)h, data, (int)(w * h * 16u));
  return DP_OK;
}

uint32_t dp_gpu_texture_width(const dp_gpu_texture *t) { return t->width; }

void dp_gpu_texture_free(dp_gpu_texture *t) {
  if (!t) return;
  js_texture_free(t->h);
  dp_free(t);
}

dp_status dp_gpu_copy(dp_gpu *g, dp_gpu_buffer *src, uint64_t so, dp_gpu_buffer *dst, uint64_t dof, uint64_t n) {
  if (g->lost) return take_error(g);
  if ((so | dof | n) & 3) return dp_error(DP_ERR_INVALID_ARG, "buffer copy: offsets and size must be multiples of 4");
  if (so + n > src->size || dof + n > dst->size) return dp_error(DP_ERR_INVALID_ARG, "buffer copy out of bounds");
  js_copy(src->h, (double)so, dst->h, (double)dof, (double)n);
  return DP_OK;
}

dp_status dp_gpu_submit(dp_gpu *g) {
  if (g->lost) return take_error(g);
  js_submit(g->uniform_host, (int)g->uniform_used);
  g->uniform_used = 0;
  return take_error(g);
}

/* ---- read-backs ---- */

dp_status dp_gpu_read_start(dp_gpu *g, dp_gpu_buffer *b, uint64_t offset, size_t n, dp_gpu_readback **out) {
  *out = NULL;
  if (g->lost) return take_error(g);
  if ((offset & 3) || offset + n > b->size)
    return dp_error(DP_ERR_INVALID_ARG, "buffer read [%llu, +%zu) invalid for a %llu-byte buffer",
                    (unsigned long long)offset, n, (unsigned long long)b->size);
  uint64_t n4 = (n + 3) & ~(uint64_t)3;
  if (offset + n4 > b->size) n4 = b->size - offset;
  dp_gpu_readback *r = dp_calloc(1, sizeof *r);
  if (!r) return DP_ERR_NOMEM;
  js_submit(g->uniform_host, (int)g->uniform_used); /* everything recorded first, then the copy */
  g->uniform_used = 0;
  r->h = js_read_start(b->h, (double)offset, (double)n4);
  r->n = n;
  dp_status st = take_error(g);
  if (!st && !r->h) st = dp_error(DP_ERR_GPU, "cannot start a read-back of %zu bytes", n);
  if (st) { if (r->h) js_read_discard(r->h); dp_free(r); return st; }
  *out = r;
  return DP_OK;
}

int dp_gpu_read_poll(dp_gpu *g, dp_gpu_readback *r) { return js_read_poll(r->h) != 0 || g->lost; }

dp_status dp_gpu_read_wait(dp_gpu *g, dp_gpu_readback *r) {
  g->n_wait++;
  if (js_read_poll(r->h)) return DP_OK;
  return dp_error(DP_ERR_UNSUPPORTED, "a blocking GPU wait was asked for in the browser build (the host must await the read-back)");
}

uint64_t dp_gpu_wait_count(const dp_gpu *g) { return g->n_wait; }

dp_status dp_gpu_read_finish(dp_gpu *g, dp_gpu_readback *r, void *dst) {
  int state = js_read_poll(r->h);
  if (!state) {
    dp_gpu_read_discard(g, r);
    dp_status st = take_error(g);
    return st ? st : dp_error(DP_ERR_INTERNAL, "read-back finished before its map completed");
  }
  int rc = state > 0 ? js_read_finish(r->h, dst, (int)r->n) : -1;
  if (rc) js_read_discard(r->h);
  dp_free(r);
  dp_status st = take_error(g);
  if (st) return st;
  return rc ? dp_error(DP_ERR_GPU, "read-back failed (mapAsync rejected)") : DP_OK;
}

void dp_gpu_read_discard(dp_gpu *g, dp_gpu_readback *r) {
  if (!r) return;
  js_read_discard(r->h);
  dp_free(r);
}

dp_status dp_gpu_buffer_read(dp_gpu *g, dp_gpu_buffer *b, uint64_t offset, void *dst, size_t n) {
  dp_gpu_readback *r;
  dp_status st = dp_gpu_read_start(g, b, offset, n, &r);
  if (!st) st = dp_gpu_read_wait(g, r);
  if (st) { dp_gpu_read_discard(g, r); return st; }
  return dp_gpu_read_finish(g, r, dst);
}

dp_status dp_gpu_finish(dp_gpu *g) {
  g->n_wait++;
  return dp_error(DP_ERR_UNSUPPORTED, "dp_gpu_finish: a blocking GPU wait was asked for in the browser build");
}

/* ---- kernels ---- */

dp_status dp_gpu_kernel_get(dp_gpu *g, const char *name, const char *source, const char *entry,
                            const dp_gpu_constant *c, size_t nc, dp_gpu_kernel **out) {
  *out = NULL;
  if (!source) return dp_error(DP_ERR_NOT_FOUND, "kernel '%s': no WGSL source", name);
  char key[1024], consts[1024];
  int kl = snprintf(key, sizeof key, "%s|%s|%p", name, entry, (const void *)source);
  int cl = snprintf(consts, sizeof consts, "{");
  for (size_t i = 0; i < nc && kl < (int)sizeof key && cl < (int)sizeof consts; i++) {
    kl += snprintf(key + kl, sizeof key - (size_t)kl, "|%s=%.17g", c[i].name, c[i].value);
    cl += snprintf(consts + cl, sizeof consts - (size_t)cl, "%s\"%s\":%.17g", i ? "," : "", c[i].name, c[i].value);
  }
  if (kl >= (int)sizeof key || cl >= (int)sizeof consts - 1) return dp_error(DP_ERR_INVALID_ARG, "kernel '%s': too many constants", name);
  consts[cl++] = '}';
  for (size_t i = 0; i < g->n_kernels; i++)
    if (!strcmp(g->kernels[i]->key, key)) { *out = g->kernels[i]; return DP_OK; }
  uint8_t kinds[DP_WGSL_MAX_BINDINGS];
  size_t n_kinds;
  if (dp_wgsl_layout(source, kinds, &n_kinds))
    return dp_error_wrap(DP_ERR_INVALID_ARG, "kernel '%s' (entry %s): bind-group layout", name, entry);
  int h = js_kernel_create(name, (int)strlen(name), source, (int)strlen(source), entry, (int)strlen(entry), consts, cl,
                           kinds, (int)n_kinds);
  dp_status st = take_error(g);
  if (!st && !h) st = dp_error(DP_ERR_GPU, "kernel '%s' (entry %s) failed to compile", name, entry);
  if (st) return st;
  dp_gpu_kernel *k = dp_calloc(1, sizeof *k);
  char *ks = dp_strndup(key, (size_t)kl);
  if (!k || !ks || (g->n_kernels == g->cap_kernels &&
                    !(g->kernels = dp_realloc(g->kernels, (g->cap_kernels = g->cap_kernels ? g->cap_kernels * 2 : 32) * sizeof *g->kernels)))) {
    dp_free(k);
    dp_free(ks);
    return DP_ERR_NOMEM;
  }
  k->key = ks, k->h = h;
  memcpy(k->kinds, kinds, sizeof kinds);
  k->n_kinds = n_kinds;
  snprintf(k->label, sizeof k->label, "%s:%s", name, entry);
  g->kernels[g->n_kernels++] = k;
  *out = k;
  return DP_OK;
}

/* ---- dispatches: bind groups (made per call or once, dp_gpu_bound), uniform arena ---- */

static uint32_t uniform_size(size_t params_size) { return (uint32_t)((params_size + 15) & ~(size_t)15) + (params_size ? 0 : 16); }

/* The placeholder bound where a dispatch leaves out binding kind `kind`. */
static dp_status placeholder(dp_gpu *g, int kind, js_binding *e) {
  dp_status st = DP_OK;
  if (kind == DP_WGSL_TEXTURE_U32) {
    if (!g->hold_tex) st = dp_gpu_texture_create(g, 1, 1, "placeholder", &g->hold_tex);
    if (!st) *e = (js_binding){0, 0, 0, g->hold_tex->h};
    return st;
  }
  dp_gpu_buffer **b = kind == DP_WGSL_STORAGE_RW ? &g->hold_rw : &g->hold_ro;
  if (!*b) st = dp_gpu_buffer_create(g, 256, "placeholder", b);
  if (!st) *e = (js_binding){0, 256, (*b)->h, 0};
  return st;
}

/* One bind group of k over bindings (binding i + 1 = bindings[i]), the arena at binding 0
 * with `usize` bytes (its offset dynamic); the same checks as dawn.c. Counted. */
static dp_status make_bind_group(dp_gpu *g, dp_gpu_kernel *k, uint32_t usize, const dp_gpu_binding *bindings, size_t nb,
                                 int *out) {
  *out = 0;
  size_t declared = k->n_kinds ? k->n_kinds - 1 : 0;
  if (nb > declared)
    return dp_error(DP_ERR_INVALID_ARG, "dispatch of %s with %zu storage bindings: its module declares %zu", k->label, nb, declared);
  if (usize > 65536) return dp_error(DP_ERR_INVALID_ARG, "kernel parameters of %u bytes (max 64 KiB)", usize);
  js_binding e[DP_WGSL_MAX_BINDINGS];
  for (size_t i = 1; i < k->n_kinds; i++) {
    int kind = k->kinds[i];
    js_binding *x = &e[i - 1];
    *x = (js_binding){0, 0, 0, 0};
    if (!kind) continue;
    if (i - 1 >= nb) { /* left out: the entry point does not use it */
      dp_status st = placeholder(g, kind, x);
      if (st) return st;
      continue;
    }
    const dp_gpu_binding *b = &bindings[i - 1];
    if ((kind == DP_WGSL_TEXTURE_U32) != (b->tex != NULL))
      return dp_error(DP_ERR_INVALID_ARG, "dispatch of %s: binding %zu is a %s in the module", k->label, i,
                      kind == DP_WGSL_TEXTURE_U32 ? "texture" : "buffer");
    if (b->tex) { x->tex = b->tex->h; continue; }
    if (!b->buf) return dp_error(DP_ERR_INVALID_ARG, "dispatch: binding %zu has no buffer", i);
    uint64_t size = b->size ? b->size : b->buf->size - b->offset;
    if (b->offset + size > b->buf->size)
      return dp_error(DP_ERR_INVALID_ARG, "dispatch: binding %zu [%llu, +%llu) past the end of its %llu-byte buffer", i,
                      (unsigned long long)b->offset, (unsigned long long)size, (unsigned long long)b->buf->size);
    if (size > g->info.max_storage_binding) /* never clamped: a kernel would read past it unseen */
      return dp_error(DP_ERR_INVALID_ARG, "dispatch: binding %zu of %llu bytes exceeds the storage binding limit %llu", i,
                      (unsigned long long)size, (unsigned long long)g->info.max_storage_binding);
    *x = (js_binding){(double)b->offset, (double)size, b->buf->h, 0};
  }
  *out = js_bind_group_create(k->h, (int)usize, e, k->n_kinds ? (int)k->n_kinds - 1 : 0);
  if (!*out) return dp_error(DP_ERR_GPU, "dispatch of %s: bind group creation failed", k->label);
  g->n_bind_groups++;
  return DP_OK;
}

static dp_status dispatch_checks(dp_gpu *g, uint32_t gx, uint32_t gy, uint32_t gz) {
  if (g->lost) return take_error(g);
  uint32_t lm = g->info.max_workgroups_per_dim;
  if (gx > lm || gy > lm || gz > lm)
    return dp_error(DP_ERR_INVALID_ARG, "dispatch of %u x %u x %u workgroups exceeds the per-dimension limit %u (use dp_gpu_grid_2d)", gx, gy, gz, lm);
  return DP_OK;
}

/* Copy params into the arena (usize bytes, zero-padded); *off its offset. */
static dp_status arena_put(dp_gpu *g, const void *params, size_t params_size, uint32_t usize, uint32_t *off) {
  uint32_t o = (g->uniform_used + g->uniform_align - 1) / g->uniform_align * g->uniform_align;
  if (o + usize > UNIFORM_ARENA_BYTES) {
    dp_status st = dp_gpu_submit(g); /* arena full: flush what was recorded */
    if (st) return st;
    o = 0;
  }
  memset(g->uniform_host + o, 0, usize);
  if (params_size) memcpy(g->uniform_host + o, params, params_size);
  g->uniform_used = o + usize;
  *off = o;
  return DP_OK;
}

dp_status dp_gpu_dispatch(dp_gpu *g, dp_gpu_kernel *k, const void *params, size_t params_size,
                          const dp_gpu_binding *bindings, size_t nb, uint32_t gx, uint32_t gy, uint32_t gz) {
  dp_status st = dispatch_checks(g, gx, gy, gz);
  uint32_t usize = uniform_size(params_size), off = 0;
  int bg = 0;
  if (!st) st = make_bind_group(g, k, usize, bindings, nb, &bg);
  if (!st) st = arena_put(g, params, params_size, usize, &off);
  if (!st) {
    js_dispatch(k->h, bg, (int)off, (int)gx, (int)gy, (int)gz);
    g->n_dispatch++;
  }
  if (bg) js_bind_group_free(bg); /* the pass keeps it alive */
  return st;
}

dp_status dp_gpu_bound_create(dp_gpu *g, dp_gpu_kernel *k, size_t params_size, const dp_gpu_binding *bindings, size_t nb,
                              dp_gpu_bound **out) {
  *out = NULL;
  if (g->lost) return take_error(g);
  dp_gpu_bound *b = dp_calloc(1, sizeof *b);
  if (!b) return DP_ERR_NOMEM;
  b->k = k, b->params_size = params_size, b->usize = uniform_size(params_size);
  dp_status st = make_bind_group(g, k, b->usize, bindings, nb, &b->bg);
  if (st) { dp_free(b); return st; }
  *out = b;
  return DP_OK;
}

dp_status dp_gpu_dispatch_bound(dp_gpu *g, dp_gpu_bound *b, const void *params, uint32_t gx, uint32_t gy, uint32_t gz) {
  uint32_t off = 0;
  dp_status st = dispatch_checks(g, gx, gy, gz);
  if (!st) st = arena_put(g, params, b->params_size, b->usize, &off);
  if (!st) {
    js_dispatch(b->k->h, b->bg, (int)off, (int)gx, (int)gy, (int)gz);
    g->n_dispatch++;
  }
  return st;
}

void dp_gpu_bound_free(dp_gpu_bound *b) {
  if (!b) return;
  js_bind_group_free(b->bg);
  dp_free(b);
}

dp_gpu_kernel *dp_gpu_bound_kernel(const dp_gpu_bound *b) { return b->k; }
uint64_t dp_gpu_bind_group_count(const dp_gpu *g) { return g->n_bind_groups; }
uint64_t dp_gpu_kernel_count(const dp_gpu *g) { return g->n_kernels; }

uint64_t dp_gpu_dispatch_count(const dp_gpu *g) { return g->n_dispatch; }

dp_status dp_gpu_profile(dp_gpu *g, int on) {
  if (!on) return DP_OK;
  return dp_error(DP_ERR_UNSUPPORTED, "GPU profiling is not available in the browser build");
}

size_t dp_gpu_profile_read(const dp_gpu *g, dp_gpu_kernel_time *out, size_t max) { return 0; }

void dp_gpu_grid_2d(const dp_gpu *g, uint64_t n, uint32_t *gx, uint32_t *gy) {
  uint32_t lm = g->info.max_workgroups_per_dim ? g->info.max_workgroups_per_dim : 65535;
  if (n <= lm) { *gx = (uint32_t)(n ? n : 1); *gy = 1; return; }
  uint64_t y = (n + lm - 1) / lm;
  *gx = (uint32_t)((n + y - 1) / y);
  *gy = (uint32_t)y;
}
