// An official Socket.IO server in a Redis cluster, driven by hypersio's cluster tests.
//
//   node cluster_node.js '<json config>'
//
// config: {adapter: "classic" | "sharded" | "streams" | "emitter", redisUrl, key, channelPrefix,
//          subscriptionMode, streamName, csr, requestsTimeout}
// It prints {"ready": <port>} (port 0 for "emitter", which only publishes), then reads one JSON
// command per line on stdin and answers each with {"id", "result"} or {"id", "error"}; it also
// prints {"event": ...} lines for what its server-side listeners and its clients did.
// Binary values travel in these JSON lines as {"$bin": "<base64>"}. stdin closing ends the process.
"use strict";

const http = require("http");
const readline = require("readline");
const { Server } = require("socket.io");
const { createClient } = require("redis");

const config = JSON.parse(process.argv[2] || "{}");
const redisUrl = config.redisUrl || "redis://127.0.0.1:6379";

function out(obj) {
  process.stdout.write(JSON.stringify(obj, (k, v) => v) + "\n");
}

function toWire(value) {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    return { $bin: Buffer.from(value).toString("base64") };
  }
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("base64") };
  if (Array.isArray(value)) return value.map(toWire);
  if (value && typeof value === "object" && !(value instanceof Date)) {
    const o = {};
    for (const [k, v] of Object.entries(value)) o[k] = toWire(v);
    return o;
  }
  return value;
}

function fromWire(value) {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value && typeof value === "object") {
    if (typeof value.$bin === "string" && Object.keys(value).length === 1) return Buffer.from(value.$bin, "base64");
    const o = {};
    for (const [k, v] of Object.entries(value)) o[k] = fromWire(v);
    return o;
  }
  return value;
}

