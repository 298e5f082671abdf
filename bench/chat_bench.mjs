// Chat benchmarks (not tests): at ~100k indexed chunks (NFCorpus abstracts, COPIES times over,
// ingested through the pipeline), against the stand-in OpenAI-compatible streaming server of the
// e2e tests:
//   1. the time the server adds before the first token: the client's first `token` event minus
//      the stand-in's own time from the request's arrival to its first token (same process,
//      same clock), one question at a time;
//   2. many concurrent streamed answers: errors, GET /v1/conversations latency meanwhile, and
//      the API's resident memory per open stream;
//   3. the extractive model's answer time at the same size.
// Prints Markdown. Run through bench/chat_bench.sh.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { startChatStandIn } from '../tests/e2e/chat_standin.mjs';

const [BIN, DATA, COPIES = '6', STREAMS = '500', QUESTIONS = '200'] = process.argv.slice(2);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'betterdev-chat-bench-'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

const spawned = new Set();
process.on('exit', () => {
  for (const p of spawned) p.kill('SIGKILL');  // a failed run leaves no server behind
});
async function startServer(args) {
  const proc = spawn(BIN, ['serve', '--port', '0', '--data-dir', path.join(work, 'data'), '--access-log', 'false', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  spawned.add(proc);
  proc.on('exit', () => spawned.delete(proc));
  let out = '';
  const url = await new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    proc.on('exit', (code) => reject(new Error(`betterdev exited (${code}): ${out}`)));
  });
  return { proc, url, out: () => out };  // the listener above keeps collecting the output
}
// The API loads the search indexes at start, in the background (minutes at 100k chunks today,
// holding the search service meanwhile): wait for its log line before measuring anything.
async function indexesLoaded(s) {
  while (!s.out().includes('search indexes loaded')) await sleep(500);
}
async function stopServer(s) {
  s.proc.kill('SIGTERM');
  await new Promise((r) => s.proc.on('exit', r));
}
async function call(url, method, p, { token, body, headers = {} } = {}) {
  const res = await fetch(url + p, {
    method,
    headers: { ...(body !== undefined && typeof body !== 'string' ? { 'Content-Type': 'application/json' } : {}), ...headers, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

// The first search after a start loads (and may build) the indexes: minutes at 100k chunks
// today, longer than fetch's 300 s header timeout, so it goes through node:http without one.
function warmUp(url, token) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query: 'warm up' });
    const req = http.request(`${url}/v1/search`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`warm-up search: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// One streamed answer: times of the request, the first token and the end.
async function askStream(url, token, conv, content) {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/conversations/${conv}/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ content }),
  });
  const r = { status: res.status, t0, firstToken: null, end: null, done: false, error: null };
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
    if (r.firstToken === null && text.includes('event: token')) r.firstToken = performance.now();
  }
  r.end = performance.now();
  r.done = text.includes('event: done');
  const m = /event: done\ndata: (.*)\n/.exec(text);
  if (m) r.timings = JSON.parse(m[1]).timings;
  if (!r.done) r.error = text.slice(-300);
  return r;
}

const machine = `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GB, ${os.cpus()[0].model}`;
console.log(`Machine: ${machine}; ${new Date().toISOString()}`);

// The corpus: files of 50 NFCorpus abstracts, COPIES times over.
const docs = fs.readFileSync(path.join(DATA, 'beir/nfcorpus/corpus.jsonl'), 'utf8').trim().split('\n').map(JSON.parse);
const files = [];
for (let c = 0; c < Number(COPIES); c++) {
  for (let i = 0; i < docs.length; i += 50) {
    files.push(docs.slice(i, i + 50).map((d) => `${d.title}\n\n${d.text}`).join('\n\n') + `\n\ncopy ${c}\n`);
  }
}
const queries = fs.readFileSync(path.join(DATA, 'beir/nfcorpus/queries.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).text);

const stand = await startChatStandIn();
stand.firstTokenDelayMs = 100;
stand.answer = () => 'The passages say so [1].';
let server = await startServer(['--workers', '2', '--llm', 'openai', '--llm-base-url', stand.url, '--rewrite-questions', 'false']);
await call(server.url, 'POST', '/v1/auth/register', { body: { email: 'bench@example.com', password: 'benchmark-password' } });
const token = (await call(server.url, 'POST', '/v1/auth/login', { body: { email: 'bench@example.com', password: 'benchmark-password' } })).json.access_token;

const tIngest = performance.now();
for (let i = 0; i < files.length; i++) {
  const r = await call(server.url, 'POST', '/v1/documents', { token, body: files[i], headers: { 'Content-Type': 'application/octet-stream', 'X-Filename': `f${i}.txt` } });
  if (r.status !== 202) throw new Error(`upload: ${r.status}`);
}
let chunks = 0;
for (;;) {
  const list = (await call(server.url, 'GET', '/v1/documents?limit=1000', { token })).json.data;
  if (list.every((d) => d.status === 'ready' || d.status === 'failed')) {
    chunks = list.reduce((n, d) => n + d.chunk_count, 0);
    break;
  }
  await sleep(500);
}
console.log(`Ingested ${files.length} files, ${chunks} chunks in ${((performance.now() - tIngest) / 1000).toFixed(0)} s (2 workers)\n`);

// Warm the search indexes (the first search loads them).
await warmUp(server.url, token);
const ONLY = process.env.CHAT_BENCH_ONLY ?? '';  // "extractive": skip the provider phases

if (ONLY !== 'extractive') {
// 1. Time before the first token, one question at a time.
const added = [];
const retrievalMs = [];  // the server's own measure of the retrieval step
for (let i = 0; i < Number(QUESTIONS); i++) {
  const conv = (await call(server.url, 'POST', '/v1/conversations', { token, body: {} })).json.id;
  const before = stand.requests.length;
  const r = await askStream(server.url, token, conv, queries[i % queries.length]);
  if (!r.done) throw new Error(`answer ${i} failed: ${r.error}`);
  const s = stand.requests[before];  // the stand-in's own time to its first token is not the server's
  added.push(r.firstToken - r.t0 - (s.firstTokenAt - s.receivedAt));
  retrievalMs.push(r.timings.retrieval_ms);
}
console.log(`### Time the server adds before the first token (${QUESTIONS} questions, one at a time; the stand-in's own ${stand.firstTokenDelayMs}+ ms subtracted)\n`);
console.log('| added p50 | p90 | p99 | max | of which retrieval (server-measured) p50 | p99 |\n|---|---|---|---|---|---|');
console.log(`| ${pct(added, 50).toFixed(2)} ms | ${pct(added, 90).toFixed(2)} ms | ${pct(added, 99).toFixed(2)} ms | ${Math.max(...added).toFixed(2)} ms | ${pct(retrievalMs, 50)} ms | ${pct(retrievalMs, 99)} ms |\n`);

// 2. Many concurrent streams.
stand.firstTokenDelayMs = 100;
stand.tokenDelayMs = 50;
stand.answer = () => Array.from({ length: 40 }, (_, i) => `token${i}`).join(' ') + ' [1]';
const convs = [];
for (let i = 0; i < Number(STREAMS); i++) convs.push((await call(server.url, 'POST', '/v1/conversations', { token, body: {} })).json.id);
await sleep(500);
const rssBefore = rssMb(server.proc.pid);
let rssPeak = rssBefore;
let running = true;
const sampler = (async () => {
  while (running) {
    rssPeak = Math.max(rssPeak, rssMb(server.proc.pid));
    await sleep(50);
  }
})();
const tStreams = performance.now();
const streams = convs.map((c, i) => askStream(server.url, token, c, queries[i % queries.length]).catch((e) => ({ done: false, error: String(e) })));
const listLatency = [];
const lister = (async () => {
  while (running) {
    const t0 = performance.now();
    const r = await call(server.url, 'GET', '/v1/conversations', { token });
    if (r.status !== 200) throw new Error(`list: ${r.status}`);
    listLatency.push(performance.now() - t0);
    await sleep(10);
  }
})();
const results = await Promise.all(streams);
const streamsSeconds = (performance.now() - tStreams) / 1000;
running = false;
await lister;
await sampler;
const errors = results.filter((r) => !r.done);
const durations = results.filter((r) => r.done).map((r) => r.end - r.t0);
console.log(`### ${STREAMS} concurrent streamed answers (stand-in: 41 tokens, 50 ms apart, first after 100 ms)\n`);
console.log('| streams | errors | all done in | answer p50 | answer p99 | GET /v1/conversations meanwhile: n | p50 | p99 | API RSS before | peak | per open stream |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
console.log(`| ${STREAMS} | ${errors.length} | ${streamsSeconds.toFixed(1)} s | ${(pct(durations, 50) / 1000).toFixed(2)} s | ${(pct(durations, 99) / 1000).toFixed(2)} s | ${listLatency.length} | ${pct(listLatency, 50).toFixed(2)} ms | ${pct(listLatency, 99).toFixed(2)} ms | ${rssBefore.toFixed(0)} MB | ${rssPeak.toFixed(0)} MB | ${(((rssPeak - rssBefore) * 1024) / Number(STREAMS)).toFixed(0)} KB |\n`);
if (errors.length) console.log(`first error: ${errors[0].error}\n`);

}

// 3. The extractive model at the same size.
await stopServer(server);
server = await startServer(['--workers', '1', '--llm', 'extractive']);
await indexesLoaded(server);
await warmUp(server.url, token);
const wall = [];
const modelMs = [];
for (let i = 0; i < Number(QUESTIONS); i++) {
  const conv = (await call(server.url, 'POST', '/v1/conversations', { token, body: {} })).json.id;
  const t0 = performance.now();
  const r = await call(server.url, 'POST', `/v1/conversations/${conv}/messages`, { token, body: { content: queries[i % queries.length] } });
  if (r.status !== 200) throw new Error(`extractive: ${r.status}`);
  wall.push(performance.now() - t0);
  modelMs.push(r.json.timings.total_ms - r.json.timings.retrieval_ms);
}
console.log(`### Extractive answers (${QUESTIONS} questions, one at a time, not streamed, k = 3)\n`);
console.log('| whole request p50 | p99 | of which answer writing (after retrieval) p50 | p99 |\n|---|---|---|---|');
console.log(`| ${pct(wall, 50).toFixed(2)} ms | ${pct(wall, 99).toFixed(2)} ms | ${pct(modelMs, 50)} ms | ${pct(modelMs, 99)} ms |`);
await stopServer(server);
await stand.close();
fs.rmSync(work, { recursive: true, force: true });
