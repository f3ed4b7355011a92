// One node of a cluster of official Socket.IO servers (socket.io 4.8.3) joined by the classic
// @socket.io/redis-adapter 8.3.0 over node-redis 5 (all from tests/js/node_modules), running the
// cluster benchmark's control protocol (benchmarks/bench_cluster.py):
//   namespace "/":        a client may send {room} in its CONNECT auth and is joined to that room.
//   namespace "/control": "start" {count, per_turn, payload_size, rooms, rate} emits `count` "tick"
//                         events [send time in seconds, index, payload] to everyone in "/" on every
//                         node of the cluster (or to room r<index % rooms>), `per_turn` emits per
//                         event-loop turn; with `rate` > 0 the turns are paced so that `rate`
//                         broadcasts/s go out (0: as fast as the loop runs). Then it answers "done"
//                         {t0, t1, count}.
// Prints "READY <port>" once both Redis connections are up (the adapter subscribes right after).
// Usage: NODE_PATH=tests/js/node_modules node node_cluster_server.js --redis-url URL --key PREFIX
//        --port P [--ping-interval S] [--ping-timeout S]
"use strict";
const http = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const port = Number(option("--port", "3000"));
const redisUrl = option("--redis-url", "redis://127.0.0.1:6379");
const key = option("--key", "socket.io");
const options = {
  transports: ["websocket", "polling"],
  pingInterval: Math.round(Number(option("--ping-interval", "25")) * 1000),
  pingTimeout: Math.round(Number(option("--ping-timeout", "20")) * 1000),
  maxHttpBufferSize: 1e6,
};

// Wall-clock seconds with sub-millisecond precision, comparable with Python's time.time().
const now = () => (performance.timeOrigin + performance.now()) / 1000;
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (s) => new Promise((resolve) => setTimeout(resolve, Math.max(0, s * 1000)));

async function main() {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, { ...options, adapter: createAdapter(pub, sub, { key }) });

  io.on("connection", (socket) => {
    const room = socket.handshake.auth && socket.handshake.auth.room;
    if (room) socket.join(room);
  });

  io.of("/control").on("connection", (socket) => {
    socket.on("start", async (opts) => {
      const payload = "x".repeat(opts.payload_size);
      const perTurn = Math.max(1, opts.per_turn);
      const rooms = opts.rooms || 0;
      const rate = opts.rate || 0;
      const t0 = now();
      for (let i = 0; i < opts.count; i++) {
        const target = rooms ? io.to("r" + (i % rooms)) : io;
        target.emit("tick", now(), i, payload);
        if ((i + 1) % perTurn === 0) {
          if (rate > 0) await sleep(t0 + (i + 1) / rate - now());
          else await nextTurn();
        }
      }
      socket.emit("done", { t0, t1: now(), count: opts.count });
    });
  });

  httpServer.listen(port, "127.0.0.1", () => console.log(`READY ${port}`));
  const stop = async () => {
    io.close();
    await Promise.allSettled([pub.quit(), sub.quit()]);
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
