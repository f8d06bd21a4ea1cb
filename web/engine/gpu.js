// gpu.js -- the browser's device layer: the JS imports (module "dp_gpu") that src/gpu/web.c
// calls, implemented on navigator.gpu. The C core compiles the same embedded WGSL as natively;
// this file only turns handles into WebGPU objects.
//
// openDevice() requests the adapter with its own limits (every limit the engine reads, at the
// adapter's value, not the defaults) and the features the kernels use (shader-f16, subgroups,
// timestamp-query) where offered, and describes it as JSON for dp_gpu_open: adapter_type "cpu"
// for the software adapters (SwiftShader, llvmpipe), as natively, so the kernel choice is the
// same as on the same adapter natively.
//
// Objects live in a handle table (0 = none). Pipelines get explicit bind-group layouts from the
// binding kinds web.c reads out of the module (binding 0 the uniforms, at a static offset of
// the arena or of a bound dispatch's own uniform buffer); bind groups are made by web.c per
// dispatch or once per uniform slot of a bound dispatch. Recording
// keeps one command encoder and compute pass open until submit. Read-backs: read_start copies into a pooled MAP_READ buffer, submits
// and calls mapAsync; the promise settling flips the state that read_poll reports; settled()
// gives the host a promise for "every map in flight settled". Errors (validation, out of
// memory, device loss) arrive asynchronously and wait in `errors` until take_error.

const LIMITS = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxUniformBufferBindingSize',
  'maxComputeWorkgroupsPerDimension', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupStorageSize',
  'maxStorageBuffersPerShaderStage', 'minStorageBufferOffsetAlignment', 'minUniformBufferOffsetAlignment',
  'maxTextureDimension2D', 'maxBindGroups'];
const FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'];
const UNIFORM_ARENA_BYTES = 1 << 20;
const KIND = {UNIFORM: 1, STORAGE_RO: 2, STORAGE_RW: 3, TEXTURE_U32: 4}; // src/gpu/wgsl_layout.h DP_WGSL_*

export class WebGpuUnavailable extends Error {
  constructor(message) { super(message); this.name = 'WebGpuUnavailable'; this.code = 'webgpu-unavailable'; }
}

// maxBindingBytes (tests only, as natively DOPPLER_MAX_BINDING_BYTES): tell the core the
// storage-binding and buffer limits are this many bytes (rounded down to 256, >= 4096), so the
// paths that split tensors too large for one binding run with small models.
export async function openDevice({maxBindingBytes = 0} = {}) {
  const gpu = globalThis.navigator?.gpu;
  if (!gpu) throw new WebGpuUnavailable('WebGPU is unavailable: navigator.gpu is missing (a browser without WebGPU, or WebGPU disabled)');
  const adapter = await gpu.requestAdapter({powerPreference: 'high-performance'});
  if (!adapter) throw new WebGpuUnavailable('WebGPU is unavailable: navigator.gpu.requestAdapter() found no adapter');
  const requiredLimits = {};
  for (const k of LIMITS) if (adapter.limits[k] !== undefined) requiredLimits[k] = adapter.limits[k];
  const requiredFeatures = FEATURES.filter(f => adapter.features.has(f));
  const device = await adapter.requestDevice({requiredFeatures, requiredLimits, label: 'doppler'});
  const ai = adapter.info || {};
  const name = ai.description || ai.device || [ai.vendor, ai.architecture].filter(Boolean).join(' ') || 'WebGPU adapter';
  const cpu = ai.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe/i.test(`${ai.architecture} ${ai.description} ${ai.device}`);
  const limits = {};
  for (const k of LIMITS) if (device.limits[k] !== undefined) limits[k] = device.limits[k];
  if (maxBindingBytes) {
    if (!(maxBindingBytes >= 4096)) throw new Error(`maxBindingBytes ${maxBindingBytes}: expected a byte count >= 4096`);
    const cap = Math.floor(maxBindingBytes / 256) * 256;
    for (const k of ['maxStorageBufferBindingSize', 'maxBufferSize']) limits[k] = Math.min(limits[k], cap);
  }
  const info = {
    backend: 'webgpu', adapter: name, vendor: ai.vendor || '', architecture: ai.architecture || '',
    adapter_type: cpu ? 'cpu' : 'unknown', features: [...device.features].sort(), limits,
    subgroup_min: ai.subgroupMinSize || 0, subgroup_max: ai.subgroupMaxSize || 0,
  };
  return {adapter, device, info};
}

