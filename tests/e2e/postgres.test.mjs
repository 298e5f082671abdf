// Scale-out over the engines the design names, nothing shared on disk: two `betterdev api` and
// two `betterdev worker` processes, each with a data directory of its own (as on four
// machines), share one PostgreSQL 15 with pgvector (the store), one Redis (jobs and events) and
// one S3 server (the uploads), all real and started here on loopback. A user registered through
// API 1 signs in on API 2; a PDF uploaded through API 1 is read by whichever worker takes it
// and found by a search on API 2; deleting it on API 2 removes it everywhere. A worker killed
// mid-job leaves the job to the other, which reads the upload from S3 itself. PostgreSQL
// stopped mid-run: readiness and uploads answer 503, and everything works again when it returns.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ask, checkOrder, newConversation } from './chat_helpers.mjs';
import { api, eventually, login, register, randomEmail, startServer, tempDir, withTimeout } from './helpers.mjs';
import { PDF_004, allChunks, getDocument, slowMarkerPdf, uploadOk, uploadRaw, waitReady } from './ingest_helpers.mjs';
import { startPostgres, startRedis, startS3, startWorker } from './scaleout_helpers.mjs';

const BUCKET = 'betterdev-scaleout';

describe('api and worker processes on PostgreSQL, Redis and S3, sharing no directory', () => {
  let pg;
  let redis;
  let s3;
  let s3dir;
  let one;
  let two;
  let workers = [];
  let workerArgs;
  let workerEnv;
  before(async () => {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    s3dir = tempDir();
    s3 = await startS3(s3dir, BUCKET);
    const args = ['--database-url', pg.url, '--redis-url', redis.url, '--s3-endpoint', s3.url, '--s3-bucket', BUCKET,
      '--s3-force-path-style', 'true', '--s3-access-key', 'S3RVER'];
    const env = { BETTERDEV_S3_SECRET_KEY: 'S3RVER' };
    one = await startServer({ command: 'api', args, env });
    two = await startServer({ command: 'api', args, env });
    workerArgs = args;
    workerEnv = env;
    workers = [0, 1].map((i) => startWorker(path.join(tempDir(), 'data'), args, i, env));
    await Promise.all(workers.map((w) => w.ready()));
  });
  after(async () => {
    for (const w of workers) if (w.proc.exitCode === null) w.proc.kill('SIGTERM');
    await Promise.all(workers.map((w) => withTimeout(w.exited, 15000, 'worker did not stop').catch(() => w.proc.kill('SIGKILL'))));
    await one?.stop();
    await two?.stop();
    await s3?.stop();
    await redis?.stop();
    await pg?.stop();
    redis?.cleanup();
    pg?.cleanup();
    fs.rmSync(s3dir, { recursive: true, force: true });
  });

  test('register on API 1, sign in on API 2; a PDF uploaded on API 1 is searched and deleted on API 2', async () => {
    assert.notEqual(one.dataDir, two.dataDir);
    const email = randomEmail('pg');
    await register(one.url, email);
    const token = await login(two.url, email);
    const up = await uploadOk(one.url, token, fs.readFileSync(PDF_004), 'four-pages.pdf');
    const doc = await waitReady(two.url, token, up.document_id, { timeoutMs: 90000 });
    assert.equal(doc.pages, 4);
    const chunks = await allChunks(two.url, token, up.document_id);
    assert.ok(chunks.length > 0);
    assert.ok(workers.some((w) => w.readyCount(up.document_id) === 1), 'a worker read it');

    // API 2's index loads the chunks and vectors from PostgreSQL.
    const words = chunks[0].text.split(/\s+/).filter((w) => /^[a-z]{4,}$/i.test(w)).slice(0, 4).join(' ');
    for (const mode of ['keyword', 'vector', 'hybrid']) {
      const hits = await eventually(async () => {
        const r = await api(two.url, 'POST', '/v1/search', { token, body: { query: words, k: 3, mode } });
        return r.status === 200 && r.text.includes(up.document_id) ? r : null;
      }, { timeoutMs: 15000, what: `a ${mode} search on API 2 finding "${words}"` });
      assert.equal(hits.status, 200);
    }
    // Chat on API 1 answers from those chunks, with citations to the document, streamed too.
    const conv = await newConversation(one.url, token, { document_ids: [up.document_id] });
    const answer = await api(one.url, 'POST', `/v1/conversations/${conv.id}/messages`, {
      token, body: { content: words, stream: false },
    });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.status, 'complete');
    assert.ok(answer.json.citations.length >= 1, answer.text);
    for (const c of answer.json.citations) assert.equal(c.document_id, up.document_id);
    const streamed = await ask(two.url, token, conv.id, { content: words });
    assert.ok(checkOrder(streamed.events).done.citations.length >= 1);

    assert.equal((await api(two.url, 'DELETE', `/v1/documents/${up.document_id}`, { token })).status, 204);
    assert.equal((await api(one.url, 'GET', `/v1/documents/${up.document_id}`, { token })).status, 404);
    assert.ok((await s3.log()).includes(`DELETE /${BUCKET}/blobs/${up.sha256}`), 'the object went with the document');
  });

  test('a worker killed mid-job (kill -9): the other reads the upload from S3 itself and the document is ready', async () => {
    const email = randomEmail('pgkill');
    await register(one.url, email);
    const token = await login(one.url, email);
    const up = await uploadOk(one.url, token, await slowMarkerPdf(40, 6), 'slow.pdf');
    const holder = await eventually(() => workers.find((w) => w.started(up.document_id)), { timeoutMs: 30000, what: 'a worker to start the job' });
    holder.proc.kill('SIGKILL');
    await holder.exited;
    const doc = await waitReady(two.url, token, up.document_id, { timeoutMs: 120000 });
    assert.equal(doc.attempts, 2, 'the second start finished it');
    const other = workers.find((w) => w !== holder);
    assert.equal(other.readyCount(up.document_id), 1, 'the other worker read it');
    const gets = (await s3.log()).filter((l) => l.startsWith(`GET /${BUCKET}/blobs/${up.sha256}`));
    assert.ok(gets.length >= 2, `each worker read the object from S3 (${gets.length} reads)`);
    assert.equal((await allChunks(two.url, token, up.document_id)).length > 0, true);
    // The killed worker's place is taken by a new one, with a data directory of its own.
    const i = workers.indexOf(holder);
    workers[i] = startWorker(path.join(tempDir(), 'data'), workerArgs, i, workerEnv);
    await workers[i].ready();
  });

  test('PostgreSQL stopped mid-run: 503 while it is away, and everything works again when it returns', async () => {
    const email = randomEmail('pgdown');
    await register(one.url, email);
    const token = await login(one.url, email);
    await pg.stop();
    assert.equal((await api(one.url, 'GET', '/readyz')).status, 503);
    const refused = await uploadRaw(two.url, token, Buffer.from(`While PostgreSQL is down ${Date.now()}`), 'down.txt');
    assert.equal(refused.status, 503, refused.text);
    await pg.start();
    await eventually(async () => (await api(one.url, 'GET', '/readyz')).status === 200,
      { timeoutMs: 15000, what: 'ready again' });
    const up = await uploadOk(two.url, token, Buffer.from(`After the restart ${Date.now()}: the audit is complete.`), 'back.txt');
    await waitReady(one.url, token, up.document_id, { timeoutMs: 60000 });
    assert.equal((await getDocument(two.url, token, up.document_id)).status, 'ready');
  });
});
