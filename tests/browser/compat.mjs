// socket.io-client 2 in headless Chromium: the transports a browser gives it (XHR2 binary polling
// payloads, JSONP with `forceJSONP`, websocket, the upgrade), which the Node v2 client cannot use.
//
//   node tests/browser/compat.mjs <base-url>
//
// Opens `<base-url>/v2.html` (a page loading the v2 bundle) and runs one scenario per mode in the
// page: connect to `/`, echo text and binary, an ack with binary, binary from the server. Prints
// one JSON line per mode with what the page saw, then one line `{"responses": {...}}` counting
// the content types of the polling answers; exits 1 with a message when something fails.
//
// Started by tests/it/compat/browser.rs, which serves the page and the compat app.

import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_MS = 10_000;
const [base] = process.argv.slice(2);
if (!base) {
  console.error('usage: node compat.mjs <base-url>');
  process.exit(2);
}
const deadline = setTimeout(() => {
  console.error('FAIL: the browser test ran longer than 50 s');
  process.exit(1);
}, 50_000);
deadline.unref();

/** One scenario, run inside the page (the v2 bundle's global `io`). */
async function scenario(mode) {
  const hex = (b) => Array.from(new Uint8Array(b)).map((x) => x.toString(16).padStart(2, '0')).join('');
  const within = (what, p) => Promise.race([
    p,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), 5000)),
  ]);
  const opts = { forceNew: true, reconnection: false };
  if (mode === 'polling') opts.transports = ['polling'];
  if (mode === 'jsonp') Object.assign(opts, { transports: ['polling'], forceJSONP: true });
  if (mode === 'websocket') opts.transports = ['websocket'];
  const s = io(location.origin, opts);
  await within('connect', new Promise((resolve) => s.once('connect', resolve)));
  if (mode === 'upgrade' && s.io.engine.transport.name !== 'websocket') {
    await within('upgrade', new Promise((resolve) => s.io.engine.once('upgrade', resolve)));
  }
  s.emit('echo', 'é😀', new Uint8Array([1, 2, 255]).buffer);
  const echo = await within('echo-back', new Promise((resolve) => s.once('echo-back', (...a) => resolve(a))));
  const ack = await within('ack', new Promise((resolve) => s.emit('ack', 7, new Uint8Array([9]).buffer, (...a) => resolve(a))));
  s.emit('bin');
  const [nested, all] = await within('bin-back', new Promise((resolve) => s.once('bin-back', (...a) => resolve(a))));
  const result = {
    mode,
    id: s.id,
    transport: s.io.engine.transport.name,
    echo: [echo[0], hex(echo[1])],
    ack: [ack[0], hex(ack[1])],
    nested: [hex(nested.data).length / 2, hex(nested.list[0])],
    all: hex(all).length / 2,
  };
  s.disconnect();
  return result;
}

let browser;
try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: STEP_MS,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const page = await (await browser.newContext()).newPage();
  const responses = {};
  page.on('response', (r) => {
    const url = new URL(r.url());
    if (!url.pathname.startsWith('/socket.io/') || r.request().method() !== 'GET') return;
    const key = `${url.searchParams.has('j') ? 'jsonp' : 'xhr'} ${r.headers()['content-type'] ?? ''}`;
    responses[key] = (responses[key] ?? 0) + 1;
  });
  await page.goto(`${base}/v2.html`, { timeout: STEP_MS });
  if (await page.evaluate(() => typeof io) !== 'function') throw new Error('the v2 bundle did not load');
  for (const mode of ['polling', 'jsonp', 'websocket', 'upgrade']) {
    console.log(JSON.stringify(await page.evaluate(scenario, mode)));
  }
  console.log(JSON.stringify({ responses }));
  await browser.close();
  process.exit(0);
} catch (e) {
  console.error(`FAIL: ${e.stack ?? e}`);
  await browser?.close().catch(() => {});
  process.exit(1);
}
