// engine.js -- the DOPPLER engine in the browser: the C core as WebAssembly
// (build-wasm/doppler.wasm, `make wasm`) on navigator.gpu (web/engine/gpu.js), driven without
// ever blocking: model loading, generation and logits are the core's resumable APIs
// (include/doppler.h dp_load_*, dp_gen_*, dp_logits_*); this module awaits the source's reads,
// the GPU's map promises and queue drains in between and calls back into the core. It runs in
// a Web Worker (web/worker.js) or any module context with navigator.gpu.
//
//   const engine = await createEngine({wasmUrl});           // Error .code 'webgpu-unavailable'
//   engine.capabilities();                                  // adapter, features, limits
//   await engine.loadModel(source, {onProgress});           // source: manifest, readFile, readRange
//   await engine.generate('The jury said', {temperature: 0, max_tokens: 32}, (text, id) => ...);
//   engine.abort(); engine.unload();
//   await engine.logits([1, 2, 3]);                         // Float32Array [n * vocab]
import {gpuImports, openDevice} from './engine/gpu.js';
import {wasiImports} from './engine/wasi.js';

// `doppler run`'s sampling defaults (cli/cmd_run.c cli_gen_init), used for absent options.
export const RUN_DEFAULTS = Object.freeze({max_tokens: 128, temperature: 0.7, top_k: 40, top_p: 0.95, min_p: 0.05,
  repeat_penalty: 1.0, repeat_last_n: 64, seed: 42, stop: []});
const STOP_REASONS = ['max_tokens', 'eos', 'stop', 'callback', 'context_full'];
const DP_ERR_CANCELLED = 8; // doppler_status.h

function engineError(message, code) {
  const e = new Error(message);
  if (code) e.code = code;
  return e;
}

// options: wasmUrl (default ../build-wasm/doppler.wasm beside this module's folder); log(fd,
// line) for the core's log lines (default the console); maxBindingBytes (tests only: the
// binding and buffer limits the core is told, so tensors split into parts as on real models).
export async function createEngine({wasmUrl, log, maxBindingBytes} = {}) {
  if (!wasmUrl) wasmUrl = new URL('../build-wasm/doppler.wasm', import.meta.url).href;
  const {device, info} = await openDevice({maxBindingBytes});
  let instance = null;
  const memory = () => instance.exports.memory;
  const gpu = gpuImports(device, info, memory);
  const host = {onPiece: null};
  const imports = {
    wasi_snapshot_preview1: wasiImports(memory, log),
    dp_gpu: gpu.imports,
    dp_host: {
      on_piece(token, ptr, len) {
        const text = len ? new TextDecoder().decode(new Uint8Array(memory().buffer, ptr, len).slice()) : '';
        if (host.onPiece && (token >= 0 || text)) host.onPiece(text, token);
        return 0;
      },
    },
  };
  const resp = await fetch(wasmUrl);
  if (!resp.ok) throw engineError(`${wasmUrl}: HTTP ${resp.status} (build it with \`make wasm\`)`, 'wasm-missing');
  ({instance} = await WebAssembly.instantiate(await resp.arrayBuffer(), imports));
  instance.exports._initialize();
  return new Engine(instance.exports, memory, gpu, info, host, device);
}

class Engine {
  constructor(x, memory, gpu, info, host, device) {
    Object.assign(this, {x, memory, gpu, info, host, device});
    this.model = 0;
    this.session = 0;
    this.modelInfo = null;
    this.busy = false;
    this.aborting = false;
  }

  capabilities() {
    const i = this.info;
    return {adapter: i.adapter, vendor: i.vendor, architecture: i.architecture, backend: i.backend,
      adapter_type: i.adapter_type, features: [...i.features], limits: {...i.limits},
      subgroup_min: i.subgroup_min, subgroup_max: i.subgroup_max};
  }

  // ---- wasm memory helpers ----
  cstr(p) {
    const m = new Uint8Array(this.memory().buffer);
    let e = p;
    while (m[e]) e++;
    return new TextDecoder().decode(m.slice(p, e));
  }
  error(what) { return engineError(`${what}: ${this.cstr(this.x.dpw_error())}`); }
  putBytes(bytes) {
    const p = this.x.dpw_alloc(bytes.length + 1);
    if (!p) throw engineError('out of wasm memory');
    const m = new Uint8Array(this.memory().buffer);
    m.set(bytes, p);
    m[p + bytes.length] = 0;
    return p;
  }
  putString(s) { return this.putBytes(new TextEncoder().encode(s)); }
  takeString(p) { // a malloc'd C string from the core, freed here
    if (!p) return null;
    const s = this.cstr(p);
    this.x.dpw_string_free(p);
    return s;
  }
  lock(what) {
    if (this.busy) throw engineError(`${what}: the engine is busy (one call at a time)`, 'busy');
    this.busy = true;
  }

