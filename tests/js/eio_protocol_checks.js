// The Engine.IO v4 protocol scenarios (as checked by the official protocol test suite), run with
// node's own HTTP client (fetch/undici) and the `ws` WebSocket client against our server.
// The server must echo messages and use pingInterval 300 ms, pingTimeout 200 ms.
// Usage: node eio_protocol_checks.js <port> [name-regex]; prints one JSON line per check run.
"use strict";
const assert = require("node:assert/strict");
const WebSocket = require("ws");

const base = `http://127.0.0.1:${process.argv[2]}/engine.io/`;
const wsBase = base.replace("http", "ws");
const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const url = (query) => `${base}?${query}`;

function nextEvent(socket, name) {
  return new Promise((resolve) => socket.once(name, (...args) => resolve(args)));
}
// Messages are queued from the moment the socket exists, so none is missed between two awaits.
function nextMessage(socket) {
  if (socket.inbox.length) return Promise.resolve(socket.inbox.shift());
  return new Promise((resolve) => socket.waiters.push(resolve));
}
function openWs(query) {
  const socket = new WebSocket(`${wsBase}?${query}`);
  socket.inbox = [];
  socket.waiters = [];
  socket.on("message", (data, isBinary) => {
    const message = isBinary ? data : data.toString();
    const waiter = socket.waiters.shift();
    if (waiter) waiter(message);
    else socket.inbox.push(message);
  });
  socket.on("error", () => {});
  return socket;
}
async function pollingSession() {
  const res = await fetch(url("EIO=4&transport=polling"));
  return JSON.parse((await res.text()).substring(1)).sid;
}

