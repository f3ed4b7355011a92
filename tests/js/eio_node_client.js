// Drives the official engine.io-client against our server and reports every event as one JSON
// line on stdout. Usage: node eio_node_client.js <url> <polling|websocket|upgrade>
"use strict";
const { Socket } = require("engine.io-client");

const [url, mode] = process.argv.slice(2);
const options = {
  polling: { transports: ["polling"], upgrade: false },
  websocket: { transports: ["websocket"] },
  upgrade: { transports: ["polling", "websocket"], upgrade: true },
  stream: { transports: ["polling", "websocket"], upgrade: true },
}[mode];

const report = (event) => process.stdout.write(JSON.stringify(event) + "\n");
const socket = new Socket(url, options);

if (mode === "stream") {
  // The server streams numbered messages across the upgrade; report them all at the end.
  const numbers = [];
  const transports = new Set();
  socket.on("upgrade", (transport) => report({ event: "upgrade", transport: transport.name }));
  socket.on("message", (data) => {
    if (data === "end") {
      report({ event: "stream", numbers, transports: [...transports] });
      socket.close();
      return;
    }
    transports.add(socket.transport.name);
    numbers.push(Number(data));
  });
  socket.on("close", (reason) => {
    report({ event: "close", reason });
    setTimeout(() => process.exit(0), 200);
  });
  setTimeout(() => {
    report({ event: "timeout", numbers });
    process.exit(1);
  }, 4000);
  return;
}
const received = [];
let sent = false;

function encode(data) {
  if (typeof data === "string") return { text: data };
  return { binary: Array.from(new Uint8Array(data)) };
}

function sendAll() {
  if (sent) return;
  sent = true;
  socket.send("hello from node");
  socket.send(Buffer.from([1, 2, 3, 255]));
  socket.send("é€😀");
}

socket.on("open", () => {
  report({ event: "open", transport: socket.transport.name, id: socket.id });
  if (mode !== "upgrade") sendAll();
});
socket.on("upgrade", (transport) => {
  report({ event: "upgrade", transport: transport.name });
  sendAll();
});
socket.on("message", (data) => {
  received.push(data);
  report({ event: "message", transport: socket.transport.name, ...encode(data) });
  // 2 welcome messages from the server + 3 echoes
  if (received.length === 5) socket.close();
});
socket.on("close", (reason) => {
  report({ event: "close", reason });
  // let the close packet (a POST over polling, a frame over WebSocket) leave before exiting
  setTimeout(() => process.exit(0), 200);
});
socket.on("error", (err) => report({ event: "error", message: String(err) }));
setTimeout(() => {
  report({ event: "timeout" });
  process.exit(1);
}, 4000);
