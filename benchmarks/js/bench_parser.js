// Encode/decode throughput of the official socket.io-parser for the four packets of
// benchmarks/bench_codec.py. Run by that script (NODE_PATH=tests/js/node_modules); prints one
// JSON object {name: {encode: ops_per_s, decode: ops_per_s}} on stdout.
"use strict";
const { Encoder, Decoder, PacketType } = require("socket.io-parser");

const seconds = Number(process.argv[2] || "0.4");
const repeats = Number(process.argv[3] || "3");

function gameState() {
  const players = [];
  for (let i = 0; i < 20; i++) {
    players.push({ id: i, x: 12.5 + i, y: 40.25 - i, hp: 100 - i, name: "player" + i });
  }
  return { tick: 1234, players };
}

const blob = Buffer.alloc(1024);
for (let i = 0; i < blob.length; i++) blob[i] = i & 0xff;

const cases = {
  small: { type: PacketType.EVENT, nsp: "/", data: ["m", 123] },
  chat: {
    type: PacketType.EVENT,
    nsp: "/chat",
    data: ["message", { user: "alice", text: "Hello, how are you doing today?", room: "general", ts: 1700000000123 }],
  },
  game_state: { type: PacketType.EVENT, nsp: "/", data: ["state", gameState()] },
  binary_1k: { type: PacketType.EVENT, nsp: "/", data: ["upload", { name: "blob.bin" }, blob] },
};

function rate(fn) {
  // Batches of calls until `seconds` elapsed; best of `repeats` runs.
  let best = 0;
  for (let r = 0; r < repeats; r++) {
    let n = 0;
    const start = process.hrtime.bigint();
    const limit = start + BigInt(Math.round(seconds * 1e9));
    let now = start;
    while (now < limit) {
      for (let k = 0; k < 1000; k++) fn();
      n += 1000;
      now = process.hrtime.bigint();
    }
    const ops = n / (Number(now - start) / 1e9);
    if (ops > best) best = ops;
  }
  return best;
}

const encoder = new Encoder();
const results = {};
let sink = 0;
for (const [name, packet] of Object.entries(cases)) {
  // encode() rewrites a binary packet it is given (deconstructPacket), so hand it a fresh shell.
  const encode = () => {
    const out = encoder.encode({ type: packet.type, nsp: packet.nsp, data: packet.data });
    sink += out.length;
  };
  const wire = encoder.encode({ type: packet.type, nsp: packet.nsp, data: packet.data });
  const decoder = new Decoder();
  decoder.on("decoded", (p) => { sink += p.type; });
  const decode = () => {
    for (const chunk of wire) decoder.add(chunk);
  };
  results[name] = { encode: rate(encode), decode: rate(decode) };
}
process.stdout.write(JSON.stringify({ results, sink: sink > 0 }) + "\n");
