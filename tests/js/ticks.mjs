// Connection state recovery under a steady stream of broadcasts: count `tick` events, drop the
// transport after a few, come back by itself, and print every tick number seen, in order.
//   node ticks.mjs <url> [afterRestore=20]
import { io } from "socket.io-client";

const [url, after = "20"] = process.argv.slice(2);
const out = (o) => console.log(JSON.stringify(o));
const socket = io(url, {
  transports: ["websocket"],
  reconnectionDelay: 100,
  reconnectionDelayMax: 100,
  randomizationFactor: 0,
});
const ticks = [];
const connects = [];
let sinceRestore = -1;
socket.on("connect", () => {
  connects.push({ id: socket.id, recovered: socket.recovered });
  if (connects.length === 2) sinceRestore = 0;
});
socket.on("tick", (n) => {
  ticks.push(n);
  if (connects.length === 1 && ticks.length === 5) {
    socket.io.engine.close();
  }
  if (sinceRestore >= 0 && ++sinceRestore === +after) {
    out({ event: "done", connects, ticks });
    socket.disconnect();
    setTimeout(() => process.exit(0), 50);
  }
});
setTimeout(() => {
  console.error("timeout: " + JSON.stringify({ connects, ticks }));
  process.exit(1);
}, 15000);
