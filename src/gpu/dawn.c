/* dawn.c -- the native device layer (gpu.h) over Dawn's webgpu.h C API.
 *
 * Adapter choice: this Dawn build returns one adapter per request and cannot enumerate, so a
 * choice is made by pointing the Vulkan loader at one ICD file (VK_DRIVER_FILES) before an
 * instance is created; when that gives nothing usable the next choice is tried with a fresh
 * instance. Dawn's Null backend "succeeds" when no Vulkan device qualifies and then computes
 * zeros: it is always refused.
 *
 * Recording: one command encoder and one open compute pass collect dispatches until submit.
 * Uniform parameters are bound at static offsets, never dynamic ones: lavapipe copies the
 * whole descriptor set into a newly mapped memory object at every bind with a dynamic offset
 * (an mmap + munmap per dispatch, ~20% of doppler-tiny's decode time there; notes/performance.md).
 * dp_gpu_dispatch packs its parameters into a host-side arena, uploaded with one queue write
 * per submit (queue writes are ordered before the submit that follows them, so the arena can be
 * reused immediately), and makes a bind group at that offset. A dp_gpu_bound owns a small
 * uniform buffer of slots with one bind group made per slot: its n-th dispatch within a submit
 * uses slot n (slots double, up to BOUND_MAX_SLOTS, when a submit needs more: the old buffer's
 * slots are written at once, those dispatches keep it; past the cap the recording is submitted
 * first); the slots used are written at submit, one queue write per bound. Pipelines get an
 * explicit layout from their module's declarations (wgsl_layout.h); bindings a dispatch leaves
 * out are bound to placeholders (one read-only and one read-write buffer, a 1x1 texture). Errors: shader compilation and pipeline creation run inside an error
 * scope so the shader's message comes back as the engine error; anything else the device
 * reports is collected by the uncaptured-error callback and surfaces at the next wait.
 * Read-backs: each handle owns a map-read staging buffer (pooled, several in flight); start
 * copies + submits + calls wgpuBufferMapAsync (WaitAnyOnly), poll is wgpuInstanceWaitAny with
 * timeout 0, wait the same without a timeout (counted), a discarded map's late callback is
 * told apart by a generation number.
 * Profiling (dp_gpu_profile): each dispatch gets its own compute pass with begin/end
 * timestamps in a query set, resolved and read back at submit, summed per kernel.
 * Called by src/kernels (ops) and src/runtime; depends on core and webgpu_min.h only. */
#include "gpu/gpu.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "gpu/webgpu_min.h"
#include "gpu/wgsl_layout.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(WGPULimits) == 152, "WGPULimits layout of this Dawn build");

#define SV(s) ((WGPUStringView){(s), WGPU_STRLEN})
#define UNIFORM_ARENA_BYTES (1u << 20)
#define BOUND_MAX_SLOTS 64 /* uniform slots of one dp_gpu_bound: dispatches of it per submit before a flush */
#define PROFILE_MAX 1024 /* profiled dispatches per submit (2 timestamps each) */
#define LAVAPIPE_ICD "/usr/share/vulkan/icd.d/lvp_icd.json"
#define SWIFTSHADER_ICD "/usr/lib/chromium/vk_swiftshader_icd.json"

struct dp_gpu_buffer {
  WGPUBuffer buf;
  uint64_t size;
};

/* WGPUTextureFormat_RGBA32Uint in this Dawn build (the enum moved between header versions;
 * gpu_device's texture round trip fails if this is wrong). */
#define DP_WGPU_RGBA32UINT 0x24u

struct dp_gpu_texture {
  WGPUTexture tex;
  WGPUTextureView view;
  uint32_t width, height;
};

/* A read-back: a map-read staging buffer of its own and the state of its mapAsync. Several
 * may be in flight at once (sessions interleaved on one device). */
struct dp_gpu_readback {
  WGPUBuffer staging;
  uint64_t staging_size;
  int busy;              /* started, not yet finished or discarded */
  int done, status;      /* the map callback fired, with this WGPUMapAsyncStatus */
  uint64_t gen;          /* bumped per start: a stale callback of a discarded map is ignored */
  WGPUFuture future;
  size_t n;              /* bytes asked for */
  uint64_t n4;           /* bytes copied and mapped (n rounded up to 4) */
};

struct dp_gpu_kernel {
  char *key;
  uint64_t hash;
  WGPUComputePipeline pipeline;
  WGPUBindGroupLayout layout;  /* explicit: the module's declarations, uniform dynamic */
  uint8_t kinds[DP_WGSL_MAX_BINDINGS]; /* DP_WGSL_* per binding number */
  size_t n_kinds;
  char label[64];        /* "name:entry" */
  uint64_t prof_calls;   /* profiled dispatches and their summed GPU time */
  double prof_ns;
};

static void bounds_upload(dp_gpu *g); /* with dp_gpu_bound, below */
static void bounds_forget(dp_gpu *g);

struct dp_gpu {
  WGPUInstance instance;
  WGPUAdapter adapter;
  WGPUDevice device;
  WGPUQueue queue;
  dp_gpu_info info;
  WGPUFeatureName features[32];
  size_t n_features;
  /* recording state */
  WGPUCommandEncoder encoder;
  WGPUComputePassEncoder pass;
  WGPUBuffer uniforms;          /* device side of the arena */
  uint8_t *uniform_host;        /* [UNIFORM_ARENA_BYTES] */
  uint32_t uniform_used, uniform_align;
  /* read-backs: every one ever started, free ones reused (each has its own staging buffer) */
  dp_gpu_readback **rbs;
  size_t n_rb, cap_rb;
  uint64_t n_wait;              /* blocking waits (dp_gpu_read_wait) so far */
  dp_gpu_buffer *fence;         /* 4 bytes, read back by dp_gpu_finish */
  /* kernel cache */
  dp_gpu_kernel **kernels;
  size_t n_kernels, cap_kernels;
  uint64_t n_dispatch, n_bind_groups;
  uint64_t n_submit;            /* submits so far: a bound's slots count from its last one */
  dp_gpu_bound **dirty;         /* bounds with slots written since the last submit */
  size_t n_dirty, cap_dirty;
  dp_gpu_buffer *hold_ro, *hold_rw; /* placeholders for bindings a dispatch leaves out */
  dp_gpu_texture *hold_tex;
  /* profiling: timestamps of the dispatches recorded since the last submit */
  int prof_on;
  WGPUQuerySet prof_qs;         /* [2 * PROFILE_MAX] timestamps */
  WGPUBuffer prof_resolve, prof_read;
  dp_gpu_kernel *prof_k[PROFILE_MAX];
  uint32_t prof_n;
  /* errors reported by callbacks */
  char error[1024];
  int has_error, lost;
};

/* ---- waiting on futures ---- */

static int wait_future(dp_gpu *g, WGPUFuture f) {
  WGPUFutureWaitInfo w = {f, 0};
  WGPUWaitStatus st = wgpuInstanceWaitAny(g->instance, 1, &w, UINT64_MAX);
  return st == 1 && w.completed;
}

static void sv_copy(char *dst, size_t cap, WGPUStringView sv) {
  size_t n = sv.data ? (sv.length == WGPU_STRLEN ? strlen(sv.data) : sv.length) : 0;
  if (n >= cap) n = cap - 1;
  if (n) memcpy(dst, sv.data, n);
  dst[n] = 0;
}

static void on_lost(const WGPUDevice *d, WGPUDeviceLostReason reason, WGPUStringView msg, void *u1, void *u2) {
  dp_gpu *g = u1;
  if (!g || reason == 2 /* destroyed */ || reason == 3 /* instance dropped */) return;
  g->lost = 1;
  g->has_error = 1;
  char m[900];
  sv_copy(m, sizeof m, msg);
  snprintf(g->error, sizeof g->error, "GPU device lost: %s", m);
}

static void on_uncaptured(const WGPUDevice *d, WGPUErrorType type, WGPUStringView msg, void *u1, void *u2) {
  dp_gpu *g = u1;
  if (g->has_error) return; /* keep the first */
  static const char *names[] = {"", "no error", "validation error", "out of memory", "internal error", "unknown error"};
  char m[900];
  sv_copy(m, sizeof m, msg);
  snprintf(g->error, sizeof g->error, "GPU %s: %s", type < 6 ? names[type] : "error", m);
  g->has_error = 1;
}

