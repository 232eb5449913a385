// Legacy and alternative Socket.IO clients for the Rust integration tests (tests/it/compat).
//
//   node tests/js/compat.mjs <url> <json-args>
//
// json-args: {"client": "v2" | "v4", "parser": "default" | "msgpack", "opts": {...}, "timeoutMs"}
//   client v2: the npm socket.io-client 2.x (installed as `socket.io-client-v2`): Engine.IO v3,
//              Socket.IO protocol v4.
//   client v4: the npm socket.io-client 4.x, with `parser: "msgpack"` the npm
//              socket.io-msgpack-parser.
//
// Same line protocol as sio.mjs, so the Rust `Js` helper drives both: one JSON command per line
// on stdin, each answered by `{"req": n, "result": {...}}` (or `{"req": n, "fail": "why"}`), and
// what the clients observe printed as it happens: `{"id", "event": "connect" | "connect_error" |
// "disconnect" | "event" | "upgrade", ...}`. Binary is `{"$bin": "<base64>"}` both ways (in
// commands also `{"$u8"}` for a Uint8Array, `{"$ab"}` for an ArrayBuffer).
//
// Commands (`cmd`):
//   connect    {id, ns="/", manager?, opts?, auth?, wait=true, waitUpgrade=false}
//              v2 clients send `auth` as the query of the namespace (`0/admin?token=abc,`).
//              Answers {connected, sid, transport} or {connected: false, message, data}.
//   answer     {id, name, reply?: [...], echo?: bool}  how to answer the server's acks for `name`
//   emit       {id, name, args=[], ack?: "callback"}   answers {args} with the ack's arguments
//   disconnect {id}
//   state      {id}                                    {connected, sid, transport}
//   exit       {}

import { createInterface } from "node:readline";
import ioV2 from "socket.io-client-v2";
import { Manager as ManagerV4 } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";

const [url, rawArgs] = process.argv.slice(2);
if (!url) {
  process.stderr.write("usage: node compat.mjs <url> [json-args]\n");
  process.exit(2);
}
const args = rawArgs ? JSON.parse(rawArgs) : {};
const legacy = (args.client ?? "v2") === "v2";
const timeoutMs = args.timeoutMs ?? 20000;

const baseOpts = {
  path: "/socket.io",
  reconnection: false,
  timeout: 3000,
  ...(args.parser === "msgpack" ? { parser: msgpackParser } : {}),
  ...(args.opts ?? {}),
};

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function fail(message) {
  process.stderr.write(`compat.mjs: ${message}\n`);
  process.exit(1);
}

const overall = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
process.on("uncaughtException", (err) => fail(`uncaught exception: ${err?.stack ?? err}`));
process.on("unhandledRejection", (err) => fail(`unhandled rejection: ${err?.stack ?? err}`));

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

const managers = new Map();
const sockets = new Map();
const answers = new Map();

function sock(id) {
  const s = sockets.get(id);
  if (!s) throw new Error(`no client ${id}`);
  return s;
}

function transportOf(s) {
  return s.io.engine?.transport?.name ?? null;
}

/** Prints an incoming event and answers its ack by the rule set for it. */
function onEvent(id, name, rest, ack) {
  out({ id, event: "event", name, args: enc(ack ? [...rest, ack] : rest) });
  const rule = answers.get(id)?.get(name);
  if (!ack || !rule) return;
  if (rule.echo) ack(...rest);
  else ack(...dec(rule.reply ?? []));
}

function watch(id, s, ownsManager) {
  s.on("connect", () => out({ id, event: "connect", sid: s.id, transport: transportOf(s) }));
  s.on("disconnect", (reason) => out({ id, event: "disconnect", reason }));
  if (legacy) {
    // socket.io-client 2 has no onAny: every EVENT goes through `onevent`.
    s.onevent = function (packet) {
      const data = packet.data ?? [];
      const ack = packet.id != null ? this.ack(packet.id) : null;
      onEvent(id, data[0], data.slice(1), ack);
    };
    // A refused namespace is an ERROR packet, emitted as `error` with its payload.
    s.on("error", (data) => out({ id, event: "connect_error", message: typeof data === "string" ? data : null, data: enc(data) }));
  } else {
    s.onAny((name, ...rest) => {
      const ack = rest.length > 0 && typeof rest[rest.length - 1] === "function" ? rest.pop() : null;
      onEvent(id, name, rest, ack);
    });
    s.on("connect_error", (err) => out({ id, event: "connect_error", message: err.message, data: enc(err.data) }));
  }
  if (ownsManager) {
    const onOpen = () => s.io.engine.on("upgrade", (t) => out({ id, event: "upgrade", transport: t.name }));
    if (s.io.engine) onOpen();
    else s.io.on("open", onOpen);
  }
}

const commands = {
  async connect({ id, ns = "/", manager, opts = {}, auth, wait = true, waitUpgrade = false }) {
    if (sockets.has(id)) throw new Error(`client ${id} exists already`);
    let m = manager ? managers.get(manager) : undefined;
    const owns = !m;
    if (!m) {
      m = legacy ? new ioV2.Manager(url, { ...baseOpts, ...opts }) : new ManagerV4(url, { ...baseOpts, ...opts });
      if (manager) managers.set(manager, m);
    }
    let s;
    if (legacy) {
      s = m.socket(ns, auth === undefined ? {} : { query: auth });
    } else {
      s = m.socket(ns, auth === undefined ? {} : { auth });
    }
    sockets.set(id, s);
    watch(id, s, owns);
    if (!wait) return {};
    const result = await new Promise((resolve) => {
      const done = (r) => {
        s.off("connect", ok);
        s.off("connect_error", ko);
        s.off("error", koLegacy);
        resolve(r);
      };
      const ok = () => done({ connected: true, sid: s.id, transport: transportOf(s) });
      const ko = (err) => done({ connected: false, message: err?.message ?? String(err), data: enc(err?.data) });
      const koLegacy = (data) => done({ connected: false, message: typeof data === "string" ? data : null, data: enc(data) });
      if (s.connected) return ok();
      s.on("connect", ok);
      s.on("connect_error", ko);
      if (legacy) s.on("error", koLegacy);
    });
    if (result.connected && waitUpgrade && transportOf(s) !== "websocket") {
      await new Promise((resolve) => s.io.engine.once("upgrade", resolve));
      result.transport = transportOf(s);
    }
    return result;
  },

  answer({ id, name, reply, echo = false }) {
    if (!answers.has(id)) answers.set(id, new Map());
    answers.get(id).set(name, { reply, echo });
    return {};
  },

  emit({ id, name, args = [], ack }) {
    const s = sock(id);
    const a = dec(args);
    if (ack === undefined || ack === null) {
      s.emit(name, ...a);
      return {};
    }
    if (ack !== "callback") throw new Error(`unsupported ack mode ${ack}`);
    return new Promise((resolve) => s.emit(name, ...a, (...resp) => resolve({ args: enc(resp) })));
  },

  disconnect({ id }) {
    sock(id).disconnect();
    return {};
  },

  state({ id }) {
    const s = sock(id);
    return { connected: s.connected, sid: s.id ?? null, transport: transportOf(s) };
  },

  exit() {
    shutdown(0);
    return {};
  },
};

function shutdown(code) {
  for (const s of sockets.values()) s.disconnect();
  for (const m of managers.values()) m.engine?.close();
  clearTimeout(overall);
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
  Promise.resolve()
    .then(() => handler(msg))
    .then(
      (result) => out({ req, result: result ?? {} }),
      (err) => out({ req, fail: err?.stack ?? String(err) }),
    );
});
rl.on("close", () => shutdown(0));
