#!/usr/bin/env node
// web_screenshot.mjs -- docs/browser-demo.png: the demo page in headless Chromium (SwiftShader)
// answering a prompt with `doppler run`'s default sampling (seed 42), as shown in README.md.
// Needs build-wasm/doppler.wasm (make wasm).   node scripts/web_screenshot.mjs [OUT.png]
import path from 'node:path';
import { launch, serve, waitStatus, ask, ROOT } from '../tests/web/lib.mjs';

const out = path.resolve(process.argv[2] || path.join(ROOT, 'docs/browser-demo.png'));
const srv = await serve();
const b = await launch();
try {
  await b.page.goto(`${srv.url}?max_tokens=60`);
  await waitStatus(b.page, 'ready');
  await ask(b.page, 'The old lighthouse keeper said');
  await b.page.evaluate(() => { document.getElementById('settings').open = true; });
  await b.page.setViewportSize({ width: 900, height: 600 });
  await b.page.screenshot({ path: out });
  console.log(`web_screenshot: ${out}`);
} finally {
  await b.close();
  await srv.close();
}
