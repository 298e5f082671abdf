// Chat with the offline extractive model (the default): real PDFs in, streamed answers with
// citations down to the page out; the non-streamed form; the scope; bad input; and the
// OpenAI-compatible front door driven by the real `openai` npm client.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import OpenAI from 'openai';

import { api, assertError, assertHealthy, metricValue, ownDocuments, parseMetrics, registerAndLogin, sharedServer, startServer } from './helpers.mjs';
import { NTSB, uploadOk, waitReady } from './ingest_helpers.mjs';
import { ask, checkOrder, messagesOf, named, newConversation, streamRequest } from './chat_helpers.mjs';

const CESSNA = path.join(NTSB, '20080111X00040.pdf');  // the FAA inspector's finding is on page 1 of 4
const OTHER = path.join(NTSB, '20080108X00031.pdf');

describe('chat (extractive, offline)', () => {
  const shared = sharedServer({ args: ['--workers', '1'] });
  let token;
  let cessna;
  let other;
  before(async () => {
    ({ token } = await registerAndLogin(shared.url));
    cessna = (await uploadOk(shared.url, token, fs.readFileSync(CESSNA), 'cessna-152.pdf')).document_id;
    other = (await uploadOk(shared.url, token, fs.readFileSync(OTHER), 'other-report.pdf')).document_id;
    await waitReady(shared.url, token, cessna, { server: shared.server });
    await waitReady(shared.url, token, other, { server: shared.server });
  });

  test('a question answered on one page of a real PDF streams back citing that page', async () => {
    const conv = await newConversation(shared.url, token, { title: 'Cessna', document_ids: [cessna] });
    const question = 'What did the Federal Aviation Administration inspector find when examining the airplane?';
    const res = await ask(shared.url, token, conv.id, { content: question });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.equal(res.headers.get('x-accel-buffering'), 'no');
    const { retrieval, tokens, done } = checkOrder(res.events);
    assert.ok(done, `no done event: ${res.text}`);

    // Retrieval: the conversation's document only, numbered, with pages and offsets.
    assert.equal(retrieval.query, question);
    assert.ok(retrieval.chunks.length >= 1 && retrieval.chunks.length <= 3, 'k defaults to 3');
    retrieval.chunks.forEach((c, i) => {
      assert.equal(c.n, i + 1);
      assert.equal(c.document_id, cessna);
      assert.equal(c.document_name, 'cessna-152.pdf');
      assert.ok(c.page_start >= 1 && c.page_end >= c.page_start && c.page_end <= 4);
      assert.ok(c.char_end > c.char_start);
      assert.equal(typeof c.section, 'string');
    });
    assert.deepEqual(retrieval.skipped_documents, []);

    // Tokens: sentence by sentence, each ending with its [n]; together they are the answer.
    assert.ok(tokens.length >= 1);
    for (const t of tokens) assert.match(t, /\[\d+\]$/, `a sentence without its citation: ${t}`);
    assert.equal(tokens.join(''), done.content);
    assert.match(done.content, /structural damage\s+to the engine firewall/);
    assert.equal(done.model, 'extractive-v1');
    assert.equal(done.status, 'complete');
    assert.equal(done.role, 'assistant');
    assert.equal(done.conversation_id, conv.id);
    assert.equal(done.invalid_citations, 0);
    assert.equal(done.usage.cost_usd, 0);
    assert.ok(done.timings.total_ms >= done.timings.first_token_ms && done.timings.retrieval_ms >= 0);

    // Every [n] maps to a passage of the retrieval, down to the page.
    const cited = new Set([...done.content.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1])));
    assert.deepEqual(done.citations.map((c) => c.n), [...cited].sort((a, b) => a - b));
    for (const c of done.citations) {
      const chunk = retrieval.chunks.find((x) => x.n === c.n);
      assert.ok(chunk, `citation [${c.n}] maps to no retrieved chunk`);
      for (const k of ['chunk_id', 'document_id', 'document_name', 'page_start', 'page_end', 'char_start', 'char_end', 'section']) assert.equal(c[k], chunk[k], k);
    }
    // The sentence about the firewall cites a passage on page 1, and that passage holds it.
    const sentence = done.content.match(/[^\]]*engine firewall[^[]*\[(\d+)\]/);
    assert.ok(sentence, done.content);
    const citation = done.citations.find((c) => c.n === Number(sentence[1]));
    assert.equal(citation.page_start, 1);
    const opened = await api(shared.url, 'GET', `/v1/documents/${cessna}/chunks/${citation.chunk_id}`, { token });
    assert.equal(opened.status, 200, opened.text);
    assert.equal(opened.json.id, citation.chunk_id);
    assert.equal(opened.json.page_start, 1);
    assert.equal(opened.json.document_name, 'cessna-152.pdf');
    assert.match(opened.json.text.replace(/\s+/g, ' '), /engine firewall/);

    // Counted in /metrics.
    const m = parseMetrics((await api(shared.url, 'GET', '/metrics')).text);
    assert.ok(metricValue(m, 'betterdev_chat_answers_total', { model: 'extractive-v1', status: 'complete' }) >= 1);
    assert.ok(metricValue(m, 'betterdev_chat_first_token_seconds_count', {}) >= 1);
    assert.ok(metricValue(m, 'betterdev_chat_tokens_total', { kind: 'completion' }) > 0);

    // Both messages are stored, with the citations.
    const stored = await messagesOf(shared.url, token, conv.id);
    assert.equal(stored.length, 2);
    assert.equal(stored[0].role, 'user');
    assert.equal(stored[0].content, question);
    assert.equal(stored[0].rewritten_query, null);
    assert.deepEqual(stored[1], done);
  });

  test('without streaming the answer is one JSON message; the scope can be narrowed per question', async () => {
    const conv = await newConversation(shared.url, token, { title: 'both', document_ids: [cessna, other] });
    const res = await api(shared.url, 'POST', `/v1/conversations/${conv.id}/messages`, {
      token,
      body: { content: 'What was the probable cause of the accident?', document_ids: [other], k: 5 },
    });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    assert.equal(res.json.role, 'assistant');
    assert.equal(res.json.status, 'complete');
    assert.ok(res.json.citations.length >= 1, res.text);
    for (const c of res.json.citations) assert.equal(c.document_id, other, 'outside the question\'s scope');
    // stream: true wins without an Accept header.
    const streamed = await ask(shared.url, token, conv.id, { content: 'Who was the pilot?', stream: true }, { accept: '*/*' });
    assert.equal(checkOrder(streamed.events).done.status, 'complete');
    // And stream: false wins over Accept.
    const plain = await ask(shared.url, token, conv.id, { content: 'Who was the pilot?', stream: false });
    assert.match(plain.headers.get('content-type'), /^application\/json/);
    assert.equal(JSON.parse(plain.text).role, 'assistant');
    const c = await api(shared.url, 'GET', `/v1/conversations/${conv.id}`, { token });
    assert.ok(c.json.usage.prompt_tokens > 0, 'usage is summed on the conversation');
  });

  test('a question with nothing relevant says so instead of inventing an answer', async () => {
    const conv = await newConversation(shared.url, token, { document_ids: [cessna] });
    const res = await ask(shared.url, token, conv.id, { content: 'What is the recipe for lemon meringue pie?' });
    const { done } = checkOrder(res.events);
    assert.equal(done.content, 'I could not find the answer in the documents.');
    assert.deepEqual(done.citations, []);
  });

  test('bad input gets a clear 4xx, never a 500', async () => {
    const other_user = await registerAndLogin(shared.url);
    const conv = await newConversation(shared.url, token, { document_ids: [cessna] });
    const post = (body, tok = token, id = conv.id) => api(shared.url, 'POST', `/v1/conversations/${id}/messages`, { token: tok, body });
    for (const body of [{}, { content: '' }, { content: '   \n' }, { content: 'x'.repeat(4001) }, { content: 5 }, { content: 'q', k: 0 },
      { content: 'q', k: 21 }, { content: 'q', stream: 'yes' }, { content: 'q', extra: 1 }, { content: 'q', document_ids: 'x' }]) {
      assertError(await post(body), 400, 'invalid_request');
    }
    assertError(await api(shared.url, 'POST', `/v1/conversations/${conv.id}/messages`, { token, rawBody: '{"content":', headers: { 'Content-Type': 'application/json' } }), 400, 'invalid_json');
    // Another user's conversation, a missing one, another user's document: 404 like missing.
    assertError(await post({ content: 'q' }, other_user.token), 404, 'not_found');
    assertError(await post({ content: 'q' }, token, 'conv_00000000000000000000000000'), 404, 'not_found');
    const [theirs] = await ownDocuments(shared.url, other_user.token, 1);
    assertError(await post({ content: 'q', document_ids: [theirs] }), 404, 'not_found');
    assertError(await api(shared.url, 'GET', `/v1/documents/${cessna}/chunks/${cessna}_0`, { token: other_user.token }), 404, 'not_found');
    for (const bad of [`${cessna}_x`, `${other}_0`, `${cessna}_999999`, 'nope', `${cessna}_`]) {
      assertError(await api(shared.url, 'GET', `/v1/documents/${cessna}/chunks/${bad}`, { token }), 404, 'not_found');
    }
    assert.equal((await messagesOf(shared.url, token, conv.id)).length, 0, 'refused questions are not stored');
    await assertHealthy(shared.url);
  });

  test('the OpenAI-compatible front door, driven by the real openai client', async () => {
    const client = new OpenAI({ apiKey: token, baseURL: `${shared.url}/v1`, maxRetries: 0 });
    const models = await client.models.list();
    assert.deepEqual(models.data.map((m) => m.id), ['extractive-v1']);
    const question = 'What did the Federal Aviation Administration inspector find when examining the airplane?';

    // Streamed: deltas, then a final chunk with finish_reason and citations, then usage.
    const stream = await client.chat.completions.create({
      model: 'extractive-v1',
      messages: [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: question }],
      stream: true,
      stream_options: { include_usage: true },
      document_ids: [cessna],
    });
    let text = '';
    const chunks = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.equal(chunk.model, 'extractive-v1');
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.match(text, /engine firewall/);
    const final = chunks.find((c) => c.choices[0]?.finish_reason === 'stop');
    assert.ok(final, 'no chunk with finish_reason stop');
    assert.ok(final.citations.length >= 1);
    for (const c of final.citations) assert.equal(c.document_id, cessna);
    const usage = chunks.at(-1);
    assert.deepEqual(usage.choices, []);
    assert.ok(usage.usage.prompt_tokens > 0 && usage.usage.total_tokens === usage.usage.prompt_tokens + usage.usage.completion_tokens);
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1, 'one id for the whole stream');

    // Not streamed, with history: the last user message is the question.
    const whole = await client.chat.completions.create({
      model: 'extractive-v1',
      messages: [
        { role: 'user', content: 'Tell me about the Cessna accident.' },
        { role: 'assistant', content: 'It happened in Madill, OK.' },
        { role: 'user', content: [{ type: 'text', text: question }] },
      ],
    });
    assert.equal(whole.object, 'chat.completion');
    assert.equal(whole.choices[0].message.role, 'assistant');
    assert.match(whole.choices[0].message.content, /engine firewall/);
    assert.ok(whole.choices[0].message.citations.length >= 1);
    assert.deepEqual(whole.citations, whole.choices[0].message.citations);

    // Stored in a conversation when one is named.
    const conv = await newConversation(shared.url, token, { document_ids: [cessna] });
    await client.chat.completions.create({ model: 'extractive-v1', messages: [{ role: 'user', content: question }], conversation_id: conv.id });
    const stored = await messagesOf(shared.url, token, conv.id);
    assert.deepEqual(stored.map((m) => m.role), ['user', 'assistant']);

    // Errors arrive as the SDK's error classes.
    await assert.rejects(client.chat.completions.create({ model: 'gpt-9', messages: [{ role: 'user', content: 'q' }] }), (e) => e.status === 404);
    await assert.rejects(client.chat.completions.create({ model: 'extractive-v1', messages: [] }), (e) => e.status === 400);
    await assert.rejects(client.chat.completions.create({ model: 'extractive-v1', messages: [{ role: 'assistant', content: 'q' }] }), (e) => e.status === 400);
    const stranger = new OpenAI({ apiKey: 'bd_sk_not-a-key', baseURL: `${shared.url}/v1`, maxRetries: 0 });
    await assert.rejects(stranger.models.list(), (e) => e.status === 401);
  });
});

