// A Node socket.io 4.8 server in a Redis cluster (@socket.io/redis-adapter 8, or
// @socket.io/redis-streams-adapter 0.3), plus an @socket.io/redis-emitter 5, driven by the Rust
// integration tests (tests/it/redis).
//
//   node tests/js/cluster-node.mjs <redis-url> [json-args]
//
// json-args: {key="socket.io", requestsTimeout=5000, specific=false, name="node", timeoutMs=60000,
//             adapter="pubsub", streamName="socket.io", maxLen=10000, recovery=null}
// `specific` is the adapter's publishOnSpecificResponseChannel. With adapter "streams", the
// redis-streams-adapter is used instead (`key` is its channelPrefix; `streamName`, `maxLen` its
// options; its requests time out after socket.io-adapter's fixed 5 s, `requestsTimeout` does not
// apply), and "listening" waits until its stream reader is blocked in XREAD. `recovery` (ms)
// turns connectionStateRecovery on: {maxDisconnectionDuration: recovery, skipMiddlewares: true}.
//
// Prints {"event": "listening", "port": N} once it accepts connections and its adapter is
// subscribed. Then, like sio.mjs, one JSON command per stdin line, each with a `req` number,
// answered by {"req": n, "result": ...} or {"req": n, "fail": "why"}. What the server sees is
// printed as it happens:
//   {"event": "connection", "nsp", "sid", "recovered", "rooms", "data"}
//                                                   a client joined namespace "/" or "/chat"
//                                                   (rooms without its own; after the handler)
//   {"event": "server_side", "nsp", "name", "args"} a server-side event from another node
// Binary travels as {"$bin": "<base64>"} both ways (Buffers on the Node side).
//
// Connections: auth {rooms: [...], data: any} joins the rooms and sets socket.data (not for a
// recovered socket: it has its rooms and data back).
// Server-side events: every event is printed; an acknowledgement, when asked for, is answered
// with {"from": <name>, "args": <the event's arguments>}.
//
// Commands (`nsp` defaults to "/"; `to` and `except` are room lists):
//   emit        {nsp, to, except, local, volatile, event, args}
//   emit_ack    {nsp, to, except, event, args, timeout}   → {error?, responses}
//   fetch       {nsp, to, except}   → [{id, rooms, data, handshake}]
//   join        {nsp, to, except, rooms}   socketsJoin
//   leave       {nsp, to, except, rooms}   socketsLeave
//   disconnect  {nsp, to, except, close}   disconnectSockets
//   remote      {nsp, id, op: "emit"|"join"|"leave"|"disconnect", event, args, rooms, close}
//               on the RemoteSocket with this id from fetchSockets
//   all_rooms   {nsp}   → [rooms…]
//   server_count {nsp}  → n
//   sse         {nsp, event, args}            serverSideEmit
//   sse_ack     {nsp, event, args}            serverSideEmitWithAck → {error?, responses}
//   local_sockets {nsp} → [ids]
//   emitter     {nsp, op: "emit"|"join"|"leave"|"disconnect"|"sse", to, except, event, args,
//                rooms, close}   the same through @socket.io/redis-emitter
//   exit

import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";

const [redisUrl, rawArgs] = process.argv.slice(2);
if (!redisUrl) {
  process.stderr.write("usage: node cluster-node.mjs <redis-url> [json-args]\n");
  process.exit(2);
}
const args = rawArgs ? JSON.parse(rawArgs) : {};
const name = args.name ?? "node";
const key = args.key ?? "socket.io";

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function fail(message) {
  process.stderr.write(`cluster-node.mjs: ${message}\n`);
  process.exit(1);
}

const overall = setTimeout(() => fail(`timed out after ${args.timeoutMs ?? 60000} ms`), args.timeoutMs ?? 60000);
process.on("uncaughtException", (err) => fail(`uncaught exception: ${err?.stack ?? err}`));
process.on("unhandledRejection", (err) => fail(`unhandled rejection: ${err?.stack ?? err}`));

