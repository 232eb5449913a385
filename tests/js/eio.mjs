// Engine.IO client driver for the Rust integration tests (tests/it/engine_client.rs).
//
//   node tests/js/eio.mjs <scenario> <url> [json-args]
//
// The server at <url> must be a raw Engine.IO ECHO server: every message, text or binary, is sent
// back as it came. Each scenario prints one JSON object per line for every observation, checks the
// echoes itself and exits 0 on success; on any mismatch, error or timeout it prints the reason to
// stderr and exits non-zero. A whole run never lasts longer than `timeoutMs` (default 8 s).
//
// json-args (all optional): {"path": "/engine.io", "transport": "polling"|"websocket",
//                            "timeoutMs": 8000, "count": 200, "size": 500000}

import { Socket } from "engine.io-client";

const [scenarioName, url, rawArgs] = process.argv.slice(2);
const args = rawArgs ? JSON.parse(rawArgs) : {};
const path = args.path ?? "/engine.io";

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function fail(message) {
  process.stderr.write(`eio.mjs ${scenarioName}: ${message}\n`);
  process.exit(1);
}

const overall = setTimeout(
  () => fail(`timed out after ${args.timeoutMs ?? 8000} ms`),
  args.timeoutMs ?? 8000,
);

function open(opts) {
  const socket = new Socket(url, { path, ...opts });
  socket.on("error", (err) => fail(`socket error: ${err?.message ?? err}`));
  return socket;
}

function waitFor(socket, event) {
  return new Promise((resolve) => socket.once(event, resolve));
}

/** Collect `n` messages from the socket, in arrival order. */
function collect(socket, n) {
  return new Promise((resolve) => {
    const got = [];
    const onMessage = (data) => {
      got.push(data);
      if (got.length === n) {
        socket.off("message", onMessage);
        resolve(got);
      }
    };
    socket.on("message", onMessage);
  });
}

function describe(value) {
  if (typeof value === "string") {
    return value.length > 40 ? `string(${value.length}) ${JSON.stringify(value.slice(0, 40))}…` : JSON.stringify(value);
  }
  if (Buffer.isBuffer(value)) return `Buffer(${value.length})`;
  if (value instanceof ArrayBuffer) return `ArrayBuffer(${value.byteLength})`;
  return `${typeof value} ${Object.prototype.toString.call(value)}`;
}

function toBuffer(value) {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return null;
}

/** Check that `got` equals `sent` item by item (strings exactly, binaries byte by byte). */
function checkEchoes(sent, got) {
  if (got.length !== sent.length) fail(`expected ${sent.length} messages back, got ${got.length}`);
  for (let i = 0; i < sent.length; i++) {
    const s = sent[i];
    const g = got[i];
    if (typeof s === "string") {
      if (g !== s) fail(`message ${i}: sent ${describe(s)}, got back ${describe(g)}`);
    } else {
      const sb = toBuffer(s);
      const gb = toBuffer(g);
      if (!gb) fail(`message ${i}: sent binary ${describe(s)}, got back ${describe(g)}`);
      if (!sb.equals(gb)) fail(`message ${i}: binary differs (sent ${sb.length} bytes, got ${gb.length})`);
    }
  }
}

