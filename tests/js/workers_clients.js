// Official socket.io-client connections for hypersio's workers tests.
//   node workers_clients.js '<json: {url, clients: [{transports, rooms}]}>'
// Prints {"event": "connect"|"recv"|"disconnect", "client": i, ...} lines; takes one JSON command per
// line on stdin: {id, op: "emitWithAck", client, event, args} | {id, op: "status"} | {id, op: "close"}
// and answers {id, result} or {id, error}. stdin closing ends the process.
"use strict";

const readline = require("readline");
const { io } = require("socket.io-client");

const config = JSON.parse(process.argv[2]);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const sockets = config.clients.map((c, i) => {
  const socket = io(config.url, { transports: c.transports, auth: { rooms: c.rooms || [] }, reconnection: false });
  socket.on("connect", () => out({ event: "connect", client: i, id: socket.id }));
  socket.on("disconnect", (reason) => out({ event: "disconnect", client: i, reason }));
  socket.on("connect_error", (err) => out({ event: "connect_error", client: i, message: String(err.message) }));
  socket.on("ask", (x, cb) => cb(x + 1));
  socket.onAny((name, ...args) => out({ event: "recv", client: i, name, args }));
  return socket;
});

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  const cmd = JSON.parse(line);
  try {
    let result = null;
    if (cmd.op === "emitWithAck") {
      result = await sockets[cmd.client].timeout(cmd.timeout || 5000).emitWithAck(cmd.event, ...(cmd.args || []));
    } else if (cmd.op === "status") {
      result = sockets.map((s) => ({ id: s.id, connected: s.connected, transport: s.io.engine ? s.io.engine.transport.name : null }));
    } else if (cmd.op === "close") {
      sockets.forEach((s) => s.close());
      setTimeout(() => process.exit(0), 10);
    }
    out({ id: cmd.id, result });
  } catch (e) {
    out({ id: cmd.id, error: String(e && e.message ? e.message : e) });
  }
});
rl.on("close", () => process.exit(0));
