// Real-time benchmarks (not tests), run by bench/realtime_bench.sh against the release binary:
//   - memory per idle connection, per channel: the API process's RSS before and after N idle
//     connections (SSE, plain WebSocket, Socket.IO over WebSocket, Socket.IO long-polling);
//   - event latency: N Socket.IO clients connected (WebSocket); documents are uploaded one after
//     another; for every event each client receives, now minus the event's `at` (stamped where
//     it is published: the worker, or the API for document.queued). Clients run in this one
//     Node process, so the figure includes Node handing 1,000 sockets their messages in turn.
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import readline from 'node:readline';

import { io } from '../tests/e2e/node_modules/socket.io-client/build/esm/index.js';
import WebSocket from '../tests/e2e/node_modules/ws/wrapper.mjs';

const [bin, n = '1000', docs = '20'] = process.argv.slice(2);
const N = Number(n);
const DOCS = Number(docs);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const dir = fs.mkdtempSync('/tmp/betterdev-realtime-bench-');

async function startServer() {
  const proc = spawn(bin, ['serve', '--port', '0', '--data-dir', `${dir}/data`, '--workers', '1', '--access-log', 'false',
    '--event-channels-per-user', '100000', '--event-channels', '100000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve) => {
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      const m = line.match(/on (http:\/\/[^ ]+)/);
      if (m) resolve(m[1]);
    });
  });
  return { proc, url };
}
const rssKb = (pid) => Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
async function post(url, path, body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(url + path, { method: 'POST', headers, body: JSON.stringify(body) });
  return res.json();
}
function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// Each measurement on a server of its own (freed memory is reused, so channels measured one
// after another in one process would hide each other's cost).
let proc;
let url;
let token;
async function freshServer() {
  if (proc) {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    fs.rmSync(`${dir}/data`, { recursive: true, force: true });
  }
  ({ proc, url } = await startServer());
  await post(url, '/v1/auth/register', { email: 'bench@example.com', password: 'benchmark-password' });
  ({ access_token: token } = await post(url, '/v1/auth/login', { email: 'bench@example.com', password: 'benchmark-password' }));
}

// --- memory per idle connection --------------------------------------------------------------
const channels = {
  'SSE (GET /v1/events)': async () => {
    const c = new AbortController();
    const res = await fetch(`${url}/v1/events`, { headers: { Authorization: `Bearer ${token}` }, signal: c.signal });
    res.body.getReader().read().catch(() => {});
    return () => c.abort();
  },
  'WebSocket (GET /v1/ws)': async () => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/ws`, { headers: { Authorization: `Bearer ${token}` } });
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    return () => ws.close();
  },
  'Socket.IO, WebSocket': async () => {
    const s = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    await new Promise((r, j) => { s.once('connect', r); s.once('connect_error', j); });
    return () => s.close();
  },
  'Socket.IO, long-polling': async () => {
    const s = io(url, { auth: { token }, transports: ['polling'], reconnection: false, forceNew: true });
    await new Promise((r, j) => { s.once('connect', r); s.once('connect_error', j); });
    return () => s.close();
  },
};
const memory = [];
for (const [name, open] of Object.entries(channels)) {
  await freshServer();
  // Warm up: the first connections of a process pay for its allocator arenas and thread stacks.
  const warm = [];
  for (let i = 0; i < 20; i++) warm.push(await open());
  warm.forEach((c) => c());
  await sleep(1000);
  const before = rssKb(proc.pid);
  const closers = [];
  for (let i = 0; i < N; i += 50) closers.push(...(await Promise.all(Array.from({ length: Math.min(50, N - i) }, open))));
  await sleep(1500);
  const afterKb = rssKb(proc.pid);
  memory.push([name, ((afterKb - before) * 1024) / N]);
  closers.forEach((c) => c());
  await sleep(1500);
}

// --- latency to N Socket.IO clients ----------------------------------------------------------
await freshServer();
const latencies = [];
const sockets = [];
let ready = 0;
for (let i = 0; i < N; i += 50) {
  await Promise.all(Array.from({ length: Math.min(50, N - i) }, async () => {
    const s = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    s.onAny((name, data) => {
      if (!name.startsWith('document.')) return;
      latencies.push(Date.now() - Date.parse(data.at));
      if (name === 'document.ready') ready += 1;
    });
    await new Promise((r, j) => { s.once('connect', r); s.once('connect_error', j); });
    sockets.push(s);
  }));
}
const t0 = Date.now();
for (let d = 0; d < DOCS; d++) {
  const res = await fetch(`${url}/v1/documents`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream', 'X-Filename': `b${d}.txt` },
    body: `Benchmark document ${d}: quarterly revenue grew while costs fell.`,
  });
  if (res.status !== 202) throw new Error(`upload: ${res.status}`);
  const want = (d + 1) * N;
  while (ready < want) await sleep(5);
}
const seconds = (Date.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
sockets.forEach((s) => s.close());

// --- the same with minimal clients: raw WebSockets speaking just enough Engine.IO / Socket.IO
// (open, CONNECT with the token, pong) and reading only `at`, so the figure is mostly the
// server's and not Node's parsing of 1,000 sockets' messages.
await freshServer();
const raw = [];
let rawReady = 0;
const wsUrl = `${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`;
for (let i = 0; i < N; i += 50) {
  await Promise.all(Array.from({ length: Math.min(50, N - i) }, () => new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl);
    ws.on('message', (buf) => {
      const text = buf.toString();
      if (text[0] === '0') return ws.send(`40${JSON.stringify({ token })}`);
      if (text === '2') return ws.send('3');
      if (text.startsWith('40')) return resolve();
      if (text.startsWith('44')) return reject(new Error(text));
      if (!text.startsWith('42["document.')) return;
      const at = text.indexOf('"at":"');
      raw.push(Date.now() - Date.parse(text.slice(at + 6, text.indexOf('"', at + 6))));
      if (text.startsWith('42["document.ready"')) rawReady += 1;
    });
    ws.on('error', reject);
    sockets.push({ close: () => ws.close() });
  })));
}
for (let d = 0; d < DOCS; d++) {
  const res = await fetch(`${url}/v1/documents`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream', 'X-Filename': `r${d}.txt` },
    body: `Raw client document ${d}: quarterly revenue grew while costs fell.`,
  });
  if (res.status !== 202) throw new Error(`upload: ${res.status}`);
  while (rawReady < (d + 1) * N) await sleep(5);
}
raw.sort((a, b) => a - b);
sockets.forEach((s) => s.close());
proc.kill('SIGTERM');
await new Promise((r) => proc.once('exit', r));
fs.rmSync(dir, { recursive: true, force: true });

console.log(`connections per channel: ${N}`);
for (const [name, bytes] of memory) console.log(`memory per idle connection, ${name}: ${(bytes / 1024).toFixed(1)} KB`);
console.log(`latency, publisher to ${N} Socket.IO clients, ${latencies.length} deliveries of ${DOCS} documents' events: ` +
  `p50 ${pct(latencies, 50)} ms, p99 ${pct(latencies, 99)} ms, max ${latencies.at(-1)} ms`);
console.log(`deliveries/s during the run: ${(latencies.length / seconds).toFixed(0)}`);
console.log(`latency, publisher to ${N} minimal WebSocket clients of /socket.io/, ${raw.length} deliveries: ` +
  `p50 ${pct(raw, 50)} ms, p99 ${pct(raw, 99)} ms, max ${raw.at(-1)} ms`);
