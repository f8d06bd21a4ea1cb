// bench.mjs -- paired decode benchmark (never a timed test): doppler-tiny greedy, 128 tokens,
// in Chromium's SwiftShader through the browser build (a Worker, web/engine.js) and natively on
// SwiftShader (`build/doppler run --temp 0 -n 128`), alternating in the same minutes. Prints
// decode tok/s of each run, the medians, their ratio, and the share of the browser's generate
// time spent in JS + WASM between awaits (host_ms / total_ms). Run through
// `node tests/web/engine_test.mjs --only bench --bench N` (N pairs, each 3 + 3 runs).
import {spawnSync} from 'node:child_process';
import path from 'node:path';

const median = a => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

export async function run({page, srv, job, root, doppler, pairs}) {
  const prompt = 'The jury said', n = 128;
  const web = [], nat = [], host = [];
  for (let i = 0; i < pairs; i++) {
    const r = await job(page, {job: 'bench', model: `${srv.url}/models/doppler-tiny-f16/`, prompt, max_tokens: n, reps: 3});
    if (!r.ok) throw new Error(r.error);
    for (const s of r.result.runs) {
      web.push(s.n_generated / s.decode_ms * 1000);
      host.push(s.host_ms / s.total_ms);
    }
    for (let k = 0; k < 3; k++) {
      const out = spawnSync(doppler, ['run', path.join(root, 'models/doppler-tiny-f16'), '--temp', '0', '-n', String(n), '-p', prompt],
        {env: {...process.env, DOPPLER_ADAPTER: 'swiftshader', XDG_RUNTIME_DIR: '/tmp'}, encoding: 'utf8'}).stderr;
      const m = /decode: (\d+) tokens, ([\d.]+) tok\/s/.exec(out);
      if (m) nat.push(Number(m[2]));
    }
    console.log(`bench pair ${i + 1}: browser ${web.slice(-3).map(x => x.toFixed(1)).join(' ')} tok/s, ` +
      `native ${nat.slice(-3).map(x => x.toFixed(1)).join(' ')} tok/s, host share ${host.slice(-3).map(x => (100 * x).toFixed(1) + '%').join(' ')}`);
  }
  const w = median(web), v = median(nat);
  console.log(`bench: doppler-tiny decode, median of ${web.length} browser / ${nat.length} native runs: browser ${w.toFixed(1)} tok/s, ` +
    `native ${v.toFixed(1)} tok/s, ratio ${(w / v).toFixed(3)}; JS + WASM between awaits ${(100 * median(host)).toFixed(1)}% of generate time`);
}
