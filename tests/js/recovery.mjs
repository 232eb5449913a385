// Connection state recovery seen from the npm socket.io-client: connect over websocket, drop the
// transport when the server says "ready", come back by itself, and print what arrived.
//   node recovery.mjs <url> [waitBeforeReconnectMs]
import { io } from "socket.io-client";

const [url, delay = "1200"] = process.argv.slice(2);
const out = (o) => console.log(JSON.stringify(o));
const socket = io(url, {
  transports: ["websocket"],
  reconnectionDelay: +delay,
  reconnectionDelayMax: +delay,
  randomizationFactor: 0,
});
const events = [];
let connects = 0;
socket.on("connect", () => {
  connects++;
  out({ event: "connect", n: connects, id: socket.id, recovered: socket.recovered });
  if (connects === 2 && !socket.recovered) {
    // Not restored: a fresh socket, nothing more to wait for.
    socket.disconnect();
    setTimeout(() => process.exit(0), 50);
  }
});
socket.onAny((ev, ...args) => {
  events.push([ev, ...args]);
  if (ev === "ready" && connects === 1) {
    setTimeout(() => {
      socket.io.engine.close();
      out({ event: "dropped" });
    }, 20);
  }
  if (ev === "done") {
    out({ event: "done", events });
    socket.disconnect();
    setTimeout(() => process.exit(0), 50);
  }
});
setTimeout(() => {
  console.error("timeout; events so far: " + JSON.stringify(events));
  process.exit(1);
}, 15000);
