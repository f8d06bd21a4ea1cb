// worker.js -- the module worker behind web/provider.js: it owns the engine (web/engine.js, the
// C core as WebAssembly on navigator.gpu) and the model store (web/store.js, OPFS), so the page's
// main thread never waits on either.
//
// Protocol (postMessage, structured clone). Requests from the provider: {id, op, args}
//   init {wasmUrl}             -> {capabilities, defaults (`doppler run`'s, engine.js RUN_DEFAULTS)}
//   load {url, verify}         -> model info (engine.loadModel) + {url, fromNetwork, fetched}
//   generate {input, options}  -> stats (engine.generate); meanwhile {id, type: 'piece', text, token}
//   abort                      -> stops the generation or download in flight (that one then ends)
//   unload                     -> frees the model (GPU buffers and the store's file handles)
//   capabilities | stored | delete {url}
// Replies: {id, type: 'result', value} | {id, type: 'error', error: {message, code}}
//          | {id, type: 'progress', phase, loaded, total, fetched}  (phase 'download' | 'upload')

import { createEngine, RUN_DEFAULTS } from './engine.js';
import { ModelStore } from './store.js';

const store = new ModelStore();
let engine = null;
let source = null;       // the loaded model's store source
let loading = null;      // AbortController of the download in flight

const ops = {
  async init({ wasmUrl }) {
    if (!engine) engine = await createEngine({ wasmUrl: wasmUrl || new URL('./doppler.wasm', import.meta.url).href });
    return { capabilities: engine.capabilities(), defaults: { ...RUN_DEFAULTS } };
  },

  async load({ url, verify }, id) {
    const eng = need();
    await unload();
    loading = new AbortController();
    try {
      const post = (phase) => (p) => postMessage({ id, type: 'progress', phase, ...p });
      source = await store.open(url, { onProgress: post('download'), signal: loading.signal, verify });
      const total = source.manifest.shards.reduce((n, s) => n + s.size, 0);
      const info = await eng.loadModel(source, {
        onProgress: (done, all) => post('upload')({ loaded: done, total: all ?? total, fetched: 0 }),
      });
      source.close(); // release the shards' OPFS locks (a later read reopens them)
      return { ...info, url, fromNetwork: source.fromNetwork, fetched: source.fetched };
    } catch (e) {
      source?.close();
      source = null;
      throw e;
    } finally {
      loading = null;
    }
  },

  async generate({ input, options }, id) {
    if (!source) throw coded('no-model', 'no model is loaded (loadModel first)');
    // Pieces without text (special tokens, bytes held back until a character is whole) are not sent.
    return need().generate(input, options || {}, (text, token) => {
      if (text) postMessage({ id, type: 'piece', text, token });
    });
  },

  abort() {
    loading?.abort();
    engine?.abort();
  },

  unload: () => unload(),
  capabilities: () => need().capabilities(),
  stored: () => store.list(),
  delete: ({ url }) => store.remove(url),
};

async function unload() {
  if (source) { engine?.unload(); source.close(); source = null; }
}

function need() {
  if (!engine) throw coded('not-initialized', 'the engine is not initialized (init first)');
  return engine;
}

function coded(code, message) { const e = new Error(message); e.code = code; return e; }

self.onmessage = async ({ data: { id, op, args } }) => {
  try {
    const fn = ops[op];
    if (!fn) throw coded('bad-request', `unknown operation '${op}'`);
    const value = await fn(args || {}, id);
    postMessage({ id, type: 'result', value });
  } catch (e) {
    postMessage({ id, type: 'error', error: { message: String(e?.message || e), code: e?.code || 'error' } });
  }
};
