// store.test.mjs -- the model store (web/store.js) through the demo page in headless Chromium:
// a download cut halfway resumes at the byte where it stopped (after a reload, and within one
// load when the connection drops once); a corrupted shard is reported by name and downloaded
// anew (the page's Retry); a stored model with a file lost and a shard cut short is repaired
// with only the missing bytes; a model larger than the storage quota is refused before any
// shard request; without WebGPU the page says so and downloads nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launch, serve, waitStatus, ask, nativeGreedy, TINY, TINY_SHARD, TINY_SHARD_SIZE } from './lib.mjs';

const N = 12;
const PROMPT = 'The jury said';
const shardReqs = (srv, from) => srv.modelRequests(from).filter((e) => e.path.endsWith(TINY_SHARD));

async function waitError(page) {
  await page.waitForFunction(() => document.getElementById('status').textContent === 'error', null, { timeout: 60000 });
  return page.textContent('#error');
}

async function expectAnswer(page) {
  assert.equal(await ask(page, PROMPT), nativeGreedy(PROMPT, N));
}

test('a download cut halfway resumes where it stopped and completes', { timeout: 180000 }, async () => {
  const srv = await serve();
  const b = await launch();
  try {
    const half = Math.floor(TINY_SHARD_SIZE / 2);
    // Every response reaching past the middle of the shard is cut there (the connection dropped).
    srv.fault((e) => (e.path.endsWith(TINY_SHARD) && e.end >= half ? { cutAt: half } : undefined));
    await b.page.goto(`${srv.url}?temperature=0&max_tokens=${N}`);
    const err = await waitError(b.page);
    // Where the store stopped: the bytes it received and stored (a browser drops body bytes it
    // had not handed to the reader when the connection fails, so this may be short of `half`,
    // but never before the piece that was cut).
    const stopped = Number(err.match(/network failure downloading .*shard_00000\.bin at byte (\d+) of /)[1]);
    const before = shardReqs(srv, 0);
    assert.ok(before.length >= 2, 'the shard is fetched in several Range requests');
    assert.ok(before.every((e) => e.range), 'every shard request has a Range header');
    const cutPiece = before.find((e) => e.end >= half);
    assert.ok(stopped >= cutPiece.start && stopped <= half, `stopped at ${stopped}`);

    srv.fault(null);
    const from = srv.log.length;
    await b.page.reload();
    await waitStatus(b.page, 'ready');
    const after = shardReqs(srv, from);
    assert.equal(after[0].start, stopped, `the download resumes at byte ${stopped}, not ${after[0].start}`);
    const served = after.reduce((n, e) => n + e.end - e.start + 1, 0);
    assert.equal(served, TINY_SHARD_SIZE - stopped, 'only the missing bytes are downloaded again');
    await expectAnswer(b.page);
  } finally {
    await b.close();
    await srv.close();
  }
});

test('a connection dropped once mid-shard is resumed within the same load', { timeout: 120000 }, async () => {
  const srv = await serve();
  const b = await launch();
  try {
    const half = Math.floor(TINY_SHARD_SIZE / 2);
    let cuts = 0;
    srv.fault((e) => (e.path.endsWith(TINY_SHARD) && e.end >= half && !cuts++ ? { cutAt: half } : undefined));
    await b.page.goto(srv.url);
    await waitStatus(b.page, 'ready');
    const reqs = shardReqs(srv, 0);
    const i = reqs.findIndex((e) => e.end >= half);
    const retry = reqs[i + 1].start; // the bytes the store kept of the cut piece are not asked again
    assert.ok(retry >= reqs[i].start && retry <= half, `the retry starts at ${retry}`);
    assert.equal(reqs.slice(i + 1).reduce((n, e) => n + e.end - e.start + 1, 0), TINY_SHARD_SIZE - retry);
    assert.match(await b.page.textContent('#progress-text'), /11\.5 MB downloaded/);
  } finally {
    await b.close();
    await srv.close();
  }
});

