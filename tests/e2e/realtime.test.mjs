// Real-time document events over Server-Sent Events (GET /v1/events): progress and
// ready_to_chat for an upload, only one's own, tickets for browsers, catching up with
// Last-Event-ID (or being told to re-read state), origins, and events from a `betterdev worker`
// running on its own beside `betterdev api`.
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import { BIN, api, assertError, cleanEnv, eventually, login, registerAndLogin, sharedServer, startServer } from './helpers.mjs';
import { uploadOk, waitReady } from './ingest_helpers.mjs';
import { openEvents } from './events_helpers.mjs';
import WebSocket from 'ws';

describe('real-time events over SSE', () => {
  const shared = sharedServer({ args: ['--workers', '1'] });

  test('an upload is followed live: queued, processing, ready_to_chat; another user hears nothing', async (t) => {
    const alice = await registerAndLogin(shared.url);
    const bob = await registerAndLogin(shared.url);
    const a = await openEvents(shared.url, { token: alice.token });
    const b = await openEvents(shared.url, { token: bob.token });
    t.after(() => {
      a.close();
      b.close();
    });
    assert.equal(a.status, 200);
    assert.match(a.headers.get('content-type'), /^text\/event-stream/);
    assert.equal(a.headers.get('x-accel-buffering'), 'no');
    const up = await uploadOk(shared.url, alice.token, Buffer.from(`Live events ${Date.now()}: the quarterly report is ready.`), 'live.txt');
    const ready = await a.waitFor((e) => e.event === 'document.ready' && e.data.document_id === up.document_id, 'document.ready');
    const mine = a.named().filter((e) => e.data?.document_id === up.document_id);
    const me = (await api(shared.url, 'GET', '/v1/me', { token: alice.token })).json;
    assert.equal(mine[0].event, 'document.queued');
    assert.ok(mine.some((e) => e.event === 'document.processing'), 'no progress event');
    for (const e of mine) {
      assert.equal(e.data.user_id, me.id);
      assert.equal(String(e.data.id), e.id, 'the SSE id is the event id');
      assert.match(e.data.at, /^\d{4}-\d{2}-\d{2}T/);
    }
    for (let i = 1; i < mine.length; i++) assert.ok(Number(mine[i].id) > Number(mine[i - 1].id), 'ids increase');
    const progress = mine.filter((e) => e.event === 'document.processing');
    for (const p of progress) assert.ok(p.data.progress >= 0 && p.data.progress <= 100 && typeof p.data.stage === 'string');
    assert.equal(ready.data.status, 'ready_to_chat');
    assert.ok(ready.data.chunks >= 1);
    assert.equal(mine.at(-1).event, 'document.ready', 'nothing after ready');
    // Deleting is an event too.
    assert.equal((await api(shared.url, 'DELETE', `/v1/documents/${up.document_id}`, { token: alice.token })).status, 204);
    await a.waitFor((e) => e.event === 'document.deleted' && e.data.document_id === up.document_id, 'document.deleted');
    // Bob heard none of it.
    assert.deepEqual(b.named().filter((e) => e.event?.startsWith('document.')), []);
  });

  test('a browser gets a single-use ticket instead of putting its token in the URL', async (t) => {
    const { token } = await registerAndLogin(shared.url);
    const issued = await api(shared.url, 'POST', '/v1/events/ticket', { token });
    assert.equal(issued.status, 200, issued.text);
    assert.match(issued.json.ticket, /^bd_tk_/);
    assert.equal(issued.json.expires_in, 60);
    const s = await openEvents(shared.url, { query: `?ticket=${encodeURIComponent(issued.json.ticket)}` });
    t.after(() => s.close());
    assert.equal(s.status, 200);
    const up = await uploadOk(shared.url, token, Buffer.from(`ticket ${Date.now()}`), 't.txt');
    await s.waitFor((e) => e.event === 'document.ready' && e.data.document_id === up.document_id);
    // Used once: a second connection with it is refused; an unknown one too; no credentials at all too.
    const again = await openEvents(shared.url, { query: `?ticket=${encodeURIComponent(issued.json.ticket)}` });
    assert.equal(again.status, 401);
    assert.equal((await openEvents(shared.url, { query: '?ticket=bd_tk_nope' })).status, 401);
    assert.equal((await openEvents(shared.url)).status, 401);
    // Neither tickets nor tokens reach the access log.
    const log = shared.server.stdout();
    assert.ok(!log.includes(issued.json.ticket), 'the ticket is in the log');
    assert.ok(!log.includes(token), 'the token is in the log');
  });

  test('reconnecting with Last-Event-ID catches up; an id too old is told to re-read state', async (t) => {
    const { token } = await registerAndLogin(shared.url);
    const first = await openEvents(shared.url, { token });
    const one = await uploadOk(shared.url, token, Buffer.from(`one ${Date.now()}`), 'one.txt');
    const seen = await first.waitFor((e) => e.event === 'document.ready' && e.data.document_id === one.document_id);
    first.close();
    // While away: another document goes all the way.
    const two = await uploadOk(shared.url, token, Buffer.from(`two ${Date.now()}`), 'two.txt');
    await waitReady(shared.url, token, two.document_id, { server: shared.server });
    const back = await openEvents(shared.url, { token, headers: { 'Last-Event-ID': seen.id } });
    t.after(() => back.close());
    await back.waitFor((e) => e.event === 'document.ready' && e.data.document_id === two.document_id, 'the missed events');
    const replayed = back.named().filter((e) => e.event?.startsWith('document.'));
    assert.equal(replayed[0].event, 'document.queued');
    assert.equal(replayed[0].data.document_id, two.document_id);
    assert.ok(replayed.every((e) => Number(e.id) > Number(seen.id)), 'nothing from before the last id');
    // The same through the query string; and an id from before this server started: resync.
    const q = await openEvents(shared.url, { token, query: `?last_event_id=${seen.id}` });
    await q.waitFor((e) => e.event === 'document.ready' && e.data.document_id === two.document_id);
    q.close();
    // An id this server never gave is answered with resync.
    const future = await openEvents(shared.url, { token, headers: { 'Last-Event-ID': '999999999' } });
    const resync = await future.waitFor((e) => e.event === 'resync', 'resync');
    assert.match(resync.data.reason, /re-read/);
    future.close();
    const bad = await openEvents(shared.url, { token, headers: { 'Last-Event-ID': 'yesterday' } });
    assert.equal(bad.status, 400);
  });

  test('a cross-site origin is refused unless allowed; the same origin is fine', async () => {
    const { token } = await registerAndLogin(shared.url);
    const evil = await openEvents(shared.url, { token, headers: { Origin: 'http://evil.example' } });
    assert.equal(evil.status, 403);
    assert.equal(JSON.parse(evil.text).error.code, 'forbidden');
    const host = new URL(shared.url).host;
    const same = await openEvents(shared.url, { token, headers: { Origin: `http://${host}` } });
    assert.equal(same.status, 200);
    same.close();
  });
});

