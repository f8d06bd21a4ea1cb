// lib.mjs -- what the server tests share (scripts/server_test.sh runs them): start `doppler serve`
// on a free port (--port 0, the `listening on` line read from stderr), wait for /health, read
// server-sent events, count checks. Every server runs on lavapipe with the default model
// (doppler-tiny-f16) unless DOPPLER_ADAPTER says otherwise.
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = process.env.DOPPLER_BIN || path.join(ROOT, 'build/doppler');
export const ENV = { ...process.env, DOPPLER_ADAPTER: process.env.DOPPLER_ADAPTER || 'lavapipe',
                     XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR || '/tmp' };

let passed = 0, failed = 0;
export function check(cond, what, detail) {
  if (cond) passed++;
  else { failed++; console.log(`FAIL: ${what}${detail !== undefined ? ': ' + JSON.stringify(detail).slice(0, 600) : ''}`); }
  return cond;
}
export function summary(name) {
  console.log(`${name}: ${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

// Start `doppler serve --port 0 ARGS...`; resolves once `listening on URL` is on stderr (the
// model may still be loading). {proc, url, log(), exited}
export function startServer(args = [], opts = {}) {
  const proc = spawn(BIN, ['serve', '--port', '0', ...args], { env: { ...ENV, ...(opts.env || {}) },
                                                              stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const exited = new Promise((res) => proc.on('exit', (code, sig) => res({ code, sig })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no `listening on` line in 30 s: ' + err)), 30000);
    let found = false;
    proc.stderr.on('data', (d) => {
      err += d;
      const m = !found && err.match(/listening on (http:\/\/\S+)\n/);
      if (m) { found = true; clearTimeout(timer); resolve({ proc, url: m[1], log: () => err, exited }); }
    });
    proc.on('exit', () => { clearTimeout(timer); reject(new Error('doppler serve exited: ' + err)); });
  });
}

export async function waitReady(url, ms = 60000) {
  const t0 = Date.now();
  for (;;) {
    try { if ((await fetch(url + '/health')).status === 200) return; } catch {}
    if (Date.now() - t0 > ms) throw new Error(`${url}/health not 200 after ${ms} ms`);
    await sleep(50);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function post(url, body, headers = {}) {
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers },
                               body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: r.status, headers: r.headers, text, json };
}

// POST and read the server-sent events as raw bytes: {status, events: [Buffer of each data
// payload], done: saw `data: [DONE]` last, times: arrival ms of each event}.
export async function postStream(url, body, headers = {}, signal) {
  const t0 = Date.now();
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers },
                               body: JSON.stringify(body), signal });
  const out = { status: r.status, events: [], times: [], done: false, type: r.headers.get('content-type') };
  if (r.status !== 200) { out.text = await r.text(); return out; }
  let buf = Buffer.alloc(0);
  for await (const chunk of r.body) {
    buf = Buffer.concat([buf, Buffer.from(chunk)]);
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.subarray(0, i);
      buf = buf.subarray(i + 2);
      if (!ev.subarray(0, 6).equals(Buffer.from('data: '))) throw new Error('not a data event: ' + ev);
      const data = ev.subarray(6);
      if (data.toString() === '[DONE]') out.done = true;
      else out.events.push(data);
      out.times.push(Date.now() - t0);
    }
  }
  out.rest = buf.length;
  return out;
}

// The text `doppler run -p PROMPT --temp 0 -n N` generates (its stdout is the prompt, the text, "\n").
export function runGreedy(prompt, n) {
  const out = execFileSync(BIN, ['run', '-p', prompt, '--temp', '0', '-n', String(n)], { env: ENV, stdio: ['ignore', 'pipe', 'ignore'] })
    .toString();
  if (!out.startsWith(prompt) || !out.endsWith('\n')) throw new Error('unexpected run output: ' + out);
  return out.slice(prompt.length, -1);
}

export async function metrics(url, headers = {}) {
  const text = await (await fetch(url + '/metrics', { headers })).text();
  const m = {};
  for (const line of text.split('\n')) {
    const p = line.match(/^([a-z_]+(?:\{[^}]*\})?) (\S+)$/);
    if (p) m[p[1]] = Number(p[2]);
  }
  return m;
}

// Stop a server with a signal and wait for its exit: {code, sig}.
export async function stop(srv, sig = 'SIGTERM') {
  if (srv.proc.exitCode === null && srv.proc.signalCode === null) srv.proc.kill(sig);
  return srv.exited;
}
