// store.js -- the model store of the browser build, run inside the worker (web/worker.js).
// Given a model's base URL it fetches the RDRR manifest.json (docs/formats.md), downloads every
// shard with HTTP Range requests in pieces straight into the Origin Private File System
// (FileSystemSyncAccessHandle), checks each shard's SHA-256 as its bytes stream in (web/sha256.js,
// nothing held in memory but one piece), and keeps a progress record so an interrupted download
// resumes where it stopped. A model stored completely loads again from OPFS alone: no request at
// all, so it works offline. Shards are fetched with `cache: 'no-store'`: they live only in OPFS,
// never in the HTTP or service-worker cache.
//
// OPFS layout: doppler/models/<name>-<hash of the URL>/ holding manifest.json, the tokenizer
// files, the shards and progress.json:
//   {version: 1, url, manifest_sha256, files: {name: true}, shards: {file: {done, verified}}, complete}
//
// `open()` returns the engine's model source (web/engine.js: manifest, readFile, readRange).
// Errors are StoreError with a one-line message and a .code: 'hash-mismatch' (names the shard),
// 'quota-exceeded', 'network', 'http', 'bad-manifest', 'busy' (open in another tab), 'aborted',
// 'not-found' (readFile of a file the manifest does not name).

import { Sha256 } from './sha256.js';

export class StoreError extends Error {
  constructor(code, message, reason) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
    this.reason = reason ?? message; // the cause alone, without the URL
  }
}

const RECORD = 'progress.json';
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MB = 1e6;
const mb = (n) => (n / MB).toFixed(1) + ' MB';

// The base URL of a model ("…/doppler-tiny-f16/", or its manifest.json) as an absolute string.
export function modelBase(url) {
  const u = new URL(url, globalThis.location?.href);
  u.hash = ''; u.search = '';
  if (u.pathname.endsWith('/manifest.json')) u.pathname = u.pathname.slice(0, -'manifest.json'.length);
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u.href;
}

export class ModelStore {
  // fetchFn: fetch (tests may wrap it); pieceBytes: bytes per Range request; retries: attempts per
  // piece after a network failure (with 0.25 s, 0.5 s, 1 s ... between them).
  constructor({ fetchFn = globalThis.fetch.bind(globalThis), pieceBytes = 4 << 20, retries = 3 } = {}) {
    this.fetch = fetchFn;
    this.pieceBytes = pieceBytes;
    this.retries = retries;
  }

  async modelsDir() {
    const root = await navigator.storage.getDirectory();
    const top = await root.getDirectoryHandle('doppler', { create: true });
    return top.getDirectoryHandle('models', { create: true });
  }

