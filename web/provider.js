// provider.js -- DOPPLER's JavaScript API for pages (types: doppler.d.ts; guide: docs/browser.md).
// It runs on the main thread and never blocks it: the engine and the model store live in a
// module worker (worker.js), reached by messages. A catalog (models.json) maps model ids to URLs.
//
//   const dp = await DopplerProvider.init();
//   await dp.loadModel('doppler-tiny', { onProgress: (p) => console.log(p.loaded / p.total) });
//   for await (const piece of dp.stream([{ role: 'user', content: 'Hello' }])) out.append(piece);
//   const reply = await dp.chat.completions.create({ messages, stream: false });

const OPTION_KEYS = ['max_tokens', 'temperature', 'top_k', 'top_p', 'min_p', 'repeat_penalty', 'repeat_last_n', 'seed', 'stop'];

export class DopplerError extends Error {
  constructor(code, message) { super(message); this.name = 'DopplerError'; this.code = code; }
}

export class DopplerProvider {
  // Start the worker and the engine. Throws DopplerError code 'webgpu-unavailable' when the
  // browser has no usable WebGPU adapter. Options: workerUrl, wasmUrl, catalogUrl.
  static async init(options = {}) {
    const p = new DopplerProvider(options);
    try {
      const { capabilities, defaults } = await p.call('init', { wasmUrl: options.wasmUrl && String(options.wasmUrl) });
      p.capabilities = capabilities;
      p.defaults = defaults;
    } catch (e) {
      p.terminate();
      throw e;
    }
    return p;
  }

  constructor({ workerUrl, catalogUrl } = {}) {
    this.worker = new Worker(workerUrl || new URL('./worker.js', import.meta.url), { type: 'module' });
    this.catalogUrl = new URL(catalogUrl || new URL('./models.json', import.meta.url), location.href).href;
    this.pending = new Map(); // request id -> {resolve, reject, onMessage}
    this.nextId = 1;
    this.model = null;        // info of the loaded model
    this.busy = null;         // 'loading' | 'generating' | null
    this.worker.onmessage = ({ data }) => this.receive(data);
    this.worker.onerror = (e) => this.failAll(new DopplerError('worker', `worker failed: ${e.message || 'could not start'}`));
    const self = this;
    this.chat = { completions: { create: (req) => self.createCompletion(req) } };
  }

  // ---- models ----

  // The catalog: [{id, name, url (absolute), description?}] and the default id.
  async catalog() {
    if (!this.catalogCache) {
      const res = await fetch(this.catalogUrl);
      if (!res.ok) throw new DopplerError('catalog', `${this.catalogUrl}: HTTP ${res.status}`);
      const c = await res.json();
      const models = c.models.map((m) => ({ ...m, url: new URL(m.url, this.catalogUrl).href }));
      this.catalogCache = { default: c.default, models };
    }
    return this.catalogCache;
  }

  // A catalog id or a model URL (RDRR base URL or its manifest.json) -> {id, url}.
  async resolve(idOrUrl) {
    const c = await this.catalog();
    const key = idOrUrl ?? c.default;
    const m = c.models.find((x) => x.id === key);
    if (m) return { id: m.id, url: m.url };
    if (/[/:]/.test(key)) return { id: key, url: new URL(key, location.href).href };
    throw new DopplerError('unknown-model', `unknown model '${key}': not in the catalog ` +
      `(${c.models.map((x) => x.id).join(', ')}) and not a URL`);
  }

  // Download (first time) or open from OPFS, then upload to the GPU. onProgress({phase, loaded,
  // total, fetched, mbps}): phase 'download' (bytes stored; fetched = over the network, mbps its
  // rate) then 'upload' (bytes on the GPU). Resolves with the model's info.
  async loadModel(idOrUrl, { onProgress, verify = false } = {}) {
    const { id, url } = await this.resolve(idOrUrl);
    this.claim('loading');
    const t0 = performance.now();
    try {
      this.model = null;
      const info = await this.call('load', { url, verify }, (m) => {
        if (m.type !== 'progress' || !onProgress) return;
        const s = (performance.now() - t0) / 1000;
        onProgress({ phase: m.phase, loaded: m.loaded, total: m.total, fetched: m.fetched,
                     mbps: s > 0 ? m.fetched / 1e6 / s : 0 });
      });
      this.model = { ...info, id, load_ms: performance.now() - t0 };
      return this.model;
    } finally {
      this.busy = null;
    }
  }

  async unloadModel() {
    await this.call('unload');
    this.model = null;
  }

  // Models stored in OPFS: [{url, bytes, complete}]; deleteModel frees one (id or URL).
  storedModels() { return this.call('stored'); }
  async deleteModel(idOrUrl) {
    const { url } = await this.resolve(idOrUrl);
    return this.call('delete', { url });
  }

  getCapabilities() { return this.capabilities; }

  // ---- generation ----

