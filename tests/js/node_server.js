// A test server on the official `socket.io` package, for hypersio's client tests.
//
// Usage: node node_server.js <port> [json|msgpack]
//   port 0 picks a free port. Binds 127.0.0.1 only. Prints "listening <port>" once ready, and
//   exits by itself after HYPERSIO_TEST_SERVER_TTL seconds (default 120) so that a crashed test
//   run can never leave it behind. Exits on SIGTERM or when stdin closes.
//
// Scenarios (namespace "/" and "/admin" share them):
//   "echo" ...args                 -> emits "echo-back" with the same args (binary kept)
//   "ack" ...args, cb              -> cb(...args)
//   "no-ack" ...args, cb           -> never calls cb (for client ack timeouts)
//   "ack-multi" cb                 -> cb(1, "two", Buffer)
//   "ask" event, ...args, cb       -> socket.timeout(2000).emitWithAck(event, ...args) and
//                                     cb({ok: true, response}) or cb({ok: false, error})
//   "join" room, cb                -> socket.join(room); cb(sorted rooms)
//   "to-room" room, event, ...args -> io.of(nsp).to(room).emit(event, ...args)
//   "broadcast" event, ...args     -> socket.broadcast.emit(event, ...args)
//   "whoami" cb                    -> cb({id, nsp, auth, query, headers, transport})
//   "disconnect-me"                -> socket.disconnect()
//   "close-transport"              -> socket.conn.close() (the client should reconnect)
//   "reason-of" id, cb             -> cb(disconnect reason recorded for that socket id, or null)
//   "recovered" cb                 -> cb(socket.recovered)
// HYPERSIO_RECOVERY=1 turns on connection state recovery.
// "/auth": a middleware refuses unless auth.token === "secret", with err.data = {code: 42}.
// Any other namespace is unknown (the server answers "Invalid namespace").
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const port = parseInt(process.argv[2] || "0", 10);
const parserName = process.argv[3] || "json";
const ttl = parseFloat(process.env.HYPERSIO_TEST_SERVER_TTL || "120");

const options = {
  pingInterval: parseInt(process.env.HYPERSIO_PING_INTERVAL || "25000", 10),
  pingTimeout: parseInt(process.env.HYPERSIO_PING_TIMEOUT || "20000", 10),
  maxHttpBufferSize: 1e6,
};
if (process.env.HYPERSIO_RECOVERY) {
  // Connection state recovery: sessions survive a transport loss of up to 2 s.
  options.connectionStateRecovery = { maxDisconnectionDuration: 2000, skipMiddlewares: true };
}
if (parserName === "msgpack") {
  options.parser = require("socket.io-msgpack-parser");
}

const httpServer = http.createServer();
const io = new Server(httpServer, options);
const reasons = new Map();

function setup(nsp) {
  nsp.on("connection", (socket) => {
    socket.on("disconnect", (reason) => {
      reasons.set(socket.id, reason);
    });
    socket.on("echo", (...args) => {
      socket.emit("echo-back", ...args);
    });
    socket.on("ack", (...args) => {
      const cb = args.pop();
      cb(...args);
    });
    socket.on("no-ack", () => {});
    socket.on("ack-multi", (cb) => {
      cb(1, "two", Buffer.from([3, 4]));
    });
    socket.on("ask", async (event, ...args) => {
      const cb = args.pop();
      try {
        const response = await socket.timeout(2000).emitWithAck(event, ...args);
        cb({ ok: true, response });
      } catch (err) {
        cb({ ok: false, error: String(err && err.message) });
      }
    });
    socket.on("join", (room, cb) => {
      socket.join(room);
      cb([...socket.rooms].sort());
    });
    socket.on("to-room", (room, event, ...args) => {
      nsp.to(room).emit(event, ...args);
    });
    socket.on("broadcast", (event, ...args) => {
      socket.broadcast.emit(event, ...args);
    });
    socket.on("whoami", (cb) => {
      cb({
        id: socket.id,
        nsp: nsp.name,
        auth: socket.handshake.auth,
        query: socket.handshake.query,
        headers: socket.handshake.headers,
        transport: socket.conn.transport.name,
      });
    });
    socket.on("disconnect-me", () => socket.disconnect());
    socket.on("close-transport", () => socket.conn.close());
    socket.on("reason-of", (id, cb) => cb(reasons.has(id) ? reasons.get(id) : null));
    socket.on("recovered", (cb) => cb(socket.recovered));
  });
}

setup(io.of("/"));
setup(io.of("/admin"));
const authNsp = io.of("/auth");
authNsp.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "secret") {
    next();
  } else {
    const err = new Error("not authorized");
    err.data = { code: 42 };
    next(err);
  }
});
setup(authNsp);

httpServer.listen(port, "127.0.0.1", () => {
  process.stdout.write(`listening ${httpServer.address().port}\n`);
});

function shutdown() {
  io.close();
  httpServer.close();
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.stdin.on("end", shutdown);
process.stdin.resume();
setTimeout(shutdown, ttl * 1000).unref();
