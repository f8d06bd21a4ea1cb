// engine_test.mjs -- the browser build (build-wasm/doppler.wasm + web/engine.js) in headless
// Chromium (Debian /usr/bin/chromium, npm playwright-core, --enable-unsafe-webgpu: SwiftShader),
// each job in a Web Worker (tests/web/test_worker.js), models over HTTP with Range requests
// from tests/web/static_server.mjs. Checks:
//  1. doppler-tiny greedy text (-n 32) equals `build/doppler run --temp 0 -n 32 -p P` natively
//     on SwiftShader (DOPPLER_ADAPTER=swiftshader), for a prompt and for chat messages (no
//     template: their contents joined by "\n" are P), and for doppler-tiny-q4_k_m with the fused
//     Q4_K kernels and with --q4k-matmul dequant (the load option q4k_matmul), and with a stop
//     string (--stop; stop_reason 'stop'); the browser's adapter is
//     described as natively (adapter_type cpu, subgroups 4, no shader-f16); the model came in
//     range requests of at most 4 MiB; progress reached its total; abort resolves 'abort';
//     generate after unload rejects; a load whose source fails midway, and one with a malformed
//     manifest, reject with their reason, and the engine then loads and generates normally;
//  2. the dense golden fixtures (llama3, llama2, mistral, qwen3, gemma3; converted to RDRR f32
//     by `doppler convert` into a temporary folder) through the browser: prefill logits and the
//     greedy decode's logits within 1e-4 relative (Frobenius), greedy ids by the README rule
//     -- the tolerances of tests/gpu_golden.c; llama3 and gemma3 also with the core told of
//     64 KiB bindings (createEngine maxBindingBytes), so tensors split into row parts;
//  3. without --enable-unsafe-webgpu createEngine rejects with code 'webgpu-unavailable'
//     (only where this Chromium has WebGPU off by default; noted otherwise).
// Usage: node tests/web/engine_test.mjs [--only greedy|golden|nogpu|bench] [--bench N] (bench:
// paired decode tok/s, browser vs native, N pairs, tests/web/bench.mjs; prints figures, asserts
// nothing about speed).
// Needs `make` and `make wasm`. 4-5 min on the shared 2-core box at load average 10-12 (other
// helpers' builds); bounded by scripts/web_test.sh's 600 s timeout.
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';
import {startServer} from './static_server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shared = path.resolve(root, '../shared');
const doppler = path.join(root, 'build/doppler');
const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : null;
const benchPairs = args.includes('--bench') ? Number(args[args.indexOf('--bench') + 1]) : 0;
const FLAGS = ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic'];
let pass = 0, fail = 0;
const check = (ok, msg) => { if (ok) pass++; else { fail++; console.error(`FAIL ${msg}`); } };

function nativeRun(prompt, n, model, extra = []) {
  const env = {...process.env, DOPPLER_ADAPTER: 'swiftshader', XDG_RUNTIME_DIR: '/tmp'};
  const r = execFileSync(doppler, ['run', path.join(root, 'models', model), '--temp', '0', '-n', String(n), '-p', prompt, ...extra],
    {env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
  return r;
}

async function browser(webgpu = true) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {executablePath: '/usr/bin/chromium', headless: true,
    args: [...FLAGS, ...(webgpu ? ['--enable-unsafe-webgpu'] : [])]});
  return {ctx, close: async () => { await ctx.close(); fs.rmSync(dir, {recursive: true, force: true}); }};
}

async function job(page, data, timeout = 300000) {
  return page.evaluate(([d, t]) => new Promise((resolve, reject) => {
    const w = new Worker('/tests/web/test_worker.js', {type: 'module'});
    const timer = setTimeout(() => { w.terminate(); reject(new Error(`job ${d.job} timed out`)); }, t);
    w.onmessage = ({data: r}) => { clearTimeout(timer); w.terminate(); resolve(r); };
    w.onerror = e => { clearTimeout(timer); reject(new Error(`worker error: ${e.message}`)); };
    w.postMessage(d);
  }), [data, timeout]);
}

function relErr(a, b) {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) { const d = a[i] - b[i]; num += d * d; den += b[i] * b[i]; }
  return den ? Math.sqrt(num / den) : Math.sqrt(num);
}

