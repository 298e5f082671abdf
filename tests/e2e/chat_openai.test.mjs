// Chat with --llm openai against a stand-in OpenAI-compatible streaming server on loopback
// (chat_standin.mjs): the prompt it is sent, tokens as it writes them, citations, usage and cost,
// history and the question rewrite, a client that disconnects, failures before and after the
// first token, timeouts, the non-streamed form, the front door with the real openai client,
// many streams at once, and shutdown in the middle of an answer.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import OpenAI from 'openai';

import { api, assertHealthy, eventually, login, registerAndLogin, sleep, startServer } from './helpers.mjs';
import { uploadOk, waitReady } from './ingest_helpers.mjs';
import { ask, checkOrder, messagesOf, named, newConversation } from './chat_helpers.mjs';
import { contextPassages, questionOf, startChatStandIn } from './chat_standin.mjs';

const LEASE =
  'Lease agreement between Acme Ltd and Jane Doe. Either party may terminate the lease with 30 days written notice. ' +
  'The monthly rent is 1,200 euros, due on the first day of each month.';
const RENEWAL = 'The lease renews automatically for one more year unless notice is given 60 days before the end of the term.';

const PRICE_IN = 0.15;
const PRICE_OUT = 0.6;

describe('chat (openai-compatible provider, stand-in)', () => {
  let stand;
  let server;
  let token;
  let docs;
  const serverArgs = () => ['--workers', '1', '--llm', 'openai', '--llm-base-url', stand.url, '--llm-model', 'gpt-4o-mini',
    '--llm-first-token-timeout-ms', '1500', '--llm-idle-timeout-ms', '1500', '--llm-attempts', '3'];
  before(async () => {
    stand = await startChatStandIn();
    server = await startServer({ args: serverArgs(), env: { BETTERDEV_LLM_API_KEY: 'sk-chat-secret' } });
    ({ token } = await registerAndLogin(server.url));
    const a = await uploadOk(server.url, token, Buffer.from(LEASE), 'lease.txt');
    const b = await uploadOk(server.url, token, Buffer.from(RENEWAL), 'renewal.txt');
    await waitReady(server.url, token, a.document_id, { server });
    await waitReady(server.url, token, b.document_id, { server });
    docs = { lease: a.document_id, renewal: b.document_id };
  });
  after(async () => {
    await server?.stop?.();
    await stand?.close();
  });
  const reset = () => {
    stand.failures.length = 0;
    stand.rewriteFailures.length = 0;
    stand.midStream = null;
    stand.firstTokenDelayMs = 0;
    stand.tokenDelayMs = 0;
    stand.answer = (body) => `Notice is 30 days [1]. See also [7].`;
  };

  test('the prompt, the tokens as the provider wrote them, citations, usage and cost', async () => {
    reset();
    const conv = await newConversation(server.url, token, { document_ids: [docs.lease] });
    const n0 = stand.chatRequests().length;
    const res = await ask(server.url, token, conv.id, { content: 'How much notice does termination need?' });
    const { retrieval, tokens, done } = checkOrder(res.events);
    assert.ok(done, res.text);
    // The provider was sent the super prompt, streamed, with usage asked for, and the key.
    const calls = stand.chatRequests().slice(n0);
    assert.equal(calls.length, 1);
    const call = calls[0];
    assert.equal(call.headers.authorization, 'Bearer sk-chat-secret');
    assert.equal(call.body.model, 'gpt-4o-mini');
    assert.equal(call.body.stream, true);
    assert.deepEqual(call.body.stream_options, { include_usage: true });
    assert.equal(call.body.messages[0].role, 'system');
    assert.match(call.body.messages[0].content, /only the numbered context/);
    assert.match(call.body.messages[0].content, /cite the passage it\s+comes from as \[n\]/);
    assert.match(call.body.messages[0].content, /do not say/);
    assert.equal(call.body.messages.at(-1).role, 'user');
    assert.equal(questionOf(call.body), 'How much notice does termination need?');
    const passages = contextPassages(call.body);
    assert.equal(passages.length, retrieval.chunks.length);
    assert.equal(passages[0].label, 'lease.txt, page 1');
    assert.match(passages[0].text, /30 days written notice/);

    // Tokens exactly as written; the stored answer drops [7] (no such passage) and counts it.
    assert.equal(tokens.join(''), 'Notice is 30 days [1]. See also [7].');
    assert.ok(tokens.length >= 5, 'streamed token by token');
    assert.equal(done.content, 'Notice is 30 days [1]. See also.');
    assert.equal(done.invalid_citations, 1);
    assert.deepEqual(done.citations.map((c) => [c.n, c.document_id, c.page_start]), [[1, docs.lease, 1]]);
    assert.equal(done.model, 'gpt-4o-mini');
    // Usage as the provider counted it, priced per million.
    const promptTokens = JSON.stringify(call.body.messages).length >> 2;
    assert.equal(done.usage.prompt_tokens, promptTokens);
    assert.equal(done.usage.completion_tokens, tokens.length);
    const cost = (promptTokens * PRICE_IN + tokens.length * PRICE_OUT) / 1e6;
    assert.ok(Math.abs(done.usage.cost_usd - cost) < 1e-9, `${done.usage.cost_usd} vs ${cost}`);
    const c = (await api(server.url, 'GET', `/v1/conversations/${conv.id}`, { token })).json;
    assert.equal(c.usage.prompt_tokens, promptTokens);
    assert.ok(Math.abs(c.usage.cost_usd - cost) < 1e-9);
  });

  test('history goes into the prompt, and a follow-up is rewritten before retrieval', async () => {
    reset();
    stand.answer = () => 'Termination needs 30 days notice [1].';
    stand.rewrite = () => 'Standalone question: "When does the lease renew automatically?"';
    const conv = await newConversation(server.url, token);
    await ask(server.url, token, conv.id, { content: 'How much notice does termination need?' });
    const n0 = stand.chatRequests().length;
    const res = await ask(server.url, token, conv.id, { content: 'and what about renewal?' });
    const { retrieval, done } = checkOrder(res.events);
    assert.ok(done, res.text);
    const [rewrite, answer] = stand.chatRequests().slice(n0);
    // First the rewrite (not streamed), given the conversation so far.
    assert.equal(rewrite.body.stream, false);
    assert.match(rewrite.body.messages.at(-1).content, /user: How much notice does termination need\?/);
    assert.match(rewrite.body.messages.at(-1).content, /assistant: Termination needs 30 days notice \[1\]\./);
    assert.match(rewrite.body.messages.at(-1).content, /Last question: and what about renewal\?/);
    // Retrieval searched the standalone question, and found the renewal clause.
    assert.equal(retrieval.query, 'When does the lease renew automatically?');
    assert.equal(retrieval.chunks[0].document_id, docs.renewal);
    // The answer's prompt holds the earlier turns before the question (asked as the user put it).
    const roles = answer.body.messages.map((m) => m.role);
    assert.deepEqual(roles, ['system', 'user', 'assistant', 'user']);
    assert.equal(answer.body.messages[1].content, 'How much notice does termination need?');
    assert.equal(answer.body.messages[2].content, 'Termination needs 30 days notice [1].');
    assert.equal(questionOf(answer.body), 'and what about renewal?');
    const stored = await messagesOf(server.url, token, conv.id);
    assert.deepEqual(stored.map((m) => m.role), ['user', 'assistant', 'user', 'assistant']);
    assert.equal(stored[2].rewritten_query, 'When does the lease renew automatically?');
    assert.equal(stored[0].rewritten_query, null, 'a first question is not rewritten');

    // A rewrite that fails leaves the question as asked; the answer still comes.
    stand.rewriteFailures.push({ status: 400, message: 'rewrite refused' });
    const fallback = checkOrder((await ask(server.url, token, conv.id, { content: 'and the rent?' })).events);
    assert.equal(fallback.retrieval.query, 'and the rent?');
    assert.ok(fallback.done);
  });

  test('a client that disconnects cancels the model request within 1 s; the partial answer is stored incomplete', async () => {
    reset();
    stand.tokenDelayMs = 200;
    stand.answer = () => Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ') + ' [1]';
    const conv = await newConversation(server.url, token);
    const n0 = stand.chatRequests().length;
    const res = await ask(server.url, token, conv.id, { content: 'Tell me everything about the lease.' }, {
      onEvent: (e, events, abort) => {
        if (events.filter((x) => x.event === 'token').length >= 3) abort();
      },
    });
    assert.ok(res.aborted);
    const call = stand.chatRequests()[n0];
    await eventually(() => call.closedEarly, { timeoutMs: 3000, what: 'the stand-in to see its connection close' });
    assert.ok(call.closedAt - res.abortedAt < 1000, `closed ${call.closedAt - res.abortedAt} ms after the client left`);
    const stored = await eventually(async () => {
      const m = await messagesOf(server.url, token, conv.id);
      return m.length === 2 ? m : null;
    }, { what: 'the partial answer to be stored' });
    assert.equal(stored[1].status, 'incomplete');
    assert.equal(stored[1].error, 'the client went away');
    assert.match(stored[1].content, /^word0 word1 word2/);
    assert.ok(!stored[1].content.includes('word59'));
    await assertHealthy(server.url);
  });

  test('a failure mid-stream ends with an error event; the partial answer is stored incomplete', async () => {
    for (const [mode, why] of [['error', /reported an error mid-answer: The server had an error/], ['cut', /cut off|did not answer/],
      ['malformed', /malformed frame/], ['nodone', /cut off before it ended/]]) {
      reset();
      stand.answer = () => 'one two three four five six [1]';
      stand.midStream = { afterTokens: 3, mode };
      const conv = await newConversation(server.url, token);
      const n0 = stand.answerRequests().length;
      const res = await ask(server.url, token, conv.id, { content: 'What does the lease say?' });
      const { tokens, done, error } = checkOrder(res.events);
      assert.equal(done, null, `${mode}: ${res.text}`);
      assert.match(error.message, why, mode);
      assert.equal(tokens.join(''), 'one two three ', mode);
      assert.equal(error.answer.status, 'incomplete');
      assert.equal(error.answer.content, 'one two three ');
      assert.equal(stand.answerRequests().length - n0, 1, `${mode}: nothing is retried after the first token`);
      const stored = await messagesOf(server.url, token, conv.id);
      assert.equal(stored[1].status, 'incomplete', mode);
      assert.match(stored[1].error, why);
    }
    await assertHealthy(server.url);
  });

  test('failures before the first token are retried with backoff; a refused key is not', async () => {
    reset();
    stand.failures.push({ status: 500, message: 'upstream exploded' }, { status: 429, message: 'slow down', headers: { 'retry-after': '0' } });
    const conv = await newConversation(server.url, token);
    let n0 = stand.answerRequests().length;
    const ok = checkOrder((await ask(server.url, token, conv.id, { content: 'What is the rent?' })).events);
    assert.ok(ok.done, JSON.stringify(ok));
    assert.equal(stand.answerRequests().length - n0, 3);

    reset();
    stand.failures.push({ status: 401, message: 'Incorrect API key provided' });
    n0 = stand.answerRequests().length;
    const refused = checkOrder((await ask(server.url, token, conv.id, { content: 'What is the rent?' })).events);
    assert.match(refused.error.message, /refused the API key \(HTTP 401\): Incorrect API key provided/);
    assert.equal(stand.answerRequests().length - n0, 1);

    reset();
    stand.failures.push({ status: 503, message: 'a' }, { status: 503, message: 'b' }, { status: 503, message: 'c' });
    const down = checkOrder((await ask(server.url, token, conv.id, { content: 'What is the rent?' })).events);
    assert.match(down.error.message, /HTTP 503: c \(after 3 attempts\)/);
    await assertHealthy(server.url);
  });

  test('a provider that never starts, or stalls, times out with a readable error', async () => {
    reset();
    stand.firstTokenDelayMs = 4000;  // > 1.5 s first-token timeout, on each of the 3 attempts
    const conv = await newConversation(server.url, token);
    const start = Date.now();
    const slow = checkOrder((await ask(server.url, token, conv.id, { content: 'What is the rent?' })).events);
    assert.match(slow.error.message, /no answer from the model within 1500 ms/);
    assert.ok(Date.now() - start < 12000);

    reset();
    stand.answer = () => 'one two three four [1]';
    stand.tokenDelayMs = 3000;  // > 1.5 s idle timeout after the first token
    const stalled = checkOrder((await ask(server.url, token, conv.id, { content: 'What is the rent?' })).events);
    assert.match(stalled.error.message, /stalled/);
    assert.equal(stalled.tokens.join(''), 'one ');
  });

  test('without streaming: one JSON message, or a 5xx naming the provider error', async () => {
    reset();
    const conv = await newConversation(server.url, token);
    const res = await api(server.url, 'POST', `/v1/conversations/${conv.id}/messages`, { token, body: { content: 'Notice period?' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.content, 'Notice is 30 days [1]. See also.');
    assert.equal(res.json.citations.length, 1);
    stand.failures.push({ status: 401, message: 'Incorrect API key provided' });
    const bad = await api(server.url, 'POST', `/v1/conversations/${conv.id}/messages`, { token, body: { content: 'Notice period?' } });
    assert.equal(bad.status, 502, bad.text);
    assert.equal(bad.json.error.code, 'bad_gateway');
    assert.match(bad.json.error.message, /refused the API key/);
    assert.equal(bad.json.answer.status, 'incomplete');
  });

  test('/v1/chat/completions with the real openai client, streamed and not, and its errors', async () => {
    reset();
    stand.answer = () => 'The notice period is 30 days [1].';
    const client = new OpenAI({ apiKey: token, baseURL: `${server.url}/v1`, maxRetries: 0 });
    assert.deepEqual((await client.models.list()).data.map((m) => m.id), ['gpt-4o-mini']);
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'What is the notice period?' }], document_ids: [docs.lease],
    });
    let text = '';
    let final = null;
    let usage = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.choices[0]?.finish_reason) final = chunk;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, 'The notice period is 30 days [1].');
    assert.deepEqual(final.citations.map((c) => c.document_id), [docs.lease]);
    assert.ok(usage.completion_tokens > 0);
    const whole = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'What is the notice period?' }] });
    assert.equal(whole.choices[0].message.content, 'The notice period is 30 days [1].');
    assert.ok(whole.choices[0].message.citations.length === 1);

    stand.failures.push({ status: 401, message: 'Incorrect API key provided' });
    await assert.rejects(client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'q?' }] }), (e) => e.status === 502);
    stand.midStream = { afterTokens: 2, mode: 'error' };
    const broken = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'q?' }] });
    await assert.rejects(async () => {
      for await (const chunk of broken) void chunk;
    }, /mid-answer/);
  });

  test('a hundred concurrent streams share the server; other requests stay fast meanwhile', async () => {
    reset();
    stand.tokenDelayMs = 40;
    stand.answer = () => Array.from({ length: 25 }, (_, i) => `t${i}`).join(' ') + ' [1]';
    const conv = await newConversation(server.url, token);
    const streams = Array.from({ length: 100 }, () => ask(server.url, token, conv.id, { content: 'What is the rent?' }));
    const latencies = [];
    for (let i = 0; i < 20; i++) {
      const t0 = Date.now();
      const r = await api(server.url, 'GET', '/v1/conversations', { token });
      assert.equal(r.status, 200);
      latencies.push(Date.now() - t0);
      await sleep(25);
    }
    const results = await Promise.all(streams);
    for (const r of results) {
      const { done } = checkOrder(r.events);
      assert.ok(done, r.text.slice(-300));
      assert.match(done.content, /^t0 t1 .* t24 \[1\]$/);
    }
    latencies.sort((a, b) => a - b);
    // Not a benchmark (bench/chat_bench.sh measures): only that nothing waits on the streams.
    assert.ok(latencies.at(-1) < 2000, `GET /v1/conversations took up to ${latencies.at(-1)} ms during the streams`);
  });
});

