/* gpu.h -- the device layer: the only interface the rest of the engine has to the GPU.
 * Implemented natively over Dawn's webgpu.h (src/gpu/dawn.c) and, for the browser build,
 * over JS imports (src/gpu/web.c), each linked with src/gpu/gpu_common.c (what does not
 * depend on the backend: kernel cache, binding checks, bound dispatches, uniform arena). It knows nothing of models: buffers, kernels (compiled
 * WGSL pipelines, cached), dispatches recorded into a command buffer, submit, read back.
 *
 * Binding convention for every kernel: if the dispatch has parameters they are a uniform
 * struct at @group(0) @binding(0); storage buffers follow at @binding(1), (2), ... in the
 * order given to dp_gpu_dispatch. Each kernel's bind-group layout is explicit, read from its
 * module's `@group(0) @binding(N) var...` declarations (uniform at 0, `var<storage, read>`,
 * `var<storage, read_write>`, `texture_2d<u32>`): a dispatch may leave out trailing bindings
 * its entry point does not use; they are bound to placeholders.
 *
 * Bind groups: dp_gpu_dispatch makes one per call (tests, tools, prefill). The decode path
 * uses dp_gpu_bound (below): a kernel + its bindings resolved into bind groups made once,
 * reused by every dp_gpu_dispatch_bound, the parameters still per dispatch.
 * dp_gpu_bind_group_count / dp_gpu_kernel_count let tests assert that steady-state decode
 * creates neither.
 *
 * Recording: dispatches accumulate in one command encoder / compute pass until
 * dp_gpu_submit (or a read-back, which submits first). Uniform parameters are uploaded at
 * submit, from an arena (dp_gpu_dispatch) and from each bound's own slots, and bound at
 * static offsets (no dynamic offsets: lavapipe maps a new descriptor set for every bind with
 * one).
 *
 * Read-backs come in two halves so that the engine core never blocks: dp_gpu_read_start
 * (copy + submit + map request, returns a pending handle) and dp_gpu_read_finish (the bytes,
 * once the map completed). Only a host loop waits in between: natively dp_gpu_read_wait
 * (Dawn's instance event processing); in the browser the JS side resolves the mapAsync
 * promise and calls back in. dp_gpu_buffer_read is start + wait + finish (tests, tools). */
#ifndef DP_GPU_GPU_H
#define DP_GPU_GPU_H
#include <stddef.h>
#include <stdint.h>
#include "doppler_status.h"

typedef struct dp_gpu dp_gpu;
typedef struct dp_gpu_buffer dp_gpu_buffer;
typedef struct dp_gpu_kernel dp_gpu_kernel;
typedef struct dp_gpu_texture dp_gpu_texture;

typedef struct dp_gpu_info {
  char backend[16];        /* "vulkan", "metal", ... */
  char adapter[256];       /* device name / description */
  char vendor[128];
  char architecture[128];
  char adapter_type[16];   /* "discrete", "integrated", "cpu", "unknown" */
  char driver_choice[32];  /* which choice produced it: "default", "lavapipe", "swiftshader", ... */
  uint32_t vendor_id, device_id;
  int has_f16, has_subgroups, has_timestamp;
  int has_timestamp_inpass; /* dp_gpu_profile stamps dispatches inside one pass (native, DOPPLER_PROFILE_INPASS=1) */
  int has_dot4;            /* WGSL language feature packed_4x8_integer_dot_product (dot4I8Packed, pack4xI8) */
  uint32_t subgroup_min, subgroup_max;
  /* limits the engine respects */
  uint64_t max_storage_binding;     /* maxStorageBufferBindingSize (both lowered by the test-only */
  uint64_t max_buffer;              /* maxBufferSize               DOPPLER_MAX_BINDING_BYTES)  */
  uint64_t max_uniform_binding;
  uint32_t max_workgroups_per_dim;  /* maxComputeWorkgroupsPerDimension (65535) */
  uint32_t max_invocations;         /* maxComputeInvocationsPerWorkgroup */
  uint32_t max_wg_size_x, max_wg_size_y, max_wg_size_z;
  uint32_t max_wg_storage;          /* maxComputeWorkgroupStorageSize */
  uint32_t max_storage_buffers;     /* maxStorageBuffersPerShaderStage */
  uint32_t min_storage_offset_align, min_uniform_offset_align;
  uint32_t max_texture_2d;          /* maxTextureDimension2D */
} dp_gpu_info;