  async dirName(base) {
    const h = new Sha256().update(new TextEncoder().encode(base)).hex().slice(0, 16);
    const last = base.split('/').filter(Boolean).pop() || 'model';
    return last.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64) + '-' + h;
  }

  // Open the model at `url`: from OPFS when stored completely, else download what is missing.
  // onProgress({phase: 'download', loaded, total, fetched}): loaded counts stored bytes (resumed
  // ones too), fetched the bytes that came over the network in this call. Returns a source:
  // {manifest, readFile(name), readRange(name, offset, length), close(), fromNetwork, fetched}.
  async open(url, { onProgress = () => {}, signal, verify = false } = {}) {
    const base = modelBase(url);
    const dir = await (await this.modelsDir()).getDirectoryHandle(await this.dirName(base), { create: true });
    let record = await readJson(dir, RECORD);
    if (record && record.url !== base) record = null;
    if (record?.complete) {
      const manifest = await readJson(dir, 'manifest.json');
      const damaged = manifest ? await this.damaged(dir, manifest, verify) : null;
      if (damaged && !damaged.length) {
        const total = totalBytes(manifest);
        onProgress({ phase: 'download', loaded: total, total, fetched: 0 });
        return this.source(dir, manifest, false, 0);
      }
      // A file went missing, short or (verify) bad: download what is needed again. A shorter
      // shard resumes from its length; a shard with a wrong hash starts over.
      record.complete = false;
      for (const d of damaged || []) {
        if (d.reason === 'hash') record.shards[d.file] = { done: 0, verified: false };
        else if (record.shards[d.file]) record.shards[d.file].verified = false;
      }
    }
    return this.download(dir, base, record, { onProgress, signal });
  }

  // The files of a complete model that are missing, of the wrong size or (verify) whose SHA-256
  // differs from the manifest: [{file, reason: 'missing' | 'size' | 'hash'}].
  async damaged(dir, manifest, verify) {
    const out = [];
    for (const s of manifest.shards) {
      const f = await fileOrNull(dir, s.file);
      if (!f) out.push({ file: s.file, reason: 'missing' });
      else if (f.size !== s.size) out.push({ file: s.file, reason: 'size' });
      else if (verify && (await hashFile(f)) !== s.sha256.toLowerCase()) out.push({ file: s.file, reason: 'hash' });
    }
    for (const name of tokenizerFiles(manifest)) if (!(await exists(dir, name))) out.push({ file: name, reason: 'missing' });
    return out;
  }

  async download(dir, base, record, { onProgress, signal }) {
    const text = await this.fetchText(new URL('manifest.json', base).href, signal);
    const manifest = parseManifest(text, base);
    const msha = new Sha256().update(new TextEncoder().encode(text)).hex();
    if (!record || record.manifest_sha256 !== msha) {
      // New model, or the model changed on the server: start over in a clean directory.
      const names = [];
      for await (const name of dir.keys()) names.push(name);
      for (const name of names) await dir.removeEntry(name, { recursive: true });
      record = { version: 1, url: base, manifest_sha256: msha, files: {}, shards: {}, complete: false };
    }
    await writeFile(dir, 'manifest.json', new TextEncoder().encode(text));
    const total = totalBytes(manifest);
    const stored = () => manifest.shards.reduce((n, s) => n + (record.shards[s.file]?.done || 0), 0);
    await this.checkQuota(base, total - stored(), signal);

    for (const name of tokenizerFiles(manifest)) {
      if (record.files[name] && (await exists(dir, name))) continue;
      const bytes = await this.fetchBytes(new URL(name, base).href, signal);
      await writeFile(dir, name, bytes);
      record.files[name] = true;
      await writeJson(dir, RECORD, record);
    }
    const progress = { loaded: stored(), total, fetched: 0 };
    onProgress({ phase: 'download', ...progress });
    for (const shard of manifest.shards) {
      await this.downloadShard(dir, base, manifest, shard, record, progress, onProgress, signal);
    }
    record.complete = true;
    await writeJson(dir, RECORD, record);
    return this.source(dir, manifest, true, progress.fetched);
  }

  async checkQuota(base, need, signal) {
    if (need <= 0 || !navigator.storage.estimate) return;
    const { quota = Infinity, usage = 0 } = await navigator.storage.estimate();
    if (signal?.aborted) throw aborted();
    if (quota - usage < need) {
      throw new StoreError('quota-exceeded', `not enough storage for ${base}: ${mb(need)} to download, ` +
        `${mb(Math.max(0, quota - usage))} available to this site (navigator.storage.estimate)`);
    }
  }

  async downloadShard(dir, base, manifest, shard, record, progress, onProgress, signal) {
    const rec = (record.shards[shard.file] ||= { done: 0, verified: false });
    const fh = await dir.getFileHandle(shard.file, { create: true });
    const h = await syncHandle(fh, shard.file);
    try {
      if (rec.verified && h.getSize() === shard.size) return;
      rec.verified = false;
      // Resume: trust the record, not a longer file (bytes written but never recorded), and hash
      // again what is kept.
      const before = rec.done;
      rec.done = Math.min(rec.done, h.getSize(), shard.size);
      progress.loaded -= before - rec.done;
      h.truncate(rec.done);
      const sha = new Sha256();
      const buf = new Uint8Array(Math.min(this.pieceBytes, Math.max(rec.done, 1)));
      for (let at = 0; at < rec.done; at += buf.length) {
        const n = h.read(buf, { at });
        sha.update(buf.subarray(0, Math.min(n, rec.done - at)));
      }
      const url = new URL(shard.file, base).href;
      let failures = 0;
      while (rec.done < shard.size) {
        const end = Math.min(rec.done + this.pieceBytes, shard.size);
        const start = rec.done;
        try {
          await this.fetchPiece(url, shard, start, end, signal, (chunk) => {
            try { h.write(chunk, { at: rec.done }); }
            catch (e) { throw writeError(e, base, shard, shard.size - rec.done); }
            sha.update(chunk);
            rec.done += chunk.length;
            progress.loaded += chunk.length;
            progress.fetched += chunk.length;
            onProgress({ phase: 'download', ...progress });
          });
          failures = 0;
        } catch (e) {
          h.flush();
          await writeJson(dir, RECORD, record);
          if (e instanceof StoreError && e.code !== 'network') throw e;
          if (signal?.aborted) throw aborted();
          if (rec.done === start) failures++; // a retry that made progress does not count
          if (failures > this.retries) {
            throw new StoreError('network', `network failure downloading ${url} at byte ${rec.done} of ` +
              `${shard.size} (${e.reason ?? e.message}); ${mb(progress.loaded)} of ${mb(progress.total)} are stored, ` +
              'loading again resumes there');
          }
          await sleep(250 * 2 ** (failures - 1), signal);
          continue;
        }
        h.flush();
        await writeJson(dir, RECORD, record);
      }
      const got = sha.hex();
      if (got !== shard.sha256.toLowerCase()) {
        h.truncate(0);
        rec.done = 0;
        progress.loaded -= shard.size;
        await writeJson(dir, RECORD, record);
        throw new StoreError('hash-mismatch', `${shard.file}: SHA-256 mismatch (downloaded ${got}, manifest ` +
          `${shard.sha256}) from ${url}; the shard was discarded`);
      }
      rec.verified = true;
      await writeJson(dir, RECORD, record);
    } finally {
      h.close();
    }
  }

  // Fetch bytes [start, end) of a shard and hand them to sink(chunk) as they arrive.
  async fetchPiece(url, shard, start, end, signal, sink) {
    const res = await this.request(url, signal, { Range: `bytes=${start}-${end - 1}` });
    let skip = 0;
    if (res.status === 200) {
      // A server without Range support sends the whole file: skip to start, stop at end.
      skip = start;
    } else if (res.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('Content-Range') || '');
      if (!m || +m[1] !== start || +m[2] !== end - 1 || (m[3] !== '*' && +m[3] !== shard.size)) {
        await res.body?.cancel();
        throw new StoreError('http', `${url}: the server answered bytes=${start}-${end - 1} with ` +
          `Content-Range '${res.headers.get('Content-Range')}' (the shard should be ${shard.size} bytes)`);
      }
    } else {
      await res.body?.cancel();
      throw httpError(url, res);
    }
    const reader = res.body.getReader();
    let want = end - start;
    try {
      for (;;) {
        const { done, value } = await readChunk(reader, url);
        if (done) break;
        let chunk = value;
        if (skip) { const s = Math.min(skip, chunk.length); skip -= s; chunk = chunk.subarray(s); }
        if (chunk.length > want) chunk = chunk.subarray(0, want);
        if (chunk.length) { sink(chunk); want -= chunk.length; }
        if (!want) break;
      }
    } finally {
      reader.cancel().catch(() => {});
    }
    if (want) throw new StoreError('network', `${url}: the connection ended ${want} bytes short`, `the connection ended ${want} bytes short`);
  }

  async request(url, signal, headers = {}) {
    try {
      return await this.fetch(url, { cache: 'no-store', signal, headers });
    } catch (e) {
      if (signal?.aborted) throw aborted();
      throw new StoreError('network', `network failure fetching ${url} (${e.message})`, e.message);
    }
  }

  async fetchBytes(url, signal) {
    const res = await this.request(url, signal);
    if (!res.ok) throw httpError(url, res);
    try {
      return new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      throw signal?.aborted ? aborted() : new StoreError('network', `${url}: ${e.message}`, e.message);
    }
  }

  async fetchText(url, signal) { return new TextDecoder().decode(await this.fetchBytes(url, signal)); }

  // The engine's model source over a stored model directory.
  async source(dir, manifest, fromNetwork, fetched) {
    const handles = new Map();
    const sizes = new Map(manifest.shards.map((s) => [s.file, s.size]));
    const small = new Set(tokenizerFiles(manifest));
    return {
      manifest,
      fromNetwork,
      fetched,
      async readFile(name) {
        if (!small.has(name)) throw new StoreError('not-found', `${name}: not a file of this model (its manifest names ${[...small].join(', ') || 'none'})`);
        return new Uint8Array(await (await (await dir.getFileHandle(name)).getFile()).arrayBuffer());
      },
      async readRange(name, offset, length) {
        const size = sizes.get(name);
        if (size === undefined) throw new StoreError('bad-manifest', `readRange: '${name}' is not a shard of this model`);
        if (!(offset >= 0 && length >= 0 && offset + length <= size)) {
          throw new StoreError('bad-manifest', `readRange: ${name}: bytes ${offset}+${length} outside its ${size}`);
        }
        let h = handles.get(name);
        if (!h) { h = await syncHandle(await dir.getFileHandle(name), name); handles.set(name, h); }
        const out = new Uint8Array(length);
        const n = h.read(out, { at: offset });
        if (n !== length) throw new StoreError('bad-manifest', `${name}: ${n} bytes read at ${offset}, ${length} expected`);
        return out;
      },
      close() { for (const h of handles.values()) h.close(); handles.clear(); },
    };
  }

  // Stored models: [{url, dir, bytes, complete}].
  async list() {
    const out = [];
    const models = await this.modelsDir();
    for await (const [name, dir] of models.entries()) {
      const record = await readJson(dir, RECORD);
      if (!record) continue;
      let bytes = 0;
      for await (const f of dir.values()) if (f.kind === 'file') bytes += (await f.getFile()).size;
      out.push({ url: record.url, dir: name, bytes, complete: !!record.complete });
    }
    return out;
  }

  // Remove a stored model (every file of it). Returns whether there was one.
  async remove(url) {
    const models = await this.modelsDir();
    const name = await this.dirName(modelBase(url));
    try { await models.removeEntry(name, { recursive: true }); return true; }
    catch (e) {
      if (e.name === 'NotFoundError') return false;
      if (e.name === 'NoModificationAllowedError') throw busy(name);
      throw e;
    }
  }
}

