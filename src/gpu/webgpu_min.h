/* webgpu_min.h -- DOPPLER copy of ../shared/reference/wgpu_min.h (the project reference), a hand-written minimal subset of Dawn's webgpu.h (StringView era,
 * ~mid 2025, the one exported by bun-webgpu-linux-x64 0.1.7 libwebgpu_wrapper.so).
 * Layouts/enum values derived from bun-webgpu 0.1.7 structs_def.d.ts / index.js
 * (defineStruct/defineEnum tables).  x86_64 SysV ABI, natural alignment.
 * Only what a compute-only engine needs. */
#ifndef DP_WEBGPU_MIN_H
#define DP_WEBGPU_MIN_H
#include <stdint.h>
#include <stddef.h>

typedef uint32_t WGPUBool;
typedef uint64_t WGPUFlags;
#define WGPU_STRLEN SIZE_MAX
#define WGPU_WHOLE_SIZE UINT64_MAX
#define WGPU_WHOLE_MAP_SIZE SIZE_MAX

typedef struct WGPUInstanceImpl* WGPUInstance;
typedef struct WGPUAdapterImpl* WGPUAdapter;
typedef struct WGPUDeviceImpl* WGPUDevice;
typedef struct WGPUQueueImpl* WGPUQueue;
typedef struct WGPUBufferImpl* WGPUBuffer;
typedef struct WGPUShaderModuleImpl* WGPUShaderModule;
typedef struct WGPUComputePipelineImpl* WGPUComputePipeline;
typedef struct WGPUBindGroupLayoutImpl* WGPUBindGroupLayout;
typedef struct WGPUBindGroupImpl* WGPUBindGroup;
typedef struct WGPUPipelineLayoutImpl* WGPUPipelineLayout;
typedef struct WGPUCommandEncoderImpl* WGPUCommandEncoder;
typedef struct WGPUCommandBufferImpl* WGPUCommandBuffer;
typedef struct WGPUComputePassEncoderImpl* WGPUComputePassEncoder;
typedef struct WGPUSamplerImpl* WGPUSampler;
typedef struct WGPUTextureViewImpl* WGPUTextureView;
typedef struct WGPUQuerySetImpl* WGPUQuerySet;

/* ---- enums (uint32) ---- */
typedef uint32_t WGPUSType;
enum { WGPUSType_ShaderSourceWGSL = 2, WGPUSType_DawnTogglesDescriptor = 0x0005000A /*327690*/ };
typedef uint32_t WGPUCallbackMode;
enum { WGPUCallbackMode_WaitAnyOnly = 1, WGPUCallbackMode_AllowProcessEvents = 2, WGPUCallbackMode_AllowSpontaneous = 3 };
typedef uint32_t WGPUBackendType;  /* 0 Undefined,1 Null,2 WebGPU,3 D3D11,4 D3D12,5 Metal,6 Vulkan,7 OpenGL,8 OpenGLES */
typedef uint32_t WGPUAdapterType;  /* 1 DiscreteGPU,2 IntegratedGPU,3 CPU,4 Unknown */
typedef uint32_t WGPUFeatureLevel; /* 0 undefined, 1 compatibility, 2 core */
typedef uint32_t WGPUPowerPreference;
typedef uint32_t WGPUFeatureName;
/* core values verified at runtime (Tint accepts `enable f16;` only with 10, `enable subgroups;` only with 17).
 * Dawn-extension values: bun-webgpu 0.1.7's JS table is STALE vs the shipped .so: from 327688 on, real = JS - 1
 * (subgroups-f16 gone).  Verified: chromium-experimental-subgroup-matrix is 327735 in the .so (JS says 327736). */
enum { WGPUFeatureName_ChromiumExperimentalTimestampQueryInsidePasses = 0x00050003, /* Dawn; needs allow_unsafe_apis */
       WGPUFeatureName_TimestampQuery = 3, WGPUFeatureName_ShaderF16 = 10, WGPUFeatureName_Subgroups = 17,
       WGPUFeatureName_ChromiumExperimentalSubgroupMatrix = 327735 };
