/* dawn.c -- the native device layer (gpu.h) over Dawn's webgpu.h C API.
 *
 * Adapter choice: this Dawn build returns one adapter per request and cannot enumerate, so a
 * choice is made by pointing the Vulkan loader at one ICD file (VK_DRIVER_FILES) before an
 * instance is created; when that gives nothing usable the next choice is tried with a fresh
 * instance. Dawn's Null backend "succeeds" when no Vulkan device qualifies and then computes
 * zeros: it is always refused.
 *
 * What does not depend on Dawn (argument checks, kernel cache, binding checks and placeholders,
 * dp_gpu_bound, the host side of the uniform arena, counters) is src/gpu/gpu_common.c; this
 * file gives it the gpu_backend_* calls of gpu_common.h (buffer, texture, copy, pipeline, bind
 * group, dispatch, error).
 * Recording: one command encoder and one open compute pass collect dispatches until submit.
 * Uniform parameters: the host-side arena (dp_gpu_dispatch) is uploaded with one queue write
 * per submit (queue writes are ordered before the submit that follows them, so the arena can
 * be reused immediately), each bound's slots with one write each (gpu_common.c); bind groups
 * bind them at static offsets (a dynamic one costs lavapipe a mapped descriptor set per bind).
 * Pipelines get an explicit layout from their module's declarations (wgsl_layout.h). Errors: shader compilation and pipeline creation run inside an error
 * scope so the shader's message comes back as the engine error; anything else the device
 * reports is collected by the uncaptured-error callback and surfaces at the next wait.
 * Read-backs: each handle owns a map-read staging buffer (pooled, several in flight); start
 * copies + submits + calls wgpuBufferMapAsync (WaitAnyOnly), poll is wgpuInstanceWaitAny with
 * timeout 0, wait the same without a timeout (counted), a discarded map's late callback is
 * told apart by a generation number.
 * Profiling (dp_gpu_profile): each dispatch gets its own compute pass with begin/end
 * timestamps in a query set, resolved and read back at submit, summed per kernel.
 * Called by src/kernels (ops) and src/runtime; depends on core, gpu_common and webgpu_min.h only. */
#include "gpu/gpu_common.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "gpu/webgpu_min.h"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(WGPULimits) == 152, "WGPULimits layout of this Dawn build");

#define SV(s) ((WGPUStringView){(s), WGPU_STRLEN})
#define PROFILE_MAX 1024 /* profiled dispatches per submit (2 timestamps each) */
#define LAVAPIPE_ICD "/usr/share/vulkan/icd.d/lvp_icd.json"
#define SWIFTSHADER_ICD "/usr/lib/chromium/vk_swiftshader_icd.json"

/* WGPUTextureFormat_RGBA32Uint in this Dawn build (the enum moved between header versions;
 * gpu_device's texture round trip fails if this is wrong). */
#define DP_WGPU_RGBA32UINT 0x24u

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


struct dp_gpu {
  gpu_common c;                 /* first (gpu_common.h): info, arena, kernel cache, counters */
  WGPUInstance instance;
  WGPUAdapter adapter;
  WGPUDevice device;
  WGPUQueue queue;
  WGPUFeatureName features[32];
  size_t n_features;
  /* recording state */
  WGPUCommandEncoder encoder;
  WGPUComputePassEncoder pass;
  WGPUBuffer uniforms;          /* device side of the arena (c.uniform_host) */
  /* read-backs: every one ever started, free ones reused (each has its own staging buffer) */
  dp_gpu_readback **rbs;
  size_t n_rb, cap_rb;
  dp_gpu_buffer *fence;         /* 4 bytes, read back by dp_gpu_finish */
  /* profiling: timestamps of the dispatches recorded since the last submit */
  int prof_on;
  int prof_inpass;              /* timestamps inside one pass (DOPPLER_PROFILE_INPASS=1, below) */
  WGPUQuerySet prof_qs;         /* [2 * PROFILE_MAX] timestamps */
  WGPUBuffer prof_resolve, prof_read;
  dp_gpu_kernel *prof_k[PROFILE_MAX];
  uint32_t prof_n;
  /* errors reported by callbacks */
  char error[1024];
  int has_error;
};
_Static_assert(offsetof(struct dp_gpu, c) == 0, "gpu_common first (gpu_common.h)");

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
  g->c.lost = 1;
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

