// Socket.IO client driver for the Rust integration tests (tests/it/socketio).
//
//   node tests/js/sio.mjs <url> [json-args]
//
// An interactive driver of the npm `socket.io-client`: the test writes one JSON command per line
// on stdin and reads JSON lines on stdout. Every command carries a `req` number and is answered
// by one line `{"req": n, "result": {...}}` (or `{"req": n, "fail": "why"}` when the driver could
// not do it). Everything the clients observe is printed as it happens, tagged with the client id
// the test chose: `{"id": "a", "event": "connect" | "connect_error" | "disconnect" | "event" |
// "reconnect_attempt" | "reconnect" | "upgrade", ...}`. Server events are printed as
// `{"id", "event": "event", "name", "args"}`.
//
// Binary travels as `{"$bin": "<base64>"}` in both directions; in commands, `{"$u8": "<base64>"}`
// makes a Uint8Array and `{"$ab": "<base64>"}` an ArrayBuffer. An ack callback the server asked
// for shows as "$ack" in printed arguments.
//
// Commands (`cmd`):
//   connect    {id, ns="/", manager?, opts?, auth?, wait=true, waitUpgrade=false}
//              `manager` names a Manager shared by every client that names it (one connection);
//              without it each client gets its own. Answers {connected, sid, transport} or
//              {connected: false, message, data} on connect_error.
//   answer     {id, name, reply?: [...], echo?: bool}  how to answer the server's acks for `name`
//              (no rule: the ack callback is never called).
//   emit       {id, name, args=[], ack?: "callback"|"timeout"|"withAck", timeout?}
//              answers {args} with the ack's arguments, or {error} (e.g. "operation has timed out").
//   emit_many  {id, name, from, to}  emits `name` with each number of [from, to) in one tick.
//   disconnect {id}                  socket.disconnect()
//   connect_again {id, auth?}        socket.connect() again (with a new auth), answered like connect
//   close_engine {id}                closes the client's Engine.IO connection (not the socket)
//   state      {id}                  {connected, active, sid, transport, recovered}
//   load_connect {n, opts?, waitMs=8000}  n more clients, each with its own Manager (forceNew);
//                                    answers {connected, errors, waiting, distinctIds} once each
//                                    connected or failed, or at waitMs (a namespace CONNECT has
//                                    no timeout of its own in socket.io-client)
//   load_emit  {}                    each load client emits "inc" with its index and waits for
//                                    the ack (index + 1); answers {ok, failures}
//   load_close {}                    disconnects every load client
//   exit       {}                    closes everything and exits 0
//
// The process exits non-zero with a message on stderr after `timeoutMs` (default 20 s), and
// exits by itself when stdin closes.

import { createInterface } from "node:readline";
import { Manager, io } from "socket.io-client";

const [url, rawArgs] = process.argv.slice(2);
if (!url) {
  process.stderr.write("usage: node sio.mjs <url> [json-args]\n");
  process.exit(2);
}
const args = rawArgs ? JSON.parse(rawArgs) : {};
const timeoutMs = args.timeoutMs ?? 20000;

const baseOpts = {
  path: "/socket.io",
  reconnectionDelay: 50,
  reconnectionDelayMax: 100,
  randomizationFactor: 0,
  timeout: 3000,
  ...(args.opts ?? {}),
};

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function fail(message) {
  process.stderr.write(`sio.mjs: ${message}\n`);
  process.exit(1);
}

const overall = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
process.on("uncaughtException", (err) => fail(`uncaught exception: ${err?.stack ?? err}`));
process.on("unhandledRejection", (err) => fail(`unhandled rejection: ${err?.stack ?? err}`));

/** Encodes a value for printing: binary as {$bin}, functions (ack callbacks) as "$ack". */
function enc(v) {
  if (typeof v === "function") return "$ack";
  if (v === undefined) return null;
  if (Buffer.isBuffer(v)) return { $bin: v.toString("base64") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("base64") };
  if (ArrayBuffer.isView(v)) return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
  if (Array.isArray(v)) return v.map(enc);
  if (v && typeof v === "object") {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = enc(x);
    return o;
  }
  return v;
}