// The README rule (tests/testlib.c dp_test_greedy_diverges): first step that differs although
// the reference's top-2 margin there is >= 1e-3 * max(1, |top|), else -1; agree = equal prefix.
function greedyDiverges(got, ref, refLogits, n, V) {
  for (let i = 0; i < n; i++) {
    if (got[i] === ref[i]) continue;
    const row = refLogits.subarray(i * V, (i + 1) * V);
    let top = -Infinity, second = -Infinity;
    for (const x of row) { if (x > top) { second = top; top = x; } else if (x > second) second = x; }
    return {bad: top - second >= 1e-3 * Math.max(1, Math.abs(top)) ? i : -1, agree: i};
  }
  return {bad: -1, agree: n};
}

async function testGreedy(page, srv) {
  // the second as chat messages: doppler-tiny has no template, so their contents joined by "\n"
  const cases = [{prompt: 'The jury said'},
    {prompt: 'Once upon a time,\nin a small village,', messages: [{role: 'user', content: 'Once upon a time,'}, {role: 'user', content: 'in a small village,'}]}];
  // the Q4_K variant, fused kernels (default) and expanded at load (--q4k-matmul dequant)
  cases.push({prompt: 'The jury said', model: 'doppler-tiny-q4_k_m'}, {prompt: 'The jury said', model: 'doppler-tiny-q4_k_m', q4k: 'dequant'});
  for (const [k, {prompt, messages, model = 'doppler-tiny-f16', q4k}] of cases.entries()) {
    const want = nativeRun(prompt, 32, model, q4k ? ['--q4k-matmul', q4k] : []);
    // the first job also runs with a stop string (as `doppler run --stop`) and an abort
    const r = await job(page, {job: 'greedy', model: `${srv.url}/models/${model}/`, prompt, messages, max_tokens: 32, abort: k === 0,
      q4k_matmul: q4k, stop: k === 0 ? ' not' : null});
    check(r.ok, `greedy '${prompt}': ${r.error}`);
    if (!r.ok) continue;
    const got = prompt + r.result.text + '\n';
    check(got === want, `greedy ${model}${q4k ? ' ' + q4k : ''} '${prompt}': browser text differs from native SwiftShader:\n  browser: ${JSON.stringify(got)}\n  native:  ${JSON.stringify(want)}`);
    const s = r.result.stats;
    console.log(`greedy ${model}${q4k ? ' ' + q4k : ''} ${JSON.stringify(prompt)}: ${s.n_generated} tokens, ${s.stop_reason}, decode ${(s.n_generated / s.decode_ms * 1000).toFixed(1)} tok/s, ` +
      `load ${r.result.load_ms.toFixed(0)} ms, ${r.result.counters.ranges} range requests`);
    check(s.n_prompt > 0 && s.n_generated === 32 && s.stop_reason === 'max_tokens', `greedy stats ${JSON.stringify(s)}`);
    if (k === 0) {
      const st = r.result.stopStats, wantStop = nativeRun(prompt, 32, model, ['--stop', ' not']);
      check(prompt + r.result.stopText + '\n' === wantStop && st.stop_reason === 'stop' && st.n_generated < 32,
        `stop string: browser ${JSON.stringify(r.result.stopText)} ${JSON.stringify(st)}, native ${JSON.stringify(wantStop)}`);
    }
    if (k === 0) {
      const e = await job(page, {job: 'loaderror', model: `${srv.url}/models/doppler-tiny-f16/`, prompt});
      check(e.ok && /network went away/.test(e.result.error) && /shards/.test(e.result.error2) &&
        want.startsWith(prompt + e.result.text) && e.result.text.length > 0,
        `failed loads, then a good one: ${JSON.stringify(e)}`);
      const c = r.result.caps;
      check(c.adapter_type === 'cpu' && c.architecture === 'swiftshader' && !c.features.includes('shader-f16') &&
        c.features.includes('subgroups') && c.subgroup_min === 4 && c.limits.maxStorageBufferBindingSize === 1073741824,
        `capabilities as native SwiftShader: ${JSON.stringify(c)}`);
      const [done, total] = r.result.progress;
      check(done === total && total > 10e6, `progress ${done} / ${total}`);
      check(r.result.counters.ranges >= 3 && r.result.counters.bytes <= fs.statSync(path.join(root, 'models/doppler-tiny-f16/shard_00000.bin')).size,
        `range requests: ${JSON.stringify(r.result.counters)}`);
      check(r.result.info.arch === 'llama' && r.result.info.vocab === 4096 && r.result.info.has_chat_template === false &&
        r.result.info.n_params > 0, `model info ${JSON.stringify(r.result.info)}`);
      const a = r.result.abortStats;
      check(a && a.stop_reason === 'abort' && a.n_generated < 200, `abort: ${JSON.stringify(a)}`);
      check(r.result.afterUnload === 'no-model', `generate after unload: ${r.result.afterUnload}`);
    }
  }
}

