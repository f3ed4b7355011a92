// Compression against a hypersio server, seen from the official clients.
//
// usage: node compression_client.js URL MODE
//   ws     socket.io-client over WebSocket (engine.io-client offers permessage-deflate, as it does
//          by default in Node): reports the negotiated parameters and how many bytes crossed the
//          socket for a compressed and an uncompressed event, and for a large event it sent.
//   fetch  socket.io-client over long-polling with the fetch transport (undici sends
//          Accept-Encoding: gzip, deflate and inflates): reports each poll's Content-Encoding.
//   bomb   a raw `ws` client with permessage-deflate sends a message inflating to 20 MB; reports
//          the close code, then checks that a new client still gets an answer.
// Prints one JSON line: {"ok": true, ...} or {"ok": false, "error": ...}. Every wait is bounded.

"use strict";

const { io } = require("socket.io-client");
const { Fetch } = require("engine.io-client");
const WebSocket = require("ws");

const [url, mode] = process.argv.slice(2);
const N = 200000;

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function bounded(promise, ms, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
  ]);
}

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

async function roundTrip(socket, compress) {
  const got = once(socket, "payload");
  const ack = await socket.timeout(3000).emitWithAck("send-me", compress, N);
  const [data] = await bounded(got, 3000, "payload");
  return { ack, length: data.length, intact: data === "x".repeat(N) };
}

async function wsMode() {
  const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
  await bounded(once(socket, "connect"), 3000, "connect");
  const ws = socket.io.engine.transport.ws;
  const deflate = ws._extensions["permessage-deflate"];
  const raw = ws._socket;
  const out = { extensions: ws.extensions, params: deflate ? deflate.params : null };
  let before = raw.bytesRead;
  out.compressed = await roundTrip(socket, true);
  out.compressedBytes = raw.bytesRead - before;
  before = raw.bytesRead;
  out.plain = await roundTrip(socket, false);
  out.plainBytes = raw.bytesRead - before;
  before = raw.bytesWritten;
  out.echoed = await socket.timeout(3000).emitWithAck("echo", "y".repeat(N));
  out.sentBytes = raw.bytesWritten - before;
  socket.disconnect();
  return out;
}

async function fetchMode() {
  const encodings = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const res = await realFetch(input, init);
    if (!init || init.method === "GET") {
      encodings.push(res.headers.get("content-encoding"));
    }
    return res;
  };
  const socket = io(url, { transports: [Fetch], forceNew: true, reconnection: false });
  await bounded(once(socket, "connect"), 3000, "connect");
  const out = { transport: socket.io.engine.transport.name };
  let mark = encodings.length;
  out.compressed = await roundTrip(socket, true);
  await new Promise((r) => setTimeout(r, 50));
  out.compressedEncodings = encodings.slice(mark);
  mark = encodings.length;
  out.plain = await roundTrip(socket, false);
  await new Promise((r) => setTimeout(r, 50));
  out.plainEncodings = encodings.slice(mark);
  socket.disconnect();
  return out;
}

async function bombMode() {
  const wsUrl = url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket";
  const ws = new WebSocket(wsUrl, { perMessageDeflate: true });
  const messages = [];
  ws.on("message", (data) => messages.push(data.toString()));
  await bounded(once(ws, "open"), 3000, "open");
  const out = { extensions: ws.extensions };
  await bounded(
    new Promise((resolve) => {
      const check = () => (messages.length ? resolve() : setTimeout(check, 10));
      check();
    }),
    3000,
    "open packet",
  );
  ws.send("40");
  const closed = once(ws, "close");
  const bomb = Buffer.alloc(20 * 1024 * 1024); // 20 MB of zeros: about 20 KB once deflated
  ws.send(bomb, { binary: true, compress: true });
  const [code] = await bounded(closed, 5000, "close");
  out.closeCode = code;
  out.bytesSent = ws._socket ? ws._socket.bytesWritten : null;
  // The server is still up: an official client connects and gets an answer.
  const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
  await bounded(once(socket, "connect"), 3000, "connect after the bomb");
  out.after = await socket.timeout(3000).emitWithAck("echo", "still here");
  socket.disconnect();
  return out;
}

const modes = { ws: wsMode, fetch: fetchMode, bomb: bombMode };

modes[mode]()
  .then((out) => {
    report(Object.assign({ ok: true }, out));
    process.exit(0);
  })
  .catch((err) => {
    report({ ok: false, error: String(err && err.stack ? err.stack : err) });
    process.exit(1);
  });