// The "dp_gpu" import object over `device`; memory() returns the wasm memory (it may grow).
export function gpuImports(device, info, memory) {
  const queue = device.queue;
  const objs = [null];
  const free = [];
  const put = o => { const h = free.length ? free.pop() : objs.length; objs[h] = o; return h; };
  const drop = h => { if (h) { objs[h] = null; free.push(h); } };
  const u8 = (p, n) => new Uint8Array(memory().buffer, p, n);
  const str = (p, n) => new TextDecoder().decode(u8(p, n).slice());
  const infoBytes = new TextEncoder().encode(JSON.stringify(info));
  const errors = [];
  let lost = false;
  device.lost.then(e => { lost = true; errors.push(`${e.reason || 'lost'}: ${e.message}`); });
  device.addEventListener?.('uncapturederror', ev => errors.push(ev.error?.message || String(ev.error)));
  const watch = (kind, what) => device.popErrorScope().then(e => { if (e) errors.push(`${what}: ${e.message}`); });

  const uniforms = device.createBuffer({label: 'uniform-arena', size: UNIFORM_ARENA_BYTES,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST});
  let encoder = null, pass = null;
  const endPass = () => { if (pass) { pass.end(); pass = null; } };
  const enc = () => (encoder ??= device.createCommandEncoder());
  const flush = (arena, used) => {
    endPass();
    if (used) queue.writeBuffer(uniforms, 0, memory().buffer, arena, used);
    if (encoder) { queue.submit([encoder.finish()]); encoder = null; }
  };

  const staging = [];     // free MAP_READ buffers
  const inflight = new Set();
  const stats = {submits: 0, dispatches: 0, reads: 0};

  const imports = {
    info_json(buf, cap) {
      if (buf && cap >= infoBytes.length) u8(buf, infoBytes.length).set(infoBytes);
      return infoBytes.length;
    },
    take_error(buf, cap) {
      if (!errors.length) return 0;
      const b = new TextEncoder().encode(errors.splice(0).join('; ')).slice(0, cap);
      u8(buf, b.length).set(b);
      return lost ? -b.length : b.length;
    },
    buffer_create(size, labelPtr, labelLen) {
      device.pushErrorScope('out-of-memory');
      const label = str(labelPtr, labelLen);
      const b = device.createBuffer({label, size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST});
      watch('oom', `buffer '${label}' of ${size} bytes`);
      return put(b);
    },
    buffer_free(h) { objs[h]?.destroy(); drop(h); },
    buffer_write(h, offset, src, n) { queue.writeBuffer(objs[h], offset, memory().buffer, src, n); },
    texture_create(w, h, labelPtr, labelLen) {
      const t = device.createTexture({label: str(labelPtr, labelLen), size: [w, h], format: 'rgba32uint',
        usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST});
      return put({tex: t, view: t.createView()});
    },
    texture_write(t, x, y, w, h, data, n) {
      queue.writeTexture({texture: objs[t].tex, origin: [x, y]}, memory().buffer,
        {offset: data, bytesPerRow: w * 16, rowsPerImage: h}, [w, h]);
    },
    texture_free(t) { objs[t]?.tex.destroy(); drop(t); },
    copy(src, so, dst, dof, n) { endPass(); enc().copyBufferToBuffer(objs[src], so, objs[dst], dof, n); },
    kernel_create(np, nl, sp, sl, ep, el, cp, cl, kp, nk) {
      const name = str(np, nl), entryPoint = str(ep, el), constants = JSON.parse(str(cp, cl));
      const kinds = Array.from(u8(kp, nk));
      const entries = [];
      kinds.forEach((kind, binding) => {
        if (!kind) return;
        const e = {binding, visibility: GPUShaderStage.COMPUTE};
        if (kind === KIND.TEXTURE_U32) e.texture = {sampleType: 'uint', viewDimension: '2d'};
        else e.buffer = {type: kind === KIND.UNIFORM ? 'uniform' : kind === KIND.STORAGE_RW ? 'storage' : 'read-only-storage',
          hasDynamicOffset: false};
        entries.push(e);
      });
      device.pushErrorScope('validation');
      const bgl = device.createBindGroupLayout({label: name, entries});
      const module = device.createShaderModule({label: name, code: str(sp, sl)});
      const pipeline = device.createComputePipeline({label: name,
        layout: device.createPipelineLayout({bindGroupLayouts: [bgl]}), compute: {module, entryPoint, constants}});
      watch('validation', `kernel '${name}' (entry ${entryPoint})`);
      return put({pipeline, layout: bgl, kinds, uni: kinds[0] === KIND.UNIFORM});
    },
    uniform_create(size) {
      return put(device.createBuffer({label: 'bound-uniforms', size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST}));
    },
    uniform_free(h) { drop(h); },  // not destroyed: dispatches recorded before may still read it (GC frees it)
    bind_group_create(k, ubuf, uoff, usize, bp, n) {
      const kern = objs[k];
      const entries = [];
      if (kern.uni) entries.push({binding: 0, resource: {buffer: ubuf ? objs[ubuf] : uniforms, offset: uoff, size: usize}});
      const dv = new DataView(memory().buffer, bp, n * 24);
      for (let i = 0; i < n; i++) {
        const buf = dv.getInt32(i * 24 + 16, true), tex = dv.getInt32(i * 24 + 20, true);
        if (tex) entries.push({binding: i + 1, resource: objs[tex].view});
        else if (buf) entries.push({binding: i + 1, resource: {buffer: objs[buf], offset: dv.getFloat64(i * 24, true), size: dv.getFloat64(i * 24 + 8, true)}});
      }
      return put(device.createBindGroup({layout: kern.layout, entries}));
    },
    bind_group_free(h) { drop(h); },
    dispatch(k, bg, gx, gy, gz) {
      const kern = objs[k];
      pass ??= enc().beginComputePass();
      pass.setPipeline(kern.pipeline);
      pass.setBindGroup(0, objs[bg]);
      if (gx && gy && gz) pass.dispatchWorkgroups(gx, gy, gz);
      stats.dispatches++;
    },
    submit(arena, used) { flush(arena, used); stats.submits++; },
    read_start(src, offset, n4) {
      const size = Math.max(4, n4);
      let i = staging.findIndex(s => s.size >= size);
      const sb = i >= 0 ? staging.splice(i, 1)[0]
        : device.createBuffer({label: 'readback', size: Math.max(size, 65536), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST});
      if (n4) enc().copyBufferToBuffer(objs[src], offset, sb, 0, n4);
      flush(0, 0);
      const r = {sb, state: 0, discarded: false, size};
      r.promise = sb.mapAsync(GPUMapMode.READ, 0, size).then(() => { r.state = 1; }, e => { r.state = -1; r.error = e; })
        .then(() => { inflight.delete(r.promise); if (r.discarded) release(r); });
      inflight.add(r.promise);
      stats.reads++;
      return put(r);
    },
    read_poll(h) { return objs[h].state; },
    read_finish(h, dst, n) {
      const r = objs[h];
      if (r.state !== 1) return -1;
      if (n) u8(dst, n).set(new Uint8Array(r.sb.getMappedRange(0, r.size), 0, n));
      release(r);
      drop(h);
      return 0;
    },
    read_discard(h) {
      const r = objs[h];
      if (!r) return;
      if (r.state === 0) r.discarded = true; else release(r);
      drop(h);
    },
  };
  function release(r) {
    if (r.state === 1) r.sb.unmap();
    if (r.state !== -1) staging.push(r.sb); else r.sb.destroy();
  }
  return {
    imports,
    stats,
    // A promise that settles once every read-back now in flight has settled (need: one must
    // be in flight, else the caller would wait for nothing forever: an internal error).
    settled: need => {
      if (need && !inflight.size) return Promise.reject(new Error('internal: waiting for a GPU read-back but none is in flight'));
      return Promise.all([...inflight]);
    },
    // A promise for the queue having taken every write and submit so far (load drains).
    drained: () => queue.onSubmittedWorkDone(),
  };
}