typedef uint32_t WGPUStatus;            /* 1 Success, 2 Error */
typedef uint32_t WGPURequestAdapterStatus; /* 1 Success, 2 CallbackCancelled, 3 Unavailable, 4 Error */
typedef uint32_t WGPURequestDeviceStatus;  /* 1 Success, 2 CallbackCancelled, 3 Error */
typedef uint32_t WGPUMapAsyncStatus;       /* 1 Success, 2 CallbackCancelled, 3 Error, 4 Aborted */
typedef uint32_t WGPUWaitStatus;           /* 1 Success, 2 TimedOut, others = error/unsupported */
typedef uint32_t WGPUErrorType;            /* 1 no-error 2 validation 3 oom 4 internal 5 unknown */
typedef uint32_t WGPUDeviceLostReason;
typedef uint32_t WGPUBufferBindingType;    /* 0 BindingNotUsed,1 Undefined,2 Uniform,3 Storage,4 ReadOnlyStorage */

typedef WGPUFlags WGPUBufferUsage;
#define WGPUBufferUsage_MapRead  0x1ull
#define WGPUBufferUsage_MapWrite 0x2ull
#define WGPUBufferUsage_CopySrc  0x4ull
#define WGPUBufferUsage_CopyDst  0x8ull
#define WGPUBufferUsage_Uniform  0x40ull
#define WGPUBufferUsage_Storage  0x80ull
typedef WGPUFlags WGPUMapMode;
#define WGPUMapMode_Read 0x1ull
typedef WGPUFlags WGPUShaderStage;
#define WGPUShaderStage_Compute 0x4ull

/* ---- basic structs ---- */
typedef struct WGPUStringView { const char* data; size_t length; } WGPUStringView;
typedef struct WGPUChainedStruct { const struct WGPUChainedStruct* next; WGPUSType sType; } WGPUChainedStruct;
typedef struct WGPUChainedStructOut { struct WGPUChainedStructOut* next; WGPUSType sType; } WGPUChainedStructOut;
typedef struct WGPUFuture { uint64_t id; } WGPUFuture;
typedef struct WGPUFutureWaitInfo { WGPUFuture future; WGPUBool completed; } WGPUFutureWaitInfo;

typedef struct WGPUInstanceCapabilities {
  WGPUChainedStructOut* nextInChain;
  WGPUBool timedWaitAnyEnable;
  size_t timedWaitAnyMaxCount;
} WGPUInstanceCapabilities;
typedef struct WGPUInstanceDescriptor {
  const WGPUChainedStruct* nextInChain;
  WGPUInstanceCapabilities capabilities;  /* Dawn exports wgpuGetInstanceCapabilities => this era */
} WGPUInstanceDescriptor;

typedef struct WGPUDawnTogglesDescriptor {
  WGPUChainedStruct chain;
  size_t enabledToggleCount;
  const char* const* enabledToggles;
  size_t disabledToggleCount;
  const char* const* disabledToggles;
} WGPUDawnTogglesDescriptor;

typedef struct WGPURequestAdapterOptions {
  const WGPUChainedStruct* nextInChain;
  WGPUFeatureLevel featureLevel;
  WGPUPowerPreference powerPreference;
  WGPUBool forceFallbackAdapter;
  WGPUBackendType backendType;
  void* compatibleSurface;
} WGPURequestAdapterOptions;

