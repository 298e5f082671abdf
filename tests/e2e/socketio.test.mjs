// The Socket.IO gateway (/socket.io/) driven by the real socket.io-client 4.8, as a front end
// written for the NestJS design uses it: in its default mode (long-polling, then the upgrade to a
// WebSocket), WebSocket only and long-polling only. Connect with a token or an API key,
// connect_error with a bad one, progress and ready_to_chat for an upload, only one's own, a
// document room, acks, reconnection catching up (connection state recovery), namespaces,
// 1,000 subscribers hearing one event, events from a `betterdev worker` on its own.
import assert from 'node:assert/strict';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import { io } from 'socket.io-client';

import { BIN, api, cleanEnv, eventually, registerAndLogin, sharedServer, startServer } from './helpers.mjs';
import { uploadOk, waitReady } from './ingest_helpers.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// A socket.io-client socket that records every event it hears.
function connect(url, auth, opts = {}) {
  const socket = io(url, { auth, reconnection: false, forceNew: true, ...opts });
  const heard = [];
  socket.onAny((name, ...args) => heard.push({ name, args }));
  const opened = new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  const waitFor = (pred, what = 'an event', timeoutMs = 30000) =>
    eventually(() => heard.find(pred), { timeoutMs, intervalMs: 20, what });
  return { socket, heard, opened, waitFor };
}

const MODES = [
  ['default (long-polling, then the upgrade to a WebSocket)', {}, 'websocket'],
  ["transports: ['websocket']", { transports: ['websocket'] }, 'websocket'],
  ["transports: ['polling']", { transports: ['polling'] }, 'polling'],
];