/** Decodes a value of a command: {$bin} → Buffer, {$u8} → Uint8Array, {$ab} → ArrayBuffer. */
function dec(v) {
  if (Array.isArray(v)) return v.map(dec);
  if (v && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && typeof v.$bin === "string") return Buffer.from(v.$bin, "base64");
    if (keys.length === 1 && typeof v.$u8 === "string") return new Uint8Array(Buffer.from(v.$u8, "base64"));
    if (keys.length === 1 && typeof v.$ab === "string") {
      const b = Buffer.from(v.$ab, "base64");
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
    }
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = dec(x);
    return o;
  }
  return v;
}

const managers = new Map(); // name → Manager
const sockets = new Map(); // id → Socket
const answers = new Map(); // id → Map(event name → rule)
const load = [];

function sock(id) {
  const s = sockets.get(id);
  if (!s) throw new Error(`no client ${id}`);
  return s;
}

function transportOf(s) {
  return s.io.engine?.transport?.name ?? null;
}

function watch(id, s, ownsManager) {
  s.on("connect", () => out({ id, event: "connect", sid: s.id, recovered: s.recovered, transport: transportOf(s) }));
  s.on("connect_error", (err) => out({ id, event: "connect_error", message: err.message, data: enc(err.data) }));
  s.on("disconnect", (reason) => out({ id, event: "disconnect", reason }));
  s.onAny((name, ...rest) => {
    out({ id, event: "event", name, args: enc(rest) });
    const ack = rest.length > 0 && typeof rest[rest.length - 1] === "function" ? rest[rest.length - 1] : null;
    const rule = answers.get(id)?.get(name);
    if (!ack || !rule) return;
    if (rule.echo) ack(...rest.slice(0, -1));
    else ack(...dec(rule.reply ?? []));
  });
  if (ownsManager) {
    s.io.on("reconnect_attempt", (n) => out({ id, event: "reconnect_attempt", attempt: n }));
    s.io.on("reconnect", (n) => out({ id, event: "reconnect", attempt: n }));
    s.io.on("open", () => {
      s.io.engine.on("upgrade", (t) => out({ id, event: "upgrade", transport: t.name }));
    });
  }
}

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, resolve));
}

