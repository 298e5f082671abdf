// Ingestion when things go wrong: restarts between `api` and `serve`, a worker or an extractor
// killed mid-job, the whole server killed mid-upload or mid-job, graceful shutdown mid-job,
// deletion while processing, job timeouts. Each test runs its own server with short leases,
// backoffs and poll intervals so that recovery takes seconds.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import { io } from 'socket.io-client';

import {
  RawClient,
  api,
  assertError,
  assertHealthy,
  eventually,
  metricValue,
  parseMetrics,
  registerAndLogin,
  sleep,
  startServer,
} from './helpers.mjs';
import {
  NTSB,
  PDF_004,
  allChunks,
  blobFiles,
  blobPath,
  checkChunks,
  cmdline,
  findExtractor,
  getDocument,
  isRunning,
  slowMarkerPdf,
  stagedFiles,
  uploadOk,
  waitForDocument,
  waitReady,
  workerPids,
} from './ingest_helpers.mjs';
import { pageMarker } from './pdfgen.mjs';

// Two workers, a 3 s lease (renewed every second, reclaimed every 1.5 s), fast retries.
const FAST = ['--workers', '2', '--poll-ms', '50', '--lease-seconds', '3', '--job-backoff-ms', '100'];

const uniqueText = (tag) => Buffer.from(`${tag} ${randomBytes(8).toString('hex')}\n\nA short text to ingest.\n`);