describe('Socket.IO gateway with socket.io-client 4.8', () => {
  const shared = sharedServer({ args: ['--workers', '1'] });

  for (const [mode, opts, transport] of MODES) {
    test(`${mode}: progress and ready_to_chat for an upload; another user hears nothing`, async (t) => {
      const alice = await registerAndLogin(shared.url);
      const bob = await registerAndLogin(shared.url);
      const a = connect(shared.url, { token: alice.token }, opts);
      const b = connect(shared.url, { token: bob.token }, opts);
      t.after(() => {
        a.socket.close();
        b.socket.close();
      });
      await a.opened;
      await b.opened;
      assert.ok(a.socket.connected);
      await eventually(() => a.socket.io.engine.transport.name === transport, { what: `the ${transport} transport` });
      const up = await uploadOk(shared.url, alice.token, Buffer.from(`Socket.IO ${mode} ${Date.now()}: the quarterly report.`), 'sio.txt');
      const ready = await a.waitFor((e) => e.name === 'document.ready' && e.args[0].document_id === up.document_id, 'document.ready');
      assert.equal(ready.args[0].status, 'ready_to_chat');
      assert.ok(ready.args[0].chunks >= 1);
      const mine = a.heard.filter((e) => e.args[0]?.document_id === up.document_id);
      assert.equal(mine[0].name, 'document.queued');
      assert.ok(mine.some((e) => e.name === 'document.processing' && typeof e.args[0].progress === 'number'), 'no progress event');
      const me = (await api(shared.url, 'GET', '/v1/me', { token: alice.token })).json;
      for (const e of mine) {
        assert.equal(e.args[0].user_id, me.id);
        assert.equal(e.args[1], String(e.args[0].id), 'the last argument is the event id (the recovery offset)');
      }
      const ids = mine.map((e) => e.args[0].id);
      assert.deepEqual([...ids].sort((x, y) => x - y), ids, 'ids increase');
      assert.deepEqual(b.heard.filter((e) => e.name.startsWith('document.')), [], 'another user heard something');
      assert.equal(a.socket.io.engine.transport.name, transport);
    });
  }

  test('a bad, missing or expired token gets connect_error and never a connection; an API key connects', async () => {
    for (const auth of [{ token: 'bd_at_not-a-token' }, {}, { token: 42 }]) {
      const c = connect(shared.url, auth);
      const err = await c.opened.then(() => null, (e) => e);
      assert.ok(err, `connected with ${JSON.stringify(auth)}`);
      assert.match(err.message, /token/);
      assert.equal(err.data.code, 'unauthorized');
      assert.equal(c.socket.connected, false);
      c.socket.close();
    }
    const { token } = await registerAndLogin(shared.url);
    const key = await api(shared.url, 'POST', '/v1/api-keys', { token, body: { name: 'front end' } });
    assert.equal(key.status, 201, key.text);
    for (const t of [key.json.key, `Bearer ${token}`]) {
      const c = connect(shared.url, { token: t }, { transports: ['websocket'] });
      await c.opened;
      c.socket.close();
    }
  });

  test('a browser from another site is refused unless allowed', async () => {
    const { token } = await registerAndLogin(shared.url);
    for (const transports of [['polling'], ['websocket']]) {
      const c = connect(shared.url, { token }, { transports, extraHeaders: { Origin: 'http://evil.example' } });
      const err = await c.opened.then(() => null, (e) => e);
      assert.equal(err?.data?.code, 'forbidden', `${transports}: ${err?.message}`);
      c.socket.close();
    }
    const same = connect(shared.url, { token }, { transports: ['polling'], extraHeaders: { Origin: shared.url } });
    await same.opened;
    same.socket.close();
  });

  test('another namespace is refused with the protocol error', async () => {
    const { token } = await registerAndLogin(shared.url);
    const c = connect(`${shared.url}/admin`, { token });
    const err = await c.opened.then(() => null, (e) => e);
    assert.equal(err?.message, 'Invalid namespace');
    c.socket.close();
  });

  test('a document room: subscribe is acknowledged, narrows the events; another user\'s document is an error in the ack', async (t) => {
    const alice = await registerAndLogin(shared.url);
    const bob = await registerAndLogin(shared.url);
    const first = await uploadOk(shared.url, alice.token, Buffer.from(`room one ${Date.now()}`), 'one.txt');
    await waitReady(shared.url, alice.token, first.document_id, { server: shared.server });
    const theirs = await uploadOk(shared.url, bob.token, Buffer.from(`bob's ${Date.now()}`), 'bob.txt');
    const a = connect(shared.url, { token: alice.token });
    t.after(() => a.socket.close());
    await a.opened;
    assert.deepEqual(await a.socket.emitWithAck('ping'), { pong: true });
    assert.deepEqual(await a.socket.timeout(10000).emitWithAck('subscribe', { document_id: first.document_id }),
      { ok: true, document_id: first.document_id });
    const refused = await a.socket.emitWithAck('subscribe', { document_id: theirs.document_id });
    assert.equal(refused.error.code, 'not_found');
    assert.equal((await a.socket.emitWithAck('subscribe', {})).error.code, 'invalid_request');
    // Another of her documents is not in the room: nothing of it arrives; the room's does.
    const second = await uploadOk(shared.url, alice.token, Buffer.from(`room two ${Date.now()}`), 'two.txt');
    await waitReady(shared.url, alice.token, second.document_id, { server: shared.server });
    assert.equal((await api(shared.url, 'DELETE', `/v1/documents/${first.document_id}`, { token: alice.token })).status, 204);
    await a.waitFor((e) => e.name === 'document.deleted' && e.args[0].document_id === first.document_id, 'the room\'s event');
    assert.deepEqual(a.heard.filter((e) => e.args[0]?.document_id === second.document_id), [], 'an event outside the room');
    // Unsubscribed from every room: every document again.
    assert.equal((await a.socket.emitWithAck('unsubscribe', { document_id: first.document_id })).ok, true);
    const third = await uploadOk(shared.url, alice.token, Buffer.from(`room three ${Date.now()}`), 'three.txt');
    await a.waitFor((e) => e.name === 'document.ready' && e.args[0].document_id === third.document_id);
  });

  test('reconnection catches up on what was missed (connection state recovery)', async (t) => {
    const { token } = await registerAndLogin(shared.url);
    const a = connect(shared.url, { token }, { transports: ['websocket'] });
    t.after(() => a.socket.close());
    await a.opened;
    assert.equal(a.socket.recovered, false);
    const one = await uploadOk(shared.url, token, Buffer.from(`before ${Date.now()}`), 'before.txt');
    await a.waitFor((e) => e.name === 'document.ready' && e.args[0].document_id === one.document_id);
    a.socket.disconnect();
    const two = await uploadOk(shared.url, token, Buffer.from(`while away ${Date.now()}`), 'away.txt');
    await waitReady(shared.url, token, two.document_id, { server: shared.server });
    const before = a.heard.length;
    a.socket.connect();
    await eventually(() => a.socket.connected, { what: 'reconnected' });
    assert.equal(a.socket.recovered, true);
    await a.waitFor((e) => e.name === 'document.ready' && e.args[0].document_id === two.document_id, 'the missed ready');
    const replayed = a.heard.slice(before).filter((e) => e.name.startsWith('document.'));
    assert.equal(replayed[0].name, 'document.queued');
    assert.equal(replayed[0].args[0].document_id, two.document_id);
    // An offset from before this server's window: told to re-read state.
    const old = connect(shared.url, { token, pid: 'x', offset: '999999999' }, { transports: ['websocket'] });
    t.after(() => old.socket.close());
    await old.opened;
    const resync = await old.waitFor((e) => e.name === 'resync');
    assert.match(resync.args[0].reason, /re-read/);
  });

  test('the Engine.IO transport is what the client expects: upgrade offered, ping interval, max payload', async () => {
    const res = await fetch(`${shared.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(res.status, 200);
    const open = JSON.parse((await res.text()).slice(1));
    assert.deepEqual(open.upgrades, ['websocket']);
    assert.equal(open.pingInterval, 25000);
    assert.equal(open.pingTimeout, 20000);
    assert.equal(open.maxPayload, 1000000);
    const big = await fetch(`${shared.url}/socket.io/?EIO=4&transport=polling&sid=${open.sid}`, { method: 'POST', body: `4${'x'.repeat(1000001)}` });
    assert.equal(big.status, 413);
    assert.equal((await fetch(`${shared.url}/socket.io/?EIO=3&transport=polling`)).status, 400);
  });
});

describe('Socket.IO: 1,000 subscribers', () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['--workers', '1', '--event-channels-per-user', '2000'] });
  });
  after(async () => server?.stop());

  test('1,000 concurrent sockets each receive the event', async (t) => {
    const { token } = await registerAndLogin(server.url);
    const per = 250;
    const crowds = [];
    for (let i = 0; i < 4; i++) {
      const child = spawn(process.execPath, [path.join(HERE, 'socketio_crowd.mjs'), server.url, token, String(per)], { stdio: ['pipe', 'pipe', 'inherit'] });
      const crowd = { child, connected: false, got: 0, errors: [] };
      readline.createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.startsWith('connected')) crowd.connected = true;
        else if (line.startsWith('got ')) crowd.got = Number(line.slice(4));
        else if (line.startsWith('error')) crowd.errors.push(line);
      });
      crowds.push(crowd);
    }
    t.after(() => crowds.forEach((c) => c.child.kill('SIGTERM')));
    await eventually(() => crowds.every((c) => c.connected) || crowds.some((c) => c.errors.length),
      { timeoutMs: 120000, what: '1,000 connections' });
    assert.deepEqual(crowds.flatMap((c) => c.errors), []);
    const metrics = (await api(server.url, 'GET', '/metrics')).text;
    assert.match(metrics, /betterdev_socketio_connections 1000\b/);
    const up = await uploadOk(server.url, token, Buffer.from(`broadcast ${Date.now()}`), 'b.txt');
    for (const c of crowds) c.child.stdin.write(`${up.document_id}\n`);
    await eventually(() => crowds.every((c) => c.got === per), { timeoutMs: 120000, what: 'every socket hearing document.ready' });
    const r = await api(server.url, 'GET', '/healthz');
    assert.equal(r.status, 200);
  });
});

describe('Socket.IO: shutdown', () => {
  test('SIGTERM closes every Socket.IO connection, polling and WebSocket, and the server exits cleanly', async () => {
    const server = await startServer({ command: 'api' });
    const { token } = await registerAndLogin(server.url);
    const clients = [connect(server.url, { token }, { transports: ['polling'] }), connect(server.url, { token }, { transports: ['websocket'] })];
    await Promise.all(clients.map((c) => c.opened));
    const gone = clients.map((c) => new Promise((resolve) => c.socket.once('disconnect', resolve)));
    const started = Date.now();
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
    const reasons = await Promise.all(gone);
    for (const r of reasons) assert.match(r, /transport close|transport error|io server disconnect/);
    assert.ok(Date.now() - started < 8000, 'shutdown waited for the connections');
  });
});

describe('Socket.IO: events from a worker running on its own', () => {
  let server;
  let worker;
  before(async () => {
    server = await startServer({ command: 'api' });
    worker = spawn(BIN, ['worker', '--data-dir', server.dataDir, '--poll-ms', '50'], { env: cleanEnv(), stdio: 'ignore' });
  });
  after(async () => {
    worker?.kill('SIGTERM');
    await server?.stop();
  });

  test('`betterdev api` beside a separate `betterdev worker`: ready_to_chat reaches the socket', async (t) => {
    const { token } = await registerAndLogin(server.url);
    const a = connect(server.url, { token });
    t.after(() => a.socket.close());
    await a.opened;
    const up = await uploadOk(server.url, token, Buffer.from(`standalone worker ${Date.now()}`), 'w.txt');
    const ready = await a.waitFor((e) => e.name === 'document.ready' && e.args[0].document_id === up.document_id, 'ready from the worker');
    assert.equal(ready.args[0].status, 'ready_to_chat');
  });
});