const checks = {
  async "polling handshake"() {
    const res = await fetch(url("EIO=4&transport=polling"));
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.equal(text[0], "0");
    const open = JSON.parse(text.substring(1));
    assert.deepEqual(Object.keys(open).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
    assert.deepEqual(open.upgrades, ["websocket"]);
    assert.equal(open.pingInterval, PING_INTERVAL);
    assert.equal(open.pingTimeout, PING_TIMEOUT);
    assert.equal(open.maxPayload, 1000000);
  },
  async "bad EIO, transport and method"() {
    for (const q of ["transport=polling", "EIO=abc&transport=polling", "EIO=4", "EIO=4&transport=abc"]) {
      assert.equal((await fetch(url(q))).status, 400, q);
    }
    for (const method of ["POST", "PUT"]) {
      assert.equal((await fetch(url("EIO=4&transport=polling"), { method })).status, 400, method);
    }
  },
  async "websocket handshake"() {
    const socket = openWs("EIO=4&transport=websocket");
    const open = JSON.parse((await nextMessage(socket)).substring(1));
    assert.deepEqual(open.upgrades, []);
    assert.equal(open.pingInterval, PING_INTERVAL);
    socket.close();
  },
  async "websocket refused for bad query"() {
    for (const q of ["transport=websocket", "EIO=abc&transport=websocket", "EIO=4", "EIO=4&transport=abc"]) {
      const socket = openWs(q);
      await nextEvent(socket, "close");
    }
  },
  async "polling messages, batches and binary"() {
    for (const body of ["4hello", "4test1\x1e4test2\x1e4test3", "4hello\x1ebAQIDBA=="]) {
      const sid = await pollingSession();
      const push = await fetch(url(`EIO=4&transport=polling&sid=${sid}`), { method: "POST", body });
      assert.equal(push.status, 200);
      assert.equal(await push.text(), "ok");
      const poll = await fetch(url(`EIO=4&transport=polling&sid=${sid}`));
      assert.equal(await poll.text(), body);
    }
  },
  async "polling invalid packet closes the session"() {
    const sid = await pollingSession();
    try {
      const push = await fetch(url(`EIO=4&transport=polling&sid=${sid}`), { method: "POST", body: "abc" });
      assert.equal(push.status, 400);
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
    }
    assert.equal((await fetch(url(`EIO=4&transport=polling&sid=${sid}`))).status, 400);
  },
  async "duplicate poll closes the session"() {
    const sid = await pollingSession();
    const [first, second] = await Promise.all([
      fetch(url(`EIO=4&transport=polling&sid=${sid}`)),
      sleep(5).then(() => fetch(url(`EIO=4&transport=polling&sid=${sid}&t=burst`))),
    ]);
    assert.equal(first.status, 200);
    assert.equal(await first.text(), "1");
    assert.equal(second.status, 400);
    assert.equal((await fetch(url(`EIO=4&transport=polling&sid=${sid}`))).status, 400);
  },
  async "cancelled poll closes the session"() {
    const sid = await pollingSession();
    const controller = new AbortController();
    fetch(url(`EIO=4&transport=polling&sid=${sid}`), { signal: controller.signal }).catch(() => {});
    await sleep(5);
    controller.abort();
    await sleep(20);
    assert.equal((await fetch(url(`EIO=4&transport=polling&sid=${sid}`))).status, 400);
  },
  async "websocket text, binary and invalid packet"() {
    const socket = openWs("EIO=4&transport=websocket");
    await nextMessage(socket);
    socket.send("4hello");
    assert.equal(await nextMessage(socket), "4hello");
    socket.send(Uint8Array.from([1, 2, 3, 4]));
    assert.deepEqual([...(await nextMessage(socket))], [1, 2, 3, 4]);
    socket.send("abc");
    await nextEvent(socket, "close");
  },
  async "polling heartbeat"() {
    const sid = await pollingSession();
    for (let i = 0; i < 3; i++) {
      const poll = await fetch(url(`EIO=4&transport=polling&sid=${sid}`));
      assert.equal(await poll.text(), "2");
      const push = await fetch(url(`EIO=4&transport=polling&sid=${sid}`), { method: "POST", body: "3" });
      assert.equal(push.status, 200);
    }
    const other = await pollingSession();
    await sleep(PING_INTERVAL + PING_TIMEOUT + 10);
    assert.equal((await fetch(url(`EIO=4&transport=polling&sid=${other}`))).status, 400);
  },
  async "websocket heartbeat"() {
    const socket = openWs("EIO=4&transport=websocket");
    await nextMessage(socket);
    for (let i = 0; i < 3; i++) {
      assert.equal(await nextMessage(socket), "2");
      socket.send("3");
    }
    socket.close();
    const silent = openWs("EIO=4&transport=websocket");
    await nextEvent(silent, "close");
  },
  async "polling close"() {
    const sid = await pollingSession();
    const [poll] = await Promise.all([
      fetch(url(`EIO=4&transport=polling&sid=${sid}`)),
      fetch(url(`EIO=4&transport=polling&sid=${sid}`), { method: "POST", body: "1" }),
    ]);
    assert.equal(await poll.text(), "6");
    assert.equal((await fetch(url(`EIO=4&transport=polling&sid=${sid}`))).status, 400);
  },
  async "websocket close"() {
    const socket = openWs("EIO=4&transport=websocket");
    await nextMessage(socket);
    socket.send("1");
    await nextEvent(socket, "close");
  },
  async "upgrade"() {
    const sid = await pollingSession();
    const socket = openWs(`EIO=4&transport=websocket&sid=${sid}`);
    await nextEvent(socket, "open");
    socket.send("2probe");
    assert.equal(await nextMessage(socket), "3probe");
    const poll = await fetch(url(`EIO=4&transport=polling&sid=${sid}`));
    assert.equal(await poll.text(), "6");
    socket.send("5");
    socket.send("4hello");
    assert.equal(await nextMessage(socket), "4hello");
    socket.close();
  },
  async "polling refused after upgrade"() {
    const sid = await pollingSession();
    const socket = openWs(`EIO=4&transport=websocket&sid=${sid}`);
    await nextEvent(socket, "open");
    socket.send("2probe");
    socket.send("5");
    assert.equal((await fetch(url(`EIO=4&transport=polling&sid=${sid}`))).status, 400);
    socket.send("4hello");
    assert.equal(await nextMessage(socket), "3probe");
    assert.equal(await nextMessage(socket), "4hello");
    socket.close();
  },
  async "second websocket refused after upgrade"() {
    const sid = await pollingSession();
    const socket = openWs(`EIO=4&transport=websocket&sid=${sid}`);
    await nextEvent(socket, "open");
    socket.send("2probe");
    socket.send("5");
    const second = openWs(`EIO=4&transport=websocket&sid=${sid}`);
    await nextEvent(second, "close");
    socket.send("4hello");
    assert.equal(await nextMessage(socket), "3probe");
    assert.equal(await nextMessage(socket), "4hello");
    socket.close();
  },
};

(async () => {
  const only = new RegExp(process.argv[3] || "");
  for (const [name, check] of Object.entries(checks)) {
    if (!only.test(name)) continue;
    try {
      await Promise.race([check(), sleep(3000).then(() => Promise.reject(new Error("timed out")))]);
      process.stdout.write(JSON.stringify({ name, ok: true }) + "\n");
    } catch (err) {
      process.stdout.write(JSON.stringify({ name, ok: false, error: String(err && err.stack || err) }) + "\n");
    }
  }
  process.exit(0);
})();
