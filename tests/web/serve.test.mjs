// serve.test.mjs -- without a browser: the demo's static server (scripts/serve_static.mjs:
// ranges, 416, MIME types, no-store for models, no path escapes), the store's streaming
// SHA-256 (web/sha256.js) against node's crypto over random inputs cut at random places, the
// store's manifest checks, and the npm package (`npm pack` in web/: what it holds).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, parseRange, defaultMounts } from '../../scripts/serve_static.mjs';
import { Sha256 } from '../../web/sha256.js';
import { parseManifest, modelBase } from '../../web/store.js';
import { ROOT, TINY, TINY_SHARD, TINY_SHARD_SIZE } from './lib.mjs';

test('sha256: random inputs in random pieces match node crypto', () => {
  const seed = Number(process.env.DP_TEST_SEED || Date.now() % 1e9);
  let x = seed;
  const rnd = (n) => { x = (x * 1103515245 + 12345) % 2147483648; return x % n; };
  for (let i = 0; i < 400; i++) {
    const n = i < 200 ? i : rnd(5000);
    const data = crypto.randomBytes(n);
    const h = new Sha256();
    for (let at = 0; at < n;) { const k = 1 + rnd(130); h.update(data.subarray(at, at + k)); at += k; }
    assert.equal(h.hex(), crypto.createHash('sha256').update(data).digest('hex'), `length ${n} (DP_TEST_SEED=${seed})`);
  }
  const shard = fs.readFileSync(path.join(TINY, TINY_SHARD));
  const man = JSON.parse(fs.readFileSync(path.join(TINY, 'manifest.json'), 'utf8'));
  assert.equal(new Sha256().update(shard).hex(), man.shards[0].sha256);
});

test('parseRange', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=50-500', 100), { start: 50, end: 99 });
  for (const bad of ['bytes=100-', 'bytes=5-2', 'bytes=-0', 'bytes=-', 'items=0-1', 'bytes=0-1,3-4']) {
    assert.equal(parseRange(bad, 100), 'bad', bad);
  }
});

test('store: manifest checks and model URLs', () => {
  const text = fs.readFileSync(path.join(TINY, 'manifest.json'), 'utf8');
  assert.equal(parseManifest(text, 'u/').shards.length, 1);
  const bad = (edit, re) => {
    const m = JSON.parse(text);
    edit(m);
    assert.throws(() => parseManifest(JSON.stringify(m), 'u/'), (e) => e.code === 'bad-manifest' && re.test(e.message));
  };
  bad((m) => { m.format = 'gguf'; }, /^u\/manifest\.json: field format/);
  bad((m) => { m.shards[0].file = '../x.bin'; }, /shards\[0\]\.file: "\.\.\/x\.bin" is not a plain file name/);
  bad((m) => { m.shards[0].file = 'progress.json'; }, /not a plain file name/);
  bad((m) => { m.shards[0].sha256 = 'abc'; }, /shards\[0\]\.sha256: not 64 hex digits/);
  bad((m) => { m.shards[0].size = -1; }, /shards\[0\]\.size: -1/);
  bad((m) => { m.shards.push({ ...m.shards[0] }); }, /listed twice/);
  bad((m) => { m.tokenizer.file = 'a/b.json'; }, /tokenizer: "a\/b\.json"/);
  assert.throws(() => parseManifest('{', 'u/'), /not JSON/);
  assert.equal(modelBase('http://h/m/x'), 'http://h/m/x/');
  assert.equal(modelBase('http://h/m/x/manifest.json?v=1#a'), 'http://h/m/x/');
});

test('static server: ranges, types, no-store models, no escapes', async () => {
  const srv = await startServer({ port: 0, mounts: defaultMounts(ROOT) });
  const base = `http://127.0.0.1:${srv.address().port}`;
  try {
    const shard = `${base}/models/doppler-tiny-f16/${TINY_SHARD}`;
    let r = await fetch(shard, { headers: { Range: 'bytes=100-199' } });
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('content-range'), `bytes 100-199/${TINY_SHARD_SIZE}`);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const want = fs.readFileSync(path.join(TINY, TINY_SHARD)).subarray(100, 200);
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), want);
    r = await fetch(shard, { headers: { Range: `bytes=${TINY_SHARD_SIZE}-` } });
    assert.equal(r.status, 416);
    assert.equal(r.headers.get('content-range'), `bytes */${TINY_SHARD_SIZE}`);
    r = await fetch(shard, { method: 'HEAD' });
    assert.equal(r.headers.get('content-length'), String(TINY_SHARD_SIZE));
    assert.equal(r.headers.get('accept-ranges'), 'bytes');
    r = await fetch(`${base}/`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/html/);
    assert.match(await r.text(), /id="prompt"/);
    assert.match((await fetch(`${base}/provider.js`)).headers.get('content-type'), /^text\/javascript/);
    const wasm = await fetch(`${base}/doppler.wasm`);
    if (fs.existsSync(path.join(ROOT, 'build-wasm/doppler.wasm'))) assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    else assert.equal(wasm.status, 404);
    for (const p of ['/../Makefile', '/%2e%2e/Makefile', '/models/..%2fMakefile', '/models/%00']) {
      assert.equal((await fetch(base + p)).status, 404, p);
    }
    assert.equal((await fetch(`${base}/`, { method: 'POST' })).status, 405);
  } finally {
    srv.close();
  }
});

test('npm pack: the API, its types, the engine and the wasm, every relative import inside', () => {
  const web = path.join(ROOT, 'web');
  const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: web, encoding: 'utf8',
                                                                                  stdio: ['ignore', 'pipe', 'ignore'] }));
  const files = new Set(pack.files.map((f) => f.path));
  for (const f of ['package.json', 'provider.js', 'worker.js', 'store.js', 'sha256.js', 'engine.js', 'doppler.wasm',
                   'doppler.d.ts', 'models.json']) assert.ok(files.has(f), `${f} is packed`);
  for (const f of files) {
    if (!f.endsWith('.js')) continue;
    const src = fs.readFileSync(path.join(web, f), 'utf8');
    // import ... from './x.js', import('./x.js') and new URL('./x', import.meta.url); engine.js's
    // own default wasmUrl (the repository's layout) is not used: worker.js passes ./doppler.wasm.
    const refs = f === 'engine.js' ? /(?:import|from)\s*\(?\s*'(\.{1,2}\/[^']+)'/g : /(?:import|from|new URL)\s*\(?\s*'(\.{1,2}\/[^']+)'/g;
    for (const [, rel] of src.matchAll(refs)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(f), rel));
      assert.ok(files.has(target), `${f} imports ${rel}, which is not packed`);
    }
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(web, 'package.json'), 'utf8'));
  assert.ok(files.has(pkg.main) && files.has(pkg.types));
});