  // ---- loading ----
  // options: onProgress(done, total) in weight bytes; q4k_matmul ('fused' | 'dequant') and
  // compute_precision ('f32' | 'f16'): `doppler run`'s run-time overrides (absent: the
  // manifest's hints, else fused / f32); ctx: the session's context length (0: the model's
  // maximum, at most 4096, as `doppler run` without --ctx).
  async loadModel(source, {onProgress, q4k_matmul = '', compute_precision = '', ctx = 0} = {}) {
    if (!source?.manifest || !source.readRange) throw engineError('loadModel: source needs manifest and readRange(name, offset, length)');
    this.lock('loadModel');
    try {
      this.unloadNow();
      const x = this.x;
      const qp = this.putString(String(q4k_matmul)), pp = this.putString(String(compute_precision));
      const l = x.dpw_load_begin(qp, pp);
      x.dpw_free(qp);
      x.dpw_free(pp);
      if (!l) throw this.error('loadModel');
      let stage = 0, stageSize = 0;
      try {
        for (;;) {
          const rp = x.dpw_load_next(l);
          if (!rp) break;
          const dv = new DataView(this.memory().buffer, rp, 40);
          const file = this.cstr(dv.getUint32(0, true)), offset = dv.getFloat64(8, true), length = dv.getFloat64(16, true);
          const whole = dv.getInt32(24, true), optional = dv.getInt32(28, true), drain = dv.getInt32(32, true);
          if (drain) { await this.gpu.drained(); continue; }
          let data;
          if (whole && file === 'manifest.json') data = new TextEncoder().encode(JSON.stringify(source.manifest));
          else if (whole) data = await readWhole(source, file, optional);
          else {
            data = await source.readRange(file, offset, length);
            if (!(data instanceof Uint8Array) || data.length !== length)
              throw engineError(`${file}: readRange(${offset}, ${length}) gave ${data?.length ?? 'no'} bytes`);
          }
          if (!data) { if (x.dpw_load_supply(l, 0, 0)) throw this.error('loadModel'); continue; }
          if (data.length + 1 > stageSize) {
            if (stage) x.dpw_free(stage);
            stageSize = Math.max(data.length + 1, 4 << 20);
            stage = x.dpw_alloc(stageSize);
            if (!stage) throw engineError('loadModel: out of wasm memory');
          }
          new Uint8Array(this.memory().buffer).set(data, stage);
          if (x.dpw_load_supply(l, stage, data.length)) throw this.error('loadModel');
          const pr = new Float64Array(this.memory().buffer, x.dpw_load_progress(l), 2);
          onProgress?.(pr[0], pr[1]);
        }
      } catch (e) {
        x.dpw_load_finish(l); // abandon: frees everything the load made
        throw e;
      } finally {
        if (stage) x.dpw_free(stage);
      }
      const pr = new Float64Array(this.memory().buffer, x.dpw_load_progress(l), 2);
      onProgress?.(pr[0], pr[1]); // the uploads after the last piece ran in the last dpw_load_next
      const m = x.dpw_load_finish(l);
      if (!m) throw this.error('loadModel');
      const s = x.dpw_session_create(m, ctx | 0);
      if (!s) { const e = this.error('loadModel: session'); x.dpw_model_free(m); throw e; }
      this.model = m;
      this.session = s;
      this.modelInfo = JSON.parse(this.takeString(x.dpw_model_info(m)));
      this.modelInfo.ctx = x.dpw_session_context_length(s); // positions a generate() may use
      return {...this.modelInfo};
    } finally {
      this.busy = false;
    }
  }

  unloadNow() {
    if (this.session) this.x.dpw_session_free(this.session);
    if (this.model) this.x.dpw_model_free(this.model);
    this.session = this.model = 0;
    this.modelInfo = null;
  }
  unload() {
    if (this.busy) throw engineError('unload: the engine is busy (abort the generation first)', 'busy');
    this.unloadNow();
  }
  needModel(what) { if (!this.model) throw engineError(`${what}: no model loaded`, 'no-model'); }

  // The text fed to the model: a string as is (as `doppler run -p`); messages through the
  // model's chat template, or, without one, their contents joined by "\n".
  promptOf(input) {
    if (typeof input === 'string') return input;
    const msgs = input?.messages;
    if (!Array.isArray(msgs)) throw engineError('generate: input must be a string or {messages: [{role, content}]}');
    if (!this.modelInfo.has_chat_template) return msgs.map(m => String(m.content ?? '')).join('\n');
    const json = new TextEncoder().encode(JSON.stringify(msgs.map(m => ({role: String(m.role), content: String(m.content ?? '')}))));
    const jp = this.putBytes(json), sp = this.x.dpw_alloc(4);
    try {
      const out = this.x.dpw_chat_format(this.model, jp, json.length, sp);
      if (!out) throw this.error('generate: chat template');
      return this.takeString(out);
    } finally {
      this.x.dpw_free(jp);
      this.x.dpw_free(sp);
    }
  }