dp_status gpu_backend_error(dp_gpu *g) {
  if (!g->has_error) return DP_OK;
  if (!g->c.lost) g->has_error = 0;
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

static int inpass_wanted(void) {
  const char *e = getenv("DOPPLER_PROFILE_INPASS");
  return e && !strcmp(e, "1");
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
  /* DOPPLER_PROFILE_INPASS=1 (profiling only): Dawn exposes timestamps inside passes only with
   * allow_unsafe_apis, on the adapter and the device (dp_gpu_open) */
  static const char *const unsafe[] = {"allow_unsafe_apis"};
  WGPUDawnTogglesDescriptor at = {{NULL, WGPUSType_DawnTogglesDescriptor}, 1, unsafe, 0, NULL};
  if (inpass_wanted()) opt.nextInChain = &at.chain;
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
  dp_gpu_info *in = &g->c.info;
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
  WGPUFeatureName want[] = {WGPUFeatureName_ShaderF16, WGPUFeatureName_Subgroups, WGPUFeatureName_TimestampQuery,
                            WGPUFeatureName_ChromiumExperimentalTimestampQueryInsidePasses};
  WGPUFeatureName req[4];
  size_t nreq = 0;
  for (size_t i = 0; i < 4; i++)
    if ((i < 3 || inpass_wanted()) && wgpuAdapterHasFeature(g->adapter, want[i])) req[nreq++] = want[i];

  WGPUDeviceDescriptor dd;
  memset(&dd, 0, sizeof dd);
  dd.label = SV("doppler");
  /* timestamps at full resolution for dp_gpu_profile (Dawn rounds them down by default) */
  static const char *const no_quantization[] = {"timestamp_quantization"};
  static const char *const unsafe[] = {"allow_unsafe_apis"};
  WGPUDawnTogglesDescriptor toggles = {{NULL, WGPUSType_DawnTogglesDescriptor}, 0, NULL, 1, no_quantization};
  if (inpass_wanted()) toggles.enabledToggleCount = 1, toggles.enabledToggles = unsafe;
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
    st = dp_error(DP_ERR_GPU, "adapter '%s' (%s): device creation failed: %s", g->c.info.driver_choice, g->c.info.adapter, r.msg);
    release_instance(g);
    dp_free(g);
    return st;
  }
  g->device = r.device;
  g->queue = wgpuDeviceGetQueue(g->device);

  WGPULimits dl;
  memset(&dl, 0, sizeof dl);
  wgpuDeviceGetLimits(g->device, &dl);
  dp_gpu_info *in = &g->c.info;
  in->has_f16 = wgpuDeviceHasFeature(g->device, WGPUFeatureName_ShaderF16);
  in->has_subgroups = wgpuDeviceHasFeature(g->device, WGPUFeatureName_Subgroups);
  in->has_timestamp = wgpuDeviceHasFeature(g->device, WGPUFeatureName_TimestampQuery);
  g->prof_inpass = in->has_timestamp && inpass_wanted() &&
                   wgpuDeviceHasFeature(g->device, WGPUFeatureName_ChromiumExperimentalTimestampQueryInsidePasses);
  in->has_timestamp_inpass = g->prof_inpass;
  if (inpass_wanted() && !g->prof_inpass)
    dp_log(DP_LOG_WARN, "gpu: DOPPLER_PROFILE_INPASS=1 but the adapter has no timestamps inside passes: a pass per profiled dispatch");
  in->has_dot4 = wgpuInstanceHasWGSLLanguageFeature(g->instance, 2u /* Packed4x8IntegerDotProduct */) != 0;
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

  WGPUBufferDescriptor bd = {NULL, SV("uniform-arena"), WGPUBufferUsage_Uniform | WGPUBufferUsage_CopyDst, GPU_UNIFORM_ARENA_BYTES, 0};
  g->uniforms = wgpuDeviceCreateBuffer(g->device, &bd);
  if ((st = gpu_common_init(g)) || !g->uniforms) {
    dp_gpu_close(g);
    return st ? st : dp_error(DP_ERR_NOMEM, "cannot allocate the uniform arena");
  }
  dp_log(DP_LOG_DEBUG, "gpu: %s adapter '%s' via %s", in->backend, in->adapter, in->driver_choice);
  *out = g;
  return DP_OK;
}

