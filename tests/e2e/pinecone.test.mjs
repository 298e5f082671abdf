// --vector-store pinecone against a stand-in of Pinecone's data plane on loopback
// (src/pinecone/testdata/pinecone_standin.mjs: its wire format, limits and errors): workers put
// a document's vectors there before it shows as ready, search's vector leg asks it, a
// reprocessed document's new vectors are answered and not its old ones, a deleted document's
// vectors are dropped there, and a Pinecone that fails for a while only delays a document.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { api, eventually, registerAndLogin, runBinary, startServer, tempDir } from './helpers.mjs';
import { uploadOk, waitReady } from './ingest_helpers.mjs';
import { startPineconeStandIn } from '../../src/pinecone/testdata/pinecone_standin.mjs';

const KEY = 'pc-e2e-secret';

// Every vector the stand-in holds for a document, as [id, metadata].
function vectorsOf(stand, documentId) {
  const out = [];
  for (const [ns, vectors] of stand.namespaces) {
    for (const v of vectors.values()) if (v.metadata.document_id === documentId) out.push({ ns, ...v });
  }
  return out;
}

describe('pinecone vector store (stand-in)', () => {
  let stand;
  let server;
  before(async () => {
    stand = await startPineconeStandIn({ dimension: 64, apiKey: KEY });
    server = await startServer({
      args: ['--workers', '1', '--poll-ms', '50', '--job-backoff-ms', '100', '--embedding-dimensions', '64',
        '--vector-store', 'pinecone', '--pinecone-index-host', stand.host],
      env: { BETTERDEV_PINECONE_API_KEY: KEY },
    });
  });
  after(async () => {
    await server?.stop?.();
    await stand?.close();
  });

  test('vectors go to Pinecone before ready, are searched there, and follow reprocessing and deletes', async () => {
    const alice = await registerAndLogin(server.url);
    const bob = await registerAndLogin(server.url);
    const a = await uploadOk(server.url, alice.token, Buffer.from('Vitamin D deficiency weakens bones in older adults.'), 'a.txt');
    const b = await uploadOk(server.url, alice.token, Buffer.from('The northern line runs every six minutes at peak.'), 'b.txt');
    const c = await uploadOk(server.url, bob.token, Buffer.from('Vitamin D deficiency weakens bones, says bob.'), 'c.txt');
    for (const [u, d] of [[alice, a], [alice, b], [bob, c]]) await waitReady(server.url, u.token, d.document_id, { server });

    // In the owner's namespace, with what a chunk is found by.
    const va = vectorsOf(stand, a.document_id);
    assert.equal(va.length, 1);
    assert.equal(va[0].ns, alice.id);
    assert.equal(va[0].values.length, 64);
    assert.equal(va[0].metadata.job_id, a.job_id);
    assert.equal(va[0].metadata.ordinal, 0);
    assert.equal(vectorsOf(stand, c.document_id)[0].ns, bob.id);
    assert.ok(stand.log.some((e) => e.path === '/vectors/upsert' && e.apiVersion), 'the API version header is sent');

    const search = (u, body) => api(server.url, 'POST', '/v1/search', { token: u.token, body });
    const queriesBefore = stand.log.filter((e) => e.path === '/query').length;
    const res = await search(alice, { query: 'vitamin bones', mode: 'vector' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.data[0].document_id, a.document_id);
    assert.ok(res.json.data.every((h) => h.document_id !== c.document_id), 'never another user\'s');
    assert.ok(stand.log.filter((e) => e.path === '/query').length > queriesBefore, 'Pinecone was asked');
    const hybrid = await search(alice, { query: 'northern line', document_ids: [b.document_id] });
    assert.equal(hybrid.status, 200, hybrid.text);
    assert.deepEqual(hybrid.json.data.map((h) => h.document_id), [b.document_id]);

    // Reprocessed: the new version's vectors go there beside the old ones (never answered:
    // search resolves hits against the store), and search finds the new version's chunk.
    const re = await uploadOk(server.url, alice.token, Buffer.from('Vitamin D deficiency weakens bones in older adults.'), 'a.txt', { query: '?reprocess=true' });
    await waitReady(server.url, alice.token, re.document_id, { server });
    assert.notEqual(re.job_id, a.job_id);
    const again = vectorsOf(stand, a.document_id);
    assert.equal(again.filter((v) => v.metadata.job_id === re.job_id).length, 1, JSON.stringify(again.map((v) => v.id)));
    const found = await search(alice, { query: 'vitamin bones', mode: 'vector' });
    assert.equal(found.json.data[0].document_id, a.document_id);
    assert.equal(found.json.data.filter((h) => h.document_id === a.document_id).length, 1, 'the old version is not answered');

    // Deleted: gone from Pinecone, and never answered.
    assert.equal((await api(server.url, 'DELETE', `/v1/documents/${b.document_id}`, { token: alice.token })).status, 204);
    await eventually(() => vectorsOf(stand, b.document_id).length === 0, { what: 'the deleted document\'s vectors dropped' });
    const after = await search(alice, { query: 'northern line', mode: 'vector' });
    assert.ok(after.json.data.every((h) => h.document_id !== b.document_id));
  });

  test('a Pinecone failing for a while delays a document; it is ready once Pinecone answers again', async () => {
    const u = await registerAndLogin(server.url);
    // More failures than one attempt of the job retries (5): the job is retried later.
    stand.faults.push(...Array.from({ length: 6 }, (_, i) => (i % 2 ? { status: 503 } : { status: 429, retryAfter: 0 })));
    const d = await uploadOk(server.url, u.token, Buffer.from('Green tea contains caffeine and catechins.'), 'tea.txt');
    const doc = await waitReady(server.url, u.token, d.document_id, { server });
    assert.equal(doc.attempts, 2, JSON.stringify(doc));
    assert.equal(vectorsOf(stand, d.document_id).length, 1);
    assert.equal(stand.faults.length, 0);
  });
});

test('--vector-store pinecone needs a key and an index host', async () => {
  const r = await runBinary(['serve', '--port', '0', '--data-dir', tempDir(), '--vector-store', 'pinecone']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--pinecone-api-key/);
  assert.match(r.stderr, /--pinecone-index-host/);
});

test('an index that cannot hold the model\'s vectors stops the start with what to change', async () => {
  for (const [options, message] of [
    [{ dimension: 32 }, /the Pinecone index has 32 dimensions; the embedding model \S+ gives 64: use an index of 64 dimensions/],
    [{ dimension: 64, metric: 'euclidean' }, /compares vectors by euclidean; betterdev needs an index with the cosine metric/],
  ]) {
    const stand = await startPineconeStandIn({ apiKey: KEY, ...options });
    try {
      const r = await runBinary(['serve', '--port', '0', '--data-dir', tempDir(), '--workers', '1', '--embedding-dimensions', '64',
        '--vector-store', 'pinecone', '--pinecone-index-host', stand.host], { env: { BETTERDEV_PINECONE_API_KEY: KEY }, timeoutMs: 30000 });
      assert.notEqual(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stderr, message);
    } finally {
      await stand.close();
    }
  }
});