describe('chat at shutdown', () => {
  test('SIGTERM ends an open answer with an error event, stores it incomplete, and exits 0', async (t) => {
    const stand = await startChatStandIn();
    t.after(() => stand.close());
    const server = await startServer({ args: ['--workers', '1', '--llm', 'openai', '--llm-base-url', stand.url, '--shutdown-timeout', '10'] });
    t.after(() => server.kill());
    const { token, email } = await registerAndLogin(server.url);
    const up = await uploadOk(server.url, token, Buffer.from(LEASE), 'lease.txt');
    await waitReady(server.url, token, up.document_id, { server });
    stand.tokenDelayMs = 300;
    stand.answer = () => Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ');
    const conv = await newConversation(server.url, token);
    let signalled = null;
    const res = await ask(server.url, token, conv.id, { content: 'Everything?' }, {
      onEvent: (e, events) => {
        if (!signalled && events.filter((x) => x.event === 'token').length >= 2) {
          signalled = Date.now();
          server.proc.kill('SIGTERM');
        }
      },
    });
    const ev = named(res.events);
    assert.equal(ev.at(-1).event, 'error', res.text.slice(-500));
    assert.match(ev.at(-1).data.message, /shutting down/);
    assert.equal(ev.at(-1).data.answer.status, 'incomplete');
    const exit = await server.waitExit(10000);
    assert.deepEqual(exit, { code: 0, signal: null }, server.logs().slice(-2000));
    assert.ok(Date.now() - signalled < 5000, 'the open stream did not hold the shutdown up');
    // The incomplete answer was stored before the process ended.
    const again = await startServer({ dataDir: server.dataDir, command: 'api' });
    t.after(() => again.stop());
    const stored = await messagesOf(again.url, await login(again.url, email), conv.id);
    assert.deepEqual(stored.map((m) => m.role), ['user', 'assistant']);
    assert.equal(stored[1].status, 'incomplete');
    assert.equal(stored[1].error, 'the server is shutting down');
    assert.match(stored[1].content, /^w0 w1/);
  });
});