async function testGolden(page, srv, tmp) {
  // then llama3 and gemma3 again with the core told of 64 KiB bindings and buffers, so the
  // embedding, the LM head and the matrices are split into row parts (as real models are);
  // a context of 64 positions (40 + 24) keeps each layer's KV cache within one binding
  const runs = ['llama3', 'llama2', 'mistral', 'qwen3', 'gemma3'].map(arch => ({arch}));
  runs.push({arch: 'llama3', cap: 65536}, {arch: 'gemma3', cap: 65536});
  for (let {arch, cap} of runs) {
    const out = path.join(tmp, arch);
    if (!fs.existsSync(out)) execFileSync(doppler, ['convert', path.join(shared, 'fixtures/golden', arch), out], {stdio: ['ignore', 'ignore', 'pipe']});
    const r = await job(page, {job: 'golden', model: `${srv.url}/tmp-models/${arch}/`,
      golden: `${srv.url}/shared/fixtures/golden/${arch}/golden.safetensors`, maxBindingBytes: cap, ctx: cap ? 64 : 0});
    if (cap) arch = `${arch} (bindings ${cap} B)`;
    check(r.ok, `golden ${arch}: ${r.error}`);
    if (!r.ok) continue;
    const g = r.result, N = g.ref_gen.length, V = g.V;
    const e1 = relErr(g.logits, g.ref_logits);
    const {bad, agree} = greedyDiverges(g.gen, g.ref_gen, g.ref_gl, N, V);
    const e2 = agree ? relErr(g.gl.subarray(0, agree * V), g.ref_gl.subarray(0, agree * V)) : 0;
    if (cap) check(r.result.caps.limits.maxStorageBufferBindingSize === cap && g.info.vocab * g.info.d_model * 4 >= 4 * cap,
      `golden ${arch}: limit ${r.result.caps.limits.maxStorageBufferBindingSize}, embedding not split in >= 4 parts`);
    console.log(`golden ${arch.padEnd(8)} prefill rel ${e1.toExponential(2)}, greedy ${agree}/${N} same, decode rel ${e2.toExponential(2)}`);
    check(e1 <= 1e-4, `golden ${arch}: prefill logits rel err ${e1} > 1e-4`);
    check(bad < 0, `golden ${arch}: greedy id differs at step ${bad} with a clear margin`);
    check(e2 <= 1e-4, `golden ${arch}: decode logits rel err ${e2} > 1e-4`);
  }
}

async function testNoWebGpu(srv) {
  const b = await browser(false);
  try {
    const page = await b.ctx.newPage();
    await page.goto(`${srv.url}/tests/web/blank.html`);
    const hasGpu = await page.evaluate(async () => !!(navigator.gpu && await navigator.gpu.requestAdapter()));
    if (hasGpu) { console.log('nogpu: this Chromium offers WebGPU without --enable-unsafe-webgpu; check skipped'); return; }
    const r = await job(page, {job: 'caps'});
    check(!r.ok && r.code === 'webgpu-unavailable' && /WebGPU is unavailable/.test(r.error), `no WebGPU: ${JSON.stringify(r)}`);
  } finally {
    await b.close();
  }
}

async function main() {
  for (const f of [doppler, path.join(root, 'build-wasm/doppler.wasm')])
    if (!fs.existsSync(f)) throw new Error(`${f} missing: run make && make wasm`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-web-models-'));
  const srv = await startServer(root, {'/shared/': shared, '/tmp-models/': tmp});
  const b = await browser(true);
  const t0 = Date.now();
  try {
    const page = await b.ctx.newPage();
    page.on('console', m => { if (m.type() === 'error') console.error(`[page] ${m.text()}`); });
    await page.goto(`${srv.url}/tests/web/blank.html`);
    if (!only || only === 'greedy') await testGreedy(page, srv);
    if (!only || only === 'golden') await testGolden(page, srv, tmp);
    if (benchPairs) await import('./bench.mjs').then(m => m.run({page, srv, job, root, doppler, pairs: benchPairs}));
  } finally {
    await b.close();
  }
  if (!only || only === 'nogpu') await testNoWebGpu(srv);
  await srv.close();
  fs.rmSync(tmp, {recursive: true, force: true});
  console.log(`engine_test: ${pass} passed, ${fail} failed (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  process.exit(fail ? 1 : 0);
}

main().catch(e => { console.error(`engine_test: ${e.stack || e}`); process.exit(1); });
