// Interop peer for tests/interop/test_msgpack_codec_vs_msgpack_parser.py: socket.io-msgpack-parser 3.0.2 (notepack.io)
// driven over stdin/stdout, one JSON request per line, one JSON reply per line.
//
// Values cross the pipe in a tagged JSON form, so that the types JSON cannot tell apart survive:
//   {"$i": "12"} integer, {"$f": "1.5"} non-integer or unsafe number, {"$bin": b64} Buffer,
//   {"$ab": b64} ArrayBuffer / typed array, {"$date": ms} Date, {"$u": 1} undefined,
//   {"$o": [[key, value], ...]} object (entries keep their order), arrays and strings as is.
//
// Requests:
//   {"op": "decode", "b64": ...}  -> {"ok": true, "packet": tagged} | {"ok": false, "reason": msg}
//   {"op": "encode", "packet": tagged} -> {"b64": ...}   (the object is built in the given key order)
//   {"op": "samples"} -> {"samples": [{"name", "b64", "packet": tagged}]}: packets built by JS code,
//                        including real socket.io-client Socket output (emit with ack, CONNECT, ack).
"use strict";

const readline = require("readline");
const parser = require("socket.io-msgpack-parser");
const { Socket } = require("socket.io-client");

function describe(v) {
  if (v === undefined) return { $u: 1 };
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number") {
    return Number.isSafeInteger(v) ? { $i: String(v) } : { $f: String(v) };
  }
  if (Buffer.isBuffer(v)) return { $bin: v.toString("base64") };
  if (v instanceof ArrayBuffer) return { $ab: Buffer.from(v).toString("base64") };
  if (ArrayBuffer.isView(v)) return { $ab: Buffer.from(v.buffer).toString("base64") };
  if (v instanceof Date) return { $date: v.getTime() };
  if (Array.isArray(v)) return v.map(describe);
  return { $o: Object.keys(v).map((k) => [k, describe(v[k])]) };
}

function build(t) {
  if (t === null || typeof t !== "object") return t;
  if (Array.isArray(t)) return t.map(build);
  if ("$u" in t) return undefined;
  if ("$i" in t) return Number(t.$i);
  if ("$f" in t) return Number(t.$f);
  if ("$bin" in t) return Buffer.from(t.$bin, "base64");
  if ("$ab" in t) return new Uint8Array(Buffer.from(t.$ab, "base64")).buffer;
  if ("$date" in t) return new Date(t.$date);
  const obj = {};
  for (const [k, v] of t.$o) obj[k] = build(v);
  return obj;
}

function encode(packet) {
  const chunks = new parser.Encoder().encode(packet);
  if (chunks.length !== 1) throw new Error("expected one chunk");
  return Buffer.from(chunks[0]).toString("base64");
}

function decode(b64) {
  const decoder = new parser.Decoder();
  let out;
  decoder.on("decoded", (p) => {
    out = p;
  });
  try {
    decoder.add(Buffer.from(b64, "base64"));
  } catch (err) {
    return { ok: false, reason: String(err && err.message) };
  }
  return { ok: true, packet: describe(out) };
}

// Packets as the real socket.io-client Socket builds them: it is given a stand-in Manager that
// captures what would be handed to the parser's Encoder.
function clientPackets(opts) {
  const captured = [];
  const io = {
    _autoConnect: false,
    _packet: (p) => captured.push(p),
    engine: { transport: { writable: true }, _hasPingExpired: () => false },
  };
  const socket = new Socket(io, "/chat", opts);
  socket.onopen(); // the CONNECT packet (data undefined without auth)
  socket.connected = true;
  socket.emit("with-ack", 1, "two", { three: [3.5, null, undefined] }, Buffer.from([4, 5]), () => {});
  socket.emit("no-ack", new Uint8Array([0]), new Float64Array([1.25]), new Date(1700000000123));
  socket.on("question", (a, ack) => ack("answer", a, undefined));
  socket.onpacket({ type: 2, nsp: "/chat", id: 77, data: ["question", 42] }); // replies with ACK 77
  return captured;
}

function samples() {
  const out = [];
  const add = (name, packet) => out.push({ name, b64: encode(packet), packet: describe(packet) });
  clientPackets(undefined).forEach((p, i) => add(`client-${i}-type${p.type}`, p));
  clientPackets({ auth: { token: "abc", n: 1 } }).slice(0, 1).forEach((p) => add("client-connect-auth", p));
  // Shapes the socket.io server builds (socket.js): emit with ack, ack reply, disconnect, error.
  add("server-emit-ack", { type: 2, data: ["ping", { t: 1.5 }], id: 3, nsp: "/" });
  add("server-ack", { id: 9, type: 3, data: [], nsp: "/admin" });
  add("server-connect", { type: 0, data: { sid: "abcDEF123_-", pid: "p" }, nsp: "/" });
  add("server-disconnect", { type: 1, nsp: "/admin" });
  add("server-connect-error", { type: 4, data: { message: "Not authorized", data: { code: 42 } }, nsp: "/" });
  add("server-connect-error-str", { type: 4, data: "bad", nsp: "/" });
  const big = {};
  for (let i = 0; i < 20; i++) big["k" + i] = i * 1000 - 7000;
  // No number beyond 2**53 here: notepack.io takes them for integers and writes them wrongly.
  add("values", {
    type: 2,
    data: [
      "values", -1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, 127, 128, 255, 256,
      65535, 65536, 4294967295, 4294967296, 2 ** 53 - 1, -(2 ** 53 - 1), 0.1, -2.5e-300, 123456.789,
      Infinity, -Infinity, "", "é", "日本語", "😀🎉", "x".repeat(31), "y".repeat(32), "z".repeat(256),
      "w".repeat(70000), Buffer.alloc(0), Buffer.alloc(300, 7), Buffer.alloc(70000, 9),
      new Uint8Array(300).fill(1), new ArrayBuffer(3), new Uint16Array([1, 65535]), new Int8Array(16),
      new Float32Array([0.5]), new Date(-1), new Date(0), Array.from({ length: 17 }, (_, i) => i), big,
      [[[[]]]], {}, true, false, null, undefined, [undefined], { u: undefined },
    ],
    nsp: "/values",
  });
  return out;
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on("line", (line) => {
  if (!line.trim()) return;
  const req = JSON.parse(line);
  let reply;
  try {
    if (req.op === "decode") reply = decode(req.b64);
    else if (req.op === "encode") reply = { b64: encode(build(req.packet)) };
    else if (req.op === "samples") reply = { samples: samples() };
    else reply = { error: "unknown op " + req.op };
  } catch (err) {
    reply = { error: String(err && err.stack) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
});
