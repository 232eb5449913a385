// The chat example in headless Chromium: two users in two isolated browser contexts.
//
//   node tests/browser/chat.mjs <base-url> <websocket|polling> [--screenshot <file.png>]
//
// `polling` opens the page with `?transport=polling` and checks that no websocket is ever opened.
// Prints one line per step; exits 0 when everything a user would check held, 1 with the step that
// failed otherwise. The whole run has its own deadline.
//
// Started by tests/it/chat.rs, which serves the chat app on a free port.

import { chromium } from 'playwright-core';

const OVERALL_MS = 50_000;
const STEP_MS = 10_000;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const [base, mode = 'websocket', ...rest] = process.argv.slice(2);
const shotAt = rest.indexOf('--screenshot');
const screenshot = shotAt >= 0 ? rest[shotAt + 1] : null;
if (!base || !['websocket', 'polling'].includes(mode) || (shotAt >= 0 && !screenshot)) {
  console.error('usage: node chat.mjs <base-url> <websocket|polling> [--screenshot <file.png>]');
  process.exit(2);
}

const deadline = setTimeout(() => {
  console.error(`FAIL: the browser test ran longer than ${OVERALL_MS / 1000} s (last step: ${current})`);
  process.exit(1);
}, OVERALL_MS);
deadline.unref();

let current = 'start';
const log = (msg) => console.log(`[${mode}] ${msg}`);
async function step(name, fn) {
  current = name;
  try {
    await fn();
    log(`ok   ${name}`);
  } catch (e) {
    throw new Error(`step "${name}" failed: ${e.message}`);
  }
}

// ----- page helpers (what a user sees) -----

/** Resolves when some element matching `selector` has text containing `text`. */
const seeText = (page, selector, text) => page.waitForFunction(
  ([sel, want]) => [...document.querySelectorAll(sel)].some((e) => e.textContent.includes(want)),
  [selector, text],
  { timeout: STEP_MS },
);

/** Resolves when no element matching `selector` has text containing `text`. */
const noText = (page, selector, text) => page.waitForFunction(
  ([sel, want]) => ![...document.querySelectorAll(sel)].some((e) => e.textContent.includes(want)),
  [selector, text],
  { timeout: STEP_MS },
);

/** Resolves when the "online" list shows exactly `names` (in any order). */
const seeUsers = (page, names) => page.waitForFunction(
  (want) => {
    const shown = [...document.querySelectorAll('#users li')]
      .map((li) => li.firstChild && li.firstChild.textContent.trim());
    return shown.length === want.length && want.every((n) => shown.includes(n));
  },
  names,
  { timeout: STEP_MS },
);

/** How many notices with exactly this text are on the page. */
const countNotices = (page, text) => page.evaluate(
  (want) => [...document.querySelectorAll('#messages .notice')].filter((e) => e.textContent === want).length,
  text,
);

/** Resolves when there are at least `n` notices with exactly this text. */
const seeNotices = (page, text, n) => page.waitForFunction(
  ([want, count]) => [...document.querySelectorAll('#messages .notice')]
    .filter((e) => e.textContent === want).length >= count,
  [text, n],
  { timeout: STEP_MS },
);

/** Resolves when a message from `from` with exactly `text` is shown; returns nothing. */
const seeMessage = (page, from, text) => page.waitForFunction(
  ([author, want]) => [...document.querySelectorAll('#messages .msg')].some((m) =>
    m.querySelector('.author')?.textContent === author && m.querySelector('.text')?.textContent === want),
  [from, text],
  { timeout: STEP_MS },
);

/** Resolves when my own message `text` carries the "delivered" check mark. */
const seeDelivered = (page, text) => page.waitForFunction(
  (want) => [...document.querySelectorAll('#messages .msg.mine')].some((m) =>
    m.querySelector('.text')?.textContent === want &&
    m.querySelector('.state')?.classList.contains('delivered') &&
    m.querySelector('.state')?.textContent === '✓'),
  text,
  { timeout: STEP_MS },
);