void dp_gpu_close(dp_gpu *g) {
  if (!g) return;
  if (g->pass) { wgpuComputePassEncoderEnd(g->pass); wgpuComputePassEncoderRelease(g->pass); }
  if (g->encoder) wgpuCommandEncoderRelease(g->encoder);
  gpu_common_free(g); /* kernels, placeholders, the host arena */
  if (g->prof_qs) { wgpuQuerySetDestroy(g->prof_qs); wgpuQuerySetRelease(g->prof_qs); }
  if (g->prof_resolve) wgpuBufferRelease(g->prof_resolve);
  if (g->prof_read) wgpuBufferRelease(g->prof_read);
  for (size_t i = 0; i < g->n_rb; i++)
    if (g->rbs[i]->staging) wgpuBufferRelease(g->rbs[i]->staging);
  dp_gpu_buffer_free(g->fence);
  if (g->uniforms) wgpuBufferRelease(g->uniforms);
  if (g->queue) wgpuQueueRelease(g->queue);
  if (g->device) { wgpuDeviceDestroy(g->device); wgpuDeviceRelease(g->device); }
  release_instance(g);
  for (size_t i = 0; i < g->n_rb; i++) dp_free(g->rbs[i]); /* after the instance: no callback can still fire */
  dp_free(g->rbs);
  dp_free(g);
}

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

/* ---- buffers and textures (gpu_common.c checks the arguments) ---- */

#define WBUF(b) ((WGPUBuffer)(b)->h)

dp_status gpu_backend_buffer_create(dp_gpu *g, dp_gpu_buffer *b, const char *label) {
  WGPUBufferDescriptor bd = {NULL, SV(label ? label : ""), WGPUBufferUsage_Storage | WGPUBufferUsage_CopySrc | WGPUBufferUsage_CopyDst, b->size, 0};
  wgpuDevicePushErrorScope(g->device, 2 /* out of memory */);
  WGPUBuffer buf = wgpuDeviceCreateBuffer(g->device, &bd);
  scope_result scope = {0};
  WGPUPopErrorScopeCallbackInfo cb = {NULL, WGPUCallbackMode_WaitAnyOnly, scope_cb, &scope, NULL};
  wait_future(g, wgpuDevicePopErrorScope(g->device, cb));
  if (!buf || scope.failed) {
    if (buf) wgpuBufferRelease(buf);
    return dp_error(DP_ERR_GPU, "cannot create GPU buffer '%s' of %llu bytes: %s", label ? label : "",
                    (unsigned long long)b->size, scope.msg[0] ? scope.msg : "allocation failed");
  }
  b->h = (gpu_handle)buf;
  return DP_OK;
}

void gpu_backend_buffer_free(dp_gpu_buffer *b) {
  wgpuBufferDestroy(WBUF(b));
  wgpuBufferRelease(WBUF(b));
}

void gpu_backend_buffer_write(dp_gpu *g, dp_gpu_buffer *b, uint64_t offset, const void *src, size_t n) {
  wgpuQueueWriteBuffer(g->queue, WBUF(b), offset, src, n);
}

void gpu_backend_texture_free(dp_gpu_texture *t) {
  if (t->view) wgpuTextureViewRelease((WGPUTextureView)t->view);
  if (t->h) { wgpuTextureDestroy((WGPUTexture)t->h); wgpuTextureRelease((WGPUTexture)t->h); }
}