test('a corrupted shard is reported by name, discarded and downloaded anew', { timeout: 180000 }, async () => {
  const srv = await serve();
  const b = await launch();
  try {
    srv.fault((e) => (e.path.endsWith(TINY_SHARD) && e.start <= 123456 && e.end >= 123456 ? { flip: 123456 } : undefined));
    await b.page.goto(`${srv.url}?temperature=0&max_tokens=${N}`);
    const err = await waitError(b.page);
    assert.match(err, /shard_00000\.bin: SHA-256 mismatch \(downloaded [0-9a-f]{64}, manifest 3cd75c6c/);

    srv.fault(null);
    const from = srv.log.length;
    await b.page.click('#retry'); // the page's Retry: the same worker loads again
    await waitStatus(b.page, 'ready');
    assert.equal(shardReqs(srv, from)[0].start, 0, 'the corrupted shard was discarded');
    await expectAnswer(b.page);
  } finally {
    await b.close();
    await srv.close();
  }
});

test('a stored model with a file lost and a shard cut short is repaired, downloading only those bytes', { timeout: 180000 }, async () => {
  const srv = await serve();
  const b = await launch();
  try {
    await b.page.goto(`${srv.url}?temperature=0&max_tokens=${N}`);
    await waitStatus(b.page, 'ready');
    const keep = 3000000;
    // In OPFS: drop tokenizer.json, cut the shard to its first 3 MB (the record still says whole).
    await b.page.evaluate(async (keep) => {
      const root = await navigator.storage.getDirectory();
      const models = await (await root.getDirectoryHandle('doppler')).getDirectoryHandle('models');
      for await (const dir of models.values()) {
        await dir.removeEntry('tokenizer.json');
        const w = await (await dir.getFileHandle('shard_00000.bin')).createWritable({ keepExistingData: true });
        await w.truncate(keep);
        await w.close();
      }
    }, keep);
    const from = srv.log.length;
    await b.page.reload();
    await waitStatus(b.page, 'ready');
    const got = srv.modelRequests(from);
    assert.deepEqual(got.map((e) => e.path.split('/').pop()).filter((f) => f !== TINY_SHARD),
                     ['manifest.json', 'tokenizer.json']);
    const shard = got.filter((e) => e.path.endsWith(TINY_SHARD));
    assert.equal(shard[0].start, keep);
    assert.equal(shard.reduce((n, e) => n + e.end - e.start + 1, 0), TINY_SHARD_SIZE - keep);
    await expectAnswer(b.page);
  } finally {
    await b.close();
    await srv.close();
  }
});

test('loadModel(id, {verify: true}) finds a shard changed in OPFS and downloads it again', { timeout: 180000 }, async () => {
  const want = nativeGreedy(PROMPT, N);
  const srv = await serve();
  const b = await launch();
  try {
    await b.page.goto(`${srv.url}test/blank.html`);
    const r = await b.page.evaluate(async ({ PROMPT, N }) => {
      const { DopplerProvider } = await import('/provider.js');
      const dp = await DopplerProvider.init();
      await dp.loadModel('doppler-tiny');
      await dp.unloadModel();
      const root = await navigator.storage.getDirectory();
      const models = await (await root.getDirectoryHandle('doppler')).getDirectoryHandle('models');
      for await (const dir of models.values()) {
        const w = await (await dir.getFileHandle('shard_00000.bin')).createWritable({ keepExistingData: true });
        await w.write({ type: 'write', position: 5000000, data: new Uint8Array([1, 2, 3]) });
        await w.close();
      }
      const plain = await dp.loadModel('doppler-tiny');          // sizes only: not noticed
      await dp.unloadModel();
      const checked = await dp.loadModel('doppler-tiny', { verify: true });
      const text = (await dp.generate(PROMPT, { temperature: 0, max_tokens: N })).text;
      return { plain: plain.fromNetwork, checked: checked.fromNetwork, fetched: checked.fetched, text };
    }, { PROMPT, N });
    assert.equal(r.plain, false);
    assert.equal(r.checked, true);
    assert.equal(r.fetched, TINY_SHARD_SIZE, 'the changed shard, whole, and nothing else');
    assert.equal(r.text, want);
  } finally {
    await b.close();
    await srv.close();
  }
});

test('a model larger than the storage quota is refused before any shard request', { timeout: 120000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doppler-huge-'));
  const m = JSON.parse(fs.readFileSync(path.join(TINY, 'manifest.json'), 'utf8'));
  m.shards[0].size = 2 ** 50; // 1 PiB
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(TINY, f), path.join(dir, f));
  const srv = await serve({ extraMounts: [{ prefix: '/huge/', dir }] });
  const b = await launch();
  try {
    await b.page.goto(`${srv.url}?model=${encodeURIComponent('/huge/')}`);
    const err = await waitError(b.page);
    assert.match(err, /not enough storage for http:\/\/127\.0\.0\.1:\d+\/huge\/: 1125899906\.8 MB to download, [\d.]+ MB available/);
    assert.equal(srv.log.filter((e) => e.path.endsWith('.bin')).length, 0);
  } finally {
    await b.close();
    await srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('without WebGPU the page says WebGPU is unavailable and downloads nothing', { timeout: 60000 }, async () => {
  const srv = await serve();
  const b = await launch({ webgpu: false });
  try {
    await b.page.goto(srv.url);
    const err = await waitError(b.page);
    assert.match(err, /^WebGPU is unavailable in this browser \(.*no adapter\)\. DOPPLER needs WebGPU/);
    assert.equal(srv.modelRequests().length, 0);
    assert.equal(await b.page.isDisabled('#send'), true);
  } finally {
    await b.close();
    await srv.close();
  }
});