async function say(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

async function joinAs(page, name, room = 'lobby') {
  await page.fill('#name', name);
  await page.fill('#room', room);
  await page.click('#join');
  await page.locator('#chat').waitFor({ state: 'visible', timeout: STEP_MS });
}

async function switchRoom(page, room) {
  await page.fill('#switch-room', room);
  await page.click('#switch');
  await seeText(page, '#room-title', room);
}

// ----- the run -----

const url = mode === 'polling' ? `${base}/?transport=polling` : `${base}/`;
const problems = []; // page errors, dialogs, websockets in polling mode
let browser;

async function openUser(label) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${label}: console error: ${m.text()}`);
  });
  page.on('dialog', async (d) => {
    problems.push(`${label}: a ${d.type()} dialog opened ("${d.message()}"): user text ran as code`);
    await d.dismiss().catch(() => {});
  });
  page.on('websocket', (ws) => {
    if (mode === 'polling') problems.push(`${label}: opened a websocket (${ws.url()}) in polling mode`);
  });
  await page.goto(url, { timeout: STEP_MS });
  return page;
}

async function run() {
  // launch() starts Chromium with a fresh, temporary user-data-dir, removed at close.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: STEP_MS,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  log(`chromium ${browser.version()}`);

  const alice = await openUser('alice');
  const bob = await openUser('bob');
  const transport = mode === 'polling' ? 'polling' : 'websocket';

  await step('the page loads the socket.io client from our server and connects', async () => {
    for (const page of [alice, bob]) {
      if (await page.evaluate(() => typeof io) !== 'function') throw new Error('io is not defined');
      await seeText(page, '#status', `online · ${transport}`);
    }
  });

  await step('both join the lobby and see each other online', async () => {
    await joinAs(alice, 'alice');
    await seeUsers(alice, ['alice']);
    await joinAs(bob, 'bob');
    await seeUsers(bob, ['alice', 'bob']);
    await seeUsers(alice, ['alice', 'bob']);
    await seeNotices(alice, 'bob joined #lobby', 1);
    await seeText(alice, '#room-title', 'lobby');
  });

  await step('bob sees alice typing, and it stops when she sends', async () => {
    await alice.fill('#text', 'hello b');
    await alice.type('#text', 'ob');
    await seeText(bob, '#typing', 'alice is typing');
    await alice.press('#text', 'Enter');
    await noText(bob, '#typing', 'alice is typing');
  });

  await step('alice → bob, with the delivered mark for alice', async () => {
    await seeMessage(bob, 'alice', 'hello bob');
    await seeDelivered(alice, 'hello bob');
  });

  await step('bob → alice, with the delivered mark for bob', async () => {
    await say(bob, 'hi alice, how are you?');
    await seeMessage(alice, 'bob', 'hi alice, how are you?');
    await seeDelivered(bob, 'hi alice, how are you?');
  });

  if (screenshot) {
    await step('a short conversation for the screenshot', async () => {
      await say(alice, 'great! this chat runs on axum + Socket.IO');
      await seeMessage(bob, 'alice', 'great! this chat runs on axum + Socket.IO');
      await say(bob, 'and the page loads socket.io.js from the Rust server itself');
      await seeDelivered(bob, 'and the page loads socket.io.js from the Rust server itself');
      await seeMessage(alice, 'bob', 'and the page loads socket.io.js from the Rust server itself');
      await bob.fill('#text', 'nice');
      await bob.type('#text', '!');
      await seeText(alice, '#typing', 'bob is typing');
      await alice.screenshot({ path: screenshot });
      await bob.fill('#text', '');
    });
  }

  const evil = '<img src=x onerror=alert(1)>';
  await step('markup in a message shows as literal text, never as HTML', async () => {
    await say(alice, evil);
    await seeMessage(bob, 'alice', evil);
    await seeDelivered(alice, evil);
    for (const page of [alice, bob]) {
      const imgs = await page.locator('#messages img').count();
      if (imgs !== 0) throw new Error(`${imgs} <img> element(s) in the messages`);
    }
    await say(bob, 'after the markup');
    await seeMessage(alice, 'bob', 'after the markup');
  });

  await step('alice switches room: bob sees her leave, and come back', async () => {
    await switchRoom(alice, 'games');
    await seeNotices(bob, 'alice left #lobby', 1);
    await seeUsers(bob, ['bob']);
    await seeUsers(alice, ['alice']);
    await switchRoom(alice, 'lobby');
    await seeNotices(bob, 'alice joined #lobby', 1);
    await seeUsers(bob, ['alice', 'bob']);
    await seeUsers(alice, ['alice', 'bob']);
  });

  await step('alice reloads the page and is back in the lobby', async () => {
    const joinsBefore = await countNotices(bob, 'alice joined #lobby');
    await alice.reload({ timeout: STEP_MS });
    await alice.locator('#chat').waitFor({ state: 'visible', timeout: STEP_MS });
    await seeText(alice, '#status', `online · ${transport}`);
    await seeText(alice, '#me', 'alice');
    await seeText(alice, '#room-title', 'lobby');
    await seeUsers(alice, ['alice', 'bob']);
    await seeNotices(bob, 'alice joined #lobby', joinsBefore + 1);
    await say(alice, 'back again');
    await seeMessage(bob, 'alice', 'back again');
    await seeDelivered(alice, 'back again');
    await say(bob, 'welcome back');
    await seeMessage(alice, 'bob', 'welcome back');
  });

  await step('/stats shows the two clients and the lobby', async () => {
    const res = await fetch(`${base}/stats`);
    if (!res.ok) throw new Error(`GET /stats: ${res.status}`);
    const stats = await res.json();
    const main = stats.namespaces.find((n) => n.name === '/');
    // The page alice left may still count until the server notices it went (polling).
    if (!(stats.clients >= 2) || !(main.sockets >= 2) || !(main.rooms['room:lobby'] >= 2)) {
      throw new Error(`unexpected stats: ${JSON.stringify(stats)}`);
    }
  });

  if (problems.length) throw new Error(problems.join('\n'));
}

const started = Date.now();
try {
  await run();
  log(`PASS in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await browser.close();
  process.exit(0);
} catch (e) {
  console.error(`FAIL [${mode}]: ${e.message}`);
  if (problems.length) console.error(`also seen:\n${problems.join('\n')}`);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}