/** For printing: binary as {$bin}, functions as "$ack", undefined as null. */
function enc(v) {
  if (typeof v === "function") return "$ack";
  if (v === undefined) return null;
  if (Buffer.isBuffer(v)) return { $bin: v.toString("base64") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("base64") };
  if (ArrayBuffer.isView(v)) return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
  if (v instanceof Set) return [...v].map(enc);
  if (Array.isArray(v)) return v.map(enc);
  if (v && typeof v === "object") {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = enc(x);
    return o;
  }
  return v;
}

/** From commands: {$bin} → Buffer. */
function dec(v) {
  if (Array.isArray(v)) return v.map(dec);
  if (v && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && typeof v.$bin === "string") return Buffer.from(v.$bin, "base64");
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = dec(x);
    return o;
  }
  return v;
}

// The client name finds this process's stream reader in CLIENT LIST (duplicates keep it).
const clientName = `cluster-node-${process.pid}`;
const pub = createClient({ url: redisUrl, name: clientName });
const sub = pub.duplicate();
const emitterClient = pub.duplicate();
for (const c of [pub, sub, emitterClient]) c.on("error", (e) => process.stderr.write(`redis client: ${e.message}\n`));
await Promise.all([pub.connect(), sub.connect(), emitterClient.connect()]);

const httpServer = createServer();
const streams = args.adapter === "streams";
if (args.adapter !== undefined && args.adapter !== "pubsub" && !streams) fail(`unknown adapter ${args.adapter}`);
const io = new Server(httpServer, {
  adapter: streams
    ? createStreamsAdapter(pub, {
        streamName: args.streamName ?? "socket.io",
        channelPrefix: key,
        maxLen: args.maxLen ?? 10000,
      })
    : createAdapter(pub, sub, {
        key,
        requestsTimeout: args.requestsTimeout ?? 5000,
        publishOnSpecificResponseChannel: !!args.specific,
      }),
  ...(args.recovery != null
    ? { connectionStateRecovery: { maxDisconnectionDuration: args.recovery, skipMiddlewares: true } }
    : {}),
});
const emitter = new Emitter(emitterClient, { key });

function setup(nsp) {
  nsp.on("connection", (socket) => {
    const auth = socket.handshake.auth ?? {};
    if (!socket.recovered) {
      if (Array.isArray(auth.rooms)) socket.join(auth.rooms);
      if (auth.data !== undefined) socket.data = auth.data;
    }
    const rooms = [...socket.rooms].filter((r) => r !== socket.id);
    out({ event: "connection", nsp: nsp.name, sid: socket.id, recovered: !!socket.recovered, rooms, data: socket.data ?? null });
  });
  nsp.on("sse", (...rest) => {
    const ack = typeof rest[rest.length - 1] === "function" ? rest.pop() : null;
    out({ event: "server_side", nsp: nsp.name, name: "sse", args: enc(rest) });
    if (ack) ack({ from: name, args: rest });
  });
  nsp.on("sse-silent", (...rest) => {
    if (typeof rest[rest.length - 1] === "function") rest.pop();
    out({ event: "server_side", nsp: nsp.name, name: "sse-silent", args: enc(rest) });
  });
}
setup(io.of("/"));
setup(io.of("/chat"));

function select(base, { to, except, local, volatile }) {
  let op = base;
  if (to && to.length) op = op.to(to);
  if (except && except.length) op = op.except(except);
  if (local) op = op.local;
  if (volatile) op = op.volatile;
  return op;
}

function describe(s) {
  const { address, query, auth, headers, issued, url, xdomain, secure, time } = s.handshake;
  return { id: s.id, rooms: [...s.rooms], data: s.data ?? null, handshake: { address, query, auth, headers, issued, url, xdomain, secure, time } };
}