async function makeAdapter() {
  // A Redis Cluster when config.clusterNodes lists its nodes (the sharded adapter's cluster mode).
  const { createCluster } = require("redis");
  const pub = config.clusterNodes
    ? createCluster({ rootNodes: config.clusterNodes.map((url) => ({ url })) })
    : createClient({ url: redisUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const clients = [pub, sub];
  if (config.adapter === "classic") {
    const { createAdapter } = require("@socket.io/redis-adapter");
    const opts = { key: config.key || "socket.io" };
    if (config.requestsTimeout) opts.requestsTimeout = config.requestsTimeout;
    return { adapter: createAdapter(pub, sub, opts), clients };
  }
  if (config.adapter === "sharded") {
    const { createShardedAdapter } = require("@socket.io/redis-adapter");
    const opts = { channelPrefix: config.channelPrefix || "socket.io" };
    if (config.subscriptionMode) opts.subscriptionMode = config.subscriptionMode;
    return { adapter: createShardedAdapter(pub, sub, opts), clients };
  }
  if (config.adapter === "streams") {
    const { createAdapter } = require("@socket.io/redis-streams-adapter");
    const opts = { streamName: config.streamName || "socket.io", channelPrefix: config.channelPrefix || "socket.io" };
    if (config.sessionKeyPrefix) opts.sessionKeyPrefix = config.sessionKeyPrefix;
    return { adapter: createAdapter(pub, opts), clients };
  }
  throw new Error("unknown adapter " + config.adapter);
}

async function main() {
  if (config.adapter === "emitter") {
    const { Emitter } = require("@socket.io/redis-emitter");
    const client = createClient({ url: redisUrl });
    await client.connect();
    const base = new Emitter(client, { key: config.key || "socket.io" });
    out({ ready: 0 });
    serveCommands(async (cmd) => {
      let e = cmd.nsp && cmd.nsp !== "/" ? base.of(cmd.nsp) : base;
      if (cmd.rooms && cmd.rooms.length) e = e.to(cmd.rooms);
      const exc = cmd.except || cmd.except_;
      if (exc && exc.length) e = e.except(exc);
      if (cmd.volatile) e = e.volatile;
      switch (cmd.op) {
        case "emit": e.emit(cmd.event, ...fromWire(cmd.args || [])); return null;
        case "socketsJoin": e.socketsJoin(cmd.join); return null;
        case "socketsLeave": e.socketsLeave(cmd.leave); return null;
        case "disconnectSockets": e.disconnectSockets(!!cmd.close); return null;
        case "serverSideEmit": e.serverSideEmit(cmd.event, ...fromWire(cmd.args || [])); return null;
        case "close": await client.quit(); setTimeout(() => process.exit(0), 10); return null;
      }
      throw new Error("unknown op " + cmd.op);
    });
    return;
  }
  const { adapter, clients } = await makeAdapter();
  const httpServer = http.createServer();
  const opts = { adapter };
  if (config.csr) opts.connectionStateRecovery = { maxDisconnectionDuration: 60000, skipMiddlewares: true };
  const io = new Server(httpServer, opts);

  function setup(nsp) {
    nsp.on("connection", (socket) => {
      const rooms = (socket.handshake.auth && socket.handshake.auth.rooms) || [];
      socket.join(rooms);
      if (socket.handshake.auth && socket.handshake.auth.data) socket.data = socket.handshake.auth.data;
      out({ event: "connection", nsp: nsp.name, id: socket.id, recovered: socket.recovered });
      socket.on("double", (x, cb) => cb(x * 2));
      socket.on("broadcast", (event, ...args) => socket.broadcast.emit(event, ...fromWire(args)));
      socket.on("disconnect", (reason) => out({ event: "disconnect", nsp: nsp.name, id: socket.id, reason }));
    });
    nsp.on("sse", (...args) => {
      const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
      out({ event: "sse", nsp: nsp.name, args: toWire(args), ack: !!cb });
      if (cb) cb({ from: "node", args: toWire(args) });
    });
  }
  setup(io.of("/"));
  setup(io.of("/admin"));

  httpServer.listen(0, "127.0.0.1", () => {
    out({ ready: httpServer.address().port });
  });

  serveCommands(async (cmd) => {
    const nsp = io.of(cmd.nsp || "/");
    let op = nsp;
    if (cmd.rooms && cmd.rooms.length) op = op.to(cmd.rooms);
    const exc = cmd.except || cmd.except_;
    if (exc && exc.length) op = op.except(exc);
    if (cmd.volatile) op = op.volatile;
    if (cmd.local) op = op.local;
    if (cmd.timeout) op = op.timeout(cmd.timeout);
    switch (cmd.op) {
      case "emit": op.emit(cmd.event, ...fromWire(cmd.args || [])); return null;
      case "emitWithAck": return toWire(await op.emitWithAck(cmd.event, ...fromWire(cmd.args || [])));
      case "fetchSockets": {
        const sockets = await op.fetchSockets();
        return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data, auth: s.handshake.auth }));
      }
      case "remoteEmit": {
        const sockets = await nsp.fetchSockets();
        const s = sockets.find((x) => x.id === cmd.sid);
        if (!s) throw new Error("no socket " + cmd.sid);
        s.emit(cmd.event, ...fromWire(cmd.args || []));
        return null;
      }
      case "remoteJoin": {
        const s = (await nsp.fetchSockets()).find((x) => x.id === cmd.sid);
        s.join(cmd.join); return null;
      }
      case "remoteDisconnect": {
        const s = (await nsp.fetchSockets()).find((x) => x.id === cmd.sid);
        s.disconnect(!!cmd.close); return null;
      }
      case "setData": {
        const s = nsp.sockets.get(cmd.sid);
        if (!s) throw new Error("no local socket " + cmd.sid);
        s.data = fromWire(cmd.data); return null;
      }
      case "socketsJoin": op.socketsJoin(cmd.join); return null;
      case "socketsLeave": op.socketsLeave(cmd.leave); return null;
      case "disconnectSockets": op.disconnectSockets(!!cmd.close); return null;
      case "serverSideEmit": nsp.serverSideEmit(cmd.event, ...fromWire(cmd.args || [])); return null;
      case "serverSideEmitWithAck": {
        return toWire(await nsp.serverSideEmitWithAck(cmd.event, ...fromWire(cmd.args || [])));
      }
      case "serverCount": return await nsp.adapter.serverCount();
      case "allRooms": return [...(await nsp.adapter.allRooms())];
      case "localRooms": return [...nsp.adapter.rooms.keys()];
      case "close":
        io.close();
        await Promise.all(clients.map((c) => c.quit().catch(() => {})));
        setTimeout(() => process.exit(0), 10);
        return null;
    }
    throw new Error("unknown op " + cmd.op);
  });
}

function serveCommands(handle) {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", async (line) => {
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch (e) {
      return;
    }
    try {
      const result = await handle(cmd);
      out({ id: cmd.id, result: result === undefined ? null : result });
    } catch (e) {
      out({ id: cmd.id, error: String(e && e.message ? e.message : e) });
    }
  });
  rl.on("close", () => process.exit(0));
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
  process.exit(1);
});