typedef void (*WGPURequestAdapterCallback)(WGPURequestAdapterStatus, WGPUAdapter, WGPUStringView, void*, void*);
typedef struct WGPURequestAdapterCallbackInfo {
  const WGPUChainedStruct* nextInChain; WGPUCallbackMode mode; WGPURequestAdapterCallback callback; void* userdata1; void* userdata2;
} WGPURequestAdapterCallbackInfo;
typedef void (*WGPURequestDeviceCallback)(WGPURequestDeviceStatus, WGPUDevice, WGPUStringView, void*, void*);
typedef struct WGPURequestDeviceCallbackInfo {
  const WGPUChainedStruct* nextInChain; WGPUCallbackMode mode; WGPURequestDeviceCallback callback; void* userdata1; void* userdata2;
} WGPURequestDeviceCallbackInfo;
typedef void (*WGPUDeviceLostCallback)(const WGPUDevice*, WGPUDeviceLostReason, WGPUStringView, void*, void*);
typedef struct WGPUDeviceLostCallbackInfo {
  const WGPUChainedStruct* nextInChain; WGPUCallbackMode mode; WGPUDeviceLostCallback callback; void* userdata1; void* userdata2;
} WGPUDeviceLostCallbackInfo;
typedef void (*WGPUUncapturedErrorCallback)(const WGPUDevice*, WGPUErrorType, WGPUStringView, void*, void*);
typedef struct WGPUUncapturedErrorCallbackInfo {
  const WGPUChainedStruct* nextInChain; WGPUUncapturedErrorCallback callback; void* userdata1; void* userdata2;
} WGPUUncapturedErrorCallbackInfo;
typedef void (*WGPUBufferMapCallback)(WGPUMapAsyncStatus, WGPUStringView, void*, void*);
typedef struct WGPUBufferMapCallbackInfo {
  const WGPUChainedStruct* nextInChain; WGPUCallbackMode mode; WGPUBufferMapCallback callback; void* userdata1; void* userdata2;
} WGPUBufferMapCallbackInfo;

typedef struct WGPUAdapterInfo {
  WGPUChainedStructOut* nextInChain;
  WGPUStringView vendor, architecture, device, description;
  WGPUBackendType backendType;
  WGPUAdapterType adapterType;
  uint32_t vendorID, deviceID;
  uint32_t subgroupMinSize, subgroupMaxSize;
} WGPUAdapterInfo;

typedef struct WGPULimits {
  WGPUChainedStructOut* nextInChain;
  uint32_t maxTextureDimension1D, maxTextureDimension2D, maxTextureDimension3D, maxTextureArrayLayers;
  uint32_t maxBindGroups, maxBindGroupsPlusVertexBuffers, maxBindingsPerBindGroup;
  uint32_t maxDynamicUniformBuffersPerPipelineLayout, maxDynamicStorageBuffersPerPipelineLayout;
  uint32_t maxSampledTexturesPerShaderStage, maxSamplersPerShaderStage, maxStorageBuffersPerShaderStage;
  uint32_t maxStorageTexturesPerShaderStage, maxUniformBuffersPerShaderStage;
  uint64_t maxUniformBufferBindingSize;
  uint64_t maxStorageBufferBindingSize;
  uint32_t minUniformBufferOffsetAlignment, minStorageBufferOffsetAlignment;
  uint32_t maxVertexBuffers;
  uint64_t maxBufferSize;
  uint32_t maxVertexAttributes, maxVertexBufferArrayStride, maxInterStageShaderVariables;
  uint32_t maxColorAttachments, maxColorAttachmentBytesPerSample;
  uint32_t maxComputeWorkgroupStorageSize, maxComputeInvocationsPerWorkgroup;
  uint32_t maxComputeWorkgroupSizeX, maxComputeWorkgroupSizeY, maxComputeWorkgroupSizeZ;
  uint32_t maxComputeWorkgroupsPerDimension;
  uint32_t maxImmediateSize;
  /* bun-webgpu's JS table also lists maxStorageBuffersInVertexStage/..InFragmentStage here, but the shipped
   * .so writes only 152 bytes (verified with probe_limits.c: nothing written past offset 152), i.e. those
   * compat limits are not in WGPULimits of this Dawn build. */
} WGPULimits; /* sizeof == 152 */

typedef struct WGPUSupportedFeatures { size_t featureCount; const WGPUFeatureName* features; } WGPUSupportedFeatures;

