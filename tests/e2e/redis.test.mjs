// Scale-out on Redis: two `betterdev api` and two `betterdev worker` processes on one real
// redis-server (Debian's, started here on loopback with persistence on) and one data directory.
// Jobs travel in BullMQ's layout (real `bullmq` reads them), events over a Redis stream (a
// client of API 2 follows an upload made through API 1), a worker killed mid-job hands its job
// to the other, and a Redis restart mid-run loses no job and runs none to completion twice.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { api, eventually, registerAndLogin, sleep, startServer, tempDir, withTimeout } from './helpers.mjs';
import { getDocument, repoRoot, slowMarkerPdf, uploadOk, uploadRaw, waitReady } from './ingest_helpers.mjs';
import { openEvents } from './events_helpers.mjs';
import { startRedis, startWorker } from './scaleout_helpers.mjs';

const { Queue } = await import(path.join(repoRoot, 'deps/bullmq/node_modules/bullmq/dist/cjs/index.js'));

describe('api and worker processes on Redis', () => {
  let redis;
  let data;
  let one;
  let two;
  let workers = [];
  let queue;
  before(async () => {
    redis = await startRedis();
    data = path.join(tempDir(), 'data');
    const args = ['--redis-url', redis.url];
    one = await startServer({ command: 'api', dataDir: data, args });
    two = await startServer({ command: 'api', dataDir: data, args });
    workers = [startWorker(data, ['--redis-url', redis.url], 0), startWorker(data, ['--redis-url', redis.url], 1)];
    await Promise.all(workers.map((w) => w.ready()));
    queue = new Queue('file-processing', { connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null } });
    queue.on('error', () => {});  // while Redis restarts
  });
  after(async () => {
    await queue?.close();
    for (const w of workers) if (w.proc.exitCode === null) w.proc.kill('SIGTERM');
    await Promise.all(workers.map((w) => withTimeout(w.exited, 15000, 'worker did not stop').catch(() => w.proc.kill('SIGKILL'))));
    await one?.stop();
    await two?.stop();
    await redis?.stop();
    redis?.cleanup();
  });

  test('an upload through API 1 is followed live on API 2, and BullMQ sees its job completed with the result', async (t) => {
    const { token } = await registerAndLogin(one.url);
    const s = await openEvents(two.url, { token });
    t.after(() => s.close());
    const up = await uploadOk(one.url, token, Buffer.from(`Scale-out on Redis ${Date.now()}: the quarterly report is ready.`), 'r.txt');
    const ready = await s.waitFor((e) => e.event === 'document.ready' && e.data.document_id === up.document_id, 'ready on API 2');
    assert.equal(ready.data.status, 'ready_to_chat');
    const mine = s.named().filter((e) => e.data.document_id === up.document_id).map((e) => e.event);
    assert.equal(mine[0], 'document.queued');
    assert.ok(mine.includes('document.processing'), mine.join());
    let job = await queue.getJob(up.job_id);
    assert.ok(job, 'BullMQ finds the job by the id the upload answered');
    assert.equal(job.name, 'FILE_PROCESS');
    assert.deepEqual(job.data, { document_id: up.document_id, user_id: ready.data.user_id });
    await eventually(async () => (await job.getState()) === 'completed', { timeoutMs: 10000, what: 'the job completed in BullMQ' });
    job = await queue.getJob(up.job_id);
    assert.deepEqual(job.returnvalue, { document_id: up.document_id, status: 'ready', pages: 1, chunks: 1 });
    assert.equal(job.progress, 96, 'the last progress the worker reported (indexing)');
    const names = (await queue.getWorkers()).map((w) => w.rawname).sort();
    assert.equal(names.length, 2, JSON.stringify(names));
    assert.ok(names.every((n) => n.startsWith('bull:ZmlsZS1wcm9jZXNzaW5n:w:w')), JSON.stringify(names));
  });

  test('a worker killed mid-job: the other takes the job once its lease lapses, and the document is ready', async () => {
    const { token } = await registerAndLogin(one.url);
    const up = await uploadOk(one.url, token, await slowMarkerPdf(40, 6), 'slow.pdf');
    const holder = await eventually(() => workers.find((w) => w.started(up.document_id)), { timeoutMs: 30000, what: 'a worker to start the job' });
    holder.proc.kill('SIGKILL');
    await holder.exited;
    const doc = await waitReady(two.url, token, up.document_id, { timeoutMs: 90000 });
    assert.equal(doc.attempts, 2, 'the second start finished it');
    const job = await queue.getJob(up.job_id);
    await eventually(async () => (await job.getState()) === 'completed', { timeoutMs: 10000, what: 'the job completed in BullMQ' });
    assert.equal((await queue.getJob(up.job_id)).stalledCounter, 1, 'BullMQ counted the stall');
    // The killed worker's place is taken by a new one for the next test.
    const i = workers.indexOf(holder);
    workers[i] = startWorker(data, ['--redis-url', redis.url], i);
    await workers[i].ready();
  });

  test('a Redis restart mid-run loses no job and runs none to completion twice', async () => {
    const { token } = await registerAndLogin(two.url);
    const docs = [];
    for (let i = 0; i < 6; i++) {
      docs.push(await uploadOk(two.url, token, Buffer.from(`Restart survivor ${i} ${Date.now()}: ${'words '.repeat(200)}`), `s${i}.txt`));
    }
    await redis.stop();
    // While it is gone: an upload is refused with 503 and leaves no document; readiness says so.
    const refused = await uploadRaw(one.url, token, Buffer.from(`While Redis is down ${Date.now()}`), 'down.txt');
    assert.equal(refused.status, 503, refused.text);
    assert.equal((await api(two.url, 'GET', '/readyz')).status, 503);
    const listed = await api(one.url, 'GET', '/v1/documents', { token });
    assert.equal(listed.json.data.length, docs.length, 'the refused upload left no document');
    await sleep(1000);  // workers find it gone
    await redis.start();
    // Uploads work again once it is back (the API reconnects on its own).
    const late = await eventually(async () => {
      try {
        return await uploadOk(one.url, token, Buffer.from(`After the restart ${Date.now()}`), 'late.txt');
      } catch {
        return null;
      }
    }, { timeoutMs: 15000, what: 'an upload after the restart' });
    docs.push(late);
    for (const d of docs) {
      const doc = await waitReady(one.url, token, d.document_id, { timeoutMs: 60000 });
      assert.equal(doc.status, 'ready');
      // The store says ready before the worker's "document ready" log line reaches us.
      const ran = () => workers.reduce((n, w) => n + w.readyCount(d.document_id), 0);
      await eventually(() => ran() >= 1, { timeoutMs: 10000, what: `a worker's log of ${d.document_id} ready` });
      assert.equal(ran(), 1, `${d.document_id} was completed ${ran()} times`);
      // The document is ready before its job is marked completed (the store first, then the queue).
      await eventually(async () => (await (await queue.getJob(d.job_id)).getState()) === 'completed',
        { timeoutMs: 10000, what: `job ${d.job_id} completed in BullMQ` });
    }
    assert.equal((await getDocument(two.url, token, late.document_id)).status, 'ready');
  });
});