// Opens GET /v1/ws and collects its JSON messages.
function openWs(url, { token, query = '', headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/ws${query}`, { headers: h });
  const conn = { ws, messages: [], closed: null, status: null };
  conn.opened = new Promise((resolve) => {
    ws.on('open', () => resolve(true));
    ws.on('unexpected-response', (req, res) => {
      conn.status = res.statusCode;
      resolve(false);
    });
    ws.on('error', () => resolve(false));
  });
  ws.on('message', (data) => conn.messages.push(JSON.parse(data.toString())));
  ws.on('close', (code, reason) => (conn.closed = { code, reason: reason.toString() }));
  conn.send = (obj) => ws.send(JSON.stringify(obj));
  conn.waitFor = (pred, what = 'a message', timeoutMs = 30000) =>
    eventually(() => conn.messages.find(pred), { timeoutMs, intervalMs: 20, what });
  return conn;
}

describe('real-time events over a WebSocket', () => {
  const shared = sharedServer({ args: ['--workers', '1'] });

  test('events as JSON messages; subscribe to one document; ping; another user hears nothing', async (t) => {
    const alice = await registerAndLogin(shared.url);
    const bob = await registerAndLogin(shared.url);
    const a = openWs(shared.url, { token: alice.token });
    const b = openWs(shared.url, { token: bob.token });
    t.after(() => {
      a.ws.close();
      b.ws.close();
    });
    assert.equal(await a.opened, true);
    assert.equal(await b.opened, true);
    const one = await uploadOk(shared.url, alice.token, Buffer.from(`ws one ${Date.now()}`), 'one.txt');
    const ready = await a.waitFor((m) => m.event === 'document.ready' && m.data.document_id === one.document_id);
    assert.equal(ready.data.status, 'ready_to_chat');
    assert.equal(ready.id, ready.data.id);
    const mine = a.messages.filter((m) => m.data?.document_id === one.document_id);
    assert.equal(mine[0].event, 'document.queued');
    // Narrowed to one document: others are not heard.
    const two = await uploadOk(shared.url, alice.token, Buffer.from(`ws two ${Date.now()}`), 'two.txt');
    await a.waitFor((m) => m.event === 'document.ready' && m.data.document_id === two.document_id);
    a.send({ type: 'subscribe', document_id: two.document_id });
    await a.waitFor((m) => m.event === 'subscribed' && m.data.document_id === two.document_id);
    const three = await uploadOk(shared.url, alice.token, Buffer.from(`ws three ${Date.now()}`), 'three.txt');
    await waitReady(shared.url, alice.token, three.document_id, { server: shared.server });
    assert.equal((await api(shared.url, 'DELETE', `/v1/documents/${two.document_id}`, { token: alice.token })).status, 204);
    await a.waitFor((m) => m.event === 'document.deleted' && m.data.document_id === two.document_id);
    assert.ok(!a.messages.some((m) => m.data?.document_id === three.document_id), 'a document not subscribed to was heard');
    // Someone else's document, nonsense, a ping.
    const [theirs] = [(await uploadOk(shared.url, bob.token, Buffer.from(`bob ${Date.now()}`), 'b.txt')).document_id];
    a.send({ type: 'subscribe', document_id: theirs });
    await a.waitFor((m) => m.event === 'error' && m.data.document_id === theirs);
    a.ws.send('not json');
    await a.waitFor((m) => m.event === 'error' && /JSON objects/.test(m.data.message));
    a.send({ type: 'ping' });
    await a.waitFor((m) => m.event === 'pong');
    assert.ok(!b.messages.some((m) => m.data?.document_id === one.document_id), 'bob heard alice');
  });

  test('since= catches up; tickets; a request that is not an upgrade is 426; no credentials is 401', async (t) => {
    const { token } = await registerAndLogin(shared.url);
    const first = openWs(shared.url, { token });
    await first.opened;
    const up = await uploadOk(shared.url, token, Buffer.from(`since ${Date.now()}`), 's.txt');
    const queued = await first.waitFor((m) => m.event === 'document.queued' && m.data.document_id === up.document_id);
    first.ws.close();
    await waitReady(shared.url, token, up.document_id, { server: shared.server });
    const ticket = (await api(shared.url, 'POST', '/v1/events/ticket', { token })).json.ticket;
    const back = openWs(shared.url, { query: `?ticket=${ticket}&since=${queued.id}` });
    t.after(() => back.ws.close());
    assert.equal(await back.opened, true);
    await back.waitFor((m) => m.event === 'document.ready' && m.data.document_id === up.document_id, 'the missed events');
    assert.ok(back.messages.every((m) => !m.id || m.id > queued.id));
    const reused = openWs(shared.url, { query: `?ticket=${ticket}` });
    assert.equal(await reused.opened, false);
    assert.equal(reused.status, 401);
    const none = openWs(shared.url);
    assert.equal(await none.opened, false);
    assert.equal(none.status, 401);
    const plain = await api(shared.url, 'GET', '/v1/ws', { token });
    assertError(plain, 426, 'upgrade_required');
  });

  test('a client that stops reading does not hold up the others (the cut-off itself: unit_http)', async (t) => {
    const { token } = await registerAndLogin(shared.url);
    const good = openWs(shared.url, { token });
    await good.opened;
    t.after(() => good.ws.close());
    // A client whose socket stops reading: pause the underlying TCP socket.
    const slow = openWs(shared.url, { token });
    await slow.opened;
    slow.ws._socket.pause();
    // Many events for this user: pings answered by the good one; the slow one's queue fills.
    const uploads = [];
    for (let i = 0; i < 40; i++) uploads.push(uploadOk(shared.url, token, Buffer.from(`flood ${i} ${Date.now()} ${'x'.repeat(2000)}`), `f${i}.txt`));
    const ids = (await Promise.all(uploads)).map((u) => u.document_id);
    for (const id of ids) await waitReady(shared.url, token, id, { server: shared.server });
    for (const id of ids) await good.waitFor((m) => m.event === 'document.ready' && m.data.document_id === id);
    await assertHealthyLater(shared.url);
  });
});

async function assertHealthyLater(url) {
  const res = await api(url, 'GET', '/healthz');
  assert.equal(res.status, 200);
}

describe('events across a restart', () => {
  test('an id from before the API restarted is told to re-read state', async (t) => {
    const first = await startServer({ args: ['--workers', '1'] });
    t.after(() => first.kill());
    const { token, email } = await registerAndLogin(first.url);
    const s = await openEvents(first.url, { token });
    const up = await uploadOk(first.url, token, Buffer.from(`restart ${Date.now()}`), 'r.txt');
    // The client saw the upload queued, then left; the rest happened while it was away.
    const seen = await s.waitFor((e) => e.event === 'document.queued' && e.data.document_id === up.document_id);
    s.close();
    await waitReady(first.url, token, up.document_id, { server: first });
    assert.deepEqual(await first.stop(), { code: 0, signal: null });
    const second = await startServer({ dataDir: first.dataDir, args: ['--workers', '1'] });
    t.after(() => second.stop());
    const token2 = await login(second.url, email);
    const back = await openEvents(second.url, { token: token2, headers: { 'Last-Event-ID': seen.id } });
    t.after(() => back.close());
    await back.waitFor((e) => e.event === 'resync', 'resync after a restart');
    // And it goes on with new events.
    const up2 = await uploadOk(second.url, token2, Buffer.from(`after restart ${Date.now()}`), 'r2.txt');
    const ready = await back.waitFor((e) => e.event === 'document.ready' && e.data.document_id === up2.document_id);
    assert.ok(Number(ready.id) > Number(seen.id), 'ids keep growing across restarts');
  });
});

describe('events from a worker running on its own', () => {
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

  test('`betterdev api` beside a separate `betterdev worker`: its progress and ready reach the client', async (t) => {
    const { token } = await registerAndLogin(server.url);
    const s = await openEvents(server.url, { token });
    t.after(() => s.close());
    const up = await uploadOk(server.url, token, Buffer.from(`standalone worker ${Date.now()}`), path.basename('w.txt'));
    const ready = await s.waitFor((e) => e.event === 'document.ready' && e.data.document_id === up.document_id, 'ready from the worker');
    assert.equal(ready.data.status, 'ready_to_chat');
    assert.ok(s.named().some((e) => e.event === 'document.processing' && e.data.document_id === up.document_id));
    assertError(await api(server.url, 'GET', '/v1/events'), 401, 'unauthorized');
  });
});