dp_status gpu_backend_texture_create(dp_gpu *g, dp_gpu_texture *t, const char *label) {
  WGPUTextureDescriptor td = {NULL, SV(label ? label : ""), WGPUTextureUsage_TextureBinding | WGPUTextureUsage_CopyDst,
                              2 /* 2D */, {t->width, t->height, 1}, DP_WGPU_RGBA32UINT, 1, 1, 0, NULL};
  wgpuDevicePushErrorScope(g->device, 2 /* out of memory */);
  wgpuDevicePushErrorScope(g->device, 1 /* validation */);
  WGPUTexture tex = wgpuDeviceCreateTexture(g->device, &td);
  t->h = (gpu_handle)tex;
  if (tex) t->view = (gpu_handle)wgpuTextureCreateView(tex, NULL);
  scope_result val = {0}, oom = {0};
  WGPUPopErrorScopeCallbackInfo cb1 = {NULL, WGPUCallbackMode_WaitAnyOnly, scope_cb, &val, NULL};
  wait_future(g, wgpuDevicePopErrorScope(g->device, cb1));
  WGPUPopErrorScopeCallbackInfo cb2 = {NULL, WGPUCallbackMode_WaitAnyOnly, scope_cb, &oom, NULL};
  wait_future(g, wgpuDevicePopErrorScope(g->device, cb2));
  if (!t->h || !t->view || val.failed || oom.failed) {
    gpu_backend_texture_free(t);
    t->h = t->view = 0;
    return dp_error(DP_ERR_GPU, "cannot create texture '%s' of %u x %u texels: %s", label ? label : "", t->width, t->height,
                    val.failed ? val.msg : oom.failed ? oom.msg : "creation failed");
  }
  return DP_OK;
}

void gpu_backend_texture_write(dp_gpu *g, dp_gpu_texture *t, uint32_t x, uint32_t y, uint32_t w, uint32_t h, const void *data) {
  WGPUTexelCopyTextureInfo dst = {(WGPUTexture)t->h, 0, {x, y, 0}, 1 /* all */};
  WGPUTexelCopyBufferLayout lay = {0, w * 16u, h};
  WGPUExtent3D ext = {w, h, 1};
  wgpuQueueWriteTexture(g->queue, &dst, data, (size_t)w * h * 16u, &lay, &ext);
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

void gpu_backend_copy(dp_gpu *g, dp_gpu_buffer *src, uint64_t so, dp_gpu_buffer *dst, uint64_t dof, uint64_t n) {
  end_pass(g);
  ensure_encoder(g);
  wgpuCommandEncoderCopyBufferToBuffer(g->encoder, WBUF(src), so, WBUF(dst), dof, n);
}

static dp_status profile_collect(dp_gpu *g, uint32_t n); /* below, with the profiler */

dp_status dp_gpu_submit(dp_gpu *g) {
  if (g->c.lost) return gpu_backend_error(g);
  end_pass(g);
  uint32_t used = gpu_common_take_uniforms(g);
  if (used) wgpuQueueWriteBuffer(g->queue, g->uniforms, 0, g->c.uniform_host, used);
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
  dp_status st = gpu_backend_error(g);
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
  uint64_t n4;
  dp_status st = gpu_check_read(g, b, offset, n, &n4);
  if (st) return st;
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
    wgpuCommandEncoderCopyBufferToBuffer(g->encoder, WBUF(b), offset, r->staging, 0, n4);
  }
  if ((st = dp_gpu_submit(g))) return st;
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
  return r->done || g->c.lost;
}

dp_status dp_gpu_read_wait(dp_gpu *g, dp_gpu_readback *r) {
  g->c.n_wait++;
  if (!r->done && !wait_future(g, r->future) && !g->c.lost)
    return dp_error(DP_ERR_GPU, "read-back: waiting for the map failed");
  return DP_OK;
}

