// lib.mjs -- helpers of the browser tests (tests/web/*.test.mjs, run by scripts/web_test.sh):
// the demo's static server (scripts/serve_static.mjs) on a free port with a request log and
// fault injection, headless Debian Chromium through playwright-core with a fresh profile, and
// the native CLI's answer to compare with.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { defaultMounts, startServer } from '../../scripts/serve_static.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const TINY = path.join(ROOT, 'models/doppler-tiny-f16');
export const TINY_SHARD = 'shard_00000.bin';
export const TINY_SHARD_SIZE = fs.statSync(path.join(TINY, TINY_SHARD)).size;

// The static server of the demo on 127.0.0.1 (a free port), logging every request:
// server.log = [{path, start, end, size, status, sent}]. server.fault(f) sets what the next
// responses suffer: f(entry) -> undefined | {status} | {cutAt: absolute byte} | {flip: absolute byte}.
export async function serve({ extraMounts = [] } = {}) {
  const log = [];
  let fault = null;
  const mounts = [
    ...extraMounts,
    { prefix: '/test/', dir: path.join(ROOT, 'tests/web/pages') },
    ...defaultMounts(ROOT),
  ];
  const hook = (req, info) => {
    const entry = { path: info.path, range: req.headers.range || null, start: info.start, end: info.end, size: info.size };
    log.push(entry);
    const f = fault?.(entry);
    if (!f) return undefined;
    if (f.status) return { status: f.status };
    return { send: (stream, res) => sendFaulty(stream, res, info.start, f) };
  };
  const server = await startServer({ port: 0, hook, mounts });
  const url = `http://127.0.0.1:${server.address().port}/`;
  return {
    url, log,
    fault(f) { fault = f; },
    // Requests for files of a model folder since log index `from`.
    modelRequests(from = 0) { return log.slice(from).filter((e) => e.path.startsWith('/models/')); },
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}

// Send a file's bytes (from absolute offset `start`) with one byte flipped, or cut at an absolute
// offset: the bytes before it are delivered, then the connection is closed (FIN) short of the
// Content-Length, so the client receives exactly the bytes before the cut.
function sendFaulty(stream, res, start, f) {
  const socket = res.socket;
  let at = start;
  stream.on('data', (chunk) => {
    const end = at + chunk.length;
    if (f.cutAt !== undefined && end > f.cutAt) {
      stream.destroy();
      res.end(chunk.subarray(0, Math.max(0, f.cutAt - at)), () => socket.end());
      at = end;
      return;
    }
    if (f.flip !== undefined && f.flip >= at && f.flip < end) {
      chunk = Buffer.from(chunk);
      chunk[f.flip - at] ^= 0x5a;
    }
    at = end;
    if (!res.write(chunk)) { stream.pause(); res.once('drain', () => stream.resume()); }
  });
  stream.on('end', () => res.end());
}

// Headless Chromium with a fresh profile (the flags of machines/c.md's "Known to work").
export async function launch({ webgpu = true } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doppler-web-'));
  const args = ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update',
                '--disable-sync', '--no-first-run', '--disable-quic'];
  if (webgpu) args.push('--enable-unsafe-webgpu');
  const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args,
                                                                viewport: { width: 900, height: 760 } });
  // Every text #status shows, in order, per page load: window.statusLog.
  await context.addInitScript(() => {
    window.statusLog = [];
    document.addEventListener('DOMContentLoaded', () => {
      const el = document.getElementById('status');
      if (!el) return;
      const note = () => { if (window.statusLog.at(-1) !== el.textContent) window.statusLog.push(el.textContent); };
      note();
      new MutationObserver(note).observe(el, { childList: true, characterData: true, subtree: true });
    });
  });
  const page = context.pages()[0] || (await context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return {
    context, page, errors,
    async close() { await context.close(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

// Wait until #status reads `want` (or `error`, which fails with the page's #error text).
export async function waitStatus(page, want, timeout = 90000) {
  await page.waitForFunction((w) => {
    const s = document.getElementById('status')?.textContent;
    return s === w || s === 'error';
  }, want, { timeout });
  const s = await page.textContent('#status');
  if (s !== want) throw new Error(`#status is '${s}', expected '${want}': ${await page.textContent('#error')}`);
}

// Type a prompt, send it, wait for the answer; returns #output's text. #status must go
// ready -> generating -> ready.
export async function ask(page, prompt) {
  await page.fill('#prompt', prompt);
  const n = await page.evaluate(() => window.statusLog.length);
  await page.click('#send');
  await waitStatus(page, 'ready');
  const log = await page.evaluate((k) => window.statusLog.slice(k - 1), n);
  if (log.join() !== 'ready,generating,ready') throw new Error(`#status went ${JSON.stringify(log)}`);
  return page.textContent('#output');
}

// What #status has shown since the page was (re)loaded.
export const statusLog = (page) => page.evaluate(() => window.statusLog);

// `build/doppler run --temp 0 -n N -p PROMPT [--chat]` on SwiftShader: the generated text
// (stdout without the echoed prompt, which --chat does not echo, and the final newline).
export function nativeGreedy(prompt, n, { model = TINY, chat = false } = {}) {
  const args = ['run', model, '--temp', '0', '-n', String(n), '-p', prompt, ...(chat ? ['--chat'] : [])];
  const out = execFileSync(path.join(ROOT, 'build/doppler'), args,
    { env: { ...process.env, DOPPLER_ADAPTER: 'swiftshader', XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR || '/tmp' },
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const echo = chat ? '' : prompt;
  if (!out.startsWith(echo) || !out.endsWith('\n')) throw new Error(`unexpected doppler run output: ${JSON.stringify(out)}`);
  return out.slice(echo.length, -1);
}

// A copy of doppler-tiny whose tokenizer_config.json has a chat template (doppler-tiny has
// none), in a temporary folder: {dir, remove()}.
export function tinyWithChatTemplate() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doppler-chat-'));
  for (const f of fs.readdirSync(TINY)) fs.copyFileSync(path.join(TINY, f), path.join(dir, f));
  const cfg = JSON.parse(fs.readFileSync(path.join(TINY, 'tokenizer_config.json'), 'utf8'));
  cfg.chat_template = "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}" +
                      '{% if add_generation_prompt %}<|assistant|>\n{% endif %}';
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(cfg));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
