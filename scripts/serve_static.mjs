#!/usr/bin/env node
// serve_static.mjs -- the demo's static server (`make serve`, `npm start`): web/ at /,
// build-wasm/doppler.wasm at /doppler.wasm and models/ at /models/, on http://127.0.0.1:8080.
// GET and HEAD, single byte ranges (206, 416), application/wasm, no directory listings; model
// files are sent with Cache-Control: no-store (they are kept in OPFS, not in the HTTP cache).
// Node's http module only. Tests import startServer() and pass a `hook` (tests/web/lib.mjs).
//
//   node scripts/serve_static.mjs [--port 8080] [--host 127.0.0.1]

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png',
  '.svg': 'image/svg+xml', '.ico': 'image/x-icon', '.ts': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8', '.txt': 'text/plain; charset=utf-8', '.wgsl': 'text/plain; charset=utf-8',
};

// URL prefix -> folder or file. The longest matching prefix wins.
export function defaultMounts(root = ROOT) {
  return [
    { prefix: '/doppler.wasm', file: path.join(root, 'build-wasm/doppler.wasm') },
    { prefix: '/models/', dir: path.join(root, 'models'), noStore: true },
    { prefix: '/', dir: path.join(root, 'web') },
  ];
}

// Map a URL path to {file, noStore} or null (outside every mount, or an unsafe path).
function resolvePath(mounts, urlPath) {
  let p;
  try { p = decodeURIComponent(urlPath); } catch { return null; }
  if (p.includes('\0') || p.split('/').some((seg) => seg === '..')) return null;
  const m = mounts.filter((x) => (x.file ? p === x.prefix : p.startsWith(x.prefix)))
                  .sort((a, b) => b.prefix.length - a.prefix.length)[0];
  if (!m) return null;
  if (m.file) return { file: m.file, noStore: !!m.noStore };
  let file = path.join(m.dir, p.slice(m.prefix.length));
  if (!file.startsWith(m.dir)) return null;
  if (p.endsWith('/')) file = path.join(file, 'index.html');
  return { file, noStore: !!m.noStore };
}

// Parse "bytes=a-b" | "bytes=a-" | "bytes=-n" against size: {start, end} (inclusive), 'bad' or null.
export function parseRange(h, size) {
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'bad';
  let start, end;
  if (m[1] === '') { const n = +m[2]; if (n === 0) return 'bad'; start = Math.max(0, size - n); end = size - 1; }
  else { start = +m[1]; end = m[2] === '' ? size - 1 : Math.min(+m[2], size - 1); }
  if (start > end || start >= size) return 'bad';
  return { start, end };
}

// hook(req, info) may replace a response: called with {file, path, start, end, size} before
// sending; it returns nothing (normal), {status} (answer that status instead), or
// {send(stream, res)} (send the file's byte stream itself: fault injection in tests).
export function startServer({ port = 8080, host = '127.0.0.1', mounts = defaultMounts(), hook, log = false } = {}) {
  const server = http.createServer((req, res) => {
    const done = (status, body = '', headers = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
      if (log) console.log(`${req.method} ${req.url} ${status}`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return done(405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    const url = new URL(req.url, 'http://localhost');
    const r = resolvePath(mounts, url.pathname);
    if (!r) return done(404, 'not found\n');
    fs.stat(r.file, (err, st) => {
      if (err || !st.isFile()) {
        if (!err && st.isDirectory()) return done(301, '', { Location: url.pathname + '/' });
        return done(404, url.pathname.endsWith('doppler.wasm') ? 'not found (build it: make wasm)\n' : 'not found\n');
      }
      const size = st.size;
      let start = 0, end = size - 1, status = 200;
      const headers = {
        'Content-Type': TYPES[path.extname(r.file)] || 'application/octet-stream',
        'Accept-Ranges': 'bytes',
        'Cache-Control': r.noStore ? 'no-store' : 'no-cache',
        'Last-Modified': st.mtime.toUTCString(),
      };
      if (req.headers.range) {
        const range = parseRange(req.headers.range, size);
        if (range === 'bad') return done(416, 'range not satisfiable\n', { 'Content-Range': `bytes */${size}` });
        ({ start, end } = range);
        status = 206;
        headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
      }
      const over = hook?.(req, { file: r.file, path: url.pathname, start, end, size });
      if (over?.status) return done(over.status, `status ${over.status} (test hook)\n`);
      headers['Content-Length'] = size ? end - start + 1 : 0;
      res.writeHead(status, headers);
      if (log) console.log(`${req.method} ${req.url} ${status} ${headers['Content-Length']}`);
      if (req.method === 'HEAD' || !size) return res.end();
      const stream = fs.createReadStream(r.file, { start, end });
      if (over?.send) over.send(stream, res);
      else stream.pipe(res);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
  const port = Number(opt('--port', process.env.PORT || 8080));
  const host = opt('--host', '127.0.0.1');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve_static: --port: '${opt('--port')}' is not a port number`);
    process.exit(2);
  }
  if (!fs.existsSync(path.join(ROOT, 'build-wasm/doppler.wasm'))) {
    console.error('serve_static: build-wasm/doppler.wasm is missing (make wasm); the page will say so');
  }
  startServer({ port, host, log: args.includes('--log') }).then(
    (s) => console.log(`DOPPLER demo: http://${host}:${s.address().port}/  (web/, /doppler.wasm, /models/)`),
    (e) => { console.error(`serve_static: ${host}:${port}: ${e.message}`); process.exit(1); });
}