static dp_status take_error(dp_gpu *g) {
  if (!g->has_error) return DP_OK;
  if (!g->lost) g->has_error = 0;
  return dp_error(DP_ERR_GPU, "%s", g->error);
}

/* ---- adapter choice ---- */

typedef struct {
  WGPUAdapter adapter;
  char msg[512];
} adapter_result;

static void on_adapter(WGPURequestAdapterStatus st, WGPUAdapter a, WGPUStringView msg, void *u1, void *u2) {
  adapter_result *r = u1;
  if (st == 1) r->adapter = a;
  else sv_copy(r->msg, sizeof r->msg, msg);
}

typedef struct {
  WGPUDevice device;
  char msg[512];
} device_result;

static void on_device(WGPURequestDeviceStatus st, WGPUDevice d, WGPUStringView msg, void *u1, void *u2) {
  device_result *r = u1;
  if (st == 1) r->device = d;
  else sv_copy(r->msg, sizeof r->msg, msg);
}

static const char *backend_name(WGPUBackendType t) {
  static const char *n[] = {"undefined", "null", "webgpu", "d3d11", "d3d12", "metal", "vulkan", "opengl", "opengles"};
  return t < 9 ? n[t] : "unknown";
}

static const char *adapter_type_name(WGPUAdapterType t) {
  static const char *n[] = {"unknown", "discrete", "integrated", "cpu", "unknown"};
  return t < 5 ? n[t] : "unknown";
}

static const char *feature_name(WGPUFeatureName f) {
  switch (f) {
  case 1: return "depth-clip-control";
  case 2: return "depth32float-stencil8";
  case 3: return "timestamp-query";
  case 4: return "texture-compression-bc";
  case 5: return "texture-compression-bc-sliced-3d";
  case 6: return "texture-compression-etc2";
  case 7: return "texture-compression-astc";
  case 8: return "texture-compression-astc-sliced-3d";
  case 9: return "indirect-first-instance";
  case 10: return "shader-f16";
  case 11: return "rg11b10ufloat-renderable";
  case 12: return "bgra8unorm-storage";
  case 13: return "float32-filterable";
  case 14: return "float32-blendable";
  case 15: return "clip-distances";
  case 16: return "dual-source-blending";
  case 17: return "subgroups";
  case 18: return "core-features-and-limits";
  default: return NULL; /* Dawn-specific features are not reported */
  }
}

/* Try one choice: set the ICD path (NULL = loader default), make an instance and an adapter.
 * Returns DP_OK with g->instance and g->adapter set, or an error saying why it was unusable. */
static dp_status try_adapter(dp_gpu *g, const char *label, const char *icd) {
  if (icd) {
    if (access(icd, R_OK))
      return dp_error(DP_ERR_NOT_FOUND, "adapter '%s': Vulkan driver file %s not found (run scripts/setup.sh)", label, icd);
    setenv("VK_DRIVER_FILES", icd, 1);
    setenv("VK_ICD_FILENAMES", icd, 1);
  }
  if (!getenv("XDG_RUNTIME_DIR")) setenv("XDG_RUNTIME_DIR", "/tmp", 0);
  WGPUInstanceDescriptor idesc;
  memset(&idesc, 0, sizeof idesc);
  idesc.capabilities.timedWaitAnyEnable = 1;
  idesc.capabilities.timedWaitAnyMaxCount = 1;
  g->instance = wgpuCreateInstance(&idesc);
  if (!g->instance) return dp_error(DP_ERR_GPU, "adapter '%s': could not create a WebGPU instance", label);
  WGPURequestAdapterOptions opt;
  memset(&opt, 0, sizeof opt);
  opt.featureLevel = 2;      /* core */
  opt.powerPreference = 2;   /* high performance: a discrete GPU first */
  opt.backendType = 6;       /* Vulkan */
  adapter_result r = {0};
  WGPURequestAdapterCallbackInfo cb = {NULL, WGPUCallbackMode_WaitAnyOnly, on_adapter, &r, NULL};
  if (!wait_future(g, wgpuInstanceRequestAdapter(g->instance, &opt, cb)) || !r.adapter) {
    wgpuInstanceRelease(g->instance);
    g->instance = NULL;
    return dp_error(DP_ERR_GPU, "adapter '%s': no WebGPU adapter%s%s", label, r.msg[0] ? ": " : "", r.msg);
  }
  WGPUAdapterInfo ai;
  memset(&ai, 0, sizeof ai);
  wgpuAdapterGetInfo(r.adapter, &ai);
  if (ai.backendType == 1 || ai.backendType == 0) {
    wgpuAdapterInfoFreeMembers(ai);
    wgpuAdapterRelease(r.adapter);
    wgpuInstanceRelease(g->instance);
    g->instance = NULL;
    return dp_error(DP_ERR_GPU, "adapter '%s': only Dawn's Null backend is available (no usable Vulkan device); refusing it", label);
  }
  dp_gpu_info *in = &g->info;
  snprintf(in->backend, sizeof in->backend, "%s", backend_name(ai.backendType));
  sv_copy(in->adapter, sizeof in->adapter, ai.device);
  if (!in->adapter[0]) sv_copy(in->adapter, sizeof in->adapter, ai.description);
  sv_copy(in->vendor, sizeof in->vendor, ai.vendor);
  sv_copy(in->architecture, sizeof in->architecture, ai.architecture);
  snprintf(in->adapter_type, sizeof in->adapter_type, "%s", adapter_type_name(ai.adapterType));
  snprintf(in->driver_choice, sizeof in->driver_choice, "%s", label);
  in->vendor_id = ai.vendorID;
  in->device_id = ai.deviceID;
  in->subgroup_min = ai.subgroupMinSize;
  in->subgroup_max = ai.subgroupMaxSize;
  wgpuAdapterInfoFreeMembers(ai);
  g->adapter = r.adapter;
  return DP_OK;
}

static void release_instance(dp_gpu *g) {
  if (g->adapter) wgpuAdapterRelease(g->adapter);
  if (g->instance) wgpuInstanceRelease(g->instance);
  g->adapter = NULL;
  g->instance = NULL;
}

static dp_status choose_adapter(dp_gpu *g, const char *choice) {
  if (!choice || !*choice) choice = getenv("DOPPLER_ADAPTER");
  if (!choice || !*choice || !strcmp(choice, "auto")) {
    /* Automatic: whatever the loader finds first (a hardware GPU when there is one), then
     * the installed lavapipe, then SwiftShader. */
    char first[600];
    dp_status st = try_adapter(g, "default", NULL);
    if (!st) return DP_OK;
    snprintf(first, sizeof first, "%s", dp_error_message());
    if (!try_adapter(g, "lavapipe", LAVAPIPE_ICD)) return DP_OK;
    if (!try_adapter(g, "swiftshader", SWIFTSHADER_ICD)) return DP_OK;
    return dp_error(DP_ERR_GPU, "no usable WebGPU adapter (tried default, lavapipe, swiftshader): %s", first);
  }
  if (!strcmp(choice, "default")) return try_adapter(g, "default", NULL);
  if (!strcmp(choice, "lavapipe")) return try_adapter(g, "lavapipe", LAVAPIPE_ICD);
  if (!strcmp(choice, "swiftshader")) return try_adapter(g, "swiftshader", SWIFTSHADER_ICD);
  size_t n = strlen(choice);
  if (n > 5 && !strcmp(choice + n - 5, ".json")) return try_adapter(g, choice, choice);
  return dp_error(DP_ERR_INVALID_ARG,
                  "unknown adapter '%s' (expected auto, default, lavapipe, swiftshader or a Vulkan ICD .json path)", choice);
}

/* ---- device ---- */

