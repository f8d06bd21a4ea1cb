// test_worker.js -- the browser tests' Web Worker (module): runs one job with web/engine.js
// and posts the results back for tests/web/engine_test.mjs to judge.
//   {job: 'greedy', model, prompt | messages, max_tokens, abort, stop, q4k_matmul}   greedy text, stats
//   {job: 'golden', model, golden, maxBindingBytes}  prefill logits and a greedy decode with logits
//   {job: 'bench', model, prompt, max_tokens, reps}   decode tok/s of repeated greedy runs
//   {job: 'caps'}                                    capabilities only
//   {job: 'loaderror', model, prompt}                loads that fail (source error, bad manifest), then one that works
import {createEngine} from '../../web/engine.js';
import {httpSource} from './http_source.js';

const wasmUrl = new URL('../../build-wasm/doppler.wasm', import.meta.url).href;

onmessage = async ({data}) => {
  try {
    postMessage({ok: true, result: await run(data)});
  } catch (e) {
    postMessage({ok: false, error: String(e?.message || e), code: e?.code || null});
  }
};

async function run(d) {
  const engine = await createEngine({wasmUrl, maxBindingBytes: d.maxBindingBytes});
  if (d.job === 'caps') return engine.capabilities();
  if (d.job === 'loaderror') { // a source failing mid-load: loadModel rejects, the engine stays usable
    const src = await httpSource(d.model);
    let calls = 0;
    const bad = {...src, readRange: (n, o, l) => (++calls === 3 ? Promise.reject(new Error('network went away')) : src.readRange(n, o, l))};
    let error = null;
    try { await engine.loadModel(bad); } catch (e) { error = e.message; }
    const badManifest = {...src, manifest: {...src.manifest, shards: 'x'}};
    let error2 = null;
    try { await engine.loadModel(badManifest); } catch (e) { error2 = e.message; }
    await engine.loadModel(src);
    let text = '';
    await engine.generate(d.prompt, {temperature: 0, max_tokens: 8}, t => { text += t; });
    return {error, error2, text};
  }
  const counters = {ranges: 0, bytes: 0};
  const progress = [];
  const t0 = performance.now();
  const info = await engine.loadModel(await httpSource(d.model, counters), {onProgress: (a, b) => progress.push([a, b]),
    q4k_matmul: d.q4k_matmul, ctx: d.ctx});
  const load_ms = performance.now() - t0;
  const base = {info, caps: engine.capabilities(), counters, load_ms, progress: progress.slice(-1)[0], n_progress: progress.length};
  if (d.job === 'greedy') {
    let text = '';
    const pieces = [];
    const input = d.messages ? {messages: d.messages} : d.prompt;
    const stats = await engine.generate(input, {temperature: 0, max_tokens: d.max_tokens}, (t, id) => { text += t; pieces.push(id); });
    let stopStats = null, stopText = '';
    if (d.stop) stopStats = await engine.generate(input, {temperature: 0, max_tokens: d.max_tokens, stop: [d.stop]}, t => { stopText += t; });
    let abortStats = null, abortText = '';
    if (d.abort) { // abort after the first piece: resolves with stop_reason 'abort'
      abortStats = await engine.generate(d.prompt, {temperature: 0, max_tokens: 200}, t => { abortText += t; engine.abort(); });
    }
    const gpu = engine.gpuStats();
    engine.unload();
    let afterUnload = null;
    try { await engine.generate(d.prompt, {}); } catch (e) { afterUnload = e.code; }
    return {...base, text, pieces, stats, stopStats, stopText, abortStats, abortText, gpu, afterUnload};
  }
  if (d.job === 'bench') {
    const runs = [];
    for (let i = 0; i < d.reps; i++) {
      const s = await engine.generate(d.prompt, {temperature: 0, max_tokens: d.max_tokens, ignore_eos: true}, () => {});
      runs.push(s);
    }
    return {...base, runs, gpu: engine.gpuStats()};
  }
  if (d.job === 'golden') {
    const g = await loadSafetensors(d.golden);
    const ids = Array.from(g.input_ids.data), V = info.vocab, N = g.gen_ids.data.length;
    const logits = await engine.logits(ids);
    // greedy decode with EOS never chosen, each step's raw logits kept (tests/gpu_golden.c)
    const eog = new Set(info.eog_ids);
    const gen = [], gl = new Float32Array(N * V);
    let row = logits.subarray((ids.length - 1) * V);
    for (let i = 0; i < N; i++) {
      if (i) row = await engine.logits([gen[i - 1]], {keep: true});
      gl.set(row, i * V);
      let best = -1;
      for (let v = 0; v < V; v++) if (!eog.has(v) && (best < 0 || row[v] > row[best])) best = v;
      gen.push(best);
    }
    return {...base, ids, V, logits, gen, gl, ref_logits: g.logits.data, ref_gen: Array.from(g.gen_ids.data), ref_gl: g.gen_logits.data};
  }
  throw new Error(`unknown job ${d.job}`);
}

async function loadSafetensors(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  const buf = await r.arrayBuffer();
  const n = Number(new DataView(buf).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 8, n)));
  const out = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [a, b] = t.data_offsets, bytes = buf.slice(8 + n + a, 8 + n + b);
    out[name] = {shape: t.shape, data: t.dtype === 'I32' ? new Int32Array(bytes) : new Float32Array(bytes)};
  }
  return out;
}
