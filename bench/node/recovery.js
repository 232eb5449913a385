// The Node socket.io peer of the `recovery` benchmark (bench/src/recovery.rs, issue 7): the same
// handlers as examples/bench_recovery.rs, frame for frame. PORT (default 3000); ping 25 s /
// 20 s, no compression; connectionStateRecovery on (10-minute window, skipMiddlewares) unless
// RECOVERY=0. Run with --expose-gc: `gc` then collects garbage before its ack (which carries
// the V8 heap in use), so that the harness reads RSS without the garbage of the connections that
// came and went. Exits on SIGTERM.
"use strict";
const { createServer } = require("http");
const { Server } = require("socket.io");

const port = Number(process.env.PORT || 3000);
const recovery = process.env.RECOVERY !== "0";
const httpServer = createServer();
const io = new Server(httpServer, {
  pingInterval: 25000,
  pingTimeout: 20000,
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
  ...(recovery
    ? {
        connectionStateRecovery: {
          maxDisconnectionDuration: 10 * 60 * 1000,
          skipMiddlewares: true,
        },
      }
    : {}),
});

io.on("connection", (socket) => {
  socket.on("setup", (room, name, ack) => {
    socket.join(room);
    socket.data = { name };
    if (typeof ack === "function") ack(null);
  });
  socket.on("echo", (...args) => {
    socket.emit("echo", ...args);
  });
  socket.on("bcast", (...args) => {
    io.to("bench").emit("msg", ...args);
  });
  socket.on("count", (ack) => {
    if (typeof ack === "function") ack(io.engine.clientsCount);
  });
  socket.on("gc", (ack) => {
    if (typeof global.gc === "function") global.gc();
    if (typeof ack === "function") ack(process.memoryUsage().heapUsed);
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${port}`);
});

const stop = () => process.exit(0);
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