/* DOPPLER_MAX_BINDING_BYTES (tests only): lower maxStorageBufferBindingSize and maxBufferSize
 * to this many bytes (rounded down to 256), so the paths that split tensors too large for one
 * binding (kernels/ops.h, dp_weight) run with small models on any adapter, as they run on
 * lavapipe (128 MiB bindings) and SwiftShader (1 GiB bindings and buffers) for real ones.
 * Both limits drop, as on SwiftShader, where no buffer may exceed a binding. */
#define BINDING_CAP_MIN 4096u
static dp_status apply_binding_cap(dp_gpu_info *in) {
  const char *env = getenv("DOPPLER_MAX_BINDING_BYTES");
  if (!env || !*env) return DP_OK;
  char *end = NULL;
  unsigned long long cap = strtoull(env, &end, 10);
  if (*end || env[0] == '-' || cap < BINDING_CAP_MIN)
    return dp_error(DP_ERR_INVALID_ARG, "DOPPLER_MAX_BINDING_BYTES='%s': expected a byte count >= %u", env, BINDING_CAP_MIN);
  cap &= ~255ull;
  if (cap < in->max_storage_binding) in->max_storage_binding = cap;
  if (cap < in->max_buffer) in->max_buffer = cap;
  dp_log(DP_LOG_INFO, "gpu: storage bindings and buffers capped at %llu bytes (DOPPLER_MAX_BINDING_BYTES)", cap);
  return DP_OK;
}

dp_status dp_gpu_open(const char *choice, dp_gpu **out) {
  *out = NULL;
  dp_gpu *g = dp_calloc(1, sizeof *g);
  if (!g) return DP_ERR_NOMEM;
  dp_status st = choose_adapter(g, choice);
  if (st) { dp_free(g); return st; }

  WGPULimits lim;
  memset(&lim, 0, sizeof lim);
  wgpuAdapterGetLimits(g->adapter, &lim);
  WGPUFeatureName want[] = {WGPUFeatureName_ShaderF16, WGPUFeatureName_Subgroups, WGPUFeatureName_TimestampQuery};
  WGPUFeatureName req[3];
  size_t nreq = 0;
  for (size_t i = 0; i < 3; i++)
    if (wgpuAdapterHasFeature(g->adapter, want[i])) req[nreq++] = want[i];

  WGPUDeviceDescriptor dd;
  memset(&dd, 0, sizeof dd);
  dd.label = SV("doppler");
  /* timestamps at full resolution for dp_gpu_profile (Dawn rounds them down by default) */
  static const char *const no_quantization[] = {"timestamp_quantization"};
  WGPUDawnTogglesDescriptor toggles = {{NULL, WGPUSType_DawnTogglesDescriptor}, 0, NULL, 1, no_quantization};
  dd.nextInChain = &toggles.chain;
  dd.requiredFeatureCount = nreq;
  dd.requiredFeatures = req;
  dd.requiredLimits = &lim; /* everything the adapter offers */
  dd.defaultQueue.label = SV("doppler-queue");
  dd.deviceLostCallbackInfo = (WGPUDeviceLostCallbackInfo){NULL, WGPUCallbackMode_AllowSpontaneous, on_lost, g, NULL};
  dd.uncapturedErrorCallbackInfo = (WGPUUncapturedErrorCallbackInfo){NULL, on_uncaptured, g, NULL};
  device_result r = {0};
  WGPURequestDeviceCallbackInfo cb = {NULL, WGPUCallbackMode_WaitAnyOnly, on_device, &r, NULL};
  if (!wait_future(g, wgpuAdapterRequestDevice(g->adapter, &dd, cb)) || !r.device) {
    st = dp_error(DP_ERR_GPU, "adapter '%s' (%s): device creation failed: %s", g->info.driver_choice, g->info.adapter, r.msg);
    release_instance(g);
    dp_free(g);
    return st;
  }
  g->device = r.device;
  g->queue = wgpuDeviceGetQueue(g->device);

  WGPULimits dl;
  memset(&dl, 0, sizeof dl);
  wgpuDeviceGetLimits(g->device, &dl);
  dp_gpu_info *in = &g->info;
  in->has_f16 = wgpuDeviceHasFeature(g->device, WGPUFeatureName_ShaderF16);
  in->has_subgroups = wgpuDeviceHasFeature(g->device, WGPUFeatureName_Subgroups);
  in->has_timestamp = wgpuDeviceHasFeature(g->device, WGPUFeatureName_TimestampQuery);
  in->max_storage_binding = dl.maxStorageBufferBindingSize;
  in->max_buffer = dl.maxBufferSize;
  in->max_uniform_binding = dl.maxUniformBufferBindingSize;
  in->max_workgroups_per_dim = dl.maxComputeWorkgroupsPerDimension;
  in->max_invocations = dl.maxComputeInvocationsPerWorkgroup;
  in->max_wg_size_x = dl.maxComputeWorkgroupSizeX;
  in->max_wg_size_y = dl.maxComputeWorkgroupSizeY;
  in->max_wg_size_z = dl.maxComputeWorkgroupSizeZ;
  in->max_wg_storage = dl.maxComputeWorkgroupStorageSize;
  in->max_texture_2d = dl.maxTextureDimension2D;
  in->max_storage_buffers = dl.maxStorageBuffersPerShaderStage;
  in->min_storage_offset_align = dl.minStorageBufferOffsetAlignment;
  in->min_uniform_offset_align = dl.minUniformBufferOffsetAlignment;
  if ((st = apply_binding_cap(in))) {
    dp_gpu_close(g);
    return st;
  }

  WGPUSupportedFeatures sf = {0};
  wgpuAdapterGetFeatures(g->adapter, &sf);
  for (size_t i = 0; i < sf.featureCount && g->n_features < 32; i++)
    if (feature_name(sf.features[i])) g->features[g->n_features++] = sf.features[i];
  wgpuSupportedFeaturesFreeMembers(sf);

  g->uniform_align = in->min_uniform_offset_align ? in->min_uniform_offset_align : 256;
  g->uniform_host = dp_malloc(UNIFORM_ARENA_BYTES);
  WGPUBufferDescriptor bd = {NULL, SV("uniform-arena"), WGPUBufferUsage_Uniform | WGPUBufferUsage_CopyDst, UNIFORM_ARENA_BYTES, 0};
  g->uniforms = wgpuDeviceCreateBuffer(g->device, &bd);
  if (!g->uniform_host || !g->uniforms) {
    dp_gpu_close(g);
    return dp_error(DP_ERR_NOMEM, "cannot allocate the uniform arena");
  }
  dp_log(DP_LOG_DEBUG, "gpu: %s adapter '%s' via %s", in->backend, in->adapter, in->driver_choice);
  *out = g;
  return DP_OK;
}

void dp_gpu_close(dp_gpu *g) {
  if (!g) return;
  if (g->pass) { wgpuComputePassEncoderEnd(g->pass); wgpuComputePassEncoderRelease(g->pass); }
  if (g->encoder) wgpuCommandEncoderRelease(g->encoder);
  for (size_t i = 0; i < g->n_kernels; i++) {
    dp_gpu_kernel *k = g->kernels[i];
    wgpuBindGroupLayoutRelease(k->layout);
    wgpuComputePipelineRelease(k->pipeline);
    dp_free(k->key);
    dp_free(k);
  }
  dp_free(g->kernels);
  bounds_forget(g);
  dp_gpu_buffer_free(g->hold_ro);
  dp_gpu_buffer_free(g->hold_rw);
  dp_gpu_texture_free(g->hold_tex);
  if (g->prof_qs) { wgpuQuerySetDestroy(g->prof_qs); wgpuQuerySetRelease(g->prof_qs); }
  if (g->prof_resolve) wgpuBufferRelease(g->prof_resolve);
  if (g->prof_read) wgpuBufferRelease(g->prof_read);
  for (size_t i = 0; i < g->n_rb; i++)
    if (g->rbs[i]->staging) wgpuBufferRelease(g->rbs[i]->staging);
  dp_gpu_buffer_free(g->fence);
  if (g->uniforms) wgpuBufferRelease(g->uniforms);
  dp_free(g->uniform_host);
  if (g->queue) wgpuQueueRelease(g->queue);
  if (g->device) { wgpuDeviceDestroy(g->device); wgpuDeviceRelease(g->device); }
  release_instance(g);
  for (size_t i = 0; i < g->n_rb; i++) dp_free(g->rbs[i]); /* after the instance: no callback can still fire */
  dp_free(g->rbs);
  dp_free(g);
}