/* Open a device. `choice` is NULL/"" (then $DOPPLER_ADAPTER, then automatic: hardware GPU,
 * then lavapipe, then SwiftShader), or one of "default", "lavapipe", "swiftshader", or a path
 * to a Vulkan ICD json. Dawn's Null backend is never accepted. */
dp_status dp_gpu_open(const char *choice, dp_gpu **out);
void dp_gpu_close(dp_gpu *g);
const dp_gpu_info *dp_gpu_get_info(const dp_gpu *g);
/* Feature list as strings (e.g. "shader-f16"), for `doppler devices`. */
size_t dp_gpu_feature_names(const dp_gpu *g, const char **names, size_t max);

/* Buffers: storage | copy-src | copy-dst. Size is rounded up to 4 bytes. */
dp_status dp_gpu_buffer_create(dp_gpu *g, uint64_t size, const char *label, dp_gpu_buffer **out);
void dp_gpu_buffer_free(dp_gpu_buffer *b);
uint64_t dp_gpu_buffer_size(const dp_gpu_buffer *b);
/* Queue a write (ordered before later submits). n must be a multiple of 4. */
dp_status dp_gpu_buffer_write(dp_gpu *g, dp_gpu_buffer *b, uint64_t offset, const void *src, size_t n);
/* Blocking read-back (start + wait + finish): submit pending work, copy [offset, offset+n)
 * to the host. Not for the generation core, which uses the halves below. */
dp_status dp_gpu_buffer_read(dp_gpu *g, dp_gpu_buffer *b, uint64_t offset, void *dst, size_t n);

/* ---- read-back in halves ---- */
typedef struct dp_gpu_readback dp_gpu_readback;
/* Record a copy of [offset, offset+n) into a staging buffer of the handle's own, submit
 * everything recorded, request the map. Several handles may be in flight at once. */
dp_status dp_gpu_read_start(dp_gpu *g, dp_gpu_buffer *b, uint64_t offset, size_t n, dp_gpu_readback **out);
/* Never blocks: 1 once the map has completed (or failed, or the device is lost). */
int dp_gpu_read_poll(dp_gpu *g, dp_gpu_readback *r);
/* Native host loops only: block until the map completed. Counted (dp_gpu_wait_count). */
dp_status dp_gpu_read_wait(dp_gpu *g, dp_gpu_readback *r);
/* The n bytes asked for, once the map completed (poll said 1 or wait returned); releases r. */
dp_status dp_gpu_read_finish(dp_gpu *g, dp_gpu_readback *r, void *dst);
/* Release r without its bytes, pending or not (NULL: nothing). */
void dp_gpu_read_discard(dp_gpu *g, dp_gpu_readback *r);
/* Blocking waits (dp_gpu_read_wait, hence dp_gpu_buffer_read and dp_gpu_finish) so far. */
uint64_t dp_gpu_wait_count(const dp_gpu *g);
/* Record a buffer-to-buffer copy (sizes and offsets multiples of 4). */
dp_status dp_gpu_copy(dp_gpu *g, dp_gpu_buffer *src, uint64_t src_off, dp_gpu_buffer *dst, uint64_t dst_off, uint64_t n);

/* Textures: read-only 2-D arrays of 16-byte texels (rgba32uint; WGSL texture_2d<u32>, read
 * with textureLoad), width x height <= max_texture_2d, zero-filled at creation. Weights for
 * texel-fetch kernels: on CPU adapters a texel fetch costs a fraction of a storage-buffer vec4
 * load (lavapipe loads storage buffers lane by lane, with a bounds check each). */
dp_status dp_gpu_texture_create(dp_gpu *g, uint32_t width, uint32_t height, const char *label, dp_gpu_texture **out);
/* Queue a write of the w x h texel rectangle at (x, y) from `data` (w * 16 bytes per row,
 * rows back to back); ordered before later submits like dp_gpu_buffer_write. */
dp_status dp_gpu_texture_write(dp_gpu *g, dp_gpu_texture *t, uint32_t x, uint32_t y, uint32_t w, uint32_t h,
                               const void *data);
void dp_gpu_texture_free(dp_gpu_texture *t);
uint32_t dp_gpu_texture_width(const dp_gpu_texture *t);

/* Kernels: WGSL `source` compiled with entry point `entry` and override constants; cached by
 * (name, entry, constants, source pointer). A compile error returns DP_ERR_GPU with the
 * shader's message and line. */
