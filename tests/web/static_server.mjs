// static_server.mjs -- the browser tests' static file server (node, no dependencies): serves
// the repository root on 127.0.0.1 with HTTP Range support (206 Partial Content, one range),
// application/wasm, and extra folders mounted under URL prefixes. Not the demo's server
// (`make serve`); only for tests/web/*.mjs.
//   const srv = await startServer(root, {'/models-tmp/': '/tmp/x'});  srv.url, srv.requests, srv.close()
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const TYPES = {'.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm',
  '.json': 'application/json', '.bin': 'application/octet-stream', '.wgsl': 'text/plain'};

export function startServer(root, mounts = {}, port = 0) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    requests.push({url, range: req.headers.range || null});
    let file = null;
    for (const [prefix, dir] of Object.entries(mounts))
      if (url.startsWith(prefix)) file = path.join(dir, url.slice(prefix.length));
    if (!file) file = path.join(root, url);
    if (url.includes('..') || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, {'content-type': 'text/plain'});
      return res.end('not found');
    }
    const size = fs.statSync(file).size;
    const headers = {'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'accept-ranges': 'bytes',
      'cache-control': 'no-store'};
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range || '');
    if (m) {
      const start = Number(m[1]), end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
      if (start >= size || end < start) {
        res.writeHead(416, {...headers, 'content-range': `bytes */${size}`});
        return res.end();
      }
      res.writeHead(206, {...headers, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1});
      return fs.createReadStream(file, {start, end}).pipe(res);
    }
    res.writeHead(200, {...headers, 'content-length': size});
    fs.createReadStream(file).pipe(res);
  });
  return new Promise(resolve => server.listen(port, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`, requests,
    close: () => new Promise(r => { server.closeAllConnections?.(); server.close(r); }),
  })));
}