const dp_gpu_info *dp_gpu_get_info(const dp_gpu *g) { return &g->info; }

size_t dp_gpu_feature_names(const dp_gpu *g, const char **names, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < g->n_features && n < max; i++) names[n++] = feature_name(g->features[i]);
  return n;
}

typedef struct { int failed; char msg[512]; } scope_result;

/* Error-scope callback: records a failure and its message. */
static void scope_cb(WGPUPopErrorScopeStatus st, WGPUErrorType type, WGPUStringView msg, void *u1, void *u2) {
  scope_result *s = u1;
  if (st == 1 && type != 1 /* no error */) {
    s->failed = 1;
    sv_copy(s->msg, sizeof s->msg, msg);
  }
}

/* ---- buffers ---- */

dp_status dp_gpu_buffer_create(dp_gpu *g, uint64_t size, const char *label, dp_gpu_buffer **out) {
  *out = NULL;
  size = (size + 3) & ~(uint64_t)3;
  if (!size) size = 4;
  if (size > g->info.max_buffer)
    return dp_error(DP_ERR_GPU, "buffer '%s' of %llu bytes exceeds the device limit maxBufferSize %llu", label ? label : "",
                    (unsigned long long)size, (unsigned long long)g->info.max_buffer);
  dp_gpu_buffer *b = dp_calloc(1, sizeof *b);
  if (!b) return DP_ERR_NOMEM;
  WGPUBufferDescriptor bd = {NULL, SV(label ? label : ""), WGPUBufferUsage_Storage | WGPUBufferUsage_CopySrc | WGPUBufferUsage_CopyDst, size, 0};
  wgpuDevicePushErrorScope(g->device, 2 /* out of memory */);
  b->buf = wgpuDeviceCreateBuffer(g->device, &bd);
  b->size = size;
  scope_result scope = {0};
  WGPUPopErrorScopeCallbackInfo cb = {NULL, WGPUCallbackMode_WaitAnyOnly, scope_cb, &scope, NULL};
  wait_future(g, wgpuDevicePopErrorScope(g->device, cb));
  if (!b->buf || scope.failed) {
    if (b->buf) wgpuBufferRelease(b->buf);
    dp_free(b);
    return dp_error(DP_ERR_GPU, "cannot create GPU buffer '%s' of %llu bytes: %s", label ? label : "",
                    (unsigned long long)size, scope.msg[0] ? scope.msg : "allocation failed");
  }
  *out = b;
  return DP_OK;
}

void dp_gpu_buffer_free(dp_gpu_buffer *b) {
  if (!b) return;
  wgpuBufferDestroy(b->buf);
  wgpuBufferRelease(b->buf);
  dp_free(b);
}

uint64_t dp_gpu_buffer_size(const dp_gpu_buffer *b) { return b->size; }

dp_status dp_gpu_buffer_write(dp_gpu *g, dp_gpu_buffer *b, uint64_t offset, const void *src, size_t n) {
  if (g->lost) return take_error(g);
  if ((offset | n) & 3) return dp_error(DP_ERR_INVALID_ARG, "buffer write of %zu bytes at %llu: not a multiple of 4", n, (unsigned long long)offset);
  if (offset + n > b->size)
    return dp_error(DP_ERR_INVALID_ARG, "buffer write [%llu, +%zu) past the end of a %llu-byte buffer",
                    (unsigned long long)offset, n, (unsigned long long)b->size);
  if (n) wgpuQueueWriteBuffer(g->queue, b->buf, offset, src, n);
  return DP_OK;
}

/* ---- textures ---- */

