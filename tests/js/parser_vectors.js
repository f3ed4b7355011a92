// Interop helper for tests/interop/test_json_codec_vs_socketio_parser.py: runs the official socket.io-parser on
// vectors sent by the Python side, once per test (one process, many vectors).
//
// stdin: one JSON object
//   {"encode": [packet, ...],          packets for socket.io-parser's Encoder
//    "decode": [[chunk, ...], ...]}    wire chunks for a fresh socket.io-parser Decoder each
// where packet = {"type", "nsp", "data"?, "id"?} and binary anywhere (in data or as a chunk) is
// {"$b64": "<base64>"}.
// stdout: one JSON object
//   {"encoded": [[chunk, ...], ...],
//    "decoded": [{"status": "packet", "packet": packet} | {"status": "pending"}
//                | {"status": "pending", "packet": packet-so-far}
//                | {"status": "error", "error": message}, ...]}
"use strict";
const { Encoder, Decoder } = require("socket.io-parser");

function fromWire(value) {
  // Tagged JSON -> JS values with Buffers.
  if (Array.isArray(value)) return value.map(fromWire);
  if (value !== null && typeof value === "object") {
    if (typeof value.$b64 === "string" && Object.keys(value).length === 1) {
      return Buffer.from(value.$b64, "base64");
    }
    const out = {};
    for (const key of Object.keys(value)) out[key] = fromWire(value[key]);
    return out;
  }
  return value;
}

function toWire(value) {
  // JS values -> tagged JSON (Buffers and ArrayBuffers as base64).
  if (Buffer.isBuffer(value)) return { $b64: value.toString("base64") };
  if (value instanceof ArrayBuffer) return { $b64: Buffer.from(value).toString("base64") };
  if (Array.isArray(value)) return value.map(toWire);
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value)) out[key] = toWire(value[key]);
    return out;
  }
  return value;
}

function packetToWire(packet) {
  const out = { type: packet.type, nsp: packet.nsp };
  if (packet.data !== undefined) out.data = toWire(packet.data);
  if (packet.id !== undefined) out.id = packet.id;
  return out;
}

function main(input) {
  const request = JSON.parse(input);
  const encoder = new Encoder();
  const encoded = (request.encode || []).map((p) => {
    const packet = { type: p.type, nsp: p.nsp };
    if ("data" in p) packet.data = fromWire(p.data);
    if ("id" in p) packet.id = p.id;
    return encoder.encode(packet).map(toWire);
  });
  const decoded = (request.decode || []).map((chunks) => {
    const decoder = new Decoder();
    let result = null;
    decoder.on("decoded", (packet) => {
      result = packet;
    });
    try {
      for (const chunk of chunks) decoder.add(typeof chunk === "string" ? chunk : fromWire(chunk));
    } catch (err) {
      return { status: "error", error: String(err && err.message) };
    }
    if (result === null) {
      // A binary packet still waiting for attachments: report what its text decoded to.
      const recon = decoder.reconstructor;
      return recon ? { status: "pending", packet: packetToWire(recon.reconPack) } : { status: "pending" };
    }
    return { status: "packet", packet: packetToWire(result) };
  });
  process.stdout.write(JSON.stringify({ encoded, decoded }));
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  input += chunk;
});
process.stdin.on("end", () => main(input));
