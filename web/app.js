// app.js -- the demo chat page (index.html) over the provider API (provider.js).
// On open it loads the model named by ?model= (default: the catalog's default) without a click;
// ?temperature= ?max_tokens= ?seed= (and top_k, top_p, min_p, repeat_penalty) preset the
// sampling controls; empty controls mean `doppler run`'s defaults. #status reads exactly
// `loading…`, `ready`, `generating` (or `error`); #output holds the generated text only.

import { DopplerProvider } from './provider.js';

const $ = (id) => document.getElementById(id);
const SAMPLING = ['temperature', 'top_k', 'top_p', 'min_p', 'repeat_penalty', 'max_tokens', 'seed'];
const INTEGER = new Set(['top_k', 'max_tokens', 'seed']);
const params = new URLSearchParams(location.search);
let dp = null;
let model = null;        // the loaded model's info
let turns = [];          // chat turns so far (models with a chat template only)

function setStatus(s) { $('status').textContent = s; }

function showError(msg) {
  $('error').textContent = msg;
  $('error').hidden = !msg;
}

const fmtMB = (n) => (n / 1e6).toFixed(1) + ' MB';

// The URL's sampling settings into the controls; a bad value is an error naming the parameter.
function readUrlSettings() {
  for (const k of SAMPLING) {
    const v = params.get(k);
    if (v === null || v === '') continue;
    const n = Number(v);
    if (!Number.isFinite(n) || (INTEGER.has(k) && !Number.isInteger(n)) || n < 0) {
      throw new Error(`URL parameter ${k}=${v}: not a ${INTEGER.has(k) ? 'whole ' : ''}number >= 0`);
    }
    $(k).value = v;
  }
}

function samplingConfig() {
  const c = {};
  for (const k of SAMPLING) if ($(k).value !== '') c[k] = Number($(k).value);
  return c;
}

// Keep the URL in step with the controls, so a link reproduces the page.
function writeUrl() {
  const p = new URLSearchParams();
  p.set('model', $('model').value);
  for (const k of SAMPLING) if ($(k).value !== '') p.set(k, $(k).value);
  window.history.replaceState(null, '', '?' + p);
}

async function startServiceWorker() {
  // The service worker (sw.js) keeps the app shell for offline use. On the very first visit wait
  // until it controls the page, so the worker, engine and wasm fetched next go through it.
  if (!('serviceWorker' in navigator)) return;
  try {
    await navigator.serviceWorker.register('sw.js');
    if (navigator.serviceWorker.controller) return;
    await Promise.race([
      new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true })),
      new Promise((r) => setTimeout(r, 3000)),
    ]);
  } catch (e) {
    console.warn('service worker not available, no offline use:', e.message);
  }
}

async function main() {
  setStatus('loading…');
  try {
    readUrlSettings();
  } catch (e) {
    showError(e.message);
    setStatus('error');
    return;
  }
  await startServiceWorker();
  try {
    dp = await DopplerProvider.init();
  } catch (e) {
    setStatus('error');
    showError(e.code === 'webgpu-unavailable'
      ? `WebGPU is unavailable in this browser (${e.message.replace(/^WebGPU is unavailable:\s*/, '')}). ` +
        'DOPPLER needs WebGPU: Chrome or Edge 113+, or a browser with WebGPU enabled.'
      : `The engine could not start: ${e.message}`);
    return;
  }
  const caps = dp.getCapabilities();
  $('adapter').textContent = `adapter: ${[caps.vendor, caps.architecture, caps.adapter].filter(Boolean).join(' · ')}` +
    ` (${caps.backend || 'WebGPU'}; ${caps.features.includes('shader-f16') ? 'shader-f16' : 'no shader-f16'}, ` +
    `max storage binding ${fmtMB(caps.limits.maxStorageBufferBindingSize || 0)})`;
  for (const [k, v] of Object.entries(dp.defaults || {})) if ($(k)) $(k).placeholder = String(v);

  const catalog = await dp.catalog();
  for (const m of catalog.models) $('model').append(new Option(m.name || m.id, m.id));
  const wanted = params.get('model') || catalog.default;
  if (!catalog.models.some((m) => m.id === wanted)) $('model').append(new Option(wanted, wanted));
  $('model').value = wanted;
  $('model').addEventListener('change', () => { writeUrl(); load($('model').value); });
  for (const k of SAMPLING) $(k).addEventListener('change', writeUrl);
  $('ask').addEventListener('submit', (e) => { e.preventDefault(); send(); });
  $('prompt').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); send(); }
  });
  $('stop').addEventListener('click', () => dp.abort());
  $('retry').addEventListener('click', () => load($('model').value));
  await load(wanted);
}