dp_status dp_gpu_texture_create(dp_gpu *g, uint32_t width, uint32_t height, const char *label, dp_gpu_texture **out) {
  *out = NULL;
  if (g->lost) return take_error(g);
  if (!width || !height || width > g->info.max_texture_2d || height > g->info.max_texture_2d)
    return dp_error(DP_ERR_INVALID_ARG, "texture '%s' of %u x %u texels: each side must be 1..%u (maxTextureDimension2D)",
                    label ? label : "", width, height, g->info.max_texture_2d);
  dp_gpu_texture *t = dp_calloc(1, sizeof *t);
  if (!t) return DP_ERR_NOMEM;
  WGPUTextureDescriptor td = {NULL, SV(label ? label : ""), WGPUTextureUsage_TextureBinding | WGPUTextureUsage_CopyDst,
                              2 /* 2D */, {width, height, 1}, DP_WGPU_RGBA32UINT, 1, 1, 0, NULL};
  wgpuDevicePushErrorScope(g->device, 2 /* out of memory */);
  wgpuDevicePushErrorScope(g->device, 1 /* validation */);
  t->tex = wgpuDeviceCreateTexture(g->device, &td);
  if (t->tex) t->view = wgpuTextureCreateView(t->tex, NULL);
  scope_result val = {0}, oom = {0};
  WGPUPopErrorScopeCallbackInfo cb1 = {NULL, WGPUCallbackMode_WaitAnyOnly, scope_cb, &val, NULL};
  wait_future(g, wgpuDevicePopErrorScope(g->device, cb1));
  WGPUPopErrorScopeCallbackInfo cb2 = {NULL, WGPUCallbackMode_WaitAnyOnly, scope_cb, &oom, NULL};
  wait_future(g, wgpuDevicePopErrorScope(g->device, cb2));
  if (!t->tex || !t->view || val.failed || oom.failed) {
    dp_gpu_texture_free(t);
    return dp_error(DP_ERR_GPU, "cannot create texture '%s' of %u x %u texels: %s", label ? label : "", width, height,
                    val.failed ? val.msg : oom.failed ? oom.msg : "creation failed");
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
  if (!w || !h) return DP_OK;
  WGPUTexelCopyTextureInfo dst = {t->tex, 0, {x, y, 0}, 1 /* all */};
  WGPUTexelCopyBufferLayout lay = {0, w * 16u, h};
  WGPUExtent3D ext = {w, h, 1};
  wgpuQueueWriteTexture(g->queue, &dst, data, (size_t)w * h * 16u, &lay, &ext);
  return DP_OK;
}

uint32_t dp_gpu_texture_width(const dp_gpu_texture *t) { return t->width; }

void dp_gpu_texture_free(dp_gpu_texture *t) {
  if (!t) return;
  if (t->view) wgpuTextureViewRelease(t->view);
  if (t->tex) { wgpuTextureDestroy(t->tex); wgpuTextureRelease(t->tex); }
  dp_free(t);
}

static void end_pass(dp_gpu *g) {
  if (g->pass) {
    wgpuComputePassEncoderEnd(g->pass);
    wgpuComputePassEncoderRelease(g->pass);
    g->pass = NULL;
  }
}

static void ensure_encoder(dp_gpu *g) {
  if (!g->encoder) g->encoder = wgpuDeviceCreateCommandEncoder(g->device, NULL);
}

dp_status dp_gpu_copy(dp_gpu *g, dp_gpu_buffer *src, uint64_t so, dp_gpu_buffer *dst, uint64_t dof, uint64_t n) {
  if (g->lost) return take_error(g);
  if ((so | dof | n) & 3) return dp_error(DP_ERR_INVALID_ARG, "buffer copy: offsets and size must be multiples of 4");
  if (so + n > src->size || dof + n > dst->size) return dp_error(DP_ERR_INVALID_ARG, "buffer copy out of bounds");
  end_pass(g);
  ensure_encoder(g);
  wgpuCommandEncoderCopyBufferToBuffer(g->encoder, src->buf, so, dst->buf, dof, n);
  return DP_OK;
}

static dp_status profile_collect(dp_gpu *g, uint32_t n); /* below, with the profiler */

dp_status dp_gpu_submit(dp_gpu *g) {
  if (g->lost) return take_error(g);
  end_pass(g);
  if (g->uniform_used) wgpuQueueWriteBuffer(g->queue, g->uniforms, 0, g->uniform_host, g->uniform_used);
  g->uniform_used = 0;
  bounds_upload(g);
  uint32_t prof_n = g->prof_n;
  g->prof_n = 0;
  if (prof_n && g->encoder) {
    wgpuCommandEncoderResolveQuerySet(g->encoder, g->prof_qs, 0, 2 * prof_n, g->prof_resolve, 0);
    wgpuCommandEncoderCopyBufferToBuffer(g->encoder, g->prof_resolve, 0, g->prof_read, 0, (uint64_t)prof_n * 16);
  }
  if (g->encoder) {
    WGPUCommandBuffer cb = wgpuCommandEncoderFinish(g->encoder, NULL);
    wgpuCommandEncoderRelease(g->encoder);
    g->encoder = NULL;
    if (cb) {
      wgpuQueueSubmit(g->queue, 1, &cb);
      wgpuCommandBufferRelease(cb);
    }
  }
  dp_status st = take_error(g);
  if (!st && prof_n) st = profile_collect(g, prof_n);
  return st;
}

typedef struct { int status; } map_result;
static void on_map(WGPUMapAsyncStatus st, WGPUStringView msg, void *u1, void *u2) { ((map_result *)u1)->status = (int)st; }

/* ---- read-backs: start (copy + mapAsync), poll / wait, finish ---- */

static void on_readback(WGPUMapAsyncStatus st, WGPUStringView msg, void *u1, void *u2) {
  dp_gpu_readback *r = u1;
  if ((uint64_t)(uintptr_t)u2 != r->gen) return; /* a discarded map's late callback */
  r->done = 1;
  r->status = (int)st;
}

dp_status dp_gpu_read_start(dp_gpu *g, dp_gpu_buffer *b, uint64_t offset, size_t n, dp_gpu_readback **out) {
  *out = NULL;
  if (g->lost) return take_error(g);
  if ((offset & 3) || offset + n > b->size)
    return dp_error(DP_ERR_INVALID_ARG, "buffer read [%llu, +%zu) invalid for a %llu-byte buffer",
                    (unsigned long long)offset, n, (unsigned long long)b->size);
  uint64_t n4 = (n + 3) & ~(uint64_t)3;
  if (offset + n4 > b->size) n4 = b->size - offset; /* size is a multiple of 4 */
  dp_gpu_readback *r = NULL;
  for (size_t i = 0; i < g->n_rb && !r; i++) /* a free one, preferably large enough */
    if (!g->rbs[i]->busy && g->rbs[i]->staging_size >= n4) r = g->rbs[i];
  for (size_t i = 0; i < g->n_rb && !r; i++)
    if (!g->rbs[i]->busy) r = g->rbs[i];
  if (!r) {
    if (g->n_rb == g->cap_rb) {
      size_t cap = g->cap_rb ? g->cap_rb * 2 : 4;
      dp_gpu_readback **a = dp_realloc(g->rbs, cap * sizeof *a);
      if (!a) return DP_ERR_NOMEM;
      g->rbs = a, g->cap_rb = cap;
    }
    if (!(r = dp_calloc(1, sizeof *r))) return DP_ERR_NOMEM;
    g->rbs[g->n_rb++] = r;
  }
  if (r->staging_size < n4 || !r->staging) {
    if (r->staging) wgpuBufferRelease(r->staging);
    uint64_t sz = n4 < 65536 ? 65536 : n4;
    WGPUBufferDescriptor bd = {NULL, SV("readback"), WGPUBufferUsage_MapRead | WGPUBufferUsage_CopyDst, sz, 0};
    r->staging = wgpuDeviceCreateBuffer(g->device, &bd);
    r->staging_size = r->staging ? sz : 0;
    if (!r->staging) return dp_error(DP_ERR_GPU, "cannot create a %llu-byte read-back buffer", (unsigned long long)sz);
  }
  if (n4) {
    end_pass(g);
    ensure_encoder(g);
    wgpuCommandEncoderCopyBufferToBuffer(g->encoder, b->buf, offset, r->staging, 0, n4);
  }
  dp_status st = dp_gpu_submit(g);
  if (st) return st;
  r->busy = 1, r->done = 0, r->status = 0, r->gen++, r->n = n, r->n4 = n4;
  WGPUBufferMapCallbackInfo cb = {NULL, WGPUCallbackMode_WaitAnyOnly, on_readback, r, (void *)(uintptr_t)r->gen};
  r->future = wgpuBufferMapAsync(r->staging, WGPUMapMode_Read, 0, (size_t)(n4 ? n4 : 4), cb);
  *out = r;
  return DP_OK;
}

int dp_gpu_read_poll(dp_gpu *g, dp_gpu_readback *r) {
  if (!r->done) {
    WGPUFutureWaitInfo w = {r->future, 0};
    wgpuInstanceWaitAny(g->instance, 1, &w, 0); /* timeout 0: only looks */
  }
  return r->done || g->lost;
}

dp_status dp_gpu_read_wait(dp_gpu *g, dp_gpu_readback *r) {
  g->n_wait++;
  if (!r->done && !wait_future(g, r->future) && !g->lost)
    return dp_error(DP_ERR_GPU, "read-back: waiting for the map failed");
  return DP_OK;
}

uint64_t dp_gpu_wait_count(const dp_gpu *g) { return g->n_wait; }

dp_status dp_gpu_read_finish(dp_gpu *g, dp_gpu_readback *r, void *dst) {
  dp_status st = DP_OK;
  if (!r->done) {
    dp_gpu_read_discard(g, r);
    if ((st = take_error(g))) return st;
    return dp_error(DP_ERR_INTERNAL, "read-back finished before its map completed");
  }
  r->busy = 0;
  if (r->status != 1) {
    if ((st = take_error(g))) return st;
    return dp_error(DP_ERR_GPU, "read-back failed (map status %d)", r->status);
  }
  size_t m = (size_t)(r->n4 ? r->n4 : 4);
  const void *p = wgpuBufferGetConstMappedRange(r->staging, 0, m);
  if (p && r->n) memcpy(dst, p, r->n);
  wgpuBufferUnmap(r->staging);
  if ((st = take_error(g))) return st;
  return p ? DP_OK : dp_error(DP_ERR_GPU, "read-back: mapped range unavailable");
}

void dp_gpu_read_discard(dp_gpu *g, dp_gpu_readback *r) {
  if (!r || !r->busy) return;
  if (!r->done || r->status == 1) wgpuBufferUnmap(r->staging); /* aborts a pending map */
  if (!r->done) { /* its callback may still come: give the buffer up, bump gen so it is ignored */
    wgpuBufferRelease(r->staging);
    r->staging = NULL, r->staging_size = 0;
    r->gen++;
  }
  r->busy = 0;
}

dp_status dp_gpu_buffer_read(dp_gpu *g, dp_gpu_buffer *b, uint64_t offset, void *dst, size_t n) {
  dp_gpu_readback *r;
  dp_status st = dp_gpu_read_start(g, b, offset, n, &r);
  if (!st) st = dp_gpu_read_wait(g, r);
  if (st) { dp_gpu_read_discard(g, r); return st; }
  return dp_gpu_read_finish(g, r, dst);
}

dp_status dp_gpu_finish(dp_gpu *g) {
  /* Dawn resolves a map once the buffer's own last use is done, so the fence must use the
   * buffer: read 4 bytes of a tiny buffer through the staging buffer after everything else. */
  if (!g->fence) {
    dp_status st = dp_gpu_buffer_create(g, 4, "fence", &g->fence);
    if (st) return st;
  }
  uint32_t word;
  return dp_gpu_buffer_read(g, g->fence, 0, &word, 4);
}

/* ---- kernels ---- */

static uint64_t fnv1a(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
  return h;
}

dp_status dp_gpu_kernel_get(dp_gpu *g, const char *name, const char *source, const char *entry,
                            const dp_gpu_constant *c, size_t nc, dp_gpu_kernel **out) {
  *out = NULL;
  if (!source) return dp_error(DP_ERR_NOT_FOUND, "kernel '%s': no WGSL source", name);
  char key[1024];
  int kl = snprintf(key, sizeof key, "%s|%s|%p", name, entry, (const void *)source);
  for (size_t i = 0; i < nc && kl < (int)sizeof key; i++)
    kl += snprintf(key + kl, sizeof key - (size_t)kl, "|%s=%.17g", c[i].name, c[i].value);
  if (kl >= (int)sizeof key) return dp_error(DP_ERR_INVALID_ARG, "kernel '%s': too many constants", name);
  uint64_t h = fnv1a(key, (size_t)kl);
  for (size_t i = 0; i < g->n_kernels; i++)
    if (g->kernels[i]->hash == h && !strcmp(g->kernels[i]->key, key)) { *out = g->kernels[i]; return DP_OK; }

  uint8_t kinds[DP_WGSL_MAX_BINDINGS];
  size_t n_kinds;
  if (dp_wgsl_layout(source, kinds, &n_kinds))
    return dp_error_wrap(DP_ERR_INVALID_ARG, "kernel '%s'", name);
  WGPUBindGroupLayoutEntry le[DP_WGSL_MAX_BINDINGS];
  size_t nle = 0;
  for (size_t i = 0; i < n_kinds; i++) {
    if (!kinds[i]) continue;
    WGPUBindGroupLayoutEntry *x = &le[nle++];
    memset(x, 0, sizeof *x);
    x->binding = (uint32_t)i;
    x->visibility = WGPUShaderStage_Compute;
    if (kinds[i] == DP_WGSL_TEXTURE_U32) x->texture = (WGPUTextureBindingLayout){NULL, 6 /* uint */, 2 /* 2D */, 0};
    else x->buffer = (WGPUBufferBindingLayout){NULL, kinds[i] == DP_WGSL_UNIFORM ? 2u : kinds[i] == DP_WGSL_STORAGE_RW ? 3u : 4u,
                                               0, 0};
  }
  WGPUShaderSourceWGSL wgsl = {{NULL, WGPUSType_ShaderSourceWGSL}, SV(source)};
  WGPUShaderModuleDescriptor smd = {&wgsl.chain, SV(name)};
  WGPUConstantEntry ce[32];
  if (nc > 32) return dp_error(DP_ERR_INVALID_ARG, "kernel '%s': more than 32 override constants", name);
  for (size_t i = 0; i < nc; i++) ce[i] = (WGPUConstantEntry){NULL, SV(c[i].name), c[i].value};

  scope_result scope = {0};
  wgpuDevicePushErrorScope(g->device, 1 /* validation */);
  WGPUShaderModule sm = wgpuDeviceCreateShaderModule(g->device, &smd);
  WGPUBindGroupLayoutDescriptor bld = {NULL, SV(name), nle, le};
  WGPUBindGroupLayout bgl = wgpuDeviceCreateBindGroupLayout(g->device, &bld);
  WGPUPipelineLayoutDescriptor pld = {NULL, SV(name), 1, &bgl, 0};
  WGPUPipelineLayout pl = bgl ? wgpuDeviceCreatePipelineLayout(g->device, &pld) : NULL;
  WGPUComputePipelineDescriptor cpd;
  memset(&cpd, 0, sizeof cpd);
  cpd.label = SV(name);
  cpd.layout = pl;
  cpd.compute.module = sm;
  cpd.compute.entryPoint = SV(entry);
  cpd.compute.constantCount = nc;
  cpd.compute.constants = ce;
  WGPUComputePipeline p = sm && pl ? wgpuDeviceCreateComputePipeline(g->device, &cpd) : NULL;
  WGPUPopErrorScopeCallbackInfo cb = {NULL, WGPUCallbackMode_WaitAnyOnly, scope_cb, &scope, NULL};
  wait_future(g, wgpuDevicePopErrorScope(g->device, cb));
  if (sm) wgpuShaderModuleRelease(sm);
  if (pl) wgpuPipelineLayoutRelease(pl);
  if (scope.failed || !p) {
    if (p) wgpuComputePipelineRelease(p);
    if (bgl) wgpuBindGroupLayoutRelease(bgl);
    /* Keep the message to one line: Dawn's diagnostics span several. */
    for (char *q = scope.msg; *q; q++) if (*q == '\n') *q = ' ';
    return dp_error(DP_ERR_GPU, "kernel '%s' (entry %s) failed to compile: %s", name, entry,
                    scope.msg[0] ? scope.msg : "pipeline creation failed");
  }
  dp_gpu_kernel *k = dp_calloc(1, sizeof *k);
  char *ks = dp_strndup(key, (size_t)kl);
  if (!k || !ks || (g->n_kernels == g->cap_kernels && !(g->kernels = dp_realloc(g->kernels, (g->cap_kernels = g->cap_kernels ? g->cap_kernels * 2 : 32) * sizeof *g->kernels)))) {
    wgpuComputePipelineRelease(p);
    wgpuBindGroupLayoutRelease(bgl);
    dp_free(k);
    dp_free(ks);
    return DP_ERR_NOMEM;
  }
  k->key = ks;
  k->hash = h;
  k->pipeline = p;
  k->layout = bgl;
  memcpy(k->kinds, kinds, sizeof kinds);
  k->n_kinds = n_kinds;
  snprintf(k->label, sizeof k->label, "%s:%s", name, entry);
  g->kernels[g->n_kernels++] = k;
  *out = k;
  return DP_OK;
}

/* ---- dispatches: bind groups (made per call, or per slot of a dp_gpu_bound), uniforms ---- */

struct dp_gpu_bound {
  dp_gpu *g;
  dp_gpu_kernel *k;
  dp_gpu_binding bind[DP_WGSL_MAX_BINDINGS]; /* the storage bindings, for the bind groups of new slots */
  size_t nb, params_size;
  uint32_t usize;        /* uniform binding size: params_size rounded up to 16 */
  uint32_t stride;       /* bytes per slot: usize rounded up to the uniform offset alignment */
  WGPUBuffer ubuf;       /* nslots slots */
  uint8_t *host;         /* the slots' bytes, written to ubuf at submit */
  WGPUBindGroup *bgs;    /* bgs[i]: slot i and the storage bindings */
  uint32_t nslots, used; /* slots used by dispatches recorded since submit number gen */
  uint64_t gen;
  size_t dirty;          /* 1 + its index in g->dirty; 0 when not there */
};

static uint32_t uniform_size(size_t params_size) { return (uint32_t)((params_size + 15) & ~(size_t)15) + (params_size ? 0 : 16); }

/* The placeholder bound where a dispatch leaves out binding kind `kind`. */
static dp_status placeholder(dp_gpu *g, int kind, WGPUBindGroupEntry *e) {
  dp_status st = DP_OK;
  if (kind == DP_WGSL_TEXTURE_U32) {
    if (!g->hold_tex) st = dp_gpu_texture_create(g, 1, 1, "placeholder", &g->hold_tex);
    if (!st) e->textureView = g->hold_tex->view;
    return st;
  }
  dp_gpu_buffer **b = kind == DP_WGSL_STORAGE_RW ? &g->hold_rw : &g->hold_ro;
  if (!*b) st = dp_gpu_buffer_create(g, 256, "placeholder", b);
  if (!st) e->buffer = (*b)->buf, e->offset = 0, e->size = 256;
  return st;
}

/* One bind group of k over bindings (binding i + 1 = bindings[i]), binding 0 the `usize`
 * bytes of `ubuf` at `uoff` (a static offset). Counted. */
static dp_status make_bind_group(dp_gpu *g, dp_gpu_kernel *k, WGPUBuffer ubuf, uint32_t uoff, uint32_t usize,
                                 const dp_gpu_binding *bindings, size_t nb, WGPUBindGroup *out) {
  *out = NULL;
  size_t declared = k->n_kinds ? k->n_kinds - 1 : 0;
  if (nb > declared)
    return dp_error(DP_ERR_INVALID_ARG, "dispatch of %s with %zu storage bindings: its module declares %zu", k->label, nb, declared);
  if (usize > 65536) return dp_error(DP_ERR_INVALID_ARG, "kernel parameters of %u bytes (max 64 KiB)", usize);
  WGPUBindGroupEntry e[DP_WGSL_MAX_BINDINGS];
  size_t ne = 0;
  for (size_t i = 0; i < k->n_kinds; i++) {
    int kind = k->kinds[i];
    if (!kind) continue;
    WGPUBindGroupEntry *x = &e[ne++];
    memset(x, 0, sizeof *x);
    x->binding = (uint32_t)i;
    if (kind == DP_WGSL_UNIFORM) {
      x->buffer = ubuf, x->offset = uoff, x->size = usize;
      continue;
    }
    if (i - 1 >= nb) { /* left out: the entry point does not use it */
      dp_status st = placeholder(g, kind, x);
      if (st) return st;
      continue;
    }
    const dp_gpu_binding *b = &bindings[i - 1];
    if ((kind == DP_WGSL_TEXTURE_U32) != (b->tex != NULL))
      return dp_error(DP_ERR_INVALID_ARG, "dispatch of %s: binding %zu is a %s in the module", k->label, i,
                      kind == DP_WGSL_TEXTURE_U32 ? "texture" : "buffer");
    if (b->tex) {
      x->textureView = b->tex->view;
      continue;
    }
    if (!b->buf) return dp_error(DP_ERR_INVALID_ARG, "dispatch: binding %zu has no buffer", i);
    uint64_t size = b->size ? b->size : b->buf->size - b->offset;
    if (b->offset + size > b->buf->size)
      return dp_error(DP_ERR_INVALID_ARG, "dispatch: binding %zu [%llu, +%llu) past the end of its %llu-byte buffer", i,
                      (unsigned long long)b->offset, (unsigned long long)size, (unsigned long long)b->buf->size);
    if (size > g->info.max_storage_binding) /* never clamped: a kernel would read past it unseen */
      return dp_error(DP_ERR_INVALID_ARG, "dispatch: binding %zu of %llu bytes exceeds the storage binding limit %llu", i,
                      (unsigned long long)size, (unsigned long long)g->info.max_storage_binding);
    x->buffer = b->buf->buf, x->offset = b->offset, x->size = size;
  }
  WGPUBindGroupDescriptor bgd = {NULL, SV(""), k->layout, ne, e};
  *out = wgpuDeviceCreateBindGroup(g->device, &bgd);
  if (!*out) return dp_error(DP_ERR_GPU, "dispatch of %s: bind group creation failed", k->label);
  g->n_bind_groups++;
  return DP_OK;
}

/* Checks before a dispatch is recorded; a full profile query set submits first. */
static dp_status dispatch_checks(dp_gpu *g, uint32_t gx, uint32_t gy, uint32_t gz) {
  if (g->lost) return take_error(g);
  uint32_t lim = g->info.max_workgroups_per_dim;
  if (gx > lim || gy > lim || gz > lim)
    return dp_error(DP_ERR_INVALID_ARG, "dispatch of %u x %u x %u workgroups exceeds the per-dimension limit %u (use dp_gpu_grid_2d)", gx, gy, gz, lim);
  if (g->prof_on && g->prof_n == PROFILE_MAX) return dp_gpu_submit(g); /* before this dispatch's uniforms */
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

/* Record the dispatch of k with bind group bg. */
static void record(dp_gpu *g, dp_gpu_kernel *k, WGPUBindGroup bg, uint32_t gx, uint32_t gy, uint32_t gz) {
  ensure_encoder(g);
  if (g->prof_on) { /* a pass of its own, timestamped */
    end_pass(g);
    WGPUPassTimestampWrites tw = {NULL, g->prof_qs, 2 * g->prof_n, 2 * g->prof_n + 1};
    WGPUComputePassDescriptor pd = {NULL, SV(""), &tw};
    g->pass = wgpuCommandEncoderBeginComputePass(g->encoder, &pd);
    g->prof_k[g->prof_n++] = k;
  }
  if (!g->pass) g->pass = wgpuCommandEncoderBeginComputePass(g->encoder, NULL);
  wgpuComputePassEncoderSetPipeline(g->pass, k->pipeline);
  wgpuComputePassEncoderSetBindGroup(g->pass, 0, bg, 0, NULL);
  if (gx && gy && gz) wgpuComputePassEncoderDispatchWorkgroups(g->pass, gx, gy, gz);
  g->n_dispatch++;
}

dp_status dp_gpu_dispatch(dp_gpu *g, dp_gpu_kernel *k, const void *params, size_t params_size,
                          const dp_gpu_binding *bindings, size_t nb, uint32_t gx, uint32_t gy, uint32_t gz) {
  dp_status st = dispatch_checks(g, gx, gy, gz);
  uint32_t usize = uniform_size(params_size), off = 0;
  WGPUBindGroup bg = NULL;
  if (!st) st = arena_put(g, params, params_size, usize, &off);
  if (!st) st = make_bind_group(g, k, g->uniforms, off, usize, bindings, nb, &bg);
  if (!st) record(g, k, bg, gx, gy, gz);
  if (bg) wgpuBindGroupRelease(bg); /* the pass keeps it alive */
  return st;
}

/* Write the slots b used since the last submit to its buffer (queued before the next submit). */
static void bound_upload(dp_gpu_bound *b) {
  if (b->used && b->gen == b->g->n_submit) wgpuQueueWriteBuffer(b->g->queue, b->ubuf, 0, b->host, (size_t)b->used * b->stride);
}

/* Take b off the device's list of bounds to write at submit. */
static void bound_undirty(dp_gpu_bound *b) {
  dp_gpu *g = b->g;
  if (!b->dirty) return;
  dp_gpu_bound *last = g->dirty[--g->n_dirty];
  g->dirty[b->dirty - 1] = last;
  last->dirty = b->dirty;
  b->dirty = 0;
}

/* At submit: write every dirty bound's slots; the next submit's dispatches count from slot 0. */
static void bounds_upload(dp_gpu *g) {
  for (size_t i = 0; i < g->n_dirty; i++) {
    bound_upload(g->dirty[i]);
    g->dirty[i]->dirty = 0;
  }
  g->n_dirty = 0;
  g->n_submit++;
}

/* At close: a bound freed later leaves the device alone. */
static void bounds_forget(dp_gpu *g) {
  for (size_t i = 0; i < g->n_dirty; i++) g->dirty[i]->dirty = 0;
  dp_free(g->dirty);
  g->dirty = NULL, g->n_dirty = g->cap_dirty = 0;
}

static void bound_release(dp_gpu_bound *b) {
  for (uint32_t i = 0; i < b->nslots; i++)
    if (b->bgs[i]) wgpuBindGroupRelease(b->bgs[i]);
  dp_free(b->bgs);
  dp_free(b->host);
  if (b->ubuf) wgpuBufferRelease(b->ubuf);
  b->bgs = NULL, b->host = NULL, b->ubuf = NULL, b->nslots = 0;
}

/* Give b n slots: a new buffer and a bind group per slot. Slots already used in this submit
 * are written to the old buffer now (their dispatches keep it) and their bytes carried over. */
static dp_status bound_slots(dp_gpu_bound *b, uint32_t n) {
  dp_gpu *g = b->g;
  bound_upload(b);
  uint8_t *host = dp_calloc(n, b->stride);
  WGPUBindGroup *bgs = dp_calloc(n, sizeof *bgs);
  if (!host || !bgs) { dp_free(host); dp_free(bgs); return DP_ERR_NOMEM; }
  if (b->host) memcpy(host, b->host, (size_t)b->nslots * b->stride);
  WGPUBufferDescriptor bd = {NULL, SV("bound-uniforms"), WGPUBufferUsage_Uniform | WGPUBufferUsage_CopyDst, (uint64_t)n * b->stride, 0};
  WGPUBuffer ubuf = wgpuDeviceCreateBuffer(g->device, &bd);
  dp_status st = ubuf ? DP_OK : dp_error(DP_ERR_GPU, "cannot create a %u-byte uniform buffer", n * b->stride);
  for (uint32_t i = 0; !st && i < n; i++) st = make_bind_group(g, b->k, ubuf, i * b->stride, b->usize, b->bind, b->nb, &bgs[i]);
  uint32_t used = b->used;
  uint64_t gen = b->gen;
  bound_release(b);
  b->ubuf = ubuf, b->host = host, b->bgs = bgs, b->nslots = n;
  if (st) { bound_release(b); return st; }
  b->used = used, b->gen = gen;
  return DP_OK;
}

dp_status dp_gpu_bound_create(dp_gpu *g, dp_gpu_kernel *k, size_t params_size, const dp_gpu_binding *bindings, size_t nb,
                              dp_gpu_bound **out) {
  *out = NULL;
  if (g->lost) return take_error(g);
  if (nb > DP_WGSL_MAX_BINDINGS - 1 || nb > (k->n_kinds ? k->n_kinds - 1 : 0))
    return dp_error(DP_ERR_INVALID_ARG, "dispatch of %s with %zu storage bindings: its module declares %zu", k->label, nb,
                    k->n_kinds ? k->n_kinds - 1 : 0);
  dp_gpu_bound *b = dp_calloc(1, sizeof *b);
  if (!b) return DP_ERR_NOMEM;
  b->g = g, b->k = k, b->nb = nb, b->params_size = params_size, b->usize = uniform_size(params_size);
  b->stride = (b->usize + g->uniform_align - 1) / g->uniform_align * g->uniform_align;
  if (nb) memcpy(b->bind, bindings, nb * sizeof *bindings);
  dp_status st = bound_slots(b, 1);
  if (st) { dp_free(b); return st; }
  *out = b;
  return DP_OK;
}

dp_status dp_gpu_dispatch_bound(dp_gpu *g, dp_gpu_bound *b, const void *params, uint32_t gx, uint32_t gy, uint32_t gz) {
  dp_status st = dispatch_checks(g, gx, gy, gz);
  if (st) return st;
  if (b->gen != g->n_submit) b->used = 0, b->gen = g->n_submit;
  if (b->used == b->nslots) {
    if (b->nslots < BOUND_MAX_SLOTS) st = bound_slots(b, b->nslots * 2);
    else if (!(st = dp_gpu_submit(g))) b->used = 0, b->gen = g->n_submit; /* every slot taken in this submit */
    if (st) return st;
  }
  if (!b->dirty) {
    if (g->n_dirty == g->cap_dirty) {
      size_t cap = g->cap_dirty ? g->cap_dirty * 2 : 64;
      dp_gpu_bound **d = dp_realloc(g->dirty, cap * sizeof *d);
      if (!d) return DP_ERR_NOMEM;
      g->dirty = d, g->cap_dirty = cap;
    }
    g->dirty[g->n_dirty++] = b;
    b->dirty = g->n_dirty;
  }
  uint8_t *slot = b->host + (size_t)b->used * b->stride;
  memset(slot, 0, b->usize);
  if (b->params_size) memcpy(slot, params, b->params_size);
  record(g, b->k, b->bgs[b->used++], gx, gy, gz);
  return DP_OK;
}

void dp_gpu_bound_free(dp_gpu_bound *b) {
  if (!b) return;
  if (b->dirty) { /* dispatches of it still to be submitted read these bytes */
    bound_upload(b);
    bound_undirty(b);
  }
  bound_release(b);
  dp_free(b);
}

dp_gpu_kernel *dp_gpu_bound_kernel(const dp_gpu_bound *b) { return b->k; }
uint64_t dp_gpu_bind_group_count(const dp_gpu *g) { return g->n_bind_groups; }
uint64_t dp_gpu_kernel_count(const dp_gpu *g) { return g->n_kernels; }

uint64_t dp_gpu_dispatch_count(const dp_gpu *g) { return g->n_dispatch; }

/* After a submit that resolved n dispatches' timestamps: read them back, add to the kernels. */
static dp_status profile_collect(dp_gpu *g, uint32_t n) {
  map_result mr = {0};
  size_t bytes = (size_t)n * 16;
  WGPUBufferMapCallbackInfo cb = {NULL, WGPUCallbackMode_WaitAnyOnly, on_map, &mr, NULL};
  if (!wait_future(g, wgpuBufferMapAsync(g->prof_read, WGPUMapMode_Read, 0, bytes, cb)) || mr.status != 1)
    return dp_error(DP_ERR_GPU, "profile: timestamp read-back failed (map status %d)", mr.status);
  const uint64_t *ts = wgpuBufferGetConstMappedRange(g->prof_read, 0, bytes);
  for (uint32_t i = 0; ts && i < n; i++) {
    g->prof_k[i]->prof_calls++;
    if (ts[2 * i + 1] > ts[2 * i]) g->prof_k[i]->prof_ns += (double)(ts[2 * i + 1] - ts[2 * i]);
  }
  wgpuBufferUnmap(g->prof_read);
  return ts ? DP_OK : dp_error(DP_ERR_GPU, "profile: mapped range unavailable");
}

dp_status dp_gpu_profile(dp_gpu *g, int on) {
  if (!on) {
    dp_status st = g->prof_n ? dp_gpu_submit(g) : DP_OK; /* collect what is recorded */
    g->prof_on = 0;
    return st;
  }
  if (!g->info.has_timestamp) return dp_error(DP_ERR_UNSUPPORTED, "adapter '%s' has no timestamp-query", g->info.adapter);
  dp_status st = dp_gpu_submit(g); /* earlier dispatches are not profiled */
  if (st) return st;
  if (!g->prof_qs) {
    WGPUQuerySetDescriptor qd = {NULL, SV("profile"), 2 /* timestamp */, 2 * PROFILE_MAX};
    WGPUBufferDescriptor rd = {NULL, SV("profile-resolve"), WGPUBufferUsage_QueryResolve | WGPUBufferUsage_CopySrc, 16 * PROFILE_MAX, 0};
    WGPUBufferDescriptor md = {NULL, SV("profile-read"), WGPUBufferUsage_MapRead | WGPUBufferUsage_CopyDst, 16 * PROFILE_MAX, 0};
    g->prof_qs = wgpuDeviceCreateQuerySet(g->device, &qd);
    g->prof_resolve = wgpuDeviceCreateBuffer(g->device, &rd);
    g->prof_read = wgpuDeviceCreateBuffer(g->device, &md);
    if ((st = take_error(g))) return st;
    if (!g->prof_qs || !g->prof_resolve || !g->prof_read) return dp_error(DP_ERR_GPU, "profile: cannot create the timestamp query set");
  }
  for (size_t i = 0; i < g->n_kernels; i++) g->kernels[i]->prof_calls = 0, g->kernels[i]->prof_ns = 0;
  g->prof_on = 1;
  return DP_OK;
}

static int by_time(const void *a, const void *b) {
  double x = ((const dp_gpu_kernel_time *)a)->ns, y = ((const dp_gpu_kernel_time *)b)->ns;
  return x < y ? 1 : x > y ? -1 : 0;
}

size_t dp_gpu_profile_read(const dp_gpu *g, dp_gpu_kernel_time *out, size_t max) {
  /* kernels that differ only in override constants share a label: one entry per label */
  size_t n = 0;
  for (size_t i = 0; i < g->n_kernels; i++) {
    const dp_gpu_kernel *k = g->kernels[i];
    if (!k->prof_calls) continue;
    size_t j = 0;
    while (j < n && strcmp(out[j].kernel, k->label)) j++;
    if (j == max) continue;
    if (j == n) out[n++] = (dp_gpu_kernel_time){k->label, 0, 0};
    out[j].calls += k->prof_calls;
    out[j].ns += k->prof_ns;
  }
  qsort(out, n, sizeof *out, by_time);
  return n;
}

void dp_gpu_grid_2d(const dp_gpu *g, uint64_t n, uint32_t *gx, uint32_t *gy) {
  uint32_t lim = g->info.max_workgroups_per_dim ? g->info.max_workgroups_per_dim : 65535;
  if (n <= lim) { *gx = (uint32_t)(n ? n : 1); *gy = 1; return; }
  uint64_t y = (n + lim - 1) / lim;
  *gx = (uint32_t)((n + y - 1) / y);
  *gy = (uint32_t)y;
}
