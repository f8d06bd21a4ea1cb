// scaleout.mjs -- two `doppler serve` instances behind Debian's nginx (server/nginx.conf.in filled
// in: least_conn, unbuffered proxying, retries to the next upstream), nginx started by this test
// as an unprivileged process with its own prefix, pid, logs and temp files in a temporary folder
// on a free port (a system nginx, if any, is never touched). Streams pass through as they are
// written; a client run spreads over both instances; one instance is killed (SIGKILL) in the
// middle of a run and every request sent after that is answered by the other.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, chownSync, rmSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { check, summary, startServer, waitReady, post, postStream, metrics, stop, sleep, ROOT } from './lib.mjs';

const NGINX = process.env.NGINX || '/usr/sbin/nginx';
const freePort = () => new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });

const [a, b] = await Promise.all([startServer(['--parallel', '2']), startServer(['--parallel', '2'])]);
const prefix = mkdtempSync(path.join(tmpdir(), 'dp-serve-nginx-'));
let nginx = null, nginxExit = null;
try {
  await Promise.all([waitReady(a.url), waitReady(b.url)]);
  const port = await freePort();
  const ups = [a, b].map((s) => `server ${new URL(s.url).host} max_fails=1 fail_timeout=10s;`).join('\n    ');
  const conf = readFileSync(path.join(ROOT, 'server/nginx.conf.in'), 'utf8').replaceAll('@PREFIX@', prefix)
    .replaceAll('@LISTEN@', `127.0.0.1:${port}`).replaceAll('@UPSTREAMS@', ups);
  writeFileSync(path.join(prefix, 'nginx.conf'), conf);
  // unprivileged: as root (CI), nginx runs as nobody and owns only its temporary folder
  const asRoot = process.getuid() === 0;
  if (asRoot) for (const p of ['', 'nginx.conf']) chownSync(path.join(prefix, p), 65534, 65534);
  nginx = spawn(NGINX, ['-p', prefix, '-c', path.join(prefix, 'nginx.conf'), '-e', path.join(prefix, 'error.log')],
                { stdio: ['ignore', 'ignore', 'pipe'], ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
  let nerr = '';
  nginx.stderr.on('data', (d) => { nerr += d; });
  nginxExit = new Promise((res) => nginx.on('exit', (code, sig) => res({ code, sig })));
  const P = `http://127.0.0.1:${port}`;
  const t0 = Date.now();
  for (;;) {
    try { if ((await fetch(P + '/health')).status === 200) break; } catch {}
    if (Date.now() - t0 > 10000 || nginx.exitCode !== null) throw new Error('nginx did not start: ' + nerr);
    await sleep(50);
  }
  check(true, 'nginx started unprivileged on its own prefix');

  // streaming through the proxy: the events arrive as they are generated, not at the end
  const s = await postStream(P + '/v1/completions', { prompt: 'The jury said', temperature: 0, max_tokens: 120, ignore_eos: true, stream: true });
  check(s.status === 200 && s.done && s.events.length === 121, 'stream through nginx', s.events.length);
  // unbuffered: the events spread over the decode (8 tokens per submit), not bunched at its end
  const first = s.times[1], lastT = s.times[s.times.length - 1], mid = (first + lastT) / 2;
  const early = s.times.slice(1).filter((t) => t <= mid).length / (s.times.length - 1);
  check(lastT - first > 200 && early > 0.25, 'stream through nginx unbuffered: events arrive as generated',
        { first, last: lastT, early });

  // a client run spread over both instances
  const prompt = (i) => ({ prompt: `Story ${i}: the jury said`, temperature: 0, max_tokens: 24 });
  const want = [];
  for (let i = 0; i < 24; i++) want.push((await post(a.url + '/v1/completions', prompt(i))).json.choices[0].text);
  const before = await Promise.all([metrics(a.url), metrics(b.url)]);
  const res = [];
  await runClients(4, 12, async (i) => { res[i] = await post(P + '/v1/completions', prompt(i)); });
  check(res.every((r, i) => r.status === 200 && r.json.choices[0].text === want[i]), 'proxied greedy answers == direct ones',
        res.map((r) => r.status));
  const after = await Promise.all([metrics(a.url), metrics(b.url)]);
  const served = after.map((m, k) => m['doppler_requests_total{status="200"}'] - before[k]['doppler_requests_total{status="200"}']);
  check(served[0] > 0 && served[1] > 0 && served[0] + served[1] === 12, 'least_conn spreads the run over both instances', served);

  // one instance killed in the middle of a run: every request sent afterwards is answered
  let killedAt = -1;
  const late = [];
  await runClients(4, 24, async (i) => {
    if (i === 8 && killedAt < 0) { killedAt = i; a.proc.kill('SIGKILL'); }
    const r = await post(P + '/v1/completions', prompt(i)).catch((e) => ({ status: 0, text: String(e) }));
    if (killedAt >= 0 && i >= killedAt) late.push(r.status === 200 && r.json.choices[0].text === want[i] ? 'ok' : [i, r.status, r.text]);
  });
  const ka = await a.exited;
  check(ka.sig === 'SIGKILL', 'instance A killed', ka);
  check(late.length === 16 && late.every((x) => x === 'ok'), 'after the kill every new request is answered by B', late.filter((x) => x !== 'ok'));
  const mb = await metrics(b.url);
  check(mb['doppler_requests_running'] === 0, 'B idle after the run', mb);
} finally {
  if (nginx && nginx.exitCode === null) nginx.kill('SIGTERM');
  if (nginxExit) await nginxExit;
  await stop(b, 'SIGKILL');
  await stop(a, 'SIGKILL');
  rmSync(prefix, { recursive: true, force: true });
}
summary('server scale-out');

// n clients sending requests 0..total-1 in order, each its next one as soon as the last is answered.
async function runClients(n, total, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => { while (next < total) await fn(next++); }));
}
