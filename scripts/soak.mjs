// Churn soak client (driven by scripts/soak.sh): for DURATION seconds, waves of socket.io-client
// connections against URL: connect over websocket, polling or polling-then-upgrade, join the
// broadcast room, emit, ask for acks, broadcast, then leave (cleanly, or by dropping the
// connection). Prints one JSON line per reporting interval and a summary at the end.
//
//   node scripts/soak.mjs http://127.0.0.1:3000 600
//
// Uses the npm clients installed in tests/js (./scripts/test or `npm ci` there installs them).

import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(path.join(root, "tests", "js", "package.json"));
const { io } = require("socket.io-client");

const url = process.argv[2] ?? "http://127.0.0.1:3000";
const duration = Number(process.argv[3] ?? 600) * 1000;
const wave = Number(process.env.WAVE ?? 50); // clients per wave
const report = Number(process.env.REPORT_MS ?? 10000);

const transports = [
  { transports: ["websocket"] },
  { transports: ["polling"] },
  { transports: ["polling", "websocket"] },
];

const stats = {
  waves: 0,
  connects: 0,
  connectErrors: 0,
  events: 0,
  acks: 0,
  ackTimeouts: 0,
  broadcastsReceived: 0,
  cleanDisconnects: 0,
  dropped: 0,
};

function once(emitter, name, ms) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${name}`)), ms);
    emitter.once(name, (...args) => {
      clearTimeout(t);
      resolve(args);
    });
  });
}

async function client(i) {
  const opts = transports[i % transports.length];
  const socket = io(url, { ...opts, reconnection: false, forceNew: true, timeout: 5000 });
  socket.on("msg", () => stats.broadcastsReceived++);
  socket.on("echo", () => stats.events++);
  try {
    await once(socket, "connect", 5000);
  } catch {
    stats.connectErrors++;
    socket.close();
    return;
  }
  stats.connects++;
  socket.emit("join");
  const payload = { i, text: "x".repeat(64 + (i % 7) * 100), bin: Buffer.alloc(i % 3 === 0 ? 256 : 0) };
  for (let k = 0; k < 5; k++) {
    socket.emit("echo", payload);
    try {
      await socket.timeout(5000).emitWithAck("ack", k, payload);
      stats.acks++;
    } catch {
      stats.ackTimeouts++;
    }
  }
  socket.emit("bcast", { from: i });
  await new Promise((r) => setTimeout(r, 50 + (i % 5) * 20));
  if (i % 4 === 3) {
    // Walk away without a goodbye: the transport just closes.
    socket.io.engine.transport.close?.();
    socket.io.engine.close();
    stats.dropped++;
  } else {
    socket.disconnect();
    stats.cleanDisconnects++;
  }
}

const start = Date.now();
let last = start;
let n = 0;
while (Date.now() - start < duration) {
  const batch = [];
  for (let k = 0; k < wave; k++) batch.push(client(n++));
  await Promise.all(batch);
  stats.waves++;
  if (Date.now() - last >= report) {
    last = Date.now();
    console.log(JSON.stringify({ t: Math.round((last - start) / 1000), ...stats }));
  }
}
console.log(JSON.stringify({ done: true, seconds: Math.round((Date.now() - start) / 1000), ...stats }));
process.exit(0);