typedef struct WGPUQueueDescriptor { const WGPUChainedStruct* nextInChain; WGPUStringView label; } WGPUQueueDescriptor;
typedef struct WGPUDeviceDescriptor {
  const WGPUChainedStruct* nextInChain;
  WGPUStringView label;
  size_t requiredFeatureCount;
  const WGPUFeatureName* requiredFeatures;
  const WGPULimits* requiredLimits;
  WGPUQueueDescriptor defaultQueue;
  WGPUDeviceLostCallbackInfo deviceLostCallbackInfo;
  WGPUUncapturedErrorCallbackInfo uncapturedErrorCallbackInfo;
} WGPUDeviceDescriptor;

typedef struct WGPUBufferDescriptor {
  const WGPUChainedStruct* nextInChain; WGPUStringView label; WGPUBufferUsage usage; uint64_t size; WGPUBool mappedAtCreation;
} WGPUBufferDescriptor;
typedef struct WGPUShaderSourceWGSL { WGPUChainedStruct chain; WGPUStringView code; } WGPUShaderSourceWGSL;
typedef struct WGPUShaderModuleDescriptor { const WGPUChainedStruct* nextInChain; WGPUStringView label; } WGPUShaderModuleDescriptor;
typedef struct WGPUConstantEntry { const WGPUChainedStruct* nextInChain; WGPUStringView key; double value; } WGPUConstantEntry;
typedef struct WGPUComputeState {
  const WGPUChainedStruct* nextInChain; WGPUShaderModule module; WGPUStringView entryPoint; size_t constantCount; const WGPUConstantEntry* constants;
} WGPUComputeState;
typedef struct WGPUComputePipelineDescriptor {
  const WGPUChainedStruct* nextInChain; WGPUStringView label; WGPUPipelineLayout layout /* NULL = auto */; WGPUComputeState compute;
} WGPUComputePipelineDescriptor;
typedef struct WGPUBindGroupEntry {
  const WGPUChainedStruct* nextInChain; uint32_t binding; WGPUBuffer buffer; uint64_t offset; uint64_t size; WGPUSampler sampler; WGPUTextureView textureView;
} WGPUBindGroupEntry;
typedef struct WGPUBindGroupDescriptor {
  const WGPUChainedStruct* nextInChain; WGPUStringView label; WGPUBindGroupLayout layout; size_t entryCount; const WGPUBindGroupEntry* entries;
} WGPUBindGroupDescriptor;
/* Explicit bind-group layouts (static uniform offsets: dawn.c). This Dawn build has bindingArraySize in the
 * entry and immediateSize in the pipeline layout (its own error strings name both). */