// ---- manifest ----

export function parseManifest(text, base) {
  const bad = (what) => new StoreError('bad-manifest', `${base}manifest.json: ${what}`);
  let m;
  try { m = JSON.parse(text); } catch (e) { throw bad(`not JSON (${e.message})`); }
  if (!m || m.format !== 'rdrr') throw bad(`field format: not "rdrr"`);
  if (m.version !== 1) throw bad(`field version: ${JSON.stringify(m.version)}, this store reads version 1`);
  if (!Array.isArray(m.shards) || !m.shards.length) throw bad('field shards: missing or empty');
  const seen = new Set();
  m.shards.forEach((s, i) => {
    if (typeof s?.file !== 'string' || !SAFE_NAME.test(s.file) || s.file === RECORD || s.file === 'manifest.json') {
      throw bad(`shards[${i}].file: ${JSON.stringify(s?.file)} is not a plain file name`);
    }
    if (seen.has(s.file)) throw bad(`shards[${i}].file: ${s.file} listed twice`);
    seen.add(s.file);
    if (!Number.isSafeInteger(s.size) || s.size < 0) throw bad(`shards[${i}].size: ${JSON.stringify(s.size)}`);
    if (typeof s.sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(s.sha256)) throw bad(`shards[${i}].sha256: not 64 hex digits`);
  });
  for (const name of tokenizerFiles(m)) {
    if (!SAFE_NAME.test(name) || seen.has(name) || name === RECORD || name === 'manifest.json') {
      throw bad(`tokenizer: ${JSON.stringify(name)} is not a plain file name`);
    }
  }
  return m;
}