async function load(id) {
  setStatus('loading…');
  showError('');
  $('retry').hidden = true;
  $('send').disabled = true;
  $('model').disabled = true;
  $('progress').value = 0;
  $('progress-text').textContent = '';
  model = null;
  turns = [];
  $('transcript').replaceChildren();
  $('output').textContent = '';
  $('answer').classList.add('idle');
  try {
    model = await dp.loadModel(id, {
      onProgress: (p) => {
        $('progress').value = p.total ? p.loaded / p.total : 0;
        $('progress-text').textContent = p.phase === 'download'
          ? `${fmtMB(p.loaded)} / ${fmtMB(p.total)}` + (p.fetched ? ` · ${p.mbps.toFixed(1)} MB/s` : '')
          : `uploading to the GPU ${fmtMB(p.loaded)} / ${fmtMB(p.total)}`;
      },
    });
  } catch (e) {
    setStatus('error');
    showError(`Loading ${id} failed: ${e.message}`);
    $('retry').hidden = false; // a download resumes where it stopped
    $('model').disabled = false;
    return;
  }
  $('progress').value = 1;
  const where = model.fromNetwork ? `${fmtMB(model.fetched)} downloaded` : 'from this browser\'s storage (OPFS)';
  $('progress-text').textContent = `${model.id}: ${where}, ready in ${(model.load_ms / 1000).toFixed(1)} s`;
  $('mode').textContent = model.has_chat_template ? 'chat: the model\'s chat template'
    : 'completion mode: this model has no chat template; the prompt is fed as doppler run -p feeds it';
  $('model').disabled = false;
  $('send').disabled = false;
  setStatus('ready');
}

async function send() {
  if (!model || $('send').disabled) return;
  const text = $('prompt').value;
  if (!text) return;
  setStatus('generating');
  showError('');
  $('send').disabled = true;
  $('stop').disabled = false;
  $('model').disabled = true;
  turn('user', text);
  $('output').textContent = '';
  $('answer').classList.remove('idle');
  $('prompt').value = '';
  const input = model.has_chat_template ? [...turns, { role: 'user', content: text }] : [{ role: 'user', content: text }];
  const t0 = performance.now();
  let answer = '', pieces = 0;
  try {
    const s = dp.stream(input, samplingConfig());
    for await (const piece of s) {
      answer += piece;
      $('output').append(piece);
      pieces++;
      const secs = (performance.now() - t0) / 1000;
      $('stats').textContent = `${pieces} tokens · ${(pieces / secs).toFixed(1)} tok/s`;
    }
    const st = await s.stats;
    $('stats').textContent = `prompt ${st.n_prompt} tokens, prefill ${rate(st.n_prompt, st.prefill_ms)} tok/s · ` +
      `${st.n_generated} tokens at ${rate(st.n_generated, st.decode_ms)} tok/s · first token ${st.ttft_ms.toFixed(0)} ms · ` +
      `ended: ${st.stop_reason}`;
    if (model.has_chat_template) turns.push({ role: 'user', content: text }, { role: 'assistant', content: answer });
  } catch (e) {
    showError(`Generation failed: ${e.message}`);
  }
  $('send').disabled = false;
  $('stop').disabled = true;
  $('model').disabled = false;
  setStatus('ready');
}

// Show a turn in the transcript; the answer being generated stays in #output until the next one.
function turn(role, text) {
  const prev = $('output').textContent;
  if (prev) add('assistant', prev);
  add(role, text);
}

function add(role, text) {
  const div = document.createElement('div');
  div.className = 'turn ' + role;
  div.textContent = text;
  $('transcript').append(div);
}

const rate = (n, ms) => (ms > 0 ? (n / (ms / 1000)).toFixed(1) : '–');

main().catch((e) => { setStatus('error'); showError(e.message); });
