// provider.test.mjs -- the JS API (web/provider.js) in headless Chromium on SwiftShader:
// stream(), generate() and chat.completions.create (plain and streamed) give `doppler run`'s
// greedy text; leaving a stream early aborts it; bad input and unknown models are clear errors;
// the catalog's second model (q4_k_m) loads after the first and answers as the CLI does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { launch, serve, nativeGreedy, ROOT } from './lib.mjs';

const N = 16;
const PROMPT = 'The jury said';

test('provider API: stream, generate, chat.completions, abort, errors', { timeout: 240000 }, async () => {
  const want = nativeGreedy(PROMPT, N);
  const wantQ4 = nativeGreedy(PROMPT, N, { model: path.join(ROOT, 'models/doppler-tiny-q4_k_m') });
  const srv = await serve();
  const b = await launch();
  try {
    await b.page.goto(`${srv.url}test/blank.html`);
    const r = await b.page.evaluate(async ({ PROMPT, N }) => {
      const { DopplerProvider } = await import('/provider.js');
      const out = {};
      const caught = async (f) => { try { await f(); return null; } catch (e) { return `${e.code}: ${e.message}`; } };
      const dp = await DopplerProvider.init();
      out.caps = dp.getCapabilities();
      out.unknown = await caught(() => dp.loadModel('no-such-model'));
      out.noModel = await caught(() => dp.generate(PROMPT));
      const progress = [];
      out.info = await dp.loadModel('doppler-tiny', { onProgress: (p) => progress.push(p) });
      out.phases = [...new Set(progress.map((p) => p.phase))];
      out.lastDownload = progress.filter((p) => p.phase === 'download').pop();
      const greedy = { temperature: 0, max_tokens: N };

      let text = '';
      const s = dp.stream([{ role: 'user', content: PROMPT }], greedy);
      for await (const piece of s) text += piece;
      out.stream = text;
      out.streamStats = await s.stats;
      out.generate = (await dp.generate(PROMPT, greedy)).text;

      const c = await dp.chat.completions.create({ messages: [{ role: 'user', content: PROMPT }], temperature: 0, max_tokens: N });
      out.completion = c;
      let deltas = '', finish = null, roles = [];
      const st = await dp.chat.completions.create({ messages: [{ role: 'user', content: PROMPT }], temperature: 0,
                                                    max_completion_tokens: N, stream: true });
      for await (const ch of st) {
        deltas += ch.choices[0].delta.content ?? '';
        if (ch.choices[0].delta.role) roles.push(ch.choices[0].delta.role);
        finish = ch.choices[0].finish_reason ?? finish;
      }
      out.chunks = { deltas, finish, roles };

      // Leave a long stream after 3 pieces: generation is aborted, the provider is free again.
      const long = dp.stream(PROMPT, { temperature: 0, max_tokens: 500 });
      let k = 0;
      for await (const piece of long) if (++k === 3) break;
      out.aborted = await long.stats;
      out.afterAbort = (await dp.generate(PROMPT, greedy)).text;

      out.badOption = await caught(() => dp.generate(PROMPT, { temprature: 0 }));
      out.badInput = await caught(() => dp.generate([{ role: 'user' }]));
      out.stored = await dp.storedModels();
      await dp.unloadModel();
      out.afterUnload = await caught(() => dp.generate(PROMPT));
      out.q4 = await dp.loadModel('doppler-tiny-q4_k_m');
      out.q4text = (await dp.generate(PROMPT, greedy)).text;
      out.stored2 = (await dp.storedModels()).length;
      return out;
    }, { PROMPT, N });

    assert.match(r.caps.architecture + r.caps.adapter + r.caps.vendor, /swiftshader/i);
    assert.ok(Array.isArray(r.caps.features) && r.caps.limits.maxStorageBufferBindingSize > 0);
    assert.match(r.unknown, /^unknown-model: unknown model 'no-such-model': not in the catalog \(doppler-tiny, /);
    assert.match(r.noModel, /^no-model: /);
    assert.equal(r.info.has_chat_template, false);
    assert.deepEqual(r.phases, ['download', 'upload']);
    assert.equal(r.lastDownload.loaded, r.lastDownload.total);
    assert.equal(r.stream, want);
    assert.equal(r.streamStats.n_generated, N);
    assert.equal(r.generate, want);
    assert.equal(r.completion.object, 'chat.completion');
    assert.equal(r.completion.choices[0].message.content, want);
    assert.equal(r.completion.choices[0].finish_reason, 'length');
    assert.equal(r.completion.usage.completion_tokens, N);
    assert.equal(r.completion.usage.total_tokens, r.completion.usage.prompt_tokens + N);
    assert.deepEqual(r.chunks, { deltas: want, finish: 'length', roles: ['assistant'] });
    assert.ok(r.aborted.n_generated < 500, `aborted after ${r.aborted.n_generated} tokens`);
    assert.equal(r.afterAbort, want);
    assert.match(r.badOption, /^bad-request: unknown generation option 'temprature'/);
    assert.match(r.badInput, /^bad-request: input: /);
    assert.equal(r.stored.length, 1);
    assert.equal(r.stored[0].complete, true);
    assert.match(r.afterUnload, /^no-model: /);
    assert.equal(r.q4.id, 'doppler-tiny-q4_k_m');
    assert.equal(r.q4text, wantQ4);
    assert.equal(r.stored2, 2);
  } finally {
    await b.close();
    await srv.close();
  }
});