const commands = {
  emit({ nsp = "/", event, args = [], ...sel }) {
    select(io.of(nsp), sel).emit(event, ...dec(args));
    return {};
  },
  emit_ack({ nsp = "/", event, args = [], timeout = 2000, ...sel }) {
    return new Promise((resolve) => {
      select(io.of(nsp), sel)
        .timeout(timeout)
        .emit(event, ...dec(args), (err, responses) => resolve({ error: err ? err.message : null, responses: enc(responses) }));
    });
  },
  async fetch({ nsp = "/", ...sel }) {
    const sockets = await select(io.of(nsp), sel).fetchSockets();
    return sockets.map(describe);
  },
  join({ nsp = "/", rooms, ...sel }) {
    select(io.of(nsp), sel).socketsJoin(rooms);
    return {};
  },
  leave({ nsp = "/", rooms, ...sel }) {
    select(io.of(nsp), sel).socketsLeave(rooms);
    return {};
  },
  disconnect({ nsp = "/", close = false, ...sel }) {
    select(io.of(nsp), sel).disconnectSockets(close);
    return {};
  },
  async remote({ nsp = "/", id, op, event, args = [], rooms, close = false }) {
    const s = (await io.of(nsp).fetchSockets()).find((x) => x.id === id);
    if (!s) throw new Error(`no socket ${id} in the cluster`);
    if (op === "emit") s.emit(event, ...dec(args));
    else if (op === "join") s.join(rooms);
    else if (op === "leave") s.leave(rooms);
    else if (op === "disconnect") s.disconnect(close);
    else throw new Error(`unknown op ${op}`);
    return {};
  },
  async all_rooms({ nsp = "/" }) {
    return [...(await io.of(nsp).adapter.allRooms())];
  },
  async server_count({ nsp = "/" }) {
    return await io.of(nsp).adapter.serverCount();
  },
  sse({ nsp = "/", event, args = [] }) {
    io.of(nsp).serverSideEmit(event, ...dec(args));
    return {};
  },
  async sse_ack({ nsp = "/", event, args = [] }) {
    try {
      const responses = await io.of(nsp).serverSideEmitWithAck(event, ...dec(args));
      return { error: null, responses: enc(responses) };
    } catch (err) {
      return { error: err.message, responses: enc(err.responses ?? []) };
    }
  },
  local_sockets({ nsp = "/" }) {
    return [...io.of(nsp).sockets.keys()];
  },
  emitter({ nsp = "/", op, event, args = [], rooms, close = false, ...sel }) {
    const e = select(emitter.of(nsp), sel);
    if (op === "emit") e.emit(event, ...dec(args));
    else if (op === "join") e.socketsJoin(rooms);
    else if (op === "leave") e.socketsLeave(rooms);
    else if (op === "disconnect") e.disconnectSockets(close);
    else if (op === "sse") emitter.of(nsp).serverSideEmit(event, ...dec(args));
    else throw new Error(`unknown op ${op}`);
    return {};
  },
  exit() {
    shutdown(0);
    return {};
  },
};

function shutdown(code) {
  clearTimeout(overall);
  io.close();
  setTimeout(() => process.exit(code), 50);
}

/** Resolves once a client of this process is blocked in XREAD (the streams adapter's reader):
 *  from then on, nothing added to the stream is missed. */
async function streamReaderBlocked() {
  for (let i = 0; i < 500; i++) {
    const list = await pub.sendCommand(["CLIENT", "LIST"]);
    const mine = list.split("\n").filter((l) => l.includes(` name=${clientName} `));
    if (mine.some((l) => / cmd=xread\b/.test(l) && / flags=\S*b/.test(l))) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  fail("the streams adapter's reader never blocked in XREAD");
}

if (streams) await streamReaderBlocked();
httpServer.listen(0, "127.0.0.1", () => {
  out({ event: "listening", port: httpServer.address().port });
});

const rl = createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  if (!line.trim()) return;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    fail(`bad command line ${JSON.stringify(line)}: ${e.message}`);
  }
  const { req, cmd, ...rest } = msg;
  const f = commands[cmd];
  if (!f) {
    out({ req, fail: `unknown command ${cmd}` });
    return;
  }
  try {
    out({ req, result: (await f(rest)) ?? null });
  } catch (e) {
    out({ req, fail: e?.stack ?? String(e) });
  }
});
rl.on("close", () => shutdown(0));
