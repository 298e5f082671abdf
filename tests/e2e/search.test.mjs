// POST /v1/search through the whole pipeline: uploads are chunked, embedded (local embedder)
// and indexed by the workers; the API searches keyword, vector and hybrid, scoped to the caller
// and optionally to some documents; deleted and reprocessed documents drop out at once.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import {
  api, assertError, eventually, metricValue, parseMetrics, registerAndLogin, sharedServer, startServer, tempDir,
} from './helpers.mjs';
import { CHUNK_KEYS, uploadOk, waitForDocument, waitReady } from './ingest_helpers.mjs';

const TEXTS = {
  'vitamins.txt':
    'Vitamin D deficiency weakens bones in older adults. Supplements of vitamin D and calcium restore bone density ' +
    'over two years, and sunlight exposure helps the skin make its own vitamin.',
  'trains.txt':
    'The northern line runs every six minutes at peak times. Late trains after midnight are less frequent, and the ' +
    'timetable changes on public holidays.',
  'tea.txt':
    'Green tea contains caffeine and theanine. Drinking it in the evening can delay sleep onset for sensitive people, ' +
    'while a morning cup improves alertness.',
};

const search = (url, token, body) => api(url, 'POST', '/v1/search', { token, body });

describe('search', () => {
  const shared = sharedServer({ args: ['--workers', '2', '--poll-ms', '50'] });

  async function library() {
    const { token } = await registerAndLogin(shared.url);
    const ids = {};
    for (const [name, text] of Object.entries(TEXTS)) {
      const up = await uploadOk(shared.url, token, Buffer.from(text), name);
      ids[name] = up.document_id;
    }
    for (const id of Object.values(ids)) await waitReady(shared.url, token, id, { server: shared.server });
    return { token, ids };
  }

  test('every mode finds the document that answers, with chunk fields, name and score', async () => {
    const { token, ids } = await library();
    for (const mode of ['hybrid', 'vector', 'keyword']) {
      const res = await search(shared.url, token, { query: 'does vitamin D help bone density?', mode, k: 3 });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.mode, mode);
      assert.equal(res.json.model, 'local-hash-v1/1024');
      const top = res.json.data[0];
      assert.equal(top.document_id, ids['vitamins.txt'], `${mode}: ${JSON.stringify(res.json.data)}`);
      assert.deepEqual(Object.keys(top).sort(), [...CHUNK_KEYS, 'document_name', 'score'].sort());
      assert.equal(top.document_name, 'vitamins.txt');
      assert.equal(top.page_start, 1);
      assert.ok(top.text.startsWith('Vitamin D deficiency'));
      assert.ok(typeof top.score === 'number' && top.score > 0);
      const doc = (await api(shared.url, 'GET', `/v1/documents/${ids['vitamins.txt']}`, { token })).json;
      assert.ok(doc.embedding_tokens > 20, 'the local embedder counts words');
      assert.equal(doc.embedding_cost_usd, 0);
      assert.ok(res.json.data.length <= 3);
      for (let i = 1; i < res.json.data.length; i++) assert.ok(res.json.data[i - 1].score >= res.json.data[i].score);
    }
    // The vector leg matches spelling variants and words the keyword leg does not stem together.
    const fuzzy = await search(shared.url, token, { query: 'caffeinated teas', mode: 'vector', k: 1 });
    assert.equal(fuzzy.json.data[0].document_id, ids['tea.txt']);
    // Worker events reach /metrics after the documents are ready (metrics lag readiness).
    await eventually(
      async () => metricValue(parseMetrics((await api(shared.url, 'GET', '/metrics')).text), 'betterdev_ingest_stage_seconds_count', { stage: 'embedding' }) >= 3,
      { timeoutMs: 10000, what: 'three embedding stages counted in /metrics' },
    );
  });

  test('scoped to the caller, and to document_ids when given', async () => {
    const { token, ids } = await library();
    const scoped = await search(shared.url, token, { query: 'vitamin trains tea', document_ids: [ids['trains.txt']] });
    assert.equal(scoped.status, 200, scoped.text);
    assert.ok(scoped.json.data.length >= 1);
    for (const h of scoped.json.data) assert.equal(h.document_id, ids['trains.txt']);
    for (const mode of ['vector', 'keyword']) {
      const r = await search(shared.url, token, { query: 'vitamin', document_ids: [ids['tea.txt']], mode });
      for (const h of r.json.data) assert.equal(h.document_id, ids['tea.txt'], mode);
    }
    const other = await registerAndLogin(shared.url);
    for (const mode of ['hybrid', 'vector', 'keyword']) {
      const r = await search(shared.url, other.token, { query: 'vitamin D bones', mode });
      assert.deepEqual(r.json.data, [], `another user sees nothing (${mode})`);
    }
    assertError(await search(shared.url, other.token, { query: 'vitamin', document_ids: [ids['vitamins.txt']] }), 404, 'not_found');
  });

  test('a deleted document is never returned again; a reprocessed one returns when ready', async () => {
    const { token, ids } = await library();
    const before = await search(shared.url, token, { query: 'northern line timetable', mode: 'vector' });
    assert.equal(before.json.data[0].document_id, ids['trains.txt']);
    assert.equal((await api(shared.url, 'DELETE', `/v1/documents/${ids['trains.txt']}`, { token })).status, 204);
    for (const mode of ['hybrid', 'vector', 'keyword']) {
      const r = await search(shared.url, token, { query: 'northern line timetable', mode });
      assert.ok(r.json.data.every((h) => h.document_id !== ids['trains.txt']), mode);
    }
    const re = await uploadOk(shared.url, token, Buffer.from(TEXTS['tea.txt']), 'tea.txt', { query: '?reprocess=true' });
    assert.equal(re.document_id, ids['tea.txt']);
    await waitForDocument(shared.url, token, re.document_id, { server: shared.server });
    const after = await search(shared.url, token, { query: 'green tea caffeine sleep', mode: 'vector' });
    assert.equal(after.json.data[0].document_id, ids['tea.txt']);
    const keys = after.json.data.filter((h) => h.document_id === ids['tea.txt']).map((h) => h.id);
    assert.equal(new Set(keys).size, keys.length, 'no chunk twice (old and new vectors)');
  });

  test('bad requests are 400 with the field named', async () => {
    const { token } = await registerAndLogin(shared.url);
    const cases = [
      [{}, /query is required/],
      [{ query: '   ' }, /query must not be empty/],
      [{ query: 'x', k: 0 }, /k must be an integer from 1 to 1000/],
      [{ query: 'x', k: 1001 }, /k must be an integer from 1 to 1000/],
      [{ query: 'x', group_by: 'page' }, /group_by must be chunk or document/],
      [{ query: 'x', k: 2.5 }, /k must be an integer/],
      [{ query: 'x', mode: 'semantic' }, /mode must be hybrid, vector or keyword/],
      [{ query: 'x', document_ids: 'abc' }, /document_ids must be an array of strings/],
      [{ query: 'x', extra: 1 }, /extra/],
      [{ query: 'x'.repeat(5000) }, /at most 4096/],
    ];
    for (const [body, message] of cases) {
      const r = await search(shared.url, token, body);
      assertError(r, 400, 'invalid_request');
      assert.match(r.json.error.message, message, JSON.stringify(body));
    }
    assertError(await search(shared.url, token, { query: 'x', document_ids: ['doc_nope'] }), 404, 'not_found');
    assertError(await api(shared.url, 'POST', '/v1/search', { body: { query: 'x' } }), 401, 'unauthorized');
  });

  test('group_by document: the best chunk of each document, up to k documents', async () => {
    const { token, ids } = await library();
    const extra = await uploadOk(shared.url, token, Buffer.from(`${TEXTS['vitamins.txt']} `.repeat(40)), 'long.txt');
    await waitReady(shared.url, token, extra.document_id, { server: shared.server });
    for (const mode of ['hybrid', 'vector', 'keyword']) {
      const chunks = await search(shared.url, token, { query: 'vitamin D bone density', mode, k: 5 });
      assert.ok(new Set(chunks.json.data.map((h) => h.document_id)).size < chunks.json.data.length, `${mode}: passages repeat documents`);
      const docs = await search(shared.url, token, { query: 'vitamin D bone density', mode, k: 1000, group_by: 'document' });
      assert.equal(docs.status, 200, docs.text);
      const got = docs.json.data.map((h) => h.document_id);
      assert.equal(new Set(got).size, got.length, `${mode}: one chunk per document`);
      assert.ok(got.includes(ids['vitamins.txt']) && got.includes(extra.document_id), `${mode}: ${got}`);
      for (let i = 1; i < docs.json.data.length; i++) assert.ok(docs.json.data[i - 1].score >= docs.json.data[i].score);
      const one = await search(shared.url, token, { query: 'vitamin D bone density', mode, k: 1, group_by: 'document' });
      assert.equal(one.json.data.length, 1);
    }
  });
});