export function tokenizerFiles(m) {
  const t = m.tokenizer;
  if (!t) return [];
  return [t.file, t.config].filter((x) => x !== undefined && x !== null).map(String);
}

const totalBytes = (m) => m.shards.reduce((n, s) => n + s.size, 0);

// ---- OPFS helpers ----

async function syncHandle(fh, name) {
  // The exclusive lock of a sync access handle is released when a closed tab's worker dies;
  // give that a moment before calling the model busy.
  for (let i = 0; ; i++) {
    try { return await fh.createSyncAccessHandle(); }
    catch (e) {
      if (e.name !== 'NoModificationAllowedError' && e.name !== 'InvalidStateError') throw e;
      if (i >= 20) throw busy(name);
      await sleep(100);
    }
  }
}

async function fileOrNull(dir, name) {
  try { return await (await dir.getFileHandle(name)).getFile(); }
  catch (e) { if (e.name === 'NotFoundError') return null; throw e; }
}

const exists = async (dir, name) => (await fileOrNull(dir, name)) !== null;

async function readJson(dir, name) {
  try {
    const f = await (await dir.getFileHandle(name)).getFile();
    return JSON.parse(await f.text());
  } catch (e) {
    if (e.name === 'NotFoundError' || e instanceof SyntaxError) return null;
    throw e;
  }
}

async function writeFile(dir, name, bytes) {
  const h = await syncHandle(await dir.getFileHandle(name, { create: true }), name);
  try {
    h.truncate(0);
    if (h.write(bytes, { at: 0 }) !== bytes.length) throw new StoreError('quota-exceeded', `${name}: short write`);
    h.flush();
  } catch (e) {
    throw writeError(e, '', { file: name }, bytes.length);
  } finally {
    h.close();
  }
}

const writeJson = (dir, name, v) => writeFile(dir, name, new TextEncoder().encode(JSON.stringify(v)));

async function hashFile(file) {
  const sha = new Sha256();
  const reader = file.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return sha.hex();
    sha.update(value);
  }
}

// ---- errors ----

function writeError(e, base, shard, left) {
  if (e instanceof StoreError) return e;
  if (e.name === 'QuotaExceededError') {
    return new StoreError('quota-exceeded', `storage full writing ${base}${shard.file}: ` +
      `${mb(left)} still to store (free space for this site, or delete stored models)`);
  }
  return e;
}

function httpError(url, res) {
  return new StoreError('http', `${url}: HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}`);
}

const busy = (name) => new StoreError('busy', `${name}: the model is in use by another tab or worker`);
const aborted = () => new StoreError('aborted', 'download aborted');

async function readChunk(reader, url) {
  try { return await reader.read(); }
  catch (e) { throw new StoreError('network', `${url}: ${e.message}`, e.message); }
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); reject(aborted()); }, { once: true });
  });
}
