// page.test.mjs -- the demo page (web/index.html) in headless Chromium on SwiftShader: it loads
// doppler-tiny over HTTP on open, and a prompt typed into #prompt streams into #output the text
// `build/doppler run --temp 0 -n N -p PROMPT` prints with DOPPLER_ADAPTER=swiftshader; a reload
// loads from OPFS with no request for any model file; with the server gone the page still opens,
// loads and answers (service worker + OPFS); Stop ends an answer early; a model with a chat
// template answers as `doppler run --chat` and gets the whole conversation on the next turn.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, serve, waitStatus, ask, statusLog, nativeGreedy, tinyWithChatTemplate, TINY_SHARD, TINY_SHARD_SIZE } from './lib.mjs';

const N = 24;
const PROMPTS = ['The jury said', 'Once upon a time, in a small village'];

test('the page answers as the CLI does: over HTTP, then from OPFS, then offline', { timeout: 300000 }, async () => {
  const want = PROMPTS.map((p) => nativeGreedy(p, N));
  const srv = await serve();
  const b = await launch();
  try {
    // First visit: loading starts by itself; the shard comes in Range pieces.
    await b.page.goto(`${srv.url}?temperature=0&max_tokens=${N}`);
    await waitStatus(b.page, 'ready');
    assert.deepEqual(await statusLog(b.page), ['loading…', 'ready']);
    const shard = srv.modelRequests().filter((e) => e.path.endsWith(TINY_SHARD));
    assert.ok(shard.length >= 2 && shard.every((e) => e.range), 'shard fetched with Range requests');
    assert.equal(shard.reduce((n, e) => n + e.end - e.start + 1, 0), TINY_SHARD_SIZE);
    assert.match(await b.page.textContent('#adapter'), /swiftshader/i);
    for (let i = 0; i < PROMPTS.length; i++) assert.equal(await ask(b.page, PROMPTS[i]), want[i], `prompt ${i}`);
    assert.match(await b.page.textContent('#stats'), new RegExp(`${N} tokens at [\\d.]+ tok/s`));

    // Reload: everything from OPFS, not one request for a model file.
    const from = srv.log.length;
    await b.page.reload();
    await waitStatus(b.page, 'ready');
    assert.deepEqual(await statusLog(b.page), ['loading…', 'ready']);
    assert.deepEqual(srv.modelRequests(from).map((e) => e.path), []);
    assert.match(await b.page.textContent('#progress-text'), /from this browser's storage \(OPFS\)/);
    assert.equal(await ask(b.page, PROMPTS[0]), want[0]);

    // Offline: the server is gone; the service worker has the app, OPFS the model.
    await srv.close();
    await b.page.reload();
    await waitStatus(b.page, 'ready');
    assert.equal(await ask(b.page, PROMPTS[1]), want[1]);
    assert.deepEqual(b.errors, []);
  } finally {
    await b.close();
    await srv.close();
  }
});

test('stop ends an answer early and the page is ready again', { timeout: 180000 }, async () => {
  const srv = await serve();
  const b = await launch();
  try {
    await b.page.goto(`${srv.url}?temperature=0&max_tokens=400`);
    await waitStatus(b.page, 'ready');
    await b.page.fill('#prompt', PROMPTS[0]);
    await b.page.click('#send');
    await b.page.waitForFunction(() => document.getElementById('output').textContent.length > 0);
    assert.equal(await b.page.textContent('#status'), 'generating');
    await b.page.click('#stop');
    await waitStatus(b.page, 'ready');
    assert.match(await b.page.textContent('#stats'), /ended: (abort|cancel)/);
    const n = Number((await b.page.textContent('#stats')).match(/(\d+) tokens at/)[1]);
    assert.ok(n > 0 && n < 400, `stopped after ${n} tokens`);
  } finally {
    await b.close();
    await srv.close();
  }
});

test('a model with a chat template: first answer as `doppler run --chat`, then the conversation', { timeout: 180000 }, async () => {
  const chat = tinyWithChatTemplate();
  const prompt = 'Tell me about the jury';
  const want = nativeGreedy(prompt, 16, { model: chat.dir, chat: true });
  const srv = await serve({ extraMounts: [{ prefix: '/chat-model/', dir: chat.dir }] });
  const b = await launch();
  try {
    await b.page.goto(`${srv.url}?model=${encodeURIComponent('/chat-model/')}&temperature=0&max_tokens=16`);
    await waitStatus(b.page, 'ready');
    assert.match(await b.page.textContent('#mode'), /^chat: /);
    assert.equal(await ask(b.page, prompt), want);
    const promptTokens = async () => Number((await b.page.textContent('#stats')).match(/^prompt (\d+) tokens/)[1]);
    const first = await promptTokens();
    await ask(b.page, 'And then?');
    // The second turn carries the first question and answer through the template.
    assert.ok(await promptTokens() > first + 10, `second prompt ${await promptTokens()} tokens, first ${first}`);
    assert.equal(await b.page.locator('#transcript .turn').count(), 3);
  } finally {
    await b.close();
    await srv.close();
    chat.remove();
  }
});
