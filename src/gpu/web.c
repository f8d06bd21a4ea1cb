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
 * Recording is dawn.c's, through the same src/gpu/gpu_common.c (kernel cache, binding checks,
 * placeholders, dp_gpu_bound and its uniform slots, the host uniform arena uploaded by one
 * queue write at submit; uniforms bound at static offsets):
 * this file gives it the gpu_backend_* calls of gpu_common.h as JS imports; JS keeps one
 * command encoder and compute pass open until submit.
 * Read-backs: read_start records the copy, submits and starts mapAsync in JS; poll asks JS
 * whether the promise resolved; finish copies the mapped bytes into wasm memory. Nothing here
 * can block: dp_gpu_read_wait (and with it dp_gpu_buffer_read and dp_gpu_finish) fails with
 * DP_ERR_UNSUPPORTED; the host awaits the maps in JS and calls back into the core.
 * Errors: validation and out-of-memory errors arrive asynchronously in JS (error scopes and
 * the uncaptured-error event); they are collected there and surface at the next submit, poll
 * or finish as DP_ERR_GPU with the browser's message. Profiling is not offered (UNSUPPORTED).
 * Depends on core (alloc, error, json) and gpu_common only. */
#include "gpu/gpu_common.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/json.h"
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define IMPORT(name) __attribute__((import_module("dp_gpu"), import_name(#name)))

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
IMPORT(uniform_create) int js_uniform_create(double size);
IMPORT(uniform_free) void js_uniform_free(int h); /* dropped, not destroyed: recorded dispatches may still use it */
IMPORT(bind_group_create) int js_bind_group_create(int k, int ubuf, int uoff, int usize, const void *bindings, int n);
IMPORT(bind_group_free) void js_bind_group_free(int bg);
IMPORT(dispatch) void js_dispatch(int k, int bg, int gx, int gy, int gz);
IMPORT(submit) void js_submit(const void *arena, int used);
IMPORT(read_start) int js_read_start(int buf, double offset, double n4);
IMPORT(read_poll) int js_read_poll(int rb);                /* 0 pending, 1 mapped, -1 failed */
IMPORT(read_finish) int js_read_finish(int rb, void *dst, int n); /* 0 ok */
IMPORT(read_discard) void js_read_discard(int rb);

struct dp_gpu_readback { int h; size_t n; };

struct dp_gpu {
  gpu_common c;          /* first (gpu_common.h): info, arena, kernel cache, counters */
  char features[32][32];
  size_t n_features;
};
_Static_assert(offsetof(struct dp_gpu, c) == 0, "gpu_common first (gpu_common.h)");

/* One binding as gpu.js reads it, for binding numbers 1.. of a bind group: byte offset and
 * size as doubles (exact below 2^53), then the buffer and texture handles (both 0: the module
 * declares no binding with this number). */
typedef struct js_binding { double offset, size; int32_t buf, tex; } js_binding;
_Static_assert(sizeof(js_binding) == 24, "js_binding layout read by web/engine/gpu.js");

/* A pending error from JS as DP_ERR_GPU (DP_OK when none). */
dp_status gpu_backend_error(dp_gpu *g) {
  char msg[1024];
  int n = js_take_error(msg, (int)sizeof msg - 1);
  if (!n) return DP_OK;
  if (n < 0) { g->c.lost = 1; n = -n; }
  if (n > (int)sizeof msg - 1) n = (int)sizeof msg - 1;
  msg[n] = 0;
  return dp_error(DP_ERR_GPU, "%s%s", g->c.lost ? "WebGPU device lost: " : "WebGPU: ", msg);
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
  if (!g) {
    dp_json_free(d);
    return DP_ERR_NOMEM;
  }
  const dp_json *r = dp_json_root(d), *l = dp_json_get(r, "limits"), *f = dp_json_get(r, "features");
  dp_gpu_info *in = &g->c.info;
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
  dp_status st = gpu_common_init(g);
  if (st) {
    dp_free(g);
    return st;
  }
  *out = g;
  return DP_OK;
}

void dp_gpu_close(dp_gpu *g) {
  if (!g) return;
  gpu_common_free(g);
  dp_free(g);
}

size_t dp_gpu_feature_names(const dp_gpu *g, const char **names, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < g->n_features && n < max; i++) names[n++] = g->features[i];
  return n;
}

/* ---- buffers and textures (gpu_common.c checks the arguments) ---- */

dp_status gpu_backend_buffer_create(dp_gpu *g, dp_gpu_buffer *b, const char *label) {
  b->h = (gpu_handle)js_buffer_create((double)b->size, label ? label : "", label ? (int)strlen(label) : 0);
  if (b->h) return DP_OK;
  dp_status st = gpu_backend_error(g);
  return st ? st : dp_error(DP_ERR_GPU, "cannot create GPU buffer '%s' of %llu bytes", label ? label : "", (unsigned long long)b->size);
}

void gpu_backend_buffer_free(dp_gpu_buffer *b) { js_buffer_free((int)b->h); }

void gpu_backend_buffer_write(dp_gpu *g, dp_gpu_buffer *b, uint64_t offset, const void *src, size_t n) {
  js_buffer_write((int)b->h, (double)offset, src, (int)n);
}

dp_status gpu_backend_texture_create(dp_gpu *g, dp_gpu_texture *t, const char *label) {
  t->h = (gpu_handle)js_texture_create((int)t->width, (int)t->height, label ? label : "", label ? (int)strlen(label) : 0);
  if (t->h) return DP_OK;
  dp_status st = gpu_backend_error(g);
  return st ? st : dp_error(DP_ERR_GPU, "cannot create texture '%s' of %u x %u texels", label ? label : "", t->width, t->height);
}

void gpu_backend_texture_write(dp_gpu *g, dp_gpu_texture *t, uint32_t x, uint32_t y, uint32_t w, uint32_t h, const void *data) {
  js_texture_write((int)t->h, (int)x, (int)y, (int)w, (int)h, data, (int)(w * h * 16u));
}

void gpu_backend_texture_free(dp_gpu_texture *t) { js_texture_free((int)t->h); }

void gpu_backend_copy(dp_gpu *g, dp_gpu_buffer *src, uint64_t so, dp_gpu_buffer *dst, uint64_t dof, uint64_t n) {
  js_copy((int)src->h, (double)so, (int)dst->h, (double)dof, (double)n);
}

dp_status dp_gpu_submit(dp_gpu *g) {
  if (g->c.lost) return gpu_backend_error(g);
  uint32_t used = gpu_common_take_uniforms(g);
  js_submit(g->c.uniform_host, (int)used);
  return gpu_backend_error(g);
}

/* ---- read-backs ---- */

dp_status dp_gpu_read_start(dp_gpu *g, dp_gpu_buffer *b, uint64_t offset, size_t n, dp_gpu_readback **out) {
  *out = NULL;
  uint64_t n4;
  dp_status st = gpu_check_read(g, b, offset, n, &n4);
  if (st) return st;
  dp_gpu_readback *r = dp_calloc(1, sizeof *r);
  if (!r) return DP_ERR_NOMEM;
  uint32_t used = gpu_common_take_uniforms(g);
  js_submit(g->c.uniform_host, (int)used); /* everything recorded first, then the copy */
  r->h = js_read_start((int)b->h, (double)offset, (double)n4);
  r->n = n;
  st = gpu_backend_error(g);
  if (!st && !r->h) st = dp_error(DP_ERR_GPU, "cannot start a read-back of %zu bytes", n);
  if (st) { if (r->h) js_read_discard(r->h); dp_free(r); return st; }
  *out = r;
  return DP_OK;
}

int dp_gpu_read_poll(dp_gpu *g, dp_gpu_readback *r) { return js_read_poll(r->h) != 0 || g->c.lost; }

dp_status dp_gpu_read_wait(dp_gpu *g, dp_gpu_readback *r) {
  g->c.n_wait++;
  if (js_read_poll(r->h)) return DP_OK;
  return dp_error(DP_ERR_UNSUPPORTED, "a blocking GPU wait was asked for in the browser build (the host must await the read-back)");
}

dp_status dp_gpu_read_finish(dp_gpu *g, dp_gpu_readback *r, void *dst) {
  int state = js_read_poll(r->h);
  if (!state) {
    dp_gpu_read_discard(g, r);
    dp_status st = gpu_backend_error(g);
    return st ? st : dp_error(DP_ERR_INTERNAL, "read-back finished before its map completed");
  }
  int rc = state > 0 ? js_read_finish(r->h, dst, (int)r->n) : -1;
  if (rc) js_read_discard(r->h);
  dp_free(r);
  dp_status st = gpu_backend_error(g);
  if (st) return st;
  return rc ? dp_error(DP_ERR_GPU, "read-back failed (mapAsync rejected)") : DP_OK;
}

void dp_gpu_read_discard(dp_gpu *g, dp_gpu_readback *r) {
  if (!r) return;
  js_read_discard(r->h);
  dp_free(r);
}

dp_status dp_gpu_finish(dp_gpu *g) {
  g->c.n_wait++;
  return dp_error(DP_ERR_UNSUPPORTED, "dp_gpu_finish: a blocking GPU wait was asked for in the browser build");
}

/* ---- kernels, bind groups and dispatches (gpu_common.c keeps the cache and the checks) ---- */

dp_status gpu_backend_kernel_create(dp_gpu *g, dp_gpu_kernel *k, const char *name, const char *source, const char *entry,
                                    const dp_gpu_constant *c, size_t nc) {
  char consts[1024]; /* the override constants as a JSON object */
  int cl = snprintf(consts, sizeof consts, "{");
  for (size_t i = 0; i < nc && cl < (int)sizeof consts; i++)
    cl += snprintf(consts + cl, sizeof consts - (size_t)cl, "%s\"%s\":%.17g", i ? "," : "", c[i].name, c[i].value);
  if (cl >= (int)sizeof consts - 1) return dp_error(DP_ERR_INVALID_ARG, "kernel '%s': too many constants", name);
  consts[cl++] = '}';
  int h = js_kernel_create(name, (int)strlen(name), source, (int)strlen(source), entry, (int)strlen(entry), consts, cl,
                           k->kinds, (int)k->n_kinds);
  dp_status st = gpu_backend_error(g);
  if (!st && !h) st = dp_error(DP_ERR_GPU, "kernel '%s' (entry %s) failed to compile", name, entry);
  k->pipeline = (gpu_handle)h;
  return st;
}

void gpu_backend_kernel_free(dp_gpu_kernel *k) { (void)k; } /* JS keeps its pipelines until the page goes */

dp_status gpu_backend_bind_group(dp_gpu *g, dp_gpu_kernel *k, gpu_handle ubuf, uint32_t uoff, uint32_t usize,
                                 const dp_gpu_binding *res, gpu_handle *out) {
  js_binding e[DP_WGSL_MAX_BINDINGS];
  for (size_t i = 1; i < k->n_kinds; i++) {
    const dp_gpu_binding *r = &res[i];
    if (r->tex) e[i - 1] = (js_binding){0, 0, 0, (int32_t)r->tex->h};
    else if (r->buf) e[i - 1] = (js_binding){(double)r->offset, (double)r->size, (int32_t)r->buf->h, 0};
    else e[i - 1] = (js_binding){0, 0, 0, 0};
  }
  *out = (gpu_handle)js_bind_group_create((int)k->pipeline, (int)ubuf, (int)uoff, (int)usize, e, k->n_kinds ? (int)k->n_kinds - 1 : 0);
  return DP_OK;
}

void gpu_backend_bind_group_free(gpu_handle bg) { js_bind_group_free((int)bg); }

dp_status gpu_backend_dispatch_prepare(dp_gpu *g) { return DP_OK; }

void gpu_backend_record(dp_gpu *g, dp_gpu_kernel *k, gpu_handle bg, uint32_t gx, uint32_t gy, uint32_t gz) {
  js_dispatch((int)k->pipeline, (int)bg, (int)gx, (int)gy, (int)gz);
}

dp_status gpu_backend_uniform_create(dp_gpu *g, uint64_t bytes, gpu_handle *out) {
  *out = (gpu_handle)js_uniform_create((double)bytes);
  if (*out) return DP_OK;
  dp_status st = gpu_backend_error(g);
  return st ? st : dp_error(DP_ERR_GPU, "cannot create a %llu-byte uniform buffer", (unsigned long long)bytes);
}

void gpu_backend_uniform_write(dp_gpu *g, gpu_handle h, const void *src, size_t n) { js_buffer_write((int)h, 0, src, (int)n); }

void gpu_backend_uniform_free(gpu_handle h) { js_uniform_free((int)h); }

/* ---- profiling: not offered ---- */

dp_status dp_gpu_profile(dp_gpu *g, int on) {
  if (!on) return DP_OK;
  return dp_error(DP_ERR_UNSUPPORTED, "GPU profiling is not available in the browser build");
}

size_t dp_gpu_profile_read(const dp_gpu *g, dp_gpu_kernel_time *out, size_t max) { return 0; }
