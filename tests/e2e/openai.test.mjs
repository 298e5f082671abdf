// The pipeline with --embeddings openai against a stand-in provider on loopback: chunks and
// queries are embedded by it (with its failures retried or reported), and search uses them.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { api, assertError, eventually, registerAndLogin, sleep, startServer, tempDir } from './helpers.mjs';
import { childrenOf, uploadOk, uploadRaw, waitForDocument, waitReady, workerPids } from './ingest_helpers.mjs';
import { startOpenAiStandIn } from './openai_standin.mjs';

describe('openai embeddings (stand-in provider)', () => {
  let stand;
  let server;
  before(async () => {
    stand = await startOpenAiStandIn();
    server = await startServer({
      args: ['--workers', '1', '--poll-ms', '50', '--job-backoff-ms', '100', '--embeddings', 'openai',
        '--openai-base-url', stand.url, '--embedding-dimensions', '64'],
      env: { BETTERDEV_OPENAI_API_KEY: 'sk-e2e-secret' },
    });
  });
  after(async () => {
    await server?.stop?.();
    await stand?.close();
  });

  test('chunks are embedded by the provider (a 429 with Retry-After is waited out) and searched', async () => {
    const { token } = await registerAndLogin(server.url);
    stand.failures.push({ status: 429, message: 'Rate limit reached for requests', headers: { 'retry-after': '1' } });
    const a = await uploadOk(server.url, token, Buffer.from('Vitamin D deficiency weakens bones in older adults.'), 'a.txt');
    const b = await uploadOk(server.url, token, Buffer.from('The northern line runs every six minutes at peak.'), 'b.txt');
    const readyA = await waitReady(server.url, token, a.document_id, { server });
    await waitReady(server.url, token, b.document_id, { server });
    // What is embedded: the document's title (its file name without the extension), then the
    // chunk. Usage as the provider counted it (the stand-in: ceil(length / 4) per input), priced
    // at the default $0.02 per 1M tokens.
    const inputA = 'a\nVitamin D deficiency weakens bones in older adults.';
    const tokensA = Math.ceil(inputA.length / 4);
    assert.equal(readyA.embedding_tokens, tokensA);
    assert.ok(Math.abs(readyA.embedding_cost_usd - (tokensA * 0.02) / 1e6) < 1e-9, String(readyA.embedding_cost_usd));
    const chunkCalls = stand.requests.filter((r) => r.path === '/v1/embeddings');
    assert.ok(chunkCalls.length >= 3, 'the 429 was retried');
    for (const r of chunkCalls) {
      assert.equal(r.headers.authorization, 'Bearer sk-e2e-secret');
      assert.equal(r.body.model, 'text-embedding-3-small');
      assert.equal(r.body.dimensions, 64);
    }
    assert.ok(chunkCalls.some((r) => r.body.input.includes(inputA)), JSON.stringify(chunkCalls.map((r) => r.body.input)));
    const res = await api(server.url, 'POST', '/v1/search', { token, body: { query: 'vitamin bones', mode: 'vector' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.model, 'text-embedding-3-small/64');
    assert.equal(res.json.data[0].document_id, a.document_id);
    assert.ok(stand.requests.at(-1).body.input.includes('vitamin bones'), 'the query was embedded by the provider');

    // Reprocessing unchanged text costs no embedding call: the vectors come from the cache.
    const before = stand.requests.length;
    const re = await uploadOk(server.url, token, Buffer.from('Vitamin D deficiency weakens bones in older adults.'), 'a.txt', { query: '?reprocess=true' });
    await waitReady(server.url, token, re.document_id, { server });
    assert.equal(stand.requests.length, before, 'no request for text already embedded');
    const redone = await waitReady(server.url, token, re.document_id, { server });
    assert.equal(redone.embedding_tokens, tokensA, 'cached text costs nothing more');
    const again = await api(server.url, 'POST', '/v1/search', { token, body: { query: 'vitamin bones', mode: 'vector' } });
    assert.equal(again.json.data[0].document_id, a.document_id);
  });

  test('a refusal fails the document at once with the provider\'s message; a down provider degrades search', async () => {
    const { token } = await registerAndLogin(server.url);
    stand.refuse = { status: 401, message: 'Incorrect API key provided: sk-e2e-***' };
    try {
      const up = await uploadOk(server.url, token, Buffer.from('Green tea contains caffeine.'), 'tea.txt');
      const doc = await waitForDocument(server.url, token, up.document_id, { server });
      assert.equal(doc.status, 'failed');
      assert.match(doc.error, /could not embed the chunks: .*HTTP 401.*Incorrect API key provided/);
      assert.equal(doc.attempts, 1);
      // Search: vector mode reports the provider's failure; hybrid answers from keywords.
      const vector = await api(server.url, 'POST', '/v1/search', { token, body: { query: 'tea', mode: 'vector' } });
      assertError(vector, 503, 'unavailable');
      const hybrid = await api(server.url, 'POST', '/v1/search', { token, body: { query: 'tea' } });
      assert.equal(hybrid.status, 200, hybrid.text);
    } finally {
      stand.refuse = null;
    }
  });

  test('searches waiting on a slow provider delay neither logins nor uploads (searches have their own threads)', async () => {
    const { token, email, password } = await registerAndLogin(server.url);
    const up = await uploadOk(server.url, token, Buffer.from('Iron deficiency causes fatigue.'), 'iron.txt');
    await waitReady(server.url, token, up.document_id, { server });
    stand.pause();  // every query embedding now waits
    let settled = 0;
    const searches = [];
    try {
      for (let i = 0; i < 4; i++) {  // more than the blocking pool's 2 threads
        searches.push(api(server.url, 'POST', '/v1/search', { token, body: { query: `iron fatigue ${i}`, mode: 'vector' } })
          .finally(() => (settled += 1)));
      }
      await sleep(300);
      assert.equal((await api(server.url, 'POST', '/v1/auth/login', { body: { email, password } })).status, 200);
      const other = await uploadRaw(server.url, token, Buffer.from('Zinc supports immunity.'), 'zinc.txt');
      assert.equal(other.status, 202, other.text);
      assert.equal(settled, 0, 'the searches were not held: the test proves nothing');
    } finally {
      stand.resume();
    }
    for (const r of await Promise.all(searches)) assert.equal(r.status, 200, r.text);
  });
});

describe('a provider slower than the job lease', () => {
  let stand;
  let server;
  before(async () => {
    stand = await startOpenAiStandIn();
    // Two workers: either could take the job over if the lease lapsed.
    server = await startServer({
      args: ['--workers', '2', '--poll-ms', '50', '--job-backoff-ms', '100', '--lease-seconds', '3', '--embeddings',
        'openai', '--openai-base-url', stand.url, '--embedding-dimensions', '16'],
      env: { BETTERDEV_OPENAI_API_KEY: 'sk-e2e-lease-secret' },
    });
  });
  after(async () => {
    stand?.resume();
    await server?.stop?.();
    await stand?.close();
  });

  test('a document whose embedding outlasts three leases is extracted once, embedded once, ready once', async () => {
    const { token } = await registerAndLogin(server.url);
    const text = 'Lease renewal keeps the slow embedding job with its first worker.';
    stand.pause();
    const up = await uploadOk(server.url, token, Buffer.from(text), 'slow.txt');
    await eventually(() => stand.arrived >= 1, { timeoutMs: 30000, what: 'the embedding request reached the provider' });
    await sleep(10000); // the provider holds its answer for more than three leases
    stand.resume();
    const doc = await waitReady(server.url, token, up.document_id, { server });
    assert.equal(doc.attempts, 1, JSON.stringify(doc));
    const embedded = stand.requests.filter((r) => r.path === '/v1/embeddings' && r.body.input.some((t) => t.includes('Lease renewal')));
    assert.equal(embedded.length, 1, 'embedded once');
    assert.equal(stand.arrived, 1, 'no second request while the first was held');
    const started = server.logLines().filter((l) => l.msg === 'job started' && l.document_id === up.document_id);
    assert.equal(started.length, 1, 'extracted once');
    // Ready once: the document stays as it is.
    await sleep(4000);
    const still = await api(server.url, 'GET', `/v1/documents/${up.document_id}`, { token });
    assert.equal(still.json.status, 'ready');
    assert.equal(still.json.attempts, 1);
    assert.equal(server.logLines().filter((l) => l.msg === 'document ready' && l.document_id === up.document_id).length, 1);
  });

  test("one user's long jobs on every worker do not keep another user's small file waiting", async () => {
    const a = await registerAndLogin(server.url);
    const b = await registerAndLogin(server.url);
    // User a's documents are slow: the provider holds their embeddings until released.
    stand.holdMatching(/LONGJOB/);
    try {
      const long = [];
      for (let i = 0; i < 3; i++) {
        const text = `LONGJOB number ${i}: a report that takes its time to embed.`;
        long.push((await uploadOk(server.url, a.token, Buffer.from(text), `long-${i}.txt`)).document_id);
      }
      // Both workers are busy with a's documents; the third waits.
      await eventually(async () => {
        const docs = await Promise.all(long.map((id) => api(server.url, 'GET', `/v1/documents/${id}`, { token: a.token })));
        return docs.filter((d) => d.json.status === 'processing').length === 2;
      }, { timeoutMs: 30000, what: "two of a's documents processing" });
      const started = Date.now();
      const small = await uploadOk(server.url, b.token, Buffer.from('A short note from another user.'), 'note.txt');
      const ready = await waitReady(server.url, b.token, small.document_id, { server, timeoutMs: 20000 });
      assert.equal(ready.status, 'ready');
      const waited = Date.now() - started;
      // Taken by a spare lane, which never takes a job of a user with one running: a's third
      // document is still queued.
      const docs = await Promise.all(long.map((id) => api(server.url, 'GET', `/v1/documents/${id}`, { token: a.token })));
      assert.deepEqual(docs.map((d) => d.json.status).sort(), ['processing', 'processing', 'queued'], `after ${waited} ms`);
      const job = server.logLines().find((l) => l.msg === 'job started' && l.document_id === small.document_id);
      assert.match(job?.worker_id ?? '', /-spare$/, JSON.stringify(job));
    } finally {
      stand.release();
    }
  });

  test('job processes get no secret: the job server runs with an empty environment', async () => {
    const workers = [...workerPids(server).values()];
    assert.equal(workers.length, 2);
    for (const worker of workers) {
      const servers = childrenOf(worker);
      assert.equal(servers.length, 2, `worker ${worker} has a job server per lane`);
      for (const jobServer of servers) {
        const cmdline = fs.readFileSync(`/proc/${jobServer}/cmdline`, 'latin1').split('\0');
        assert.equal(cmdline[1], 'job-server');
        const env = fs.readFileSync(`/proc/${jobServer}/environ`, 'latin1').split('\0').filter(Boolean);
        assert.ok(!env.some((e) => e.includes('sk-e2e-lease-secret') || e.startsWith('BETTERDEV_')), env.join(' '));
        assert.ok(env.includes('OMP_THREAD_LIMIT=1'), env.join(' '));
      }
      // The worker itself holds the key (it calls the provider).
      const workerEnv = fs.readFileSync(`/proc/${worker}/environ`, 'latin1');
      assert.ok(workerEnv.includes('sk-e2e-lease-secret'));
    }
    const ready = server.logLines().filter((l) => l.msg === 'worker ready');
    assert.ok(ready.length >= 2 && ready.every((l) => /landlock v\d+, seccomp/.test(l.sandbox)), JSON.stringify(ready));
  });
});

describe('changing the embedding model', () => {
  test('every chunk is re-embedded in the background; search keeps the old vectors, then switches', async () => {
    const dir = tempDir();
    const data = `${dir}/data`;
    let server = await startServer({ args: ['--workers', '1', '--poll-ms', '50'], dataDir: data });
    const stand = await startOpenAiStandIn();
    try {
      const { token } = await registerAndLogin(server.url);
      const texts = {
        'a.txt': 'Vitamin D deficiency weakens bones in older adults.',
        'b.txt': 'The northern line runs every six minutes at peak.',
      };
      const ids = {};
      for (const [name, text] of Object.entries(texts)) ids[name] = (await uploadOk(server.url, token, Buffer.from(text), name)).document_id;
      for (const id of Object.values(ids)) await waitReady(server.url, token, id, { server });
      await server.stop();

      // Same data, now configured for the provider, which is slow to answer at first.
      stand.pause();
      server = await startServer({
        args: ['--workers', '1', '--poll-ms', '50', '--embeddings', 'openai', '--openai-base-url', stand.url,
          '--embedding-dimensions', '64'],
        env: { BETTERDEV_OPENAI_API_KEY: 'sk-e2e-secret' },
        dataDir: data,
      });
      const query = { query: 'vitamin bones', mode: 'vector' };
      const during = await api(server.url, 'POST', '/v1/search', { token, body: query });
      assert.equal(during.status, 200, during.text);
      assert.equal(during.json.model, 'local-hash-v1/1024', 'the old vectors, the query embedded by the old model');
      assert.equal(during.json.data[0].document_id, ids['a.txt']);

      stand.resume();
      let after = during;
      for (let i = 0; i < 300 && after.json.model !== 'text-embedding-3-small/64'; i++) {
        await sleep(100);
        after = await api(server.url, 'POST', '/v1/search', { token, body: query });
      }
      assert.equal(after.json.model, 'text-embedding-3-small/64', 'search switched once every chunk was re-embedded');
      assert.equal(after.json.data[0].document_id, ids['a.txt']);
      const embedded = stand.requests.flatMap((r) => r.body.input ?? []);
      for (const [name, text] of Object.entries(texts)) {
        const input = `${name.replace(/\.txt$/, '')}\n${text}`;  // the title, then the chunk
        assert.ok(embedded.includes(input), `${input} was re-embedded`);
      }
      assert.ok(embedded.includes('vitamin bones'), 'the query is embedded by the new model');
      const a = (await api(server.url, 'GET', `/v1/documents/${ids['a.txt']}`, { token })).json;
      // Recorded on the document: the provider's tokens (ceil(length / 4)) on top of the local ones.
      assert.ok(a.embedding_tokens >= Math.ceil(texts['a.txt'].length / 4), String(a.embedding_tokens));
      assert.ok(a.embedding_cost_usd > 0, 'the provider is priced');
      assert.ok(server.logLines().some((l) => l.msg === 'search switched to the new embedding model'));
    } finally {
      stand.resume();
      await server.stop();
      await stand.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
