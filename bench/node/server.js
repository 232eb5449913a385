// The Node socket.io peer of the benchmarks: the same four handlers as examples/bench_server,
// frame for frame. PORT (default 3000); ping 25 s / 20 s, no compression (websocket or polling),
// no recovery. Exits on SIGTERM.
"use strict";
const { createServer } = require("http");
const { Server } = require("socket.io");

const port = Number(process.env.PORT || 3000);
const httpServer = createServer();
const io = new Server(httpServer, {
  pingInterval: 25000,
  pingTimeout: 20000,
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
});

io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    socket.emit("echo", ...args);
  });
  socket.on("ack", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("join", () => {
    socket.join("bench");
  });
  socket.on("bcast", (...args) => {
    io.to("bench").emit("msg", ...args);
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${port}`);
});

const stop = () => process.exit(0);
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