describe('search indexes across restarts', () => {
  test('saved beside the database, loaded at the next start; a corrupt file is rebuilt, never served', async () => {
    const dir = tempDir();
    const dataDir = path.join(dir, 'data');
    const args = ['--workers', '1', '--poll-ms', '50', '--exact-search-below', '4'];
    const queries = ['vitamin D bone density', 'northern line timetable', 'green tea caffeine'];
    const answers = async (url, token) => {
      const out = [];
      for (const mode of ['hybrid', 'vector', 'keyword']) {
        for (const query of queries) out.push((await search(url, token, { query, mode, k: 5 })).json.data.map((h) => h.id));
      }
      return out;
    };
    let server = await startServer({ args, dataDir });
    let user;
    let before;
    try {
      user = await registerAndLogin(server.url);
      for (const [name, text] of Object.entries(TEXTS)) {
        // Several chunks per document: past the exact-search threshold, so a graph is built.
        const up = await uploadOk(server.url, user.token, Buffer.from(`${text}\n\n`.repeat(30)), name);
        await waitReady(server.url, user.token, up.document_id, { server });
      }
      before = await answers(server.url, user.token);
      const graph = path.join(dataDir, 'search', `${user.id}.hnsw`);
      await eventually(() => fs.existsSync(graph), { timeoutMs: 20000, what: 'a saved graph' });
    } finally {
      await server.stop();
    }
    assert.ok(fs.existsSync(path.join(dataDir, 'search', `${user.id}.kw`)), 'the keyword index saved at shutdown');
    try {
      server = await startServer({ args, dataDir });
      const token = (await api(server.url, 'POST', '/v1/auth/login', { body: { email: user.email, password: user.password } })).json.access_token;
      assert.deepEqual(await answers(server.url, token), before, 'the same answers from the saved indexes');
      assert.ok(!server.logs().includes('rebuilt from the store'), server.logs());
      await server.stop();
      // One byte of the graph changed: detected, rebuilt, the answers unchanged.
      const graph = path.join(dataDir, 'search', `${user.id}.hnsw`);
      const bytes = fs.readFileSync(graph);
      bytes[Math.floor(bytes.length / 2)] ^= 0xff;
      fs.writeFileSync(graph, bytes);
      server = await startServer({ args, dataDir });
      const again = (await api(server.url, 'POST', '/v1/auth/login', { body: { email: user.email, password: user.password } })).json.access_token;
      assert.deepEqual(await answers(server.url, again), before, 'the same answers while the graph is rebuilt');
      assert.match(server.logs(), /vector index rebuilt from the store/);
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
