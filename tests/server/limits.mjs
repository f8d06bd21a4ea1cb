// limits.mjs -- `doppler serve --parallel 1 --queue 1` under pressure: a client that disconnects
// (mid-stream, while waiting for a non-streamed answer, while queued) cancels its generation and
// frees its slot; a full queue answers 429 with Retry-After (the OpenAI client sees a
// RateLimitError); SIGTERM stops accepting, lets the requests in flight finish, exits 0; a
// second signal cancels them and exits at once.
import OpenAI from 'openai';
import { check, summary, startServer, waitReady, post, postStream, metrics, stop, sleep } from './lib.mjs';

const long = (extra = {}) => ({ prompt: 'The jury said', temperature: 0, max_tokens: 900, ignore_eos: true, ...extra });

async function until(what, fn, ms = 5000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) { check(false, `${what} within ${ms} ms`); return v; }
    await sleep(20);
  }
}

const srv = await startServer(['--parallel', '1', '--queue', '1']);
const U = srv.url;
try {
  await waitReady(U);
  // disconnect mid-stream
  let ac = new AbortController(), got = 0;
  try {
    const r = await fetch(U + '/v1/completions', { method: 'POST', body: JSON.stringify(long({ stream: true })), signal: ac.signal });
    for await (const c of r.body) { got += c.length; if (got > 600) ac.abort(); }
  } catch {}
  await until('a dropped stream cancelled', async () => (await metrics(U))['doppler_requests_cancelled_total'] === 1);
  let m = await metrics(U);
  check(m['doppler_requests_running'] === 0 && m['doppler_generated_tokens_total'] < 400, 'slot freed, generation stopped early', m);
  const quick = await post(U + '/v1/completions', { prompt: 'Hi', max_tokens: 4 });
  check(quick.status === 200 && quick.json.usage.completion_tokens === 4, 'the freed slot serves the next request', quick.text);

  // disconnect while waiting for a whole (non-streamed) answer, and while queued behind it
  ac = new AbortController();
  const ac2 = new AbortController();
  const a = fetch(U + '/v1/completions', { method: 'POST', body: JSON.stringify(long()), signal: ac.signal }).catch(() => 'aborted');
  await until('first request running', async () => (await metrics(U))['doppler_requests_running'] === 1);
  const b = fetch(U + '/v1/completions', { method: 'POST', body: JSON.stringify(long()), signal: ac2.signal }).catch(() => 'aborted');
  await until('second request queued', async () => (await metrics(U))['doppler_queue_depth'] === 1);
  ac2.abort();
  await until('a dropped queued request removed', async () => (m = await metrics(U))['doppler_queue_depth'] === 0 &&
                                                              m['doppler_requests_cancelled_total'] === 2);
  ac.abort();
  await until('a dropped non-streamed request cancelled', async () => (m = await metrics(U))['doppler_requests_running'] === 0 &&
                                                                     m['doppler_requests_cancelled_total'] === 3);
  check(await a === 'aborted' && await b === 'aborted', 'both fetches aborted');

  // a full queue: 429 with Retry-After; the OpenAI client gets a RateLimitError
  ac = new AbortController();
  const running = postStream(U + '/v1/completions', long({ stream: true }), {}, ac.signal).catch(() => 'aborted');
  await until('stream running', async () => (await metrics(U))['doppler_requests_running'] === 1);
  const queued = post(U + '/v1/completions', { prompt: 'The jury said', temperature: 0, max_tokens: 8 });
  await until('one queued', async () => (await metrics(U))['doppler_queue_depth'] === 1);
  const full = await post(U + '/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }] });
  check(full.status === 429 && full.headers.get('retry-after') === '1' && full.json?.error?.type === 'rate_limit_error',
        '429 with Retry-After when running + queued = --parallel + --queue', [full.status, full.text]);
  try {
    await new OpenAI({ baseURL: U + '/v1', apiKey: 'none', maxRetries: 0 }).completions.create({ model: 'doppler-tiny-f16', prompt: 'x' });
    check(false, 'openai client: 429');
  } catch (e) { check(e.status === 429 && e.constructor.name === 'RateLimitError', 'openai client: RateLimitError', [e.status, e.constructor.name]); }
  ac.abort();
  const q = await queued;
  check(q.status === 200 && q.json.usage.completion_tokens > 0, 'the queued request runs once the slot frees', q.text);
  m = await metrics(U);
  check(m['doppler_requests_total{status="429"}'] === 2, 'metrics: 429s counted', m['doppler_requests_total{status="429"}']);

  // SIGTERM drains: the running and the queued request finish; new connections are refused
  const x = post(U + '/v1/completions', { prompt: 'The jury said', temperature: 0, max_tokens: 150, ignore_eos: true });
  await until('drain: one running', async () => (await metrics(U))['doppler_requests_running'] === 1);
  const y = postStream(U + '/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], max_tokens: 20, ignore_eos: true, stream: true });
  await until('drain: one queued', async () => (await metrics(U))['doppler_queue_depth'] === 1);
  srv.proc.kill('SIGTERM');
  await until('refusing new requests', async () => {
    try { return (await post(U + '/v1/completions', { prompt: 'x' })).status === 503; } catch { return true; }
  });
  const [xr, yr] = await Promise.all([x, y]);
  check(xr.status === 200 && xr.json.usage.completion_tokens === 150, 'drain: the running request completes', xr.text);
  const ytext = yr.events.map((e) => JSON.parse(e).choices[0]?.delta?.content || '').join('');
  check(yr.status === 200 && yr.done && yr.events.length >= 21 && ytext.length > 0, 'drain: the queued stream completes', yr.events.length);
  const ex = await srv.exited;
  check(ex.code === 0 && /stopping: finishing 2 requests/.test(srv.log()), 'drain: exit 0 after the requests', [ex, srv.log()]);
} finally {
  await stop(srv, 'SIGKILL');
}

// a second signal cancels what is in flight and exits at once
const s2 = await startServer(['--parallel', '1']);
try {
  await waitReady(s2.url);
  const r = postStream(s2.url + '/v1/completions', long({ stream: true })).catch((e) => 'cut');
  await until('running', async () => (await metrics(s2.url))['doppler_requests_running'] === 1);
  const t0 = Date.now();
  s2.proc.kill('SIGTERM');
  await sleep(100);
  s2.proc.kill('SIGTERM');
  const ex = await s2.exited;
  const res = await r;
  check(ex.code === 0 && Date.now() - t0 < 3000, 'second signal: exit 0 at once', [ex, Date.now() - t0]);
  check(res === 'cut' || (res.events.length < 900 && !res.done), 'second signal: the stream is cut', res.events?.length);
} finally {
  await stop(s2, 'SIGKILL');
}
summary('server limits');
