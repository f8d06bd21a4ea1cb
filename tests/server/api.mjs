// api.mjs -- `doppler serve` through the official OpenAI client (npm `openai`, pinned in
// package-lock.json), fetch and curl: /health 503 while loading then 200; chat and completions,
// streamed and not, equal to `doppler run -p` (a model without a chat template is fed the
// messages' contents joined by newlines); usage; stop strings; seeds; 16 concurrent greedy
// requests equal to the same 16 run one after another, batched (doppler_batch_size > 1);
// malformed requests and unsupported fields (400 naming the field, OpenAI error objects);
// --api-key (401); 404, 405, bodies (413) and headers (431) bounded. One server, --parallel 8.
import OpenAI from 'openai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { check, summary, startServer, waitReady, post, postStream, runGreedy, metrics, stop } from './lib.mjs';

const KEY = 'test-key-123';
const AUTH = { Authorization: `Bearer ${KEY}` };
// --web: a demo page folder served at /, nothing outside it
const web = mkdtempSync(path.join(tmpdir(), 'dp-serve-web-'));
mkdirSync(path.join(web, 'site'));
writeFileSync(path.join(web, 'site/index.html'), '<!doctype html><title>demo</title>');
writeFileSync(path.join(web, 'site/app.js'), 'console.log(1);');
writeFileSync(path.join(web, 'secret.txt'), 'secret');
mkdirSync(path.join(web, 'models/m'), { recursive: true });  // the demo's layout: ../models, ../build-wasm
writeFileSync(path.join(web, 'models/m/manifest.json'), '{}');
mkdirSync(path.join(web, 'build-wasm'));
writeFileSync(path.join(web, 'build-wasm/doppler.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d]));
symlinkSync(path.join(web, 'secret.txt'), path.join(web, 'site/link.txt'));
const srv = await startServer(['--parallel', '8', '--api-key', KEY, '--web', path.join(web, 'site')]);
const U = srv.url;
try {
  // /health answers at once, 503 while the model loads (the listening line comes first)
  const h0 = await fetch(U + '/health');
  check(h0.status === 503 && (await h0.json()).status === 'loading', '/health 503 while loading', h0.status);
  check(h0.headers.get('retry-after') === '1', '/health while loading: Retry-After');
  await waitReady(U);
  const h1 = await fetch(U + '/health');
  check(h1.status === 200 && (await h1.json()).status === 'ok', '/health 200 once loaded');

  const client = new OpenAI({ baseURL: U + '/v1', apiKey: KEY, maxRetries: 0 });
  const models = await client.models.list();
  check(models.data.length === 1 && models.data[0].id === 'doppler-tiny-f16' && models.data[0].object === 'model',
        'models.list', models.data);
  check((await client.models.retrieve('doppler-tiny-f16')).id === 'doppler-tiny-f16', 'models.retrieve');

  const idx = await fetch(U + '/');
  check(idx.status === 200 && idx.headers.get('content-type').startsWith('text/html') && (await idx.text()).includes('demo'),
        '--web: / is index.html');
  const js = await fetch(U + '/app.js');
  check(js.status === 200 && js.headers.get('content-type').startsWith('text/javascript'), '--web: a script with its type');
  const wasm = await fetch(U + '/doppler.wasm');
  check(wasm.status === 200 && wasm.headers.get('content-type') === 'application/wasm' && (await wasm.arrayBuffer()).byteLength === 4,
        '--web: /doppler.wasm from ../build-wasm');
  check((await fetch(U + '/models/m/manifest.json')).status === 200, '--web: /models/ from ../models');
  const outside = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--path-as-is', U + '/../secret.txt']).toString();
  check(outside === '404' && (await fetch(U + '/link.txt')).status === 404 && (await fetch(U + '/nope.html')).status === 404,
        '--web: nothing outside the folder (.., links), 404 for a missing file', outside);

  // chat, not streamed: the model has no chat template, so the contents are fed as `run -p` feeds a prompt
  const want16 = runGreedy('The jury said', 16);
  const c1 = await client.chat.completions.create({ model: 'doppler-tiny-f16', temperature: 0, max_tokens: 16,
                                                   messages: [{ role: 'user', content: 'The jury said' }] });
  check(c1.object === 'chat.completion' && c1.id.startsWith('chatcmpl-') && c1.model === 'doppler-tiny-f16', 'chat object', c1);
  check(c1.choices.length === 1 && c1.choices[0].message.role === 'assistant', 'chat choice', c1.choices);
  check(c1.choices[0].message.content === want16, 'chat content == doppler run -p', [c1.choices[0].message.content, want16]);
  check(c1.choices[0].finish_reason === 'length', 'chat finish_reason length', c1.choices[0].finish_reason);
  check(c1.usage.prompt_tokens === 5 && c1.usage.completion_tokens === 16 && c1.usage.total_tokens === 21, 'chat usage', c1.usage);
  const two = await client.chat.completions.create({ temperature: 0, max_tokens: 12, model: 'doppler-tiny-f16',
    messages: [{ role: 'system', content: 'The jury' }, { role: 'user', content: [{ type: 'text', text: 'said' }] }] });
  check(two.choices[0].message.content === runGreedy('The jury\nsaid', 12), 'messages joined by newlines == run -p',
        two.choices[0].message.content);

  // chat, streamed: the deltas add up to the same text; role first, finish_reason last, usage chunk
  const stream = await client.chat.completions.create({ model: 'doppler-tiny-f16', temperature: 0, max_tokens: 16, stream: true,
    stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'The jury said' }] });
  let text = '', chunks = [];
  for await (const ch of stream) { chunks.push(ch); text += ch.choices[0]?.delta?.content || ''; }
  check(text === want16, 'streamed chat == not streamed', [text, want16]);
  check(chunks[0].choices[0].delta.role === 'assistant' && chunks[0].object === 'chat.completion.chunk', 'first chunk: role', chunks[0]);
  const last = chunks[chunks.length - 2];
  check(last.choices[0].finish_reason === 'length', 'last choice chunk: finish_reason', last);
  const uc = chunks[chunks.length - 1];
  check(uc.choices.length === 0 && uc.usage.completion_tokens === 16 && uc.usage.prompt_tokens === 5, 'usage chunk', uc);
  check(new Set(chunks.map((c) => c.id)).size === 1, 'one id per stream');

  // completions, both ways; stop strings; seeds
  const p1 = await client.completions.create({ model: 'doppler-tiny-f16', prompt: 'The jury said', temperature: 0, max_tokens: 16 });
  check(p1.object === 'text_completion' && p1.choices[0].text === want16, 'completion == run -p', p1.choices[0]);
  let ptext = '';
  for await (const ch of await client.completions.create({ model: 'doppler-tiny-f16', prompt: 'The jury said', temperature: 0,
                                                           max_tokens: 16, stream: true })) ptext += ch.choices[0]?.text || '';
  check(ptext === want16, 'streamed completion', ptext);
  const cut = want16.indexOf(' good');
  const st = await client.completions.create({ prompt: 'The jury said', temperature: 0, max_tokens: 16, stop: [' good', 'zzz'],
                                               model: 'doppler-tiny-f16' });
  check(cut > 0 && st.choices[0].text === want16.slice(0, cut) && st.choices[0].finish_reason === 'stop', 'stop string', st.choices[0]);
  const s1 = await client.completions.create({ model: 'doppler-tiny-f16', prompt: 'Once upon', temperature: 1, seed: 7, max_tokens: 12 });
  const s2 = await client.completions.create({ model: 'doppler-tiny-f16', prompt: 'Once upon', temperature: 1, seed: 7, max_tokens: 12 });
  check(s1.choices[0].text === s2.choices[0].text && s1.choices[0].text.length > 0, 'same seed, same text', [s1.choices[0].text, s2.choices[0].text]);

  // curl, streamed: every event `data: {json}`, the last `data: [DONE]`
  const raw = execFileSync('curl', ['-sN', '-H', `Authorization: Bearer ${KEY}`, '-H', 'Content-Type: application/json', U + '/v1/chat/completions',
    '-d', JSON.stringify({ messages: [{ role: 'user', content: 'The jury said' }], temperature: 0, max_tokens: 16, stream: true })]);
  const evs = raw.toString().split('\n\n').filter((e) => e.length);
  check(evs.every((e) => e.startsWith('data: ')) && evs[evs.length - 1] === 'data: [DONE]', 'curl: SSE framing', evs.slice(-2));
  const ctext = evs.slice(0, -1).map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content || '').join('');
  check(ctext === want16, 'curl stream == openai client', ctext);
  const sse = await postStream(U + '/v1/completions', { prompt: 'The jury said', temperature: 0, max_tokens: 16, stream: true }, AUTH);
  check(sse.status === 200 && sse.type === 'text/event-stream' && sse.done && sse.rest === 0, 'fetch: a text/event-stream ending in [DONE]', sse);
  check(sse.events.map((e) => JSON.parse(e).choices[0].text).join('') === want16, 'fetch: streamed completion == run -p');

  // 16 concurrent greedy requests equal the same 16 one after another, and are batched
  const subjects = ['jury', 'king', 'dog', 'teacher', 'river', 'old man', 'girl', 'soldier', 'city', 'doctor', 'bird', 'storm',
                    'queen', 'farmer', 'ship', 'child'];
  const body = (i) => ({ model: 'doppler-tiny-f16', prompt: `The ${subjects[i]} said`, temperature: 0, max_tokens: 24 + i });
  const seq = [];
  for (let i = 0; i < 16; i++) seq.push((await client.completions.create(body(i))).choices[0].text);
  const m0 = await metrics(U, AUTH);
  const conc = (await Promise.all(subjects.map((_, i) => client.completions.create(body(i))))).map((r) => r.choices[0].text);
  const same = conc.filter((t, i) => t === seq[i]).length;
  check(same === 16, '16 concurrent greedy == 16 sequential', conc.map((t, i) => t === seq[i] ? 'ok' : [t, seq[i]]));
  const m1 = await metrics(U, AUTH);
  const steps = m1['doppler_batch_size_count'] - m0['doppler_batch_size_count'];
  const single = m1['doppler_batch_size_bucket{le="1"}'] - m0['doppler_batch_size_bucket{le="1"}'];
  const wide = m1['doppler_batch_size_bucket{le="+Inf"}'] - m1['doppler_batch_size_bucket{le="4"}']
             - (m0['doppler_batch_size_bucket{le="+Inf"}'] - m0['doppler_batch_size_bucket{le="4"}']);
  check(steps > 0 && single < steps && wide > 0, 'concurrent requests batched: steps of > 4 sessions', { steps, single, wide });
  check(m1['doppler_slots'] === 8 && m1['doppler_model_loaded'] === 1 && m1['doppler_requests_running'] === 0, 'metrics gauges', m1);
  check(m1['doppler_requests_total{status="200"}'] >= 40 && m1['doppler_generated_tokens_total'] > 16 * 24, 'metrics counters', m1);

  // malformed requests and unsupported fields: 400, an OpenAI error object naming the field
  const msgs = [{ role: 'user', content: 'hi' }];
  const bad = [
    ['/v1/chat/completions', '{bad', null, 'malformed JSON'],
    ['/v1/chat/completions', '[1]', null, 'JSON object'],
    ['/v1/chat/completions', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), null, 'UTF-8'],
    ['/v1/chat/completions', {}, 'messages', 'required'],
    ['/v1/chat/completions', { messages: 'hi' }, 'messages', 'must be an array'],
    ['/v1/chat/completions', { messages: [] }, 'messages', 'empty'],
    ['/v1/chat/completions', { messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role', 'wizard'],
    ['/v1/chat/completions', { messages: [{ role: 'user' }] }, 'messages[0].content', 'missing'],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 5 }] }, 'messages[0].content', 'not a number'],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, 'messages[0].content[0]', 'only text'],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x', name: 'bob' }] }, 'messages[0].name', 'not supported'],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 'a\u0000b' }] }, 'messages[0].content', 'NUL'],
    ['/v1/chat/completions', { messages: msgs, model: 'gpt-4o' }, 'model', 'does not exist'],
    ['/v1/chat/completions', { messages: msgs, temperature: 'hot' }, 'temperature', 'must be a number'],
    ['/v1/chat/completions', { messages: msgs, temperature: 3 }, 'temperature', 'out of range'],
    ['/v1/chat/completions', { messages: msgs, top_p: 0 }, 'top_p', 'out of range'],
    ['/v1/chat/completions', { messages: msgs, top_k: 1.5 }, 'top_k', 'integer'],
    ['/v1/chat/completions', { messages: msgs, min_p: 2 }, 'min_p', 'out of range'],
    ['/v1/chat/completions', { messages: msgs, max_tokens: 0 }, 'max_tokens', 'out of range'],
    ['/v1/chat/completions', { messages: msgs, seed: 0.5 }, 'seed', 'integer'],
    ['/v1/chat/completions', { messages: msgs, stop: [''] }, 'stop[0]', 'empty'],
    ['/v1/chat/completions', { messages: msgs, stop: Array(17).fill('x') }, 'stop', 'more than 16'],
    ['/v1/chat/completions', { messages: msgs, repetition_penalty: 0 }, 'repetition_penalty', 'out of range'],
    ['/v1/chat/completions', { messages: msgs, frequency_penalty: 0.5 }, 'frequency_penalty', 'not supported'],
    ['/v1/chat/completions', { messages: msgs, n: 2 }, 'n', 'one choice'],
    ['/v1/chat/completions', { messages: msgs, logprobs: true }, 'logprobs', 'not supported'],
    ['/v1/chat/completions', { messages: msgs, tools: [] }, 'tools', 'not supported'],
    ['/v1/chat/completions', { messages: msgs, response_format: { type: 'json_object' } }, 'response_format', 'not supported'],
    ['/v1/chat/completions', { messages: msgs, stream: 'yes' }, 'stream', 'boolean'],
    ['/v1/chat/completions', { messages: msgs, stream_options: { include_usage: true } }, 'stream_options', "'stream': true"],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 'word '.repeat(1100) }] }, 'messages', 'no room'],
    ['/v1/chat/completions', { messages: msgs, max_tokens: 1023 }, 'max_tokens', 'exceed the context'],
    ['/v1/completions', { prompt: [1, 2, 3] }, 'prompt', 'token arrays'],
    ['/v1/completions', { prompt: 'x', echo: true }, 'echo', 'not supported'],
    ['/v1/completions', { prompt: 'x', best_of: 2 }, 'best_of', 'only 1'],
    ['/v1/completions', { prompt: 'x', suffix: 'y' }, 'suffix', 'not supported'],
    ['/v1/completions', { prompt: 'x', messages: msgs }, 'messages', 'not supported'],
  ];
  for (const [path, b, param, msg] of bad) {
    const r = await post(U + path, b, AUTH);
    const e = r.json && r.json.error;
    check(r.status === 400 && e && e.type === 'invalid_request_error' && e.param === param && e.message.includes(msg),
          `400 for ${typeof b === 'string' ? b : JSON.stringify(b).slice(0, 80)}`, r.text);
  }
  const ctx = await post(U + '/v1/chat/completions', { messages: msgs, max_tokens: 1023 }, AUTH);
  check(ctx.json?.error?.code === 'context_length_exceeded', 'code context_length_exceeded', ctx.json);
  const okf = await post(U + '/v1/chat/completions', { messages: msgs, max_tokens: 2, n: 1, logprobs: false, frequency_penalty: 0,
                                                       presence_penalty: null, user: 'u', stream: false, top_k: 5, min_p: 0.1 }, AUTH);
  check(okf.status === 200 && okf.json.usage.completion_tokens === 2, 'defaults of unsupported fields accepted', okf.text);
  try {
    await client.chat.completions.create({ model: 'doppler-tiny-f16', messages: msgs, n: 3 });
    check(false, 'openai client: n=3 refused');
  } catch (e) { check(e.status === 400 && e.error?.param === 'n', 'openai client: n=3 -> BadRequestError naming n', e.error); }

  // API key, endpoints, methods, bounds
  const noKey = await post(U + '/v1/chat/completions', { messages: msgs });
  check(noKey.status === 401 && noKey.json?.error?.type === 'authentication_error', '401 without the key', noKey.text);
  const wrong = await post(U + '/v1/chat/completions', { messages: msgs }, { Authorization: 'Bearer test-key-124' });
  check(wrong.status === 401, '401 with a wrong key', wrong.status);
  check((await fetch(U + '/v1/models')).status === 401 && (await fetch(U + '/metrics')).status === 401, '401 on /v1/models, /metrics');
  check((await fetch(U + '/health')).status === 200, '/health needs no key');
  try {
    await new OpenAI({ baseURL: U + '/v1', apiKey: 'nope', maxRetries: 0 }).models.list();
    check(false, 'openai client with a wrong key refused');
  } catch (e) { check(e.status === 401, 'openai client with a wrong key: AuthenticationError', e.status); }
  const nf = await fetch(U + '/v1/embeddings', { method: 'POST', headers: AUTH, body: '{}' });
  check(nf.status === 404 && (await nf.json()).error.message.includes('/v1/embeddings'), '404 for an unknown endpoint');
  const na = await fetch(U + '/v1/chat/completions', { headers: AUTH });
  check(na.status === 405 && na.headers.get('allow'), '405 for GET on a POST endpoint', na.status);
  const curlStatus = (args) => execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', ...args]).toString();
  const big = Buffer.alloc((1 << 20) + 10, 'a');
  const r413 = execFileSync('curl', ['-s', '-w', ' %{http_code}', '-H', `Authorization: Bearer ${KEY}`, '--data-binary', '@-', U + '/v1/completions'],
                            { input: big }).toString();
  check(r413.endsWith(' 413') && JSON.parse(r413.slice(0, -4)).error.message.includes('more than 1048576'), 'bodies over 1 MiB: 413', r413.slice(-200));
  check(curlStatus(['-H', `X-Big: ${'a'.repeat(40000)}`, U + '/health']) === '431', 'headers over 32 KiB: 431');
  check((await fetch(U + '/health')).status === 200, 'still serving after the bounds');
} finally {
  const ex = await stop(srv);
  check(ex.code === 0, 'SIGTERM: exit 0', ex);
  if (process.exitCode) console.log(srv.log());
  rmSync(web, { recursive: true, force: true });
}
summary('server api');
