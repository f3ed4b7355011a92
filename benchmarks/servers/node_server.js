// The official Socket.IO server (socket.io 4.8.3 from tests/js/node_modules) running the benchmark
// control protocol shared by every server in benchmarks/servers/:
//   namespace "/":        a client may send {room} in its CONNECT auth and is joined to that room;
//                         "echo" is acknowledged with its own arguments.
//   namespace "/control": "start" {count, per_turn, payload_size, rooms} emits `count` "tick" events
//                         [send time in seconds, index, payload] to everyone in "/" (or to room
//                         r<index % rooms>), yielding to the event loop after every `per_turn` emits,
//                         then answers "done" {t0, t1, count}.
//                         "tick" {hz, seconds, rooms, payload_size} is a game server's fixed-rate
//                         update: every 1/hz s (tick k due at t0 + k/hz) it emits "tick" [due time,
//                         k * rooms + r, payload] to each room r<r>, r = 0..rooms-1, always yielding
//                         to the event loop between ticks; a tick not started by t0 + seconds is not
//                         sent. Then "done" {t0, t1, count: events emitted, ticks, due: ticks that
//                         were due, late: [start - due of every tick sent, seconds]}.
//                         (The Python servers also take naive_timer; Node writes during emit, so it
//                         has nothing to yield for.)
// Usage: NODE_PATH=tests/js/node_modules node node_server.js --port P [--parser json|msgpack]
//        [--ping-interval S] [--ping-timeout S]
"use strict";
const http = require("http");
const { Server } = require("socket.io");

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const port = Number(option("--port", "3000"));
const parserName = option("--parser", "json");
const options = {
  transports: ["websocket", "polling"],
  pingInterval: Math.round(Number(option("--ping-interval", "25")) * 1000),
  pingTimeout: Math.round(Number(option("--ping-timeout", "20")) * 1000),
  maxHttpBufferSize: 1e6,
};
if (parserName === "msgpack") options.parser = require("socket.io-msgpack-parser");

// Wall-clock seconds with sub-millisecond precision, comparable with Python's time.time().
const now = () => (performance.timeOrigin + performance.now()) / 1000;
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

const httpServer = http.createServer();
const io = new Server(httpServer, options);

io.on("connection", (socket) => {
  const room = socket.handshake.auth && socket.handshake.auth.room;
  if (room) socket.join(room);
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
});

io.of("/control").on("connection", (socket) => {
  socket.on("start", async (opts) => {
    const payload = "x".repeat(opts.payload_size);
    const perTurn = Math.max(1, opts.per_turn);
    const rooms = opts.rooms || 0;
    const t0 = now();
    for (let i = 0; i < opts.count; i++) {
      const target = rooms ? io.to("r" + (i % rooms)) : io;
      target.emit("tick", now(), i, payload);
      if ((i + 1) % perTurn === 0) await nextTurn();
    }
    socket.emit("done", { t0, t1: now(), count: opts.count });
  });
  socket.on("tick", async (opts) => {
    const rooms = opts.rooms;
    const payload = "x".repeat(opts.payload_size);
    const period = 1 / opts.hz;
    const total = Math.round(opts.seconds * opts.hz);
    const t0 = now() + period;
    const end = t0 + opts.seconds;
    const late = [];
    let k = 0;
    while (k < total) {
      const due = t0 + k * period;
      const delayMs = (due - now()) * 1000;
      await new Promise((resolve) => (delayMs > 0 ? setTimeout(resolve, Math.ceil(delayMs)) : setImmediate(resolve)));
      const start = now();
      if (start >= end) break;
      late.push(start - due);
      const base = k * rooms;
      for (let r = 0; r < rooms; r++) io.to("r" + r).emit("tick", due, base + r, payload);
      k++;
    }
    socket.emit("done", { t0, t1: now(), count: k * rooms, ticks: k, due: total, late });
  });
});

httpServer.listen(port, "127.0.0.1", () => console.log(`READY ${port}`));
process.on("SIGTERM", () => process.exit(0));
