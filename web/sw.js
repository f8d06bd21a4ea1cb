// sw.js -- service worker of the demo page: keeps the app shell (page, scripts, engine, wasm,
// catalog) so the page opens offline after the first visit. Network first, the cache when the
// network fails, so a changed app is picked up at once. Model files are never cached here: the
// store (store.js) fetches them with `cache: 'no-store'` (and shards with a Range header), and
// such requests are left alone; models live only in OPFS.

const CACHE = 'doppler-shell-v1';
// Fetched before this worker controls the page on a first visit, so cached up front; the rest
// (worker.js, engine, doppler.wasm) is cached as it goes through.
const PAGE = ['./', 'index.html', 'app.js', 'app.css', 'provider.js', 'models.json'];
const SHELL_FILE = /(\/|\.(html|js|css|json|wasm|png|svg))$/;

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(PAGE)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil((async () => {
    for (const k of await caches.keys()) if (k !== CACHE) await caches.delete(k);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (e) => {
  const r = e.request;
  if (r.method !== 'GET' || r.cache === 'no-store' || r.headers.has('range')) return;
  const url = new URL(r.url);
  // Only the app's own files: not a server's API (e.g. `doppler serve`'s /v1/..., /health).
  if (url.origin !== self.location.origin || !SHELL_FILE.test(url.pathname)) return;
  e.respondWith((async () => {
    try {
      const res = await fetch(r);
      if (res.ok && res.status === 200) {
        const copy = res.clone();
        e.waitUntil(caches.open(CACHE).then((c) => c.put(r, copy)));
      }
      return res;
    } catch (err) {
      const hit = await caches.match(r, { ignoreSearch: r.mode === 'navigate' });
      if (hit) return hit;
      throw err;
    }
  })());
});