typedef struct WGPUBufferBindingLayout {
  const WGPUChainedStruct* nextInChain; WGPUBufferBindingType type; WGPUBool hasDynamicOffset; uint64_t minBindingSize;
} WGPUBufferBindingLayout;
typedef struct WGPUSamplerBindingLayout { const WGPUChainedStruct* nextInChain; uint32_t type; } WGPUSamplerBindingLayout;
typedef struct WGPUTextureBindingLayout {
  const WGPUChainedStruct* nextInChain; uint32_t sampleType /* 6 Uint */; uint32_t viewDimension /* 2 2D */; WGPUBool multisampled;
} WGPUTextureBindingLayout;
typedef struct WGPUStorageTextureBindingLayout {
  const WGPUChainedStruct* nextInChain; uint32_t access; uint32_t format; uint32_t viewDimension;
} WGPUStorageTextureBindingLayout;
typedef struct WGPUBindGroupLayoutEntry {
  const WGPUChainedStruct* nextInChain; uint32_t binding; WGPUShaderStage visibility; uint32_t bindingArraySize;
  WGPUBufferBindingLayout buffer; WGPUSamplerBindingLayout sampler; WGPUTextureBindingLayout texture;
  WGPUStorageTextureBindingLayout storageTexture;
} WGPUBindGroupLayoutEntry;
_Static_assert(sizeof(WGPUBindGroupLayoutEntry) == 120, "WGPUBindGroupLayoutEntry layout");
typedef struct WGPUBindGroupLayoutDescriptor {
  const WGPUChainedStruct* nextInChain; WGPUStringView label; size_t entryCount; const WGPUBindGroupLayoutEntry* entries;
} WGPUBindGroupLayoutDescriptor;
typedef struct WGPUPipelineLayoutDescriptor {
  const WGPUChainedStruct* nextInChain; WGPUStringView label; size_t bindGroupLayoutCount;
  const WGPUBindGroupLayout* bindGroupLayouts; uint32_t immediateSize;
} WGPUPipelineLayoutDescriptor;
typedef struct WGPUCommandEncoderDescriptor { const WGPUChainedStruct* nextInChain; WGPUStringView label; } WGPUCommandEncoderDescriptor;
typedef struct WGPUCommandBufferDescriptor { const WGPUChainedStruct* nextInChain; WGPUStringView label; } WGPUCommandBufferDescriptor;
typedef struct WGPUPassTimestampWrites { const WGPUChainedStruct* nextInChain; WGPUQuerySet querySet; uint32_t beginningOfPassWriteIndex, endOfPassWriteIndex; } WGPUPassTimestampWrites;
typedef struct WGPUComputePassDescriptor { const WGPUChainedStruct* nextInChain; WGPUStringView label; const WGPUPassTimestampWrites* timestampWrites; } WGPUComputePassDescriptor;