describe('chat scope without ready documents', () => {
  let server;
  before(async () => {
    server = await startServer({ command: 'api' });  // no workers: uploads stay queued
  });
  after(async () => server?.stop());

  test('a scope with no ready document gets a plain answer naming the skipped documents', async () => {
    const { token } = await registerAndLogin(server.url);
    const [queued] = await ownDocuments(server.url, token, 1, 'waiting');
    const conv = await newConversation(server.url, token, { document_ids: [queued] });
    const res = await ask(server.url, token, conv.id, { content: 'What does it say?' });
    const { retrieval, done } = checkOrder(res.events);
    assert.deepEqual(retrieval.chunks, []);
    assert.deepEqual(retrieval.skipped_documents.map((d) => [d.id, d.status]), [[queued, 'queued']]);
    assert.match(done.content, /None of the documents to search is ready yet/);
    assert.equal(done.status, 'complete');
    // The whole library, none of it ready: the same.
    const all = await ask(server.url, token, (await newConversation(server.url, token)).id, { content: 'Anything?' });
    assert.match(checkOrder(all.events).done.content, /None of the documents/);
    assert.equal(named(all.events)[0].data.skipped_documents.length, 1);
    // A streamed request with a bad body still answers JSON 4xx, before any event.
    const bad = await streamRequest(server.url, `/v1/conversations/${conv.id}/messages`, { token, body: { content: '' } });
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.text).error.code, 'invalid_request');
  });
});