// Starts a server for one test; after the test it, the servers started on its data directory
// with server.group.restart() and any worker they started are killed, and the directory removed.
async function serverFor(t, opts = {}) {
  const server = await startServer({ ...opts, args: [...FAST, ...(opts.args ?? [])] });
  const group = { servers: [server] };
  t.after(async () => {
    for (const s of group.servers) {
      const pids = [...workerPids(s).values()];
      await s.kill();
      // Workers die with their server (parent-death signal); make sure no stray one is left.
      for (const pid of pids) {
        try {
          if (isRunning(pid) && cmdline(pid).includes('worker')) process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    server.cleanup();
  });
  // Starts another server on the same data directory, cleaned up with the first.
  group.restart = async (more = {}) => {
    const s = await startServer({ ...more, dataDir: server.dataDir, args: [...FAST, ...(more.args ?? [])] });
    group.servers.push(s);
    return s;
  };
  server.group = group;
  return server;
}

async function metrics(url) {
  return parseMetrics((await api(url, 'GET', '/metrics')).text);
}
const mv = (m, name, labels = {}) => metricValue(m, name, labels) ?? 0;

async function stopClean(server) {
  const exit = await server.stop();
  assert.deepEqual(exit, { code: 0, signal: null }, `unclean exit\n${server.logs().slice(-6000)}`);
}

// Waits until the document is being read (a few pages done) and returns the extractor process.
async function extractorMidJob(server, token, id, minPage = 2) {
  await eventually(
    async () => {
      const d = await getDocument(server.url, token, id);
      assert.ok(d.status === 'queued' || d.status === 'processing', `finished before it could be interrupted: ${JSON.stringify(d)}`);
      return d.status === 'processing' && d.page >= minPage;
    },
    { timeoutMs: 30000, intervalMs: 20, what: 'the document to be mid-extraction' },
  );
  return eventually(() => findExtractor(server), { timeoutMs: 5000, what: 'the extractor process' });
}

function assertAllMarkers(chunks, pages) {
  for (let p = 1; p <= pages; p++) {
    const m = pageMarker(p);
    const hits = chunks.filter((c) => c.text.includes(m));
    assert.ok(hits.length > 0, `page ${p}'s marker is missing`);
    for (const c of hits) assert.ok(c.page_start <= p && p <= c.page_end, `page ${p}'s marker in chunk of pages ${c.page_start}-${c.page_end}`);
  }
}

const logged = (server, msg, pred = () => true) => server.logLines().filter((l) => l.msg === msg && pred(l));

// Rows in the chunks table for a document, read straight from SQLite with the sqlite3 shell
// (installed by scripts/setup.sh): the API cannot show chunks of a deleted document. A missing
// shell fails the test.
function chunkRows(dataDir, id) {
  const out = execFileSync('sqlite3', ['-readonly', path.join(dataDir, 'betterdev.db'), `SELECT count(*) FROM chunks WHERE document_id = '${id}'`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return Number(out.toString().trim());
}

describe('ingestion faults', () => {
  test('uploads to `betterdev api` stay queued; `serve` on the same data dir makes them ready', async (t) => {
    const apiOnly = await serverFor(t, { command: 'api' });
    const { token } = await registerAndLogin(apiOnly.url);
    const files = [
      [fs.readFileSync(PDF_004), 'four.pdf', 4],
      [fs.readFileSync(path.join(NTSB, '20080108X00031.pdf')), 'ntsb.pdf', 3],
      [uniqueText('queued text'), 'queued.txt', 1],
    ];
    const ids = [];
    for (const [bytes, name] of files) ids.push((await uploadOk(apiOnly.url, token, bytes, name)).document_id);
    await sleep(1000);
    for (const id of ids) {
      const d = await getDocument(apiOnly.url, token, id);
      assert.equal(d.status, 'queued', JSON.stringify(d));
      assert.equal(d.attempts, 0);
      assert.equal(d.stage, null);
      assert.equal(d.progress, 0);
    }
    assert.equal(logged(apiOnly, 'worker started').length, 0, '`api` must not start workers');
    const m = await metrics(apiOnly.url);
    assert.equal(mv(m, 'betterdev_queue_jobs', { state: 'waiting' }), 3);
    assert.equal(mv(m, 'betterdev_queue_jobs', { state: 'active' }), 0);
    assert.equal(metricValue(m, 'betterdev_workers', {}), undefined, '`api` reports no workers');
    await stopClean(apiOnly);

    const serve = await apiOnly.group.restart();
    await eventually(() => logged(serve, 'worker started').length === 2, { what: '`serve` to start two workers' });
    for (const [i, id] of ids.entries()) {
      const d = await waitReady(serve.url, token, id, { server: serve, timeoutMs: 30000 });
      assert.equal(d.pages, files[i][2]);
      assert.equal(d.attempts, 1);
      checkChunks(d, await allChunks(serve.url, token, id));
    }
    const m2 = await eventually(async () => {
      const x = await metrics(serve.url);
      return mv(x, 'betterdev_queue_jobs', { state: 'completed' }) === 3 ? x : null;
    }, { what: 'three completed jobs' });
    assert.equal(mv(m2, 'betterdev_queue_jobs', { state: 'waiting' }), 0);
    await stopClean(serve);
  });

  test('kill -9 of a worker mid-job: the job is retried to ready, the worker restarted', async (t) => {
    const server = await serverFor(t);
    const { token } = await registerAndLogin(server.url);
    const bytes = await slowMarkerPdf(200, 3);
    const u = await uploadOk(server.url, token, bytes, 'slow.pdf');
    const { worker, child } = await extractorMidJob(server, token, u.document_id);
    const slot = [...workerPids(server)].find(([, pid]) => pid === worker)[0];
    process.kill(worker, 'SIGKILL');

    // Its extractor dies with it; the supervisor notices and starts a new worker in the slot.
    await eventually(() => !isRunning(child), { timeoutMs: 5000, what: 'the orphaned extractor to die' });
    const exited = await eventually(() => logged(server, 'worker exited; restarting', (l) => l.worker === slot)[0], {
      timeoutMs: 5000,
      what: 'the supervisor to log the dead worker',
    });
    assert.match(exited.how, /signal 9/);
    const fresh = await eventually(
      () => {
        const pid = workerPids(server).get(slot);
        return pid !== worker && isRunning(pid) ? pid : null;
      },
      { timeoutMs: 10000, what: 'a new worker in the slot' },
    );
    assert.ok(fresh > 0);

    const doc = await waitReady(server.url, token, u.document_id, { server, timeoutMs: 60000 });
    assert.ok(doc.attempts >= 2, `attempts ${doc.attempts}: the killed attempt must count`);
    assert.equal(doc.pages, 200);
    assert.equal(doc.error, null);
    const chunks = await allChunks(server.url, token, u.document_id);
    checkChunks(doc, chunks);
    assertAllMarkers(chunks, 200);
    // Worker events reach /metrics after the row says ready (metrics lag readiness).
    const m = await eventually(async () => {
      const x = await metrics(server.url);
      return mv(x, 'betterdev_ingest_documents_total', { status: 'ready' }) >= 1 ? x : null;
    }, { timeoutMs: 10000, what: 'the ready document counted in /metrics' });
    assert.equal(mv(m, 'betterdev_worker_restarts'), 1);
    assert.equal(mv(m, 'betterdev_workers'), 2);
    assert.equal(mv(m, 'betterdev_ingest_documents_total', { status: 'ready' }), 1);
    assert.equal(mv(m, 'betterdev_queue_jobs', { state: 'active' }), 0);
    await stopClean(server);
  });

  test('kill -9 of the extractor with --job-attempts 1: failed, the reason names signal 9, the worker lives on', async (t) => {
    const server = await serverFor(t, { args: ['--job-attempts', '1'] });
    const { token } = await registerAndLogin(server.url);
    const u = await uploadOk(server.url, token, await slowMarkerPdf(200, 3), 'slow.pdf');
    const { worker, child } = await extractorMidJob(server, token, u.document_id);
    process.kill(child, 'SIGKILL');
    const doc = await waitForDocument(server.url, token, u.document_id, { server, timeoutMs: 20000 });
    assert.equal(doc.status, 'failed', JSON.stringify(doc));
    assert.match(doc.error, /signal 9/, doc.error);
    assert.match(doc.error, /Killed/, doc.error);
    assert.match(doc.error, /on page \d+/, doc.error);
    assert.equal(doc.attempts, 1);
    assert.equal(doc.chunk_count, 0);
    assert.deepEqual((await api(server.url, 'GET', `/v1/documents/${doc.id}/chunks`, { token })).json, { data: [], next_cursor: null });
    // Only the child died.
    assert.ok(isRunning(worker), 'the worker must survive its extractor');
    assert.equal(logged(server, 'worker exited; restarting').length, 0);
    const m = await eventually(async () => {
      const x = await metrics(server.url);
      return mv(x, 'betterdev_ingest_documents_total', { status: 'failed' }) === 1 ? x : null;
    }, { what: 'the failure to be counted' });
    assert.equal(mv(m, 'betterdev_ingest_attempts_total', { result: 'failed' }), 1);
    assert.equal(mv(m, 'betterdev_worker_restarts'), 0);
    // And it keeps working.
    const next = await uploadOk(server.url, token, uniqueText('after the crash'), 'next.txt');
    await waitReady(server.url, token, next.document_id, { server });
    await stopClean(server);
  });

  test('an extractor killed once is retried and the document still becomes ready', async (t) => {
    const server = await serverFor(t, { args: ['--job-attempts', '3'] });
    const { token } = await registerAndLogin(server.url);
    // A client following the document live hears the retry, with when it will be.
    const heard = [];
    const socket = io(server.url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    t.after(() => socket.close());
    socket.onAny((name, data) => heard.push({ name, data }));
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    const u = await uploadOk(server.url, token, await slowMarkerPdf(100, 2), 'retry.pdf');
    const { child } = await extractorMidJob(server, token, u.document_id);
    process.kill(child, 'SIGKILL');
    const doc = await waitReady(server.url, token, u.document_id, { server, timeoutMs: 30000 });
    const retrying = await eventually(() => heard.find((e) => e.name === 'document.retrying'), { what: 'document.retrying' });
    assert.equal(retrying.data.document_id, u.document_id);
    assert.equal(retrying.data.attempt, 1);
    assert.match(retrying.data.reason, /signal 9/);
    assert.ok(Date.parse(retrying.data.next_attempt_at) >= Date.parse(retrying.data.at), retrying.data.next_attempt_at);
    await eventually(() => heard.find((e) => e.name === 'document.ready'), { what: 'document.ready after the retry' });
    assert.equal(doc.attempts, 2);
    assert.equal(doc.error, null, 'the first attempt\'s error must be cleared');
    const chunks = await allChunks(server.url, token, u.document_id);
    checkChunks(doc, chunks);
    assertAllMarkers(chunks, 100);
    const retry = logged(server, 'attempt failed; will retry');
    assert.equal(retry.length, 1);
    assert.match(retry[0].reason, /signal 9/);
    const m = await eventually(async () => {
      const x = await metrics(server.url);
      return mv(x, 'betterdev_ingest_documents_total', { status: 'ready' }) === 1 ? x : null;
    }, { what: 'the document to be counted' });
    assert.equal(mv(m, 'betterdev_ingest_attempts_total', { result: 'retrying' }), 1);
    assert.equal(mv(m, 'betterdev_ingest_attempts_total', { result: 'ready' }), 1);
    assert.equal(mv(m, 'betterdev_ingest_documents_total', { status: 'failed' }), 0);
    await stopClean(server);
  });

  test('kill -9 of the server mid-upload: after a restart no document exists and long-idle staged files are gone', async (t) => {
    const server = await serverFor(t);
    const { token } = await registerAndLogin(server.url);
    const workers = [...workerPids(server).values()];
    assert.equal(workers.length, 2);
    const total = 1_000_000;
    const c = await RawClient.connect(server.port);
    t.after(() => c.destroy());
    await c.write(
      `POST /v1/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nX-Filename: cut.txt\r\n` +
        `Content-Type: application/octet-stream\r\nContent-Length: ${total}\r\n\r\n`,
    );
    let sent = 0;
    for (let i = 0; i < 8; i++) {
      await c.write(Buffer.alloc(50_000, 'an upload that never finishes\n'));
      sent += 50_000;
      await sleep(30);
    }
    // The bytes so far are staged on disk.
    const staged = await eventually(
      () => {
        const f = stagedFiles(server.dataDir);
        if (f.length !== 1) return null;
        const size = fs.statSync(path.join(server.dataDir, 'blobs', 'tmp', f[0])).size;
        return size === sent ? f[0] : null;
      },
      { what: `one staged file of ${sent} bytes` },
    );
    assert.ok(staged);
    assert.equal(c.data(), '', 'no answer before the body is complete');
    await server.kill();
    // The workers go down with the server.
    await eventually(() => workers.every((p) => !isRunning(p)), { timeoutMs: 5000, what: 'the workers to die with the server' });
    c.destroy();
    assert.deepEqual(stagedFiles(server.dataDir), [staged], 'the cut upload is left staged by the crash');
    // Staged files are removed once idle for an hour: the cut one is made two hours old; a
    // fresh one stands for an upload another process sharing the directory is receiving.
    const tmp = path.join(server.dataDir, 'blobs', 'tmp');
    const hoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
    fs.utimesSync(path.join(tmp, staged), hoursAgo, hoursAgo);
    fs.writeFileSync(path.join(tmp, 'in-flight.part'), 'another process is receiving this upload');

    const again = await server.group.restart();
    assert.deepEqual(stagedFiles(again.dataDir), ['in-flight.part'], 'the idle leftover must go, the live upload stay');
    assert.deepEqual(blobFiles(again.dataDir), []);
    const list = await api(again.url, 'GET', '/v1/documents', { token });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json, { data: [], next_cursor: null });
    const m = await metrics(again.url);
    for (const state of ['waiting', 'active', 'delayed', 'completed', 'failed']) assert.equal(mv(m, 'betterdev_queue_jobs', { state }), 0, state);
    const u = await uploadOk(again.url, token, uniqueText('after the crash'), 'fine.txt');
    await waitReady(again.url, token, u.document_id, { server: again });
    await stopClean(again);
  });

  test('kill -9 of the server mid-job: after a restart the job is taken up again and finishes', async (t) => {
    const server = await serverFor(t);
    const { token } = await registerAndLogin(server.url);
    const u = await uploadOk(server.url, token, await slowMarkerPdf(100, 2), 'interrupted.pdf');
    const { worker, child } = await extractorMidJob(server, token, u.document_id);
    await server.kill();
    await eventually(() => !isRunning(worker) && !isRunning(child), { timeoutMs: 5000, what: 'the worker and its extractor to die' });
    const again = await server.group.restart();
    // The stale lease runs out (3 s), the job is reclaimed and run again.
    const doc = await waitReady(again.url, token, u.document_id, { server: again, timeoutMs: 60000 });
    assert.equal(doc.attempts, 2);
    const chunks = await allChunks(again.url, token, u.document_id);
    checkChunks(doc, chunks);
    assertAllMarkers(chunks, 100);
    await stopClean(again);
  });

  test('SIGTERM mid-job: clean exit; the job is released and finishes after a restart', async (t) => {
    const server = await serverFor(t);
    const { token } = await registerAndLogin(server.url);
    const u = await uploadOk(server.url, token, await slowMarkerPdf(100, 2), 'released.pdf');
    const { child } = await extractorMidJob(server, token, u.document_id);
    const started = Date.now();
    await stopClean(server);
    assert.ok(Date.now() - started < 10000, 'shutdown waited for the job to finish');
    assert.ok(!isRunning(child), 'the extractor outlived the server');
    const again = await server.group.restart();
    const mid = await getDocument(again.url, token, u.document_id);
    assert.ok(['queued', 'processing', 'ready'].includes(mid.status), `after a clean stop: ${JSON.stringify(mid)}`);
    assert.equal(mid.error, null, `a released job is not an error: ${JSON.stringify(mid)}`);
    const doc = await waitReady(again.url, token, u.document_id, { server: again, timeoutMs: 30000 });
    const chunks = await allChunks(again.url, token, u.document_id);
    checkChunks(doc, chunks);
    assertAllMarkers(chunks, 100);
    await stopClean(again);
  });

  test('delete while processing: 404 at once, blob gone, the job abandoned, the server keeps working', async (t) => {
    const server = await serverFor(t);
    const { token } = await registerAndLogin(server.url);
    const bytes = await slowMarkerPdf(200, 3);
    const u = await uploadOk(server.url, token, bytes, 'doomed.pdf');
    const { child } = await extractorMidJob(server, token, u.document_id);
    const blob = blobPath(server.dataDir, u.sha256);
    assert.ok(fs.existsSync(blob));

    const del = await api(server.url, 'DELETE', `/v1/documents/${u.document_id}`, { token });
    assert.equal(del.status, 204, del.text);
    assertError(await api(server.url, 'GET', `/v1/documents/${u.document_id}`, { token }), 404, 'not_found');
    assertError(await api(server.url, 'GET', `/v1/documents/${u.document_id}/chunks`, { token }), 404, 'not_found');
    assert.deepEqual((await api(server.url, 'GET', '/v1/documents', { token })).json, { data: [], next_cursor: null });
    assert.ok(!fs.existsSync(blob), 'the blob must be deleted');

    // The worker notices at its next lease renewal (a third of the lease) and stops the extractor.
    await eventually(() => !isRunning(child), { timeoutMs: 5000, what: 'the abandoned extractor to stop' });
    await eventually(() => logged(server, 'job abandoned', (l) => l.document_id === u.document_id).length === 1, {
      timeoutMs: 5000,
      what: 'the worker to log the abandoned job',
    });
    // Nothing comes back later.
    await sleep(500);
    assertError(await api(server.url, 'GET', `/v1/documents/${u.document_id}`, { token }), 404, 'not_found');
    assert.equal(chunkRows(server.dataDir, u.document_id), 0, 'chunks of the deleted document were stored');
    assert.ok(!fs.existsSync(blob));

    // The server and its workers carry on: other bytes become ready, the same bytes are new again.
    const other = await uploadOk(server.url, token, uniqueText('after the delete'), 'other.txt');
    await waitReady(server.url, token, other.document_id, { server });
    const back = await uploadOk(server.url, token, bytes, 'doomed-again.pdf');
    assert.notEqual(back.document_id, u.document_id);
    assert.equal(back.deduplicated, false);
    assert.ok(fs.existsSync(blob), 'the blob is stored again');
    assert.equal((await api(server.url, 'DELETE', `/v1/documents/${back.document_id}`, { token })).status, 204);
    const m = await eventually(async () => {
      const x = await metrics(server.url);
      return mv(x, 'betterdev_queue_jobs', { state: 'active' }) === 0 && mv(x, 'betterdev_ingest_documents_total', { status: 'ready' }) >= 1 ? x : null;
    }, { timeoutMs: 8000, what: 'no active job, and the ready document counted' });
    assert.equal(mv(m, 'betterdev_ingest_documents_total', { status: 'ready' }), 1);
    assert.equal(mv(m, 'betterdev_worker_restarts'), 0);
    await assertHealthy(server.url);
    await stopClean(server);
  });

  test('--job-timeout: the 1,000-page PDF fails with "timed out" after each attempt', async (t) => {
    const server = await serverFor(t, { args: ['--job-timeout', '1', '--job-attempts', '2'] });
    const { token } = await registerAndLogin(server.url);
    const bytes = await slowMarkerPdf(1000, 8);
    const start = Date.now();
    const u = await uploadOk(server.url, token, bytes, 'too-slow.pdf');
    const doc = await waitForDocument(server.url, token, u.document_id, { server, timeoutMs: 30000 });
    const elapsed = Date.now() - start;
    assert.equal(doc.status, 'failed', JSON.stringify(doc));
    assert.match(doc.error, /^extraction timed out after 1 s on page \d+$/, doc.error);
    const page = Number(/on page (\d+)/.exec(doc.error)[1]);
    assert.ok(page >= 1 && page < 1000, `page ${page}`);
    assert.equal(doc.attempts, 2);
    assert.ok(elapsed < 12000, `two 1 s attempts took ${elapsed} ms`);
    assert.equal(logged(server, 'attempt failed; will retry').length, 1);
    assert.equal(logged(server, 'document failed').length, 1);
    await eventually(() => findExtractor(server) === null, { timeoutMs: 3000, what: 'no extractor left running' });
    const m = await eventually(async () => {
      const x = await metrics(server.url);
      return mv(x, 'betterdev_ingest_documents_total', { status: 'failed' }) === 1 ? x : null;
    }, { what: 'the failure to be counted' });
    assert.equal(mv(m, 'betterdev_ingest_attempts_total', { result: 'retrying' }), 1);
    assert.equal(mv(m, 'betterdev_ingest_attempts_total', { result: 'failed' }), 1);
    assert.equal(mv(m, 'betterdev_queue_jobs', { state: 'failed' }), 1);
    await stopClean(server);
  });
});