/* ---- functions ---- */
WGPUInstance wgpuCreateInstance(const WGPUInstanceDescriptor* desc);
WGPUStatus wgpuGetInstanceCapabilities(WGPUInstanceCapabilities* caps);
WGPUFuture wgpuInstanceRequestAdapter(WGPUInstance, const WGPURequestAdapterOptions*, WGPURequestAdapterCallbackInfo);
WGPUWaitStatus wgpuInstanceWaitAny(WGPUInstance, size_t futureCount, WGPUFutureWaitInfo* futures, uint64_t timeoutNS);
void wgpuInstanceProcessEvents(WGPUInstance);
void wgpuInstanceRelease(WGPUInstance);
WGPUStatus wgpuAdapterGetInfo(WGPUAdapter, WGPUAdapterInfo*);
void wgpuAdapterInfoFreeMembers(WGPUAdapterInfo);
WGPUStatus wgpuAdapterGetLimits(WGPUAdapter, WGPULimits*);
void wgpuAdapterGetFeatures(WGPUAdapter, WGPUSupportedFeatures*);
WGPUBool wgpuAdapterHasFeature(WGPUAdapter, WGPUFeatureName);
void wgpuSupportedFeaturesFreeMembers(WGPUSupportedFeatures);
WGPUFuture wgpuAdapterRequestDevice(WGPUAdapter, const WGPUDeviceDescriptor*, WGPURequestDeviceCallbackInfo);
void wgpuAdapterRelease(WGPUAdapter);
WGPUStatus wgpuDeviceGetLimits(WGPUDevice, WGPULimits*);
WGPUBool wgpuDeviceHasFeature(WGPUDevice, WGPUFeatureName);
WGPUBool wgpuInstanceHasWGSLLanguageFeature(WGPUInstance, uint32_t); /* 2: packed_4x8_integer_dot_product */
WGPUQueue wgpuDeviceGetQueue(WGPUDevice);
WGPUBuffer wgpuDeviceCreateBuffer(WGPUDevice, const WGPUBufferDescriptor*);
WGPUShaderModule wgpuDeviceCreateShaderModule(WGPUDevice, const WGPUShaderModuleDescriptor*);
WGPUComputePipeline wgpuDeviceCreateComputePipeline(WGPUDevice, const WGPUComputePipelineDescriptor*);
WGPUBindGroup wgpuDeviceCreateBindGroup(WGPUDevice, const WGPUBindGroupDescriptor*);
WGPUCommandEncoder wgpuDeviceCreateCommandEncoder(WGPUDevice, const WGPUCommandEncoderDescriptor*);
void wgpuDeviceRelease(WGPUDevice);
void wgpuDeviceDestroy(WGPUDevice);
void wgpuQueueRelease(WGPUQueue);
WGPUBindGroupLayout wgpuComputePipelineGetBindGroupLayout(WGPUComputePipeline, uint32_t groupIndex);
WGPUComputePassEncoder wgpuCommandEncoderBeginComputePass(WGPUCommandEncoder, const WGPUComputePassDescriptor*);
void wgpuComputePassEncoderSetPipeline(WGPUComputePassEncoder, WGPUComputePipeline);
void wgpuComputePassEncoderSetBindGroup(WGPUComputePassEncoder, uint32_t groupIndex, WGPUBindGroup, size_t dynamicOffsetCount, const uint32_t* dynamicOffsets);
void wgpuComputePassEncoderDispatchWorkgroups(WGPUComputePassEncoder, uint32_t x, uint32_t y, uint32_t z);
void wgpuComputePassEncoderEnd(WGPUComputePassEncoder);
void wgpuComputePassEncoderWriteTimestamp(WGPUComputePassEncoder, WGPUQuerySet, uint32_t queryIndex); /* Dawn, feature below */
void wgpuComputePassEncoderRelease(WGPUComputePassEncoder);
void wgpuCommandEncoderCopyBufferToBuffer(WGPUCommandEncoder, WGPUBuffer src, uint64_t srcOffset, WGPUBuffer dst, uint64_t dstOffset, uint64_t size);
WGPUCommandBuffer wgpuCommandEncoderFinish(WGPUCommandEncoder, const WGPUCommandBufferDescriptor*);
void wgpuCommandEncoderRelease(WGPUCommandEncoder);
void wgpuCommandBufferRelease(WGPUCommandBuffer);
void wgpuQueueSubmit(WGPUQueue, size_t commandCount, const WGPUCommandBuffer* commands);
void wgpuQueueWriteBuffer(WGPUQueue, WGPUBuffer, uint64_t bufferOffset, const void* data, size_t size);
WGPUFuture wgpuBufferMapAsync(WGPUBuffer, WGPUMapMode mode, size_t offset, size_t size, WGPUBufferMapCallbackInfo);
const void* wgpuBufferGetConstMappedRange(WGPUBuffer, size_t offset, size_t size);
void wgpuBufferUnmap(WGPUBuffer);
void wgpuBufferRelease(WGPUBuffer);
void wgpuBufferDestroy(WGPUBuffer);
void wgpuShaderModuleRelease(WGPUShaderModule);
void wgpuComputePipelineRelease(WGPUComputePipeline);
void wgpuBindGroupRelease(WGPUBindGroup);
void wgpuBindGroupLayoutRelease(WGPUBindGroupLayout);
WGPUBindGroupLayout wgpuDeviceCreateBindGroupLayout(WGPUDevice, const WGPUBindGroupLayoutDescriptor*);
WGPUPipelineLayout wgpuDeviceCreatePipelineLayout(WGPUDevice, const WGPUPipelineLayoutDescriptor*);
void wgpuPipelineLayoutRelease(WGPUPipelineLayout);


/* ---- additions used by the engine (error scopes), same ABI era ---- */
typedef uint32_t WGPUErrorFilter;          /* 1 Validation, 2 OutOfMemory, 3 Internal */
typedef uint32_t WGPUPopErrorScopeStatus;  /* 1 Success, 2 CallbackCancelled, 3 Error */
typedef void (*WGPUPopErrorScopeCallback)(WGPUPopErrorScopeStatus, WGPUErrorType, WGPUStringView, void*, void*);
typedef struct WGPUPopErrorScopeCallbackInfo {
  const WGPUChainedStruct* nextInChain; WGPUCallbackMode mode; WGPUPopErrorScopeCallback callback; void* userdata1; void* userdata2;
} WGPUPopErrorScopeCallbackInfo;
void wgpuDevicePushErrorScope(WGPUDevice, WGPUErrorFilter);
WGPUFuture wgpuDevicePopErrorScope(WGPUDevice, WGPUPopErrorScopeCallbackInfo);

