// Interop scenarios: the official socket.io-client against a hypersio server.
//
// usage: node sio_client_scenarios.js URL MODE PARSER [SCENARIO ...]
//   MODE    websocket | polling | upgrade   (transports: ["websocket"], ["polling"], both + upgrade)
//   PARSER  json | msgpack                  (msgpack = socket.io-msgpack-parser)
// Runs the scenarios one after the other (all when none is named) and prints one JSON line per
// scenario: {"name", "ok", "error"?, "details"?}. The server side lives in
// tests/server/test_interop_client.py; each client tells it which scenario it plays through
// auth.scenario. Every wait is bounded so the process always ends.

"use strict";

const { io } = require("socket.io-client");

const [url, mode, parserName, ...wanted] = process.argv.slice(2);
const baseOpts = {
  forceNew: true,
  reconnection: false,
  timeout: 3000,
  transports: mode === "websocket" ? ["websocket"] : mode === "polling" ? ["polling"] : ["polling", "websocket"],
  upgrade: mode === "upgrade",
};
if (parserName === "msgpack") {
  baseOpts.parser = require("socket.io-msgpack-parser");
}
const expectedTransport = mode === "polling" ? "polling" : "websocket";

const open = [];

function client(scenario, nsp = "", extra = {}) {
  const auth = Object.assign({ scenario }, extra.auth || {});
  const socket = io(url + nsp, Object.assign({}, baseOpts, extra, { auth }));
  open.push(socket);
  return socket;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function once(socket, event, ms = 2000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${event}"`)), ms);
    socket.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

async function connected(socket) {
  if (!socket.connected) {
    await once(socket, "connect");
  }
  return socket;
}

function assert(cond, message) {
  if (!cond) throw new Error("assertion failed: " + message);
}

function eq(actual, expected, message) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message}: expected ${e}, got ${a}`);
}

function isBuf(x) {
  return Buffer.isBuffer(x) || x instanceof ArrayBuffer || ArrayBuffer.isView(x);
}

function bytes(x) {
  if (Buffer.isBuffer(x)) return [...x];
  if (x instanceof ArrayBuffer) return [...new Uint8Array(x)];
  return [...new Uint8Array(x.buffer, x.byteOffset, x.byteLength)];
}

// Collect events named `event` on each socket for `ms`.
async function collect(sockets, event, action, ms = 120) {
  const got = sockets.map(() => []);
  const handlers = sockets.map((s, i) => (...args) => got[i].push(args));
  sockets.forEach((s, i) => s.on(event, handlers[i]));
  await action();
  await sleep(ms);
  sockets.forEach((s, i) => s.off(event, handlers[i]));
  return got;
}

const scenarios = {
  // socket.emit("hello", "world") on connection
  async hello() {
    const s = client("hello");
    const [arg] = await once(s, "hello");
    eq(arg, "world", "hello payload");
    await connected(s);
    return { id: s.id };
  },

  // several arguments with binary inside an object, both directions
  async multi() {
    const s = client("multi");
    const args = await once(s, "hello");
    eq(args.length, 3, "three arguments");
    eq(args[0], 1, "first");
    eq(args[1], "2", "second");
    eq(args[2]["3"], "4", "object string");
    assert(isBuf(args[2]["5"]), "binary inside object arrives as a buffer");
    eq(bytes(args[2]["5"]), [6], "binary content");
    await connected(s);
    const echoed = await s.timeout(2000).emitWithAck("echo", 1, "2", { 3: "4", 5: Buffer.from([6, 7]) }, [Buffer.from([0, 255])]);
    eq(echoed, 1, "emitWithAck returns the first ack argument");
    const all = await new Promise((resolve, reject) =>
      s.timeout(2000).emit("echo", 1, "2", { 3: "4", 5: Buffer.from([6, 7]) }, [Buffer.from([0, 255])], (err, ...res) =>
        err ? reject(err) : resolve(res),
      ),
    );
    eq(all[1], "2", "echo arg 2");
    eq(bytes(all[2]["5"]), [6, 7], "echo binary in object");
    eq(bytes(all[3][0]), [0, 255], "echo binary in array");
    return { n: all.length };
  },

  // client -> server with ack: callback style (JS ack callable) and return-value style
  async ack() {
    const s = await connected(client("ack"));
    const r1 = await new Promise((resolve) => s.emit("request", { foo: "bar" }, "baz", (res) => resolve(res)));
    eq(r1, { status: "ok", got: [{ foo: "bar" }, "baz"] }, "callback ack");
    const r2 = await new Promise((resolve, reject) =>
      s.timeout(2000).emit("request", { foo: "bar" }, "baz", (err, res) => (err ? reject(err) : resolve(res))),
    );
    eq(r2.status, "ok", "ack with timeout");
    const r3 = await s.timeout(2000).emitWithAck("request2", 1, 2);
    eq(r3, { status: "ok2", sum: 3 }, "return value is the ack");
    const r4 = await new Promise((resolve) => s.emit("spread", (...res) => resolve(res)));
    eq(r4, [1, "two", null], "tuple spreads into several ack arguments");
    return {};
  },

  // emitWithAck without timeout
  async emitWithAck() {
    const s = await connected(client("emitWithAck"));
    const r = await s.emitWithAck("request2", 20, 22);
    eq(r.sum, 42, "emitWithAck result");
    return {};
  },

  // an ack that times out (the server never answers)
  async ackTimeout() {
    const s = await connected(client("ackTimeout"));
    const t0 = Date.now();
    const err = await new Promise((resolve) => s.timeout(200).emit("never", 1, (err) => resolve(err)));
    assert(err instanceof Error, "timeout error given to the callback");
    let rejected = false;
    try {
      await s.timeout(150).emitWithAck("never", 2);
    } catch (e) {
      rejected = true;
    }
    assert(rejected, "emitWithAck rejects on timeout");
    return { ms: Date.now() - t0 };
  },

  // server -> client acks: emit_with_ack, timeout().emit(cb), emit(cb), and a server-side timeout
  async serverAck() {
    const s = client("serverAck");
    s.on("ask", (a, b, cb) => cb({ got: [a, b] }));
    s.on("ask2", (a, cb) => cb(a * 2, "x"));
    s.on("ask3", (cb) => cb("three"));
    s.on("ignored", () => {});
    const [report] = await once(s, "serverAck-report", 3000);
    eq(report.with_ack, { got: [{ foo: "bar" }, "baz"] }, "await emit_with_ack");
    eq(report.cb_timeout, [null, 42, "x"], "timeout(t).emit callback (err, *args)");
    eq(report.cb_plain, ["three"], "emit callback without timeout");
    eq(report.timeout_error, "AckTimeoutError", "server-side ack timeout");
    return {};
  },

  // onAny / onAnyOutgoing on both sides
  async onAny() {
    const s = client("onAny");
    const incoming = [];
    const outgoing = [];
    s.onAny((ev, ...args) => incoming.push([ev, ...args]));
    s.onAnyOutgoing((ev, ...args) => outgoing.push([ev, ...args]));
    await connected(s);
    s.emit("a1", 1, "x");
    const [report] = await once(s, "any-report");
    eq(report, ["a1", 1, "x"], "server onAny saw the event");
    const serverOutgoing = await s.timeout(2000).emitWithAck("get-outgoing");
    assert(serverOutgoing.some((e) => e[0] === "any-report"), "server onAnyOutgoing saw any-report: " + JSON.stringify(serverOutgoing));
    eq(incoming[0], ["any-report", ["a1", 1, "x"]], "client onAny saw the server event");
    eq(outgoing[0], ["a1", 1, "x"], "client onAnyOutgoing saw a1");
    return {};
  },

  // io.emit reaches everyone
  async broadcastAll() {
    const token = Math.random().toString(36).slice(2);
    const a = await connected(client("broadcastAll"));
    const b = await connected(client("broadcastAll"));
    const got = await collect([a, b], "shouted", () => a.emitWithAck("shout", token), 150);
    eq(got.map((g) => g.filter((args) => args[0] === token).length), [1, 1], "both got io.emit");
    return {};
  },

  // to(room), except(room), socket.to(room) skipping the sender, leave
  async rooms() {
    const room = "room-" + Math.random().toString(36).slice(2);
    const [a, b, c] = await Promise.all([client("rooms"), client("rooms"), client("rooms")].map(connected));
    await a.emitWithAck("join", room);
    await b.emitWithAck("join", room);
    let got = await collect([a, b, c], "room-msg", () => c.emitWithAck("to-room", room, "r1"));
    eq(got.map((g) => g.length), [1, 1, 0], "to(room)");
    eq(got[0][0], ["r1"], "to(room) payload");
    got = await collect([a, b, c], "except-msg", () => c.emitWithAck("except-room", room, "e1"));
    eq(got.map((g) => g.filter((x) => x[0] === "e1").length), [0, 0, 1], "except(room)");
    got = await collect([a, b, c], "peer-msg", () => a.emitWithAck("socket-to", room, "p1"));
    eq(got.map((g) => g.length), [0, 1, 0], "socket.to(room) skips the sender");
    got = await collect([a, b, c], "peer-msg", () => a.emitWithAck("socket-broadcast", "p2"));
    eq(got.map((g) => g.filter((x) => x[0] === "p2").length), [0, 1, 1], "socket.broadcast skips the sender");
    await b.emitWithAck("leave", room);
    got = await collect([a, b, c], "room-msg", () => c.emitWithAck("to-room", room, "r2"));
    eq(got.map((g) => g.length), [1, 0, 0], "after leave");
    return {};
  },

  // a second namespace on the same connection (Manager) and its own handlers
  async namespace() {
    const root = client("namespace");
    const admin = root.io.socket("/admin", { auth: { scenario: "namespace" } });
    open.push(admin);
    admin.connect();
    const [greeting] = await once(admin, "hello-admin");
    eq(greeting, "welcome to /admin", "namespace greeting");
    await connected(root);
    const r = await admin.timeout(2000).emitWithAck("whoami");
    eq(r, "/admin", "event routed to the namespace");
    return {};
  },

  // unknown namespace refused with "Invalid namespace"
  async unknownNamespace() {
    const s = client("unknownNamespace", "/random");
    const [err] = await once(s, "connect_error");
    eq(err.message, "Invalid namespace", "connect_error message");
    return {};
  },

  // middleware: ConnectError(message, data) -> connect_error with err.data
  async middleware() {
    const bad = client("middleware", "/private", { auth: { token: "wrong" } });
    const [err] = await once(bad, "connect_error");
    eq(err.message, "Not authorized", "middleware message");
    eq(err.data, { code: 42 }, "middleware data");
    const good = client("middleware", "/private", { auth: { token: "secret" } });
    const userEvent = once(good, "user"); // listen first: it comes right after the CONNECT reply
    await connected(good);
    const [user] = await userEvent;
    eq(user, "alice", "socket.data set by the middleware");
    return {};
  },

  // server-side disconnect reaches the client as "io server disconnect"
  async disconnect() {
    const s = await connected(client("disconnect"));
    s.emit("kick");
    const [reason] = await once(s, "disconnect");
    eq(reason, "io server disconnect", "client sees the server's disconnect");
    return {};
  },

  // a dynamic namespace (regex on the server) and its per-name child
  async dynamicNamespace() {
    const s = client("dynamicNamespace", "/dyn-42");
    const [greeting] = await once(s, "hello-dyn");
    eq(greeting, "/dyn-42", "child namespace name");
    const bad = client("dynamicNamespace", "/dyn-x");
    const [err] = await once(bad, "connect_error");
    eq(err.message, "Invalid namespace", "non-matching dynamic name refused");
    return {};
  },

  // broadcast acks (one answer per client), fetch_sockets, sockets_join, disconnect_sockets
  async operators() {
    const room = "ops-" + Math.random().toString(36).slice(2);
    const [a, b, c] = await Promise.all([client("operators"), client("operators"), client("operators")].map(connected));
    for (const s of [a, b, c]) s.on("poll", (q, cb) => cb(s.id));
    await a.emitWithAck("join", room);
    await b.emitWithAck("join", room);
    const answers = await c.timeout(3000).emitWithAck("poll-room", room);
    eq([...answers].sort(), [a.id, b.id].sort(), "emit_with_ack collects one answer per client");
    const fetched = await c.timeout(3000).emitWithAck("fetch-room", room);
    eq([...fetched].sort(), [a.id, b.id].sort(), "fetch_sockets");
    await c.timeout(3000).emitWithAck("room-joins", room, room + "-2");
    const fetched2 = await c.timeout(3000).emitWithAck("fetch-room", room + "-2");
    eq([...fetched2].sort(), [a.id, b.id].sort(), "sockets_join");
    const gone = Promise.all([once(a, "disconnect"), once(b, "disconnect")]);
    await c.timeout(3000).emitWithAck("room-disconnect", room);
    const reasons = (await gone).map((args) => args[0]);
    eq(reasons, ["io server disconnect", "io server disconnect"], "disconnect_sockets");
    eq(c.connected, true, "others stay connected");
    return {};
  },

  // the transport actually used (upgrade mode must end on websocket)
  async transport() {
    const s = await connected(client("transport"));
    if (mode === "upgrade" && s.io.engine.transport.name !== "websocket") {
      await once(s.io.engine, "upgrade", 3000);
    }
    eq(s.io.engine.transport.name, expectedTransport, "transport in use");
    const r = await s.timeout(2000).emitWithAck("transport");
    eq(r, expectedTransport, "server sees the same transport");
    return {};
  },
};

// Scenarios that need a server started with connection_state_recovery; run only when named.
const recoveryScenarios = {
  // the transport drops, the server emits to the socket's room meanwhile, the client comes back
  async recovery() {
    const s = client("recovery", "", { reconnection: true, reconnectionDelay: 250, reconnectionDelayMax: 300 });
    await connected(s);
    const id = s.id;
    eq(s.recovered, false, "first connection is not a recovery");
    await s.timeout(2000).emitWithAck("join", "rec-room");
    const pong = once(s, "pong-me");
    s.emit("ping-me");
    const [arg, offset] = await pong;
    eq(arg, "pong", "event payload");
    assert(typeof offset === "string", "recovery appends an offset to each event");
    await s.timeout(2000).emitWithAck("emit-later", "rec-room", 0.1);
    const later = once(s, "later", 4000);
    s.io.engine.close();
    const [payload] = await later;
    eq(payload, "missed while away", "missed event replayed");
    await connected(s);
    eq(s.recovered, true, "socket.recovered");
    eq(s.id, id, "same sid after recovery");
    const rooms = await s.timeout(2000).emitWithAck("my-rooms");
    assert(rooms.includes("rec-room"), "rooms restored: " + JSON.stringify(rooms));
    return {};
  },
};
Object.assign(scenarios, recoveryScenarios);

async function main() {
  const names = wanted.length ? wanted : Object.keys(scenarios).filter((n) => !(n in recoveryScenarios));
  for (const name of names) {
    const fn = scenarios[name];
    const t0 = Date.now();
    let line;
    try {
      if (!fn) throw new Error("unknown scenario " + name);
      const details = await Promise.race([
        fn(),
        sleep(5000).then(() => {
          throw new Error("scenario timed out");
        }),
      ]);
      line = { name, ok: true, details, ms: Date.now() - t0 };
    } catch (e) {
      line = { name, ok: false, error: String((e && e.stack) || e), ms: Date.now() - t0 };
    }
    for (const s of open.splice(0)) s.disconnect();
    process.stdout.write(JSON.stringify(line) + "\n");
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(String(e) + "\n");
    process.exit(1);
  },
);
