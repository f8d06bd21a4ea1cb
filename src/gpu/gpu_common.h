/* gpu_common.h -- inside the device layer only (never included outside src/gpu): the state
 * and logic both backends share, kept once in gpu_common.c, and the few calls each backend
 * gives it. A build links gpu_common.c with exactly one backend: src/gpu/dawn.c natively,
 * src/gpu/web.c in the browser (the backend is chosen at build time; no function table).
 *
 * gpu_common.c owns: the kernel cache (key, layout from wgsl_layout.h, labels), bind-group
 * bookkeeping for dp_gpu_dispatch and dp_gpu_bound (binding checks, placeholders for left-out
 * bindings), the uniform arena (host side; the backend uploads it at submit), dispatch checks,
 * the counters, and the argument checks of the buffer, texture and copy calls. A backend owns
 * its WebGPU objects and how a buffer, a texture, a pipeline, a bind group and a dispatch are
 * made from what gpu_common.c resolved. */
#ifndef DP_GPU_GPU_COMMON_H
#define DP_GPU_GPU_COMMON_H
#include "gpu/gpu.h"
#include "gpu/wgsl_layout.h"

#define GPU_UNIFORM_ARENA_BYTES (1u << 20)

/* A backend object: a WGPU handle (pointer) natively, a JS handle number in the browser; 0 none. */
typedef uintptr_t gpu_handle;

/* What every device keeps in common: each backend's struct dp_gpu begins with it (member
 * `c`), so gpu_common.c reaches it as GPU_C(g). */
typedef struct gpu_common {
  dp_gpu_info info;
  int lost;                          /* the device is gone: calls return the backend's error */
  uint8_t *uniform_host;             /* [GPU_UNIFORM_ARENA_BYTES] parameters recorded since the last submit */
  uint32_t uniform_used, uniform_align;
  dp_gpu_kernel **kernels;           /* the kernel cache, in creation order */
  size_t n_kernels, cap_kernels;
  uint64_t n_dispatch, n_bind_groups, n_wait;
  dp_gpu_buffer *hold_ro, *hold_rw;  /* placeholders for bindings a dispatch leaves out */
  dp_gpu_texture *hold_tex;
  uint64_t n_submit;                 /* submits so far: a bound's uniform slots count from its last one */
  struct dp_gpu_bound **dirty;       /* bounds with slots written since the last submit */
  size_t n_dirty, cap_dirty;
} gpu_common;
#define GPU_C(g) ((gpu_common *)(g))

/* Buffers and textures: the backend makes the objects, gpu_common.c checks the arguments and
 * keeps the sizes. */
struct dp_gpu_buffer {
  gpu_handle h;                      /* natively a WGPUBuffer */
  uint64_t size;                     /* bytes, a multiple of 4 */
};
struct dp_gpu_texture {
  gpu_handle h, view;                /* natively a WGPUTexture and its view; in the browser view is 0 */
  uint32_t width, height;            /* texels (rgba32uint) */
};

struct dp_gpu_kernel {
  char *key;                         /* "name|entry|source pointer|constant=value..." */
  uint64_t hash;                     /* of key */
  char label[64];                    /* "name:entry" */
  uint8_t kinds[DP_WGSL_MAX_BINDINGS]; /* DP_WGSL_* per binding number (wgsl_layout.h) */
  size_t n_kinds;
  gpu_handle pipeline, layout;       /* the backend's (natively the pipeline and its explicit
                                        bind-group layout; in the browser the JS kernel, 0) */
  uint64_t prof_calls;               /* profiled dispatches and their summed GPU time (dp_gpu_profile) */
  double prof_ns;
};

/* ---- from gpu_common.c, for the backends ---- */

/* After the backend filled c.info: the uniform arena. DP_ERR_NOMEM (with its message). */
dp_status gpu_common_init(dp_gpu *g);
/* Frees the kernels (through gpu_backend_kernel_free), placeholders and the arena. */
void gpu_common_free(dp_gpu *g);
/* The arena since the last submit, then empty (the backend uploads it before submitting);
 * the bounds' slots used since then are written here (gpu_backend_uniform_write). */
uint32_t gpu_common_take_uniforms(dp_gpu *g);

/* The argument checks of dp_gpu_read_start (also the backend's error once the device is lost);
 * *n4: n rounded up to 4 within the buffer. */
dp_status gpu_check_read(dp_gpu *g, const dp_gpu_buffer *b, uint64_t offset, size_t n, uint64_t *n4);

/* ---- from the backend (dawn.c or web.c), for gpu_common.c ---- */

/* The error the device reported (DP_OK none); sets c.lost when the device is gone. */
dp_status gpu_backend_error(dp_gpu *g);
/* Make b->h for b->size bytes (storage, copy source and destination) / t->h (and t->view) for
 * t->width x t->height texels, zero-filled; on failure nothing is left and the error says why.
 * The writes and the copy get checked, non-empty ranges. */
dp_status gpu_backend_buffer_create(dp_gpu *g, dp_gpu_buffer *b, const char *label);
void gpu_backend_buffer_free(dp_gpu_buffer *b);
void gpu_backend_buffer_write(dp_gpu *g, dp_gpu_buffer *b, uint64_t offset, const void *src, size_t n);
void gpu_backend_copy(dp_gpu *g, dp_gpu_buffer *src, uint64_t so, dp_gpu_buffer *dst, uint64_t dof, uint64_t n);
dp_status gpu_backend_texture_create(dp_gpu *g, dp_gpu_texture *t, const char *label);
void gpu_backend_texture_free(dp_gpu_texture *t);
void gpu_backend_texture_write(dp_gpu *g, dp_gpu_texture *t, uint32_t x, uint32_t y, uint32_t w, uint32_t h, const void *data);
/* Compile name/entry of `source` with the override constants into k->pipeline (and
 * k->layout) with the explicit bind-group layout kinds[0..n_kinds). k->label is set. */
dp_status gpu_backend_kernel_create(dp_gpu *g, dp_gpu_kernel *k, const char *name, const char *source, const char *entry,
                                    const dp_gpu_constant *c, size_t nc);
void gpu_backend_kernel_free(dp_gpu_kernel *k);
/* A bind group of k: binding 0 (when the module declares it) usize bytes at the static
 * offset uoff of uniform buffer ubuf, 0 meaning the uniform arena; binding i (1 <= i <
 * k->n_kinds) res[i] (checked, placeholders in; a binding the module does not declare has
 * neither buf nor tex). */
dp_status gpu_backend_bind_group(dp_gpu *g, dp_gpu_kernel *k, gpu_handle ubuf, uint32_t uoff, uint32_t usize,
                                 const dp_gpu_binding *res, gpu_handle *out);
void gpu_backend_bind_group_free(gpu_handle bg);
/* Before a dispatch is recorded (the native profiler submits when its query set is full). */
dp_status gpu_backend_dispatch_prepare(dp_gpu *g);
/* Record a dispatch of k with bind group bg. */
void gpu_backend_record(dp_gpu *g, dp_gpu_kernel *k, gpu_handle bg, uint32_t gx, uint32_t gy, uint32_t gz);
/* A uniform buffer of `bytes` (uniform, copy destination) for a bound's slots; a queue write
 * of its first n bytes (ordered before the next submit); release. */
dp_status gpu_backend_uniform_create(dp_gpu *g, uint64_t bytes, gpu_handle *out);
void gpu_backend_uniform_write(dp_gpu *g, gpu_handle h, const void *src, size_t n);
void gpu_backend_uniform_free(gpu_handle h);
#endif
