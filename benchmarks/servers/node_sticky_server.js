// The official Socket.IO server on every core: Node's cluster module with @socket.io/sticky 2.0.1
// (the primary owns the port, reads the first chunk of each connection and passes the socket to the
// worker its sid names, round-robin for handshakes) and @socket.io/cluster-adapter 0.3.0 (broadcasts
// between the workers over the cluster's IPC channels), socket.io 4.8.3, all from tests/js/node_modules.
// The Node counterpart of `python -m hypersio serve APP --workers N`; same control protocol as
// node_server.js (namespace "/": {room} in the CONNECT auth, "echo" acknowledged with its arguments;
// namespace "/control": "start" {count, per_turn, payload_size, rooms} -> "tick" events, then "done").
// Usage: NODE_PATH=tests/js/node_modules node node_sticky_server.js --port P [--workers N]
// The primary listens only once every worker is ready, binds 127.0.0.1, and on SIGTERM stops the
// workers and exits.
"use strict";
const cluster = require("cluster");
const http = require("http");

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const port = Number(option("--port", "3000"));
const workers = Number(option("--workers", "2"));

if (cluster.isPrimary) {
  const { setupMaster } = require("@socket.io/sticky");
  const { setupPrimary } = require("@socket.io/cluster-adapter");
  const httpServer = http.createServer();
  setupMaster(httpServer, { loadBalancingMethod: "round-robin" });
  setupPrimary();
  cluster.setupPrimary({ serialization: "advanced" });
  let ready = 0;
  let stopping = false;
  for (let i = 0; i < workers; i++) {
    const worker = cluster.fork();
    worker.on("message", (message) => {
      if (message && message.type === "bench:ready" && ++ready === workers) {
        httpServer.listen(port, "127.0.0.1", () => console.log(`READY ${port}`));
      }
    });
  }
  cluster.on("exit", (worker, code, signal) => {
    if (!stopping) console.log(`worker ${worker.process.pid} exited (${code || signal})`);
  });
  process.on("SIGTERM", () => {
    stopping = true;
    httpServer.close();
    for (const worker of Object.values(cluster.workers)) worker.process.kill("SIGTERM");
    setTimeout(() => process.exit(0), 200);
  });
} else {
  const { Server } = require("socket.io");
  const { setupWorker } = require("@socket.io/sticky");
  const { createAdapter } = require("@socket.io/cluster-adapter");
  const now = () => (performance.timeOrigin + performance.now()) / 1000;
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    transports: ["websocket", "polling"],
    pingInterval: 25000,
    pingTimeout: 20000,
    maxHttpBufferSize: 1e6,
  });
  io.adapter(createAdapter());
  setupWorker(io);

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
  });

  process.send({ type: "bench:ready" });
  process.on("SIGTERM", () => process.exit(0));
}
