// http_source.js -- the browser tests' model source for engine.loadModel: the model's files
// over plain HTTP from a static server (tests/web/static_server.mjs), shard bytes by Range
// requests. No hashing and no OPFS cache: that is the store's job (web/store.js); this is the
// smallest source that satisfies engine.js's contract.
export async function httpSource(baseUrl, counters = {ranges: 0, bytes: 0}) {
  const base = baseUrl.endsWith('/') ? baseUrl : baseUrl + '/';
  const r = await fetch(base + 'manifest.json');
  if (!r.ok) throw new Error(`${base}manifest.json: HTTP ${r.status}`);
  return {
    manifest: await r.json(),
    async readFile(name) {
      const res = await fetch(base + name);
      if (res.status === 404) return null;
      if (!res.ok) throw new Error(`${base}${name}: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    },
    async readRange(name, offset, length) {
      const res = await fetch(base + name, {headers: {Range: `bytes=${offset}-${offset + length - 1}`}});
      if (res.status !== 206) throw new Error(`${base}${name}: range request answered HTTP ${res.status}`);
      const b = new Uint8Array(await res.arrayBuffer());
      counters.ranges++;
      counters.bytes += b.length;
      return b;
    },
  };
}