function randomBytes(n, seed) {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** Close the socket, report it and let the process end once the last request is done. */
async function finish(socket, summary) {
  emit({ event: "done", transport: socket.transport.name, ...summary });
  const closed = waitFor(socket, "close");
  socket.close();
  const reason = await closed;
  emit({ event: "close", reason });
  clearTimeout(overall);
  // Let the close packet / close frame go out; exit by ourselves if a handle lingers.
  setTimeout(() => process.exit(0), 2000).unref();
}

async function openOn(transport) {
  const socket = open({ transports: [transport] });
  await waitFor(socket, "open");
  emit({ event: "open", transport: socket.transport.name, sid: socket.id, upgrades: socket._upgrades ?? [] });
  return socket;
}

const scenarios = {
  /** Text messages on one transport (polling or websocket, from args.transport or the scenario name). */
  async echo(transport) {
    const socket = await openOn(transport);
    if (socket.transport.name !== transport) fail(`expected transport ${transport}, got ${socket.transport.name}`);
    // Not "" (the protocol cannot tell it from no data) nor "\x1e" (the polling separator).
    const sent = ["hello", "é ü — 漢字 🎉", JSON.stringify({ a: [1, 2, 3] }), "4 not a packet type", "b64 lookalike", "x".repeat(2000)];
    const back = collect(socket, sent.length);
    for (const m of sent) socket.send(m);
    const got = await back;
    checkEchoes(sent, got);
    await finish(socket, { received: got.length });
  },

  polling() {
    return scenarios.echo("polling");
  },

  websocket() {
    return scenarios.echo("websocket");
  },

  /** Polling first, then the upgrade to websocket; messages before, during and after it keep their order. */
  async upgrade() {
    const socket = open({ transports: ["polling", "websocket"] });
    const sent = [];
    const got = [];
    socket.on("message", (m) => got.push(m));
    const send = (m) => {
      sent.push(m);
      socket.send(m);
    };
    let upgradingSeen = false;
    socket.on("upgrading", (t) => {
      upgradingSeen = true;
      emit({ event: "upgrading", to: t.name });
      for (let i = 0; i < 5; i++) send(`during-${i}`);
      send(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    });
    socket.on("upgradeError", (err) => fail(`upgrade error: ${err?.message ?? err}`));
    const upgraded = waitFor(socket, "upgrade");
    await waitFor(socket, "open");
    emit({ event: "open", transport: socket.transport.name, sid: socket.id, upgrades: socket._upgrades ?? [] });
    if (socket.transport.name !== "polling") fail(`expected to open on polling, got ${socket.transport.name}`);
    for (let i = 0; i < 5; i++) send(`before-${i}`);
    send(Buffer.from([1, 2, 3]));
    const t = await upgraded;
    emit({ event: "upgrade", transport: t.name });
    if (!upgradingSeen) fail("the upgrade event fired without the upgrading event");
    if (socket.transport.name !== "websocket") fail(`after upgrade the transport is ${socket.transport.name}`);
    for (let i = 0; i < 5; i++) send(`after-${i}`);
    send(Buffer.from([4, 5, 6]));
    while (got.length < sent.length) await waitFor(socket, "message");
    checkEchoes(sent, got);
    await finish(socket, { received: got.length, sent: sent.length });
  },

  /** Binary both ways (Buffer, ArrayBuffer, typed array view), byte-exact, mixed with text. */
  async binary() {
    const transport = args.transport ?? "polling";
    const socket = await openOn(transport);
    const all = Buffer.alloc(256);
    for (let i = 0; i < 256; i++) all[i] = i;
    const ab = new ArrayBuffer(64);
    new Uint8Array(ab).set(randomBytes(64, 7));
    const view = new Uint8Array(randomBytes(100, 11)).subarray(10, 90);
    const sent = [all, "text between", ab, Buffer.alloc(0), view, Buffer.from("4hello"), Buffer.from([0])];
    const back = collect(socket, sent.length);
    for (const m of sent) socket.send(m);
    const got = await back;
    checkEchoes(sent, got);
    const kinds = got.map((g) => (typeof g === "string" ? "text" : "binary"));
    emit({ event: "kinds", kinds });
    // And with binaryType "arraybuffer" the same bytes come back as ArrayBuffer.
    socket.binaryType = "arraybuffer";
    const back2 = collect(socket, 1);
    socket.send(all);
    const [g2] = await back2;
    if (!(g2 instanceof ArrayBuffer)) fail(`binaryType arraybuffer: got ${describe(g2)}`);
    if (!Buffer.from(g2).equals(all)) fail("binaryType arraybuffer: bytes differ");
    await finish(socket, { received: got.length + 1, binaries: kinds.filter((k) => k === "binary").length + 1 });
  },

  /** A 500 KB text message and a 500 KB binary message echo intact. */
  async large() {
    const transport = args.transport ?? "polling";
    const size = args.size ?? 500_000;
    const socket = await openOn(transport);
    const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789é漢🎉";
    let text = "";
    while (text.length < size) text += alphabet;
    text = text.slice(0, size);
    // Do not cut a surrogate pair in two.
    if (/[\ud800-\udbff]$/.test(text)) text = text.slice(0, -1) + "x";
    const bin = randomBytes(size, 42);
    const sent = [text, bin];
    const back = collect(socket, sent.length);
    for (const m of sent) socket.send(m);
    const got = await back;
    checkEchoes(sent, got);
    await finish(socket, { received: got.length, textLength: got[0].length, binaryLength: toBuffer(got[1]).length });
  },

  /** 200 small messages sent in one tick over polling are batched into few POSTs and all come back in order. */
  async batch() {
    const count = args.count ?? 200;
    const socket = await openOn("polling");
    let flushes = 0;
    socket.on("flush", () => flushes++);
    const sent = [];
    for (let i = 0; i < count; i++) sent.push(i % 10 === 9 ? Buffer.from([i & 0xff, 0x1e, 0x62]) : `msg-${i}`);
    const back = collect(socket, sent.length);
    for (const m of sent) socket.send(m);
    const got = await back;
    checkEchoes(sent, got);
    if (flushes >= count) fail(`the client did not batch: ${flushes} POSTs for ${count} messages`);
    await finish(socket, { received: got.length, posts: flushes });
  },
};

const scenario = scenarios[scenarioName];
if (!scenario || !url) {
  process.stderr.write(`usage: node eio.mjs <${Object.keys(scenarios).join("|")}> <url> [json-args]\n`);
  process.exit(2);
}
scenario().catch((err) => fail(err?.stack ?? String(err)));