  // An async iterator of text pieces. input: a prompt string (fed as `doppler run -p` feeds it)
  // or [{role, content}] messages (the model's chat template, or contents joined by "\n" when
  // it has none). config: max_tokens, temperature, top_k, top_p, min_p, repeat_penalty,
  // repeat_last_n, seed, stop; absent = `doppler run`'s defaults (this.defaults). `.stats`
  // resolves when generation ends; leaving the loop early (break) aborts generation.
  stream(input, config = {}) {
    const args = { input: engineInput(input), options: engineOptions(config) };
    this.claim('generating');
    if (!this.model) { this.busy = null; throw new DopplerError('no-model', 'no model is loaded (loadModel first)'); }
    const queue = [];
    let wake = null, ended = false, failure = null;
    const stats = this.call('generate', args, (m) => {
      if (m.type === 'piece') { queue.push(m.text); wake?.(); }
    }).then((s) => s, (e) => { failure = e; throw e; })
      .finally(() => { ended = true; this.busy = null; wake?.(); });
    stats.catch(() => {}); // the error is also thrown by the iterator
    const provider = this;
    return {
      stats,
      [Symbol.asyncIterator]() { return this; },
      async next() {
        for (;;) {
          if (queue.length) return { value: queue.shift(), done: false };
          if (failure) throw failure;
          if (ended) return { value: undefined, done: true };
          await new Promise((r) => { wake = r; });
          wake = null;
        }
      },
      async return() {
        if (!ended) { provider.abort(); await stats.catch(() => {}); }
        queue.length = 0;
        return { value: undefined, done: true };
      },
    };
  }

  // The whole answer: {text, stats}. onPiece(text) sees each piece as it comes.
  async generate(input, config = {}, onPiece) {
    const s = this.stream(input, config);
    let text = '';
    for await (const piece of s) { text += piece; onPiece?.(piece); }
    return { text, stats: await s.stats };
  }

  // Stop the generation or the download in flight; it ends early (its promise resolves).
  abort() { this.worker.postMessage({ id: 0, op: 'abort' }); }

  terminate() {
    this.worker.terminate();
    this.failAll(new DopplerError('terminated', 'the provider was terminated'));
  }

  // ---- OpenAI-style chat completions ----

  async createCompletion(req) {
    if (!req || !Array.isArray(req.messages)) throw new DopplerError('bad-request', 'messages: an array of {role, content} is required');
    const config = {};
    for (const k of OPTION_KEYS) if (req[k] !== undefined && req[k] !== null) config[k] = req[k];
    if (req.max_completion_tokens != null) config.max_tokens = req.max_completion_tokens;
    if (typeof config.stop === 'string') config.stop = [config.stop];
    if (req.model && this.model && req.model !== this.model.id) {
      throw new DopplerError('bad-request', `model '${req.model}' is not the loaded model '${this.model.id}'`);
    }
    const id = 'chatcmpl-' + Math.random().toString(36).slice(2, 14);
    const created = Math.floor(Date.now() / 1000);
    const model = this.model?.id ?? null;
    const s = this.stream(req.messages, config);
    if (!req.stream) {
      let content = '';
      for await (const piece of s) content += piece;
      const st = await s.stats;
      return {
        id, object: 'chat.completion', created, model,
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: finishReason(st.stop_reason), logprobs: null }],
        usage: { prompt_tokens: st.n_prompt, completion_tokens: st.n_generated, total_tokens: st.n_prompt + st.n_generated },
      };
    }
    const chunk = (delta, finish) => ({ id, object: 'chat.completion.chunk', created, model,
                                        choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }] });
    const chunks = (async function* () {
      let first = true;
      try {
        for await (const piece of s) {
          yield chunk(first ? { role: 'assistant', content: piece } : { content: piece }, null);
          first = false;
        }
        yield chunk(first ? { role: 'assistant', content: '' } : {}, finishReason((await s.stats).stop_reason));
      } finally {
        await s.return();
      }
    })();
    chunks.controller = { abort: () => this.abort() };
    return chunks;
  }

  // ---- messaging ----

  claim(what) {
    if (this.busy) throw new DopplerError('busy', `cannot start ${what}: ${this.busy} is in progress`);
    this.busy = what;
  }

  call(op, args, onMessage) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onMessage });
      this.worker.postMessage({ id, op, args });
    });
  }

  receive(m) {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'result') { this.pending.delete(m.id); p.resolve(m.value); }
    else if (m.type === 'error') { this.pending.delete(m.id); p.reject(new DopplerError(m.error.code, m.error.message)); }
    else p.onMessage?.(m);
  }

  failAll(err) {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

function engineInput(input) {
  if (typeof input === 'string') return input;
  if (Array.isArray(input) && input.every((m) => m && typeof m.role === 'string' && typeof m.content === 'string')) {
    return { messages: input.map(({ role, content }) => ({ role, content })) };
  }
  throw new DopplerError('bad-request', 'input: a prompt string or an array of {role, content} strings is required');
}

function engineOptions(config) {
  const out = {};
  for (const [k, v] of Object.entries(config || {})) {
    if (!OPTION_KEYS.includes(k)) throw new DopplerError('bad-request', `unknown generation option '${k}' (known: ${OPTION_KEYS.join(', ')})`);
    if (v === undefined || v === null) continue;
    if (k === 'stop') {
      const list = typeof v === 'string' ? [v] : v;
      if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' && x)) {
        throw new DopplerError('bad-request', 'stop: a non-empty string or an array of them');
      }
      out.stop = list;
    } else {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new DopplerError('bad-request', `${k}: ${JSON.stringify(v)} is not a number`);
      out[k] = v;
    }
  }
  return out;
}

// Engine stop reasons (max_tokens, eos, stop, context_full, abort) -> OpenAI finish_reason.
function finishReason(r) {
  return r === 'max_tokens' || r === 'context_full' ? 'length' : 'stop';
}
