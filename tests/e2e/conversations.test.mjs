// Conversations: CRUD, defaults, pagination, validation and isolation between users.
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import { api, assertError, ownDocuments, registerAndLogin, sharedServer, sleep } from './helpers.mjs';

const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const CONVERSATION_KEYS = ['created_at', 'document_ids', 'id', 'title', 'updated_at', 'usage'];

function assertConversation(c) {
  assert.deepEqual(Object.keys(c).sort(), CONVERSATION_KEYS);
  assert.equal(typeof c.id, 'string');
  assert.ok(c.id.length > 0);
  assert.equal(typeof c.title, 'string');
  assert.ok(Array.isArray(c.document_ids));
  assert.match(c.created_at, RFC3339_MS);
  assert.match(c.updated_at, RFC3339_MS);
  assert.deepEqual(Object.keys(c.usage).sort(), ['completion_tokens', 'cost_usd', 'prompt_tokens']);
}

describe('conversations', () => {
  const shared = sharedServer();
  let server;
  let url;
  beforeEach(() => {
    server = shared.server;
    url = server.url;
  });

  const create = async (token, body) => {
    const res = await api(url, 'POST', '/v1/conversations', { token, body });
    assert.equal(res.status, 201, res.text);
    return res.json;
  };

  test('create with defaults', async () => {
    const { token } = await registerAndLogin(url);
    for (const body of [undefined, {}]) {
      const res = await api(url, 'POST', '/v1/conversations', { token, body });
      assert.equal(res.status, 201, res.text);
      assertConversation(res.json);
      assert.equal(res.json.title, 'New conversation');
      assert.deepEqual(res.json.document_ids, []);
      assert.equal(res.json.created_at, res.json.updated_at);
      assert.ok(Math.abs(Date.parse(res.json.created_at) - Date.now()) < 60_000, res.json.created_at);
      assert.equal(res.headers.get('location'), `/v1/conversations/${res.json.id}`);

      // The Location answers with the same conversation.
      const got = await api(url, 'GET', res.headers.get('location'), { token });
      assert.equal(got.status, 200, got.text);
      assert.deepEqual(got.json, res.json);
    }
  });

  test('create with a title and documents keeps their order', async () => {
    const { token } = await registerAndLogin(url);
    const [a, b, c3] = await ownDocuments(url, token, 3);
    const docs = [b, a, c3];
    const c = await create(token, { title: 'Quarterly report Q&A ✓', document_ids: docs });
    assertConversation(c);
    assert.equal(c.title, 'Quarterly report Q&A ✓');
    assert.deepEqual(c.document_ids, docs);
    const got = await api(url, 'GET', `/v1/conversations/${c.id}`, { token });
    assert.deepEqual(got.json, c);
    const list = await api(url, 'GET', '/v1/conversations', { token });
    assert.deepEqual(list.json, { data: [c], next_cursor: null });
  });

  test('titles round-trip exactly', async () => {
    const { token } = await registerAndLogin(url);
    const titles = [
      'quotes " and \\ backslashes \\" and </script>',
      'tab\tnewline\nreturn\r',
      'nul \u0000 inside',
      'unicode: Grüße, 日本語, עברית',
      '😀'.repeat(200),
      ' leading and trailing spaces ',
    ];
    for (const title of titles) {
      const c = await create(token, { title });
      assert.equal(c.title, title);
      const got = await api(url, 'GET', `/v1/conversations/${c.id}`, { token });
      assert.equal(got.json.title, title);
    }
    const list = await api(url, 'GET', '/v1/conversations', { token });
    assert.deepEqual(list.json.data.map((c) => c.title), [...titles].reverse());
    // 201 code points is one too many, whatever their encoded size.
    assertError(await api(url, 'POST', '/v1/conversations', { token, body: { title: '😀'.repeat(201) } }), 400, 'invalid_request');
  });

  test('ids are distinct', async () => {
    const { token } = await registerAndLogin(url);
    const ids = new Set();
    for (let i = 0; i < 10; i++) ids.add((await create(token, { title: `t${i}` })).id);
    assert.equal(ids.size, 10);
  });

  test('a title-only patch changes the title, keeps the documents and moves updated_at', async () => {
    const { token } = await registerAndLogin(url);
    const [d1, d2] = await ownDocuments(url, token, 2);
    const c = await create(token, { title: 'Before', document_ids: [d1, d2] });
    await sleep(20);
    const p = await api(url, 'PATCH', `/v1/conversations/${c.id}`, { token, body: { title: 'After' } });
    assert.equal(p.status, 200, p.text);
    assertConversation(p.json);
    assert.equal(p.json.id, c.id);
    assert.equal(p.json.title, 'After');
    assert.deepEqual(p.json.document_ids, [d1, d2], 'a title-only patch must keep the documents');
    assert.equal(p.json.created_at, c.created_at);
    assert.ok(Date.parse(p.json.updated_at) > Date.parse(c.updated_at), `updated_at did not move: ${p.text}`);
    const got = await api(url, 'GET', `/v1/conversations/${c.id}`, { token });
    assert.deepEqual(got.json, p.json);
  });

  test('a document-only patch replaces the documents and keeps the title', async () => {
    const { token } = await registerAndLogin(url);
    const [d1, d2, d3] = await ownDocuments(url, token, 3);
    const c = await create(token, { title: 'Stays', document_ids: [d1, d2] });
    await sleep(20);
    const p = await api(url, 'PATCH', `/v1/conversations/${c.id}`, { token, body: { document_ids: [d3, d1] } });
    assert.equal(p.status, 200, p.text);
    assertConversation(p.json);
    assert.equal(p.json.title, 'Stays', 'a documents-only patch must keep the title');
    assert.deepEqual(p.json.document_ids, [d3, d1]);
    assert.ok(Date.parse(p.json.updated_at) > Date.parse(c.updated_at), `updated_at did not move: ${p.text}`);
    const got = await api(url, 'GET', `/v1/conversations/${c.id}`, { token });
    assert.deepEqual(got.json, p.json);
  });

  test('an empty patch keeps the title and documents', async () => {
    const { token } = await registerAndLogin(url);
    const [d1] = await ownDocuments(url, token, 1);
    const c = await create(token, { title: 'Same', document_ids: [d1] });
    await sleep(20);
    const p = await api(url, 'PATCH', `/v1/conversations/${c.id}`, { token, body: {} });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.title, 'Same');
    assert.deepEqual(p.json.document_ids, [d1]);
  });

  test('patch both fields, read messages, then delete', async () => {
    const { token } = await registerAndLogin(url);
    const c = await create(token, { title: 'Before', document_ids: await ownDocuments(url, token, 2) });
    await sleep(20);
    const p = await api(url, 'PATCH', `/v1/conversations/${c.id}`, {
      token,
      body: { title: 'Both', document_ids: [] },
    });
    assert.equal(p.status, 200, p.text);
    assertConversation(p.json);
    assert.equal(p.json.title, 'Both');
    assert.deepEqual(p.json.document_ids, []);
    assert.equal(p.json.created_at, c.created_at);
    assert.ok(Date.parse(p.json.updated_at) > Date.parse(c.updated_at), `updated_at did not move: ${p.text}`);

    const got = await api(url, 'GET', `/v1/conversations/${c.id}`, { token });
    assert.deepEqual(got.json, p.json);

    const msgs = await api(url, 'GET', `/v1/conversations/${c.id}/messages`, { token });
    assert.equal(msgs.status, 200, msgs.text);
    assert.deepEqual(msgs.json, { data: [], next_cursor: null });

    const del = await api(url, 'DELETE', `/v1/conversations/${c.id}`, { token });
    assert.equal(del.status, 204, del.text);
    assert.equal(del.text, '');
    assertError(await api(url, 'GET', `/v1/conversations/${c.id}`, { token }), 404, 'not_found');
    assertError(await api(url, 'DELETE', `/v1/conversations/${c.id}`, { token }), 404, 'not_found');
    assertError(await api(url, 'PATCH', `/v1/conversations/${c.id}`, { token, body: { title: 'x', document_ids: [] } }), 404, 'not_found');
    assertError(await api(url, 'GET', `/v1/conversations/${c.id}/messages`, { token }), 404, 'not_found');
    const list = await api(url, 'GET', '/v1/conversations', { token });
    assert.deepEqual(list.json, { data: [], next_cursor: null });
  });

  test('pagination over 120 conversations, newest first', async () => {
    const { token } = await registerAndLogin(url);
    const created = [];
    for (let i = 0; i < 120; i++) created.push((await create(token, { title: `c${i}` })).id);
    const newestFirst = [...created].reverse();

    const pages = [];
    let cursor = null;
    for (let n = 0; n < 5; n++) {
      const q = cursor ? `?limit=50&cursor=${encodeURIComponent(cursor)}` : '?limit=50';
      const res = await api(url, 'GET', `/v1/conversations${q}`, { token });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(Object.keys(res.json).sort(), ['data', 'next_cursor']);
      pages.push(res.json.data);
      cursor = res.json.next_cursor;
      if (cursor === null) break;
      assert.equal(typeof cursor, 'string');
    }
    assert.equal(cursor, null, 'next_cursor must be null on the last page');
    assert.deepEqual(pages.map((p) => p.length), [50, 50, 20]);
    const ids = pages.flat().map((c) => c.id);
    assert.equal(new Set(ids).size, 120, 'duplicates across pages');
    assert.deepEqual(ids, newestFirst, 'not strictly newest first');
    assert.deepEqual(pages.flat().map((c) => c.title), newestFirst.map((_, i) => `c${119 - i}`));
    for (let i = 1; i < pages.flat().length; i++)
      assert.ok(pages.flat()[i - 1].created_at >= pages.flat()[i].created_at, 'created_at must not increase');

    // Default limit is 50.
    const def = await api(url, 'GET', '/v1/conversations', { token });
    assert.equal(def.json.data.length, 50);
    assert.deepEqual(def.json.data.map((c) => c.id), newestFirst.slice(0, 50));
    assert.equal(typeof def.json.next_cursor, 'string');

    // A page that ends exactly at the last item has no next cursor.
    const all = await api(url, 'GET', '/v1/conversations?limit=120', { token });
    assert.equal(all.json.data.length, 120);
    assert.equal(all.json.next_cursor, null);
    const big = await api(url, 'GET', '/v1/conversations?limit=1000', { token });
    assert.equal(big.json.data.length, 120);
    assert.equal(big.json.next_cursor, null);
    const one = await api(url, 'GET', '/v1/conversations?limit=1', { token });
    assert.deepEqual(one.json.data.map((c) => c.id), [newestFirst[0]]);
    const two = await api(url, 'GET', `/v1/conversations?limit=1&cursor=${encodeURIComponent(one.json.next_cursor)}`, { token });
    assert.deepEqual(two.json.data.map((c) => c.id), [newestFirst[1]]);
  });

  test('bad limit and cursor are rejected', async () => {
    const { token } = await registerAndLogin(url);
    await create(token, { title: 'one' });
    for (const q of ['limit=0', 'limit=1001', 'limit=-1', 'limit=abc', 'limit=1.5', 'limit=', 'limit=10x', 'limit=99999999999']) {
      assertError(await api(url, 'GET', `/v1/conversations?${q}`, { token }), 400, 'invalid_request');
    }
    for (const cursor of ['!!!', 'not a cursor', '%%%', 'A', 'Pz8_Pz8']) {
      const res = await api(url, 'GET', `/v1/conversations?cursor=${encodeURIComponent(cursor)}`, { token });
      assertError(res, 400, 'invalid_request');
    }
  });

  const BAD_BODIES = [
    { title: '' },
    { title: '   ' },
    { title: '\t\n' },
    { title: 'x'.repeat(201) },
    { title: 'é'.repeat(201) },
    { title: 5 },
    { title: null },
    { title: ['a'] },
    { document_ids: 'doc_1' },
    { document_ids: [1] },
    { document_ids: ['a', null] },
    { document_ids: { a: 1 } },
    { document_ids: null },
    { document_ids: ['a', 'b', 'a'] },
    { document_ids: Array.from({ length: 101 }, (_, i) => `doc_${i}`) },
    { document_ids: [''] },
    { title: 'ok', owner: 'me' },
    { id: 'conv_x' },
  ];

  test('create validates titles and document ids', async () => {
    const { token } = await registerAndLogin(url);
    for (const body of BAD_BODIES) {
      const res = await api(url, 'POST', '/v1/conversations', { token, body });
      assertError(res, 400, 'invalid_request');
    }
    const list = await api(url, 'GET', '/v1/conversations', { token });
    assert.equal(list.json.data.length, 0, 'rejected creates must not be stored');

    // The limits themselves are fine: 200 characters (not bytes), 100 distinct ids.
    const long = await create(token, { title: 'é'.repeat(200) });
    assert.equal(long.title, 'é'.repeat(200));
    const docs = await ownDocuments(url, token, 100);
    const many = await create(token, { title: 'many', document_ids: docs });
    assert.deepEqual(many.document_ids, docs);
  });

  test('patch validates titles and document ids', async () => {
    const { token } = await registerAndLogin(url);
    const target = await create(token, { title: 'keep me', document_ids: await ownDocuments(url, token, 1) });
    for (const body of BAD_BODIES) {
      const res = await api(url, 'PATCH', `/v1/conversations/${target.id}`, { token, body });
      assertError(res, 400, 'invalid_request');
    }
    const got = await api(url, 'GET', `/v1/conversations/${target.id}`, { token });
    assert.deepEqual(got.json, target, 'rejected patches must not change the conversation');
  });

  test("users cannot see or change each other's conversations", async () => {
    const a = await registerAndLogin(url);
    const b = await registerAndLogin(url);
    const [secretDoc] = await ownDocuments(url, a.token, 1, 'secret');
    const mine = await create(a.token, { title: 'A private', document_ids: [secretDoc] });
    const theirs = await create(b.token, { title: 'B private' });
    const missing = 'conv_00000000000000000000000000';

    const probes = (id) => [
      ['GET', `/v1/conversations/${id}`, undefined],
      ['PATCH', `/v1/conversations/${id}`, { title: 'hijacked', document_ids: [] }],
      ['GET', `/v1/conversations/${id}/messages`, undefined],
      ['DELETE', `/v1/conversations/${id}`, undefined],
    ];
    const foreign = [];
    for (const [method, path, body] of probes(mine.id)) foreign.push(await api(url, method, path, { token: b.token, body }));
    const nonexistent = [];
    for (const [method, path, body] of probes(missing)) nonexistent.push(await api(url, method, path, { token: b.token, body }));
    for (let i = 0; i < foreign.length; i++) {
      assertError(foreign[i], 404, 'not_found');
      assertError(nonexistent[i], 404, 'not_found');
      assert.equal(foreign[i].status, nonexistent[i].status);
      assert.equal(foreign[i].json.error.code, nonexistent[i].json.error.code);
      assert.ok(!foreign[i].text.includes('A private') && !foreign[i].text.includes(secretDoc));
    }

    // A's conversation is untouched.
    const got = await api(url, 'GET', `/v1/conversations/${mine.id}`, { token: a.token });
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.json, mine);

    // Lists only show one's own, even with a cursor taken from the other user's list.
    const aList = await api(url, 'GET', '/v1/conversations', { token: a.token });
    assert.deepEqual(aList.json.data.map((c) => c.id), [mine.id]);
    const bList = await api(url, 'GET', '/v1/conversations', { token: b.token });
    assert.deepEqual(bList.json.data.map((c) => c.id), [theirs.id]);
    await create(a.token, { title: 'A second' });
    const aPage = await api(url, 'GET', '/v1/conversations?limit=1', { token: a.token });
    const bWithACursor = await api(url, 'GET', `/v1/conversations?cursor=${encodeURIComponent(aPage.json.next_cursor)}`, {
      token: b.token,
    });
    assert.equal(bWithACursor.status, 200, bWithACursor.text);
    for (const c of bWithACursor.json.data) assert.notEqual(c.id, mine.id);
  });

  test("a conversation names only its owner's existing documents", async () => {
    const a = await registerAndLogin(url);
    const b = await registerAndLogin(url);
    const [aDoc] = await ownDocuments(url, a.token, 1);
    const [bDoc] = await ownDocuments(url, b.token, 1);
    const missing = 'doc_00000000000000000000000000';
    for (const ids of [[bDoc], [missing], [aDoc, bDoc], [aDoc, missing]]) {
      const res = await api(url, 'POST', '/v1/conversations', { token: a.token, body: { document_ids: ids } });
      assertError(res, 404, 'not_found');
      assert.ok(!res.text.includes(bDoc) || ids.includes(bDoc), 'the answer names only what was asked');
    }
    // Another user's document answers exactly like a missing one.
    const foreign = await api(url, 'POST', '/v1/conversations', { token: a.token, body: { document_ids: [bDoc] } });
    const absent = await api(url, 'POST', '/v1/conversations', { token: a.token, body: { document_ids: [missing] } });
    assert.equal(foreign.json.error.message.replace(bDoc, 'X'), absent.json.error.message.replace(missing, 'X'));
    assert.equal((await api(url, 'GET', '/v1/conversations', { token: a.token })).json.data.length, 0, 'nothing was created');

    const c = await create(a.token, { title: 'mine', document_ids: [aDoc] });
    for (const ids of [[bDoc], [missing]]) {
      assertError(await api(url, 'PATCH', `/v1/conversations/${c.id}`, { token: a.token, body: { document_ids: ids } }), 404, 'not_found');
    }
    assert.deepEqual((await api(url, 'GET', `/v1/conversations/${c.id}`, { token: a.token })).json.document_ids, [aDoc]);
    // A deleted document leaves its conversations.
    assert.equal((await api(url, 'DELETE', `/v1/documents/${aDoc}`, { token: a.token })).status, 204);
    assert.deepEqual((await api(url, 'GET', `/v1/conversations/${c.id}`, { token: a.token })).json.document_ids, []);
    assertError(await api(url, 'PATCH', `/v1/conversations/${c.id}`, { token: a.token, body: { document_ids: [aDoc] } }), 404, 'not_found');
  });

  test('concurrent requests from several users', async () => {
    const users = await Promise.all([0, 1, 2, 3].map(() => registerAndLogin(url)));
    const created = await Promise.all(
      users.flatMap((u, ui) =>
        Array.from({ length: 15 }, async (_, i) => {
          const res = await api(url, 'POST', '/v1/conversations', { token: u.token, body: { title: `u${ui}-c${i}` } });
          assert.equal(res.status, 201, res.text);
          return [ui, res.json];
        }),
      ),
    );
    assert.equal(new Set(created.map(([, c]) => c.id)).size, 60, 'ids must be unique under concurrency');
    const lists = await Promise.all(users.map((u) => api(url, 'GET', '/v1/conversations', { token: u.token })));
    lists.forEach((list, ui) => {
      assert.equal(list.status, 200, list.text);
      const mine = created.filter(([owner]) => owner === ui).map(([, c]) => c.id);
      const got = list.json.data.map((c) => c.id);
      assert.deepEqual([...got].sort(), [...mine].sort(), `user ${ui} sees exactly their own conversations`);
      assert.deepEqual(got, [...got].sort().reverse(), 'newest (largest id) first');
    });
  });

  test('conversation routes need a token', async () => {
    const { token } = await registerAndLogin(url);
    const c = await create(token, { title: 'guarded' });
    for (const [method, path] of [
      ['GET', '/v1/conversations'],
      ['POST', '/v1/conversations'],
      ['GET', `/v1/conversations/${c.id}`],
      ['PATCH', `/v1/conversations/${c.id}`],
      ['DELETE', `/v1/conversations/${c.id}`],
      ['GET', `/v1/conversations/${c.id}/messages`],
    ]) {
      const res = await api(url, method, path, { body: method === 'PATCH' || method === 'POST' ? {} : undefined });
      assertError(res, 401, 'unauthorized');
    }
    assert.equal((await api(url, 'GET', `/v1/conversations/${c.id}`, { token })).status, 200, 'DELETE without token deleted it');
  });
});