const commands = {
  async connect({ id, ns = "/", manager, opts = {}, auth, wait = true, waitUpgrade = false }) {
    if (sockets.has(id)) throw new Error(`client ${id} exists already`);
    let m = manager ? managers.get(manager) : undefined;
    const owns = !m;
    if (!m) {
      m = new Manager(url, { ...baseOpts, ...opts });
      if (manager) managers.set(manager, m);
    }
    const s = m.socket(ns, auth === undefined ? {} : { auth });
    sockets.set(id, s);
    watch(id, s, owns);
    if (!wait) return {};
    const result = await new Promise((resolve) => {
      const ok = () => {
        s.off("connect_error", ko);
        resolve({ connected: true, sid: s.id, transport: transportOf(s) });
      };
      const ko = (err) => {
        s.off("connect", ok);
        resolve({ connected: false, message: err.message, data: enc(err.data) });
      };
      s.once("connect", ok);
      s.once("connect_error", ko);
    });
    if (result.connected && waitUpgrade && transportOf(s) !== "websocket") {
      await once(s.io.engine, "upgrade");
      result.transport = transportOf(s);
    }
    return result;
  },

  answer({ id, name, reply, echo = false }) {
    if (!answers.has(id)) answers.set(id, new Map());
    answers.get(id).set(name, { reply, echo });
    return {};
  },

  emit({ id, name, args = [], ack, timeout }) {
    const s = sock(id);
    const a = dec(args);
    switch (ack) {
      case undefined:
      case null:
        s.emit(name, ...a);
        return {};
      case "callback":
        return new Promise((resolve) => s.emit(name, ...a, (...resp) => resolve({ args: enc(resp) })));
      case "timeout":
        return new Promise((resolve) =>
          s.timeout(timeout).emit(name, ...a, (err, ...resp) => resolve(err ? { error: err.message } : { args: enc(resp) })),
        );
      case "withAck":
        return (timeout === undefined ? s : s.timeout(timeout)).emitWithAck(name, ...a).then(
          (r) => ({ args: enc([r]) }),
          (e) => ({ error: e.message }),
        );
      default:
        throw new Error(`unknown ack mode ${ack}`);
    }
  },

  emit_many({ id, name, from, to }) {
    const s = sock(id);
    for (let i = from; i < to; i++) s.emit(name, i);
    return { sent: to - from };
  },

  disconnect({ id }) {
    sock(id).disconnect();
    return {};
  },

  connect_again({ id, auth }) {
    const s = sock(id);
    if (auth !== undefined) s.auth = auth;
    const result = new Promise((resolve) => {
      const ok = () => {
        s.off("connect_error", ko);
        resolve({ connected: true, sid: s.id, transport: transportOf(s) });
      };
      const ko = (err) => {
        s.off("connect", ok);
        resolve({ connected: false, message: err.message, data: enc(err.data) });
      };
      s.once("connect", ok);
      s.once("connect_error", ko);
    });
    s.connect();
    return result;
  },

  close_engine({ id }) {
    sock(id).io.engine.close();
    return {};
  },

  state({ id }) {
    const s = sock(id);
    return { connected: s.connected, active: s.active, sid: s.id ?? null, transport: transportOf(s), recovered: s.recovered };
  },

  async load_connect({ n, opts = {}, waitMs = 8000 }) {
    const started = load.length;
    for (let i = 0; i < n; i++) {
      load.push(io(url, { ...baseOpts, reconnection: false, ...opts, forceNew: true }));
    }
    const mine = load.slice(started);
    // A namespace CONNECT has no timeout of its own in socket.io-client: give up after waitMs
    // and describe the clients that are still waiting.
    let timer;
    const deadline = new Promise((resolve) => {
      timer = setTimeout(() => resolve("deadline"), waitMs);
    });
    const results = await Promise.all(
      mine.map((s) =>
        Promise.race([
          deadline,
          new Promise((resolve) => {
            if (s.connected) return resolve(true);
            s.once("connect", () => resolve(true));
            s.once("connect_error", (e) => resolve(e.message));
          }),
        ]),
      ),
    );
    clearTimeout(timer);
    const errors = results.filter((r) => r !== true);
    const waiting = mine
      .filter((s) => !s.connected)
      .slice(0, 5)
      .map((s) => ({
        engine: s.io.engine?.readyState ?? null,
        transport: s.io.engine?.transport?.name ?? null,
        engineId: s.io.engine?.id ?? null,
        manager: s.io._readyState,
      }));
    const ids = new Set(load.map((s) => s.id));
    return { connected: results.length - errors.length, errors: errors.slice(0, 5), waiting, distinctIds: ids.size };
  },

  async load_emit({ timeout = 5000 }) {
    const results = await Promise.all(
      load.map((s, i) =>
        s
          .timeout(timeout)
          .emitWithAck("inc", i)
          .then(
            (r) => (r === i + 1 ? null : `client ${i}: got ${JSON.stringify(r)}`),
            (e) => `client ${i}: ${e.message}`,
          ),
      ),
    );
    const failures = results.filter((r) => r !== null);
    return { ok: results.length - failures.length, failures: failures.slice(0, 5) };
  },

  load_close() {
    for (const s of load) s.disconnect();
    return { closed: load.length };
  },

  exit() {
    shutdown(0);
    return {};
  },
};

function shutdown(code) {
  for (const s of sockets.values()) s.disconnect();
  for (const s of load) s.disconnect();
  clearTimeout(overall);
  // Let the DISCONNECT packets and close frames go out.
  setTimeout(() => process.exit(code), 100);
}

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    fail(`bad command line ${JSON.stringify(line)}: ${e.message}`);
  }
  const { req, cmd } = msg;
  const handler = commands[cmd];
  if (!handler) {
    out({ req, fail: `unknown command ${cmd}` });
    return;
  }
  // Each command starts synchronously, so the order of emits follows the order of commands.
  Promise.resolve()
    .then(() => handler(msg))
    .then(
      (result) => out({ req, result: result ?? {} }),
      (err) => out({ req, fail: err?.stack ?? String(err) }),
    );
});
rl.on("close", () => shutdown(0));