/* ---- textures: 2-D rgba32uint weights for texel-fetch kernels (same ABI era) ---- */
typedef struct WGPUTextureImpl* WGPUTexture;
typedef uint32_t WGPUTextureFormat;     /* value of RGBA32Uint in this build: DP_WGPU_RGBA32UINT in dawn.c (verified by a test) */
typedef uint32_t WGPUTextureDimension;  /* 0 Undefined, 1 1D, 2 2D, 3 3D */
typedef uint32_t WGPUTextureAspect;     /* 0 Undefined, 1 All */
typedef WGPUFlags WGPUTextureUsage;
#define WGPUTextureUsage_CopyDst        0x2ull
#define WGPUTextureUsage_TextureBinding 0x4ull
typedef struct WGPUExtent3D { uint32_t width, height, depthOrArrayLayers; } WGPUExtent3D;
typedef struct WGPUOrigin3D { uint32_t x, y, z; } WGPUOrigin3D;
typedef struct WGPUTextureDescriptor {
  const WGPUChainedStruct* nextInChain; WGPUStringView label; WGPUTextureUsage usage; WGPUTextureDimension dimension;
  WGPUExtent3D size; WGPUTextureFormat format; uint32_t mipLevelCount; uint32_t sampleCount;
  size_t viewFormatCount; const WGPUTextureFormat* viewFormats;
} WGPUTextureDescriptor;
typedef struct WGPUTexelCopyTextureInfo { WGPUTexture texture; uint32_t mipLevel; WGPUOrigin3D origin; WGPUTextureAspect aspect; } WGPUTexelCopyTextureInfo;
typedef struct WGPUTexelCopyBufferLayout { uint64_t offset; uint32_t bytesPerRow; uint32_t rowsPerImage; } WGPUTexelCopyBufferLayout;
WGPUTexture wgpuDeviceCreateTexture(WGPUDevice, const WGPUTextureDescriptor*);
WGPUTextureView wgpuTextureCreateView(WGPUTexture, const void* /* NULL = whole texture */);
void wgpuQueueWriteTexture(WGPUQueue, const WGPUTexelCopyTextureInfo*, const void* data, size_t dataSize, const WGPUTexelCopyBufferLayout*, const WGPUExtent3D*);
void wgpuTextureDestroy(WGPUTexture);
void wgpuTextureRelease(WGPUTexture);
void wgpuTextureViewRelease(WGPUTextureView);

/* ---- timestamp queries (doppler bench --profile; same ABI era) ---- */
#define WGPUBufferUsage_QueryResolve 0x200ull
#define WGPU_QUERY_SET_INDEX_UNDEFINED 0xFFFFFFFFu
typedef uint32_t WGPUQueryType;         /* 1 Occlusion, 2 Timestamp */
typedef struct WGPUQuerySetDescriptor { const WGPUChainedStruct* nextInChain; WGPUStringView label; WGPUQueryType type; uint32_t count; } WGPUQuerySetDescriptor;
WGPUQuerySet wgpuDeviceCreateQuerySet(WGPUDevice, const WGPUQuerySetDescriptor*);
void wgpuCommandEncoderResolveQuerySet(WGPUCommandEncoder, WGPUQuerySet, uint32_t firstQuery, uint32_t queryCount, WGPUBuffer destination, uint64_t destinationOffset);
void wgpuQuerySetDestroy(WGPUQuerySet);
void wgpuQuerySetRelease(WGPUQuerySet);
#endif
