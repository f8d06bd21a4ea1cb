// fake_engine.js -- a stand-in for web/engine.js with the same contract, for the store and
// provider tests only (served in place of /engine.js by tests/web/lib.mjs when FAKE_ENGINE is
// set; never shipped). It needs a WebGPU adapter like the real engine, reads every byte of the
// model through the source (readFile / readRange in pieces), and "generates" the input's words
// reversed, one word per piece, so the page's streaming, stop and stats paths run.

export const RUN_DEFAULTS = Object.freeze({ max_tokens: 128, temperature: 0.7, top_k: 40, top_p: 0.95, min_p: 0.05,
                                            repeat_penalty: 1, repeat_last_n: 64, seed: 42, stop: [] });

export async function createEngine() {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) {
    const e = new Error('navigator.gpu.requestAdapter() returned no adapter');
    e.code = 'webgpu-unavailable';
    throw e;
  }
  let model = null, stop = false;
  return {
    capabilities: () => ({ adapter: adapter.info.description || 'fake', vendor: adapter.info.vendor,
                           architecture: adapter.info.architecture, backend: 'fake', features: [...adapter.features],
                           limits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize } }),
    async loadModel(source, { onProgress } = {}) {
      const m = source.manifest;
      const tok = JSON.parse(new TextDecoder().decode(await source.readFile(m.tokenizer.file)));
      const total = m.shards.reduce((n, s) => n + s.size, 0);
      let done = 0, sum = 0;
      for (const s of m.shards) {
        for (let at = 0; at < s.size; at += 1 << 20) {
          const b = await source.readRange(s.file, at, Math.min(1 << 20, s.size - at));
          sum = (sum + b[0] + b[b.length - 1]) % 65536;
          onProgress?.((done += b.length), total);
        }
      }
      model = { arch: m.architecture, vocab: Object.keys(tok.model.vocab).length, n_params: total / 2, ctx: m.hparams.max_pos,
                has_chat_template: false, checksum: sum };
      return model;
    },
    async generate(input, options = {}, onPiece) {
      if (!model) throw new Error('no model');
      const text = typeof input === 'string' ? input : input.messages.map((x) => x.content).join('\n');
      const words = text.split(/\s+/).filter(Boolean).reverse();
      const max = options.max_tokens ?? 128;
      stop = false;
      let n = 0;
      const t0 = performance.now();
      for (const w of words) {
        if (stop || n >= max) break;
        await new Promise((r) => setTimeout(r, options.delay_ms ?? 5));
        onPiece(' ' + w, n++);
      }
      const ms = performance.now() - t0;
      return { n_prompt: words.length + 1, n_generated: n, prefill_ms: 1, decode_ms: ms, ttft_ms: 1,
               stop_reason: stop ? 'abort' : n >= max ? 'max_tokens' : 'eos' };
    },
    abort() { stop = true; },
    unload() { model = null; },
  };
}