dp_status dp_gpu_read_finish(dp_gpu *g, dp_gpu_readback *r, void *dst) {
  dp_status st = DP_OK;
  if (!r->done) {
    dp_gpu_read_discard(g, r);
    if ((st = gpu_backend_error(g))) return st;
    return dp_error(DP_ERR_INTERNAL, "read-back finished before its map completed");
  }
  r->busy = 0;
  if (r->status != 1) {
    if ((st = gpu_backend_error(g))) return st;
    return dp_error(DP_ERR_GPU, "read-back failed (map status %d)", r->status);
  }
  size_t m = (size_t)(r->n4 ? r->n4 : 4);
  const void *p = wgpuBufferGetConstMappedRange(r->staging, 0, m);
  if (p && r->n) memcpy(dst, p, r->n);
  wgpuBufferUnmap(r->staging);
  if ((st = gpu_backend_error(g))) return st;
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

/* ---- kernels, bind groups and dispatches (gpu_common.c keeps the cache and the checks) ---- */

dp_status gpu_backend_kernel_create(dp_gpu *g, dp_gpu_kernel *k, const char *name, const char *source, const char *entry,
                                    const dp_gpu_constant *c, size_t nc) {
  WGPUBindGroupLayoutEntry le[DP_WGSL_MAX_BINDINGS];
  size_t nle = 0;
  for (size_t i = 0; i < k->n_kinds; i++) {
    int kind = k->kinds[i];
    if (!kind) continue;
    WGPUBindGroupLayoutEntry *x = &le[nle++];
    memset(x, 0, sizeof *x);
    x->binding = (uint32_t)i;
    x->visibility = WGPUShaderStage_Compute;
    if (kind == DP_WGSL_TEXTURE_U32) x->texture = (WGPUTextureBindingLayout){NULL, 6 /* uint */, 2 /* 2D */, 0};
    else x->buffer = (WGPUBufferBindingLayout){NULL, kind == DP_WGSL_UNIFORM ? 2u : kind == DP_WGSL_STORAGE_RW ? 3u : 4u,
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
  k->pipeline = (gpu_handle)p;
  k->layout = (gpu_handle)bgl;
  return DP_OK;
}

void gpu_backend_kernel_free(dp_gpu_kernel *k) {
  wgpuBindGroupLayoutRelease((WGPUBindGroupLayout)k->layout);
  wgpuComputePipelineRelease((WGPUComputePipeline)k->pipeline);
}

dp_status gpu_backend_bind_group(dp_gpu *g, dp_gpu_kernel *k, gpu_handle ubuf, uint32_t uoff, uint32_t usize,
                                 const dp_gpu_binding *res, gpu_handle *out) {
  WGPUBindGroupEntry e[DP_WGSL_MAX_BINDINGS];
  size_t ne = 0;
  for (size_t i = 0; i < k->n_kinds; i++) {
    if (!k->kinds[i]) continue;
    WGPUBindGroupEntry *x = &e[ne++];
    memset(x, 0, sizeof *x);
    x->binding = (uint32_t)i;
    if (k->kinds[i] == DP_WGSL_UNIFORM) x->buffer = ubuf ? (WGPUBuffer)ubuf : g->uniforms, x->offset = uoff, x->size = usize;
    else if (res[i].tex) x->textureView = (WGPUTextureView)res[i].tex->view;
    else x->buffer = WBUF(res[i].buf), x->offset = res[i].offset, x->size = res[i].size;
  }
  WGPUBindGroupDescriptor bgd = {NULL, SV(""), (WGPUBindGroupLayout)k->layout, ne, e};
  *out = (gpu_handle)wgpuDeviceCreateBindGroup(g->device, &bgd);
  return DP_OK;
}

void gpu_backend_bind_group_free(gpu_handle bg) { wgpuBindGroupRelease((WGPUBindGroup)bg); }

dp_status gpu_backend_dispatch_prepare(dp_gpu *g) {
  return g->prof_on && g->prof_n == PROFILE_MAX ? dp_gpu_submit(g) : DP_OK; /* the query set is full */
}

dp_status gpu_backend_uniform_create(dp_gpu *g, uint64_t bytes, gpu_handle *out) {
  WGPUBufferDescriptor bd = {NULL, SV("bound-uniforms"), WGPUBufferUsage_Uniform | WGPUBufferUsage_CopyDst, bytes, 0};
  WGPUBuffer b = wgpuDeviceCreateBuffer(g->device, &bd);
  *out = (gpu_handle)b;
  return b ? DP_OK : dp_error(DP_ERR_GPU, "cannot create a %llu-byte uniform buffer", (unsigned long long)bytes);
}

void gpu_backend_uniform_write(dp_gpu *g, gpu_handle h, const void *src, size_t n) {
  wgpuQueueWriteBuffer(g->queue, (WGPUBuffer)h, 0, src, n);
}

void gpu_backend_uniform_free(gpu_handle h) { wgpuBufferRelease((WGPUBuffer)h); }

void gpu_backend_record(dp_gpu *g, dp_gpu_kernel *k, gpu_handle bg, uint32_t gx, uint32_t gy, uint32_t gz) {
  ensure_encoder(g);
  int inpass = g->prof_on && g->prof_inpass;
  if (g->prof_on && !inpass) { /* a pass of its own, timestamped: each dispatch carries a pass's cost */
    end_pass(g);
    WGPUPassTimestampWrites tw = {NULL, g->prof_qs, 2 * g->prof_n, 2 * g->prof_n + 1};
    WGPUComputePassDescriptor pd = {NULL, SV(""), &tw};
    g->pass = wgpuCommandEncoderBeginComputePass(g->encoder, &pd);
    g->prof_k[g->prof_n++] = k;
  }
  if (!g->pass) g->pass = wgpuCommandEncoderBeginComputePass(g->encoder, NULL);
  wgpuComputePassEncoderSetPipeline(g->pass, (WGPUComputePipeline)k->pipeline);
  wgpuComputePassEncoderSetBindGroup(g->pass, 0, (WGPUBindGroup)bg, 0, NULL);
  /* inside the pass, as decode runs: before = the earlier work's end, after = this dispatch's
   * end, so a dispatch's time includes its barrier and launch and the times add up to the pass */
  if (inpass) wgpuComputePassEncoderWriteTimestamp(g->pass, g->prof_qs, 2 * g->prof_n);
  if (gx && gy && gz) wgpuComputePassEncoderDispatchWorkgroups(g->pass, gx, gy, gz);
  if (inpass) wgpuComputePassEncoderWriteTimestamp(g->pass, g->prof_qs, 2 * g->prof_n + 1), g->prof_k[g->prof_n++] = k;
}

/* ---- profiling ---- */

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
  if (!g->c.info.has_timestamp) return dp_error(DP_ERR_UNSUPPORTED, "adapter '%s' has no timestamp-query", g->c.info.adapter);
  dp_status st = dp_gpu_submit(g); /* earlier dispatches are not profiled */
  if (st) return st;
  if (!g->prof_qs) {
    WGPUQuerySetDescriptor qd = {NULL, SV("profile"), 2 /* timestamp */, 2 * PROFILE_MAX};
    WGPUBufferDescriptor rd = {NULL, SV("profile-resolve"), WGPUBufferUsage_QueryResolve | WGPUBufferUsage_CopySrc, 16 * PROFILE_MAX, 0};
    WGPUBufferDescriptor md = {NULL, SV("profile-read"), WGPUBufferUsage_MapRead | WGPUBufferUsage_CopyDst, 16 * PROFILE_MAX, 0};
    g->prof_qs = wgpuDeviceCreateQuerySet(g->device, &qd);
    g->prof_resolve = wgpuDeviceCreateBuffer(g->device, &rd);
    g->prof_read = wgpuDeviceCreateBuffer(g->device, &md);
    if ((st = gpu_backend_error(g))) return st;
    if (!g->prof_qs || !g->prof_resolve || !g->prof_read) return dp_error(DP_ERR_GPU, "profile: cannot create the timestamp query set");
  }
  for (size_t i = 0; i < g->c.n_kernels; i++) g->c.kernels[i]->prof_calls = 0, g->c.kernels[i]->prof_ns = 0;
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
  for (size_t i = 0; i < g->c.n_kernels; i++) {
    const dp_gpu_kernel *k = g->c.kernels[i];
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