typedef struct dp_gpu_constant { const char *name; double value; } dp_gpu_constant;
dp_status dp_gpu_kernel_get(dp_gpu *g, const char *name, const char *source, const char *entry,
                            const dp_gpu_constant *constants, size_t n_constants, dp_gpu_kernel **out);

typedef struct dp_gpu_binding {
  dp_gpu_buffer *buf;
  uint64_t offset; /* multiple of min_storage_offset_align (256) */
  uint64_t size;   /* 0 = to the end of the buffer; past max_storage_binding is an error, never clamped */
  dp_gpu_texture *tex; /* instead of buf: a texture (texture_2d<u32> in the kernel) */
} dp_gpu_binding;

/* Record one dispatch. params (may be NULL) is copied into the uniform arena. */
dp_status dp_gpu_dispatch(dp_gpu *g, dp_gpu_kernel *k, const void *params, size_t params_size,
                          const dp_gpu_binding *bindings, size_t n_bindings,
                          uint32_t groups_x, uint32_t groups_y, uint32_t groups_z);
/* ---- bound dispatches: a bind group made once, reused (the decode path) ----
 * dp_gpu_bound_create resolves k and its storage bindings (checked as dp_gpu_dispatch checks
 * them) into bind groups whose binding 0 holds params_size bytes rounded up to 16 (0: the
 * kernel takes no parameters). dp_gpu_dispatch_bound then records a dispatch of it: params
 * (params_size bytes, NULL when 0) are copied to where that dispatch's bind group reads them
 * (the bound's next uniform slot of this submit; slots and their bind groups are added while
 * a submit needs more, up to 64, then the recording is submitted first); no string or cache
 * lookup per call and, once the slots suffice, no bind group. A bound keeps its buffers and
 * textures alive in the device's eyes: free it before them (dp_gpu_buffer_free destroys a
 * buffer; a bound still using it fails at the next submit). Any number of dispatches of one
 * bound may be recorded between submits. */
typedef struct dp_gpu_bound dp_gpu_bound;
dp_status dp_gpu_bound_create(dp_gpu *g, dp_gpu_kernel *k, size_t params_size, const dp_gpu_binding *bindings,
                              size_t n_bindings, dp_gpu_bound **out);
dp_status dp_gpu_dispatch_bound(dp_gpu *g, dp_gpu_bound *b, const void *params, uint32_t groups_x, uint32_t groups_y,
                                uint32_t groups_z);
void dp_gpu_bound_free(dp_gpu_bound *b); /* NULL: nothing */
dp_gpu_kernel *dp_gpu_bound_kernel(const dp_gpu_bound *b);

/* Submit everything recorded so far (does not wait). */
dp_status dp_gpu_submit(dp_gpu *g);
/* Submit and wait until the queue is idle. Reports validation errors and device loss. */
dp_status dp_gpu_finish(dp_gpu *g);
/* Split n workgroups into a 2-D grid within the per-dimension limit: x*y >= n.
 * Kernels recover the linear index as wg.x + wg.y * num_workgroups.x and skip >= n. */
void dp_gpu_grid_2d(const dp_gpu *g, uint64_t n, uint32_t *gx, uint32_t *gy);
/* ---- counters and profiling (`doppler bench`) ---- */
/* Dispatches recorded since the device was opened. */
uint64_t dp_gpu_dispatch_count(const dp_gpu *g);
/* Bind groups created since the device was opened (dp_gpu_dispatch: one each; a bound: one
 * per uniform slot), and pipelines compiled (dp_gpu_kernel_get cache misses). */
uint64_t dp_gpu_bind_group_count(const dp_gpu *g);
uint64_t dp_gpu_kernel_count(const dp_gpu *g);
/* GPU time per dispatch from timestamp queries. While on, every dispatch runs in its own
 * compute pass with begin/end timestamps, resolved and read back at each submit (a blocking
 * wait: profiling slows the run down), and summed per kernel "name:entry". Turning it on
 * clears the sums. DP_ERR_UNSUPPORTED when the device has no timestamp-query. */
dp_status dp_gpu_profile(dp_gpu *g, int on);
typedef struct dp_gpu_kernel_time {
  const char *kernel;  /* "name:entry" (valid while the device is open) */
  uint64_t calls;
  double ns;           /* summed GPU time */
} dp_gpu_kernel_time;
/* The sums so far, one entry per kernel label, largest time first; returns the entries
 * written (at most max). */
size_t dp_gpu_profile_read(const dp_gpu *g, dp_gpu_kernel_time *out, size_t max);
#endif
