// Wire vectors from the official JavaScript packages, for tests/interop/test_engineio_packets_vs_engineio_parser.py.
//
// Engine.IO packets come from engine.io-parser, WebSocket frames from ws (both are what the
// official Node server runs). One mode per invocation, all I/O as JSON lines:
//
//   node eio_vectors.js parser      stdin: one JSON request; stdout: one JSON answer
//   node eio_vectors.js ws-server   a ws echo server; prints {"port": N}, then a summary at close
//   node eio_vectors.js ws-client P a ws client of 127.0.0.1:P; sends a fixed script, prints a summary
//
// Binary values travel as {"bin": "<base64>"} since JSON has no bytes.
"use strict";

const crypto = require("crypto");
const parser = require("engine.io-parser");
const WebSocket = require("ws");

const toWire = (data) =>
  data === undefined ? null : typeof data === "string" ? data : { bin: Buffer.from(data).toString("base64") };
const fromWire = (data) =>
  data === null ? undefined : typeof data === "string" ? data : Buffer.from(data.bin, "base64");
const digest = (buf) => crypto.createHash("sha1").update(buf).digest("hex");

function readStdin() {
  return new Promise((resolve) => {
    const chunks = [];
    process.stdin.on("data", (c) => chunks.push(c));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

async function parserMode() {
  // request: {packets: [{type, data}], payloads: [string], encoded: [string]}
  const req = JSON.parse(await readStdin());
  const packets = req.packets.map((p) => ({ type: p.type, data: fromWire(p.data) }));
  const answer = { single: [], payload: null, decodedPayloads: [], decodedPackets: [] };
  for (const p of packets) {
    parser.encodePacket(p, false, (encoded) => answer.single.push(encoded));
  }
  parser.encodePayload(packets, (payload) => {
    answer.payload = payload;
  });
  for (const body of req.payloads) {
    answer.decodedPayloads.push(
      parser.decodePayload(body, "nodebuffer").map((p) => ({ type: p.type, data: toWire(p.data) }))
    );
  }
  for (const text of req.encoded) {
    const p = parser.decodePacket(text, "nodebuffer");
    answer.decodedPackets.push({ type: p.type, data: toWire(p.data) });
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}

function wsServerMode() {
  // Echo every message with its kind, report pings; the Python client checks what comes back.
  const wss = new WebSocket.Server({ host: "127.0.0.1", port: 0, perMessageDeflate: false, maxPayload: 4 << 20 });
  const summary = { messages: 0, pings: [], close: null, error: null };
  const timer = setTimeout(() => process.exit(3), 15000);
  wss.on("listening", () => process.stdout.write(JSON.stringify({ port: wss.address().port }) + "\n"));
  wss.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => {
      summary.messages += 1;
      ws.send(data, { binary: isBinary });
    });
    ws.on("ping", (data) => summary.pings.push(data.toString("hex")));
    ws.on("error", (err) => {
      summary.error = String(err && err.message);
    });
    ws.on("close", (code, reason) => {
      summary.close = [code, reason.toString("utf8")];
      process.stdout.write(JSON.stringify(summary) + "\n");
      clearTimeout(timer);
      wss.close();
    });
  });
}

function wsClientMode(port) {
  // A fixed script of client frames (masked by ws), then a report of what the server sent us.
  const ws = new WebSocket(`ws://127.0.0.1:${port}/engine.io/?EIO=4&transport=websocket`, {
    perMessageDeflate: false,
    maxPayload: 4 << 20,
  });
  const summary = { received: [], pongs: [], close: null, error: null };
  const timer = setTimeout(() => process.exit(3), 15000);
  ws.on("open", () => {
    ws.send("hello");
    ws.send("héllo ☃ 𝄞");
    for (const n of [0, 1, 125, 126, 65535, 65536, 1 << 20]) {
      const buf = Buffer.alloc(n);
      for (let i = 0; i < n; i++) buf[i] = (i * 7 + n) & 0xff;
      ws.send(buf, { binary: true });
    }
    // A fragmented text message whose "é" is split between fragments, with a ping in between.
    const raw = Buffer.from("fragmentédtext", "utf8");
    ws.send(raw.subarray(0, 9), { binary: false, fin: false });
    ws.ping(Buffer.from("mid"));
    ws.send(raw.subarray(9, 10), { binary: false, fin: false });
    ws.send(raw.subarray(10), { binary: false, fin: true });
    ws.send("done");
  });
  ws.on("message", (data, isBinary) => {
    summary.received.push({ binary: isBinary, length: data.length, sha1: digest(data) });
    if (!isBinary && data.toString() === "close-now") ws.close(4000, "bye ☃");
  });
  ws.on("pong", (data) => summary.pongs.push(data.toString("hex")));
  ws.on("error", (err) => {
    summary.error = String(err && err.message);
  });
  ws.on("close", (code, reason) => {
    summary.close = [code, reason.toString("utf8")];
    process.stdout.write(JSON.stringify(summary) + "\n");
    clearTimeout(timer);
  });
}

const mode = process.argv[2];
if (mode === "parser") parserMode();
else if (mode === "ws-server") wsServerMode();
else if (mode === "ws-client") wsClientMode(Number(process.argv[3]));
else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
