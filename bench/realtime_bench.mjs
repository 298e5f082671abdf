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

const { proc, url } = await startServer();
await post(url, '/v1/auth/register', { email: 'bench@example.com', password: 'benchmark-password' });
const { access_token: token } = await post(url, '/v1/auth/login', { email: 'bench@example.com', password: 'benchmark-password' });

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
proc.kill('SIGTERM');
await new Promise((r) => proc.once('exit', r));
fs.rmSync(dir, { recursive: true, force: true });

console.log(`connections per channel: ${N}`);
for (const [name, bytes] of memory) console.log(`memory per idle connection, ${name}: ${(bytes / 1024).toFixed(1)} KB`);
console.log(`latency, publisher to ${N} Socket.IO clients, ${latencies.length} deliveries of ${DOCS} documents' events: ` +
  `p50 ${pct(latencies, 50)} ms, p99 ${pct(latencies, 99)} ms, max ${latencies.at(-1)} ms`);
console.log(`deliveries/s during the run: ${(latencies.length / seconds).toFixed(0)}`);