  async generate(input, options = {}, onPiece = null) {
    this.needModel('generate');
    this.lock('generate');
    const x = this.x;
    let pp = 0, op = 0, w = 0;
    try {
      const prompt = this.promptOf(input);
      const o = {...RUN_DEFAULTS};
      for (const [k, v] of Object.entries(options || {})) if (v !== undefined && v !== null) o[k] = v;
      if (o.max_tokens < 0) o.max_tokens = 0; // -1: until end-of-sequence or a full context
      if (!Array.isArray(o.stop)) o.stop = [String(o.stop)];
      x.dpw_session_reset(this.session);
      this.aborting = false;
      this.host.onPiece = onPiece;
      pp = this.putString(prompt);
      const oj = new TextEncoder().encode(JSON.stringify(o));
      op = this.putBytes(oj);
      let hostMs = 0, t = performance.now();
      const t0 = t;
      w = x.dpw_gen_start(this.session, pp, op, oj.length);
      if (!w) throw this.error('generate');
      let failed = null;
      while (x.dpw_gen_pending(w) && !this.aborting) {
        hostMs += performance.now() - t;
        while (!x.dpw_gen_poll(w)) await this.gpu.settled(true);
        t = performance.now();
        if (this.aborting) break;
        if (x.dpw_gen_resume(w)) { failed = this.cstr(x.dpw_error()); break; }
      }
      const st = JSON.parse(this.takeString(x.dpw_gen_finish(w)));
      w = 0;
      hostMs += performance.now() - t;
      if (failed && st.status !== DP_ERR_CANCELLED) throw engineError(`generate: ${failed}`);
      if (st.status && st.status !== DP_ERR_CANCELLED) throw this.error('generate');
      return {n_prompt: st.n_prompt, n_generated: st.n_generated, prefill_ms: st.prefill_ms, decode_ms: st.decode_ms,
        ttft_ms: st.ttft_ms, stop_reason: this.aborting || st.status === DP_ERR_CANCELLED ? 'abort' : STOP_REASONS[st.stop_reason],
        host_ms: hostMs, total_ms: performance.now() - t0};
    } finally {
      if (w) x.dpw_gen_finish(w);
      if (pp) x.dpw_free(pp);
      if (op) x.dpw_free(op);
      this.host.onPiece = null;
      this.busy = false;
    }
  }

  // The running generate() resolves with stop_reason 'abort' after the batch in flight.
  abort() { if (this.busy) this.aborting = true; }

  // Logits [ids.length * vocab] of every id, fed from an empty context ({keep: true}: after
  // what the session holds, e.g. to continue a greedy decode); the golden tests' entry point.
  async logits(ids, {keep = false} = {}) {
    this.needModel('logits');
    this.lock('logits');
    const x = this.x, V = this.modelInfo.vocab;
    let ip = 0, out = 0;
    try {
      if (!keep) x.dpw_session_reset(this.session);
      const rows = x.dpw_logits_rows(this.session);
      const result = new Float32Array(ids.length * V);
      ip = x.dpw_alloc(4 * Math.max(1, ids.length));
      out = x.dpw_alloc(4 * rows * V);
      if (!ip || !out) throw engineError('logits: out of wasm memory');
      new Int32Array(this.memory().buffer, ip, ids.length).set(ids);
      for (let i = 0; i < ids.length; i += rows) {
        const n = Math.min(rows, ids.length - i);
        const r = x.dpw_logits_start(this.session, ip + 4 * i, n);
        if (!r) throw this.error('logits');
        while (!x.dpw_logits_poll(r)) await this.gpu.settled(true);
        if (x.dpw_logits_finish(r, out)) throw this.error('logits');
        result.set(new Float32Array(this.memory().buffer, out, n * V), i * V);
      }
      return result;
    } finally {
      if (ip) x.dpw_free(ip);
      if (out) x.dpw_free(out);
      this.busy = false;
    }
  }

  // The ids `doppler run -p text` feeds (BOS per the tokenizer settings).
  tokenize(text) {
    this.needModel('tokenize');
    const tp = this.putString(text);
    try {
      const n = this.x.dpw_tokenize(this.model, tp, -1, 0, 0);
      if (n < 0) throw this.error('tokenize');
      const ip = this.x.dpw_alloc(4 * Math.max(1, n));
      this.x.dpw_tokenize(this.model, tp, -1, ip, n);
      const ids = Array.from(new Int32Array(this.memory().buffer, ip, n));
      this.x.dpw_free(ip);
      return ids;
    } finally {
      this.x.dpw_free(tp);
    }
  }

  // GPU work counters (submits, dispatches, read-backs) since the engine was created.
  gpuStats() { return {...this.gpu.stats}; }
}

// A small file, or null when an optional one does not exist (readFile resolving null, or
// rejecting with .code 'not-found' / .status 404).
async function readWhole(source, file, optional) {
  let data;
  try {
    data = await source.readFile(file);
  } catch (e) {
    if (optional && (e?.code === 'not-found' || e?.status === 404)) return null;
    throw e;
  }
  if (data == null) {
    if (optional) return null;
    throw engineError(`${file}: missing (the model needs it)`);
  }
  if (typeof data === 'string') return new TextEncoder().encode(data);
  return data instanceof Uint8Array ? data : new Uint8Array(data);
}
