// No-op jobs on one Redis, side by side in one run (bench/bullmq_bench.sh):
//  1. jobs/s: N jobs added with BullMQ's Queue.addBulk, then drained by betterdev's Redis queue
//     (bench/redis_queue_bench: `c` lanes in one process, Lease + Complete) and by BullMQ's own
//     Node Worker (concurrency `c`, one process), at c = 1 and c = 8, alternating;
//  2. add → start latency: workers idle on the queue while jobs are added one at a time
//     (every 10 ms), p50/p99 of (start − add).
//   node bench/bullmq_bench.mjs REDIS_BENCH_BIN [jobs = 20000]
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { Queue, Worker } = await import(path.join(root, 'deps/bullmq/node_modules/bullmq/dist/cjs/index.js'));
const [benchBin, jobsArg] = process.argv.slice(2);
const N = Number(jobsArg || 20000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bullmq-bench-'));
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
  '--appendonly', 'no', '--logfile', path.join(dir, 'redis.log')], { stdio: 'ignore' });
process.on('exit', () => {
  redis.kill('SIGKILL');
  try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* redis may still be writing: the OS cleans /tmp */ }
});
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
for (let i = 0; i < 200; i++) {
  const ok = await new Promise((r) => { const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); }); s.on('error', () => r(false)); });
  if (ok) break;
  await sleep(25);
}
const url = `redis://127.0.0.1:${port}`;
const queue = new Queue('file-processing', { connection });

async function fill(n) {
  await queue.obliterate({ force: true });
  for (let i = 0; i < n; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, n - i) }, () => ({ name: 'FILE_PROCESS', data: { t: 0 }, opts: { removeOnComplete: true } })));
  }
}

function betterdev(mode, c, n) {
  return JSON.parse(execFileSync(benchBin, [mode, url, String(c), String(n)], { encoding: 'utf8', maxBuffer: 64 << 20 }));
}

async function node(c, n, latency) {
  let done = 0;
  const waits = [];
  const start = Date.now();
  await new Promise((resolve) => {
    const worker = new Worker('file-processing', async (job) => {
      if (latency) waits.push(Date.now() - job.data.t);
      if (++done === n) setImmediate(() => worker.close().then(resolve));
      return null;
    }, { connection, concurrency: c, removeOnComplete: { count: 0 } });
  });
  return { jobs: done, seconds: (Date.now() - start) / 1000, waits_ms: waits };
}

// Redis's own cost of a run: CPU seconds of the server and the commands it ran (scripts
// included), from INFO before and after, so each side's load on the one Redis shows.
const { default: Redis } = await import(path.join(root, 'deps/bullmq/node_modules/ioredis/built/index.js'));
const admin = new Redis(port, '127.0.0.1');
async function redisCounters() {
  const cpu = await admin.info('cpu');
  const stats = await admin.info('stats');
  const num = (text, key) => Number((text.match(new RegExp(`^${key}:([0-9.]+)`, 'm')) || [0, 0])[1]);
  return { cpu: num(cpu, 'used_cpu_sys') + num(cpu, 'used_cpu_user'), commands: num(stats, 'total_commands_processed') };
}
async function measured(run) {
  const before = await redisCounters();
  const result = await run();
  const after = await redisCounters();
  return { ...result, redisCpu: after.cpu - before.cpu, redisCommands: after.commands - before.commands };
}

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const rows = [];
for (const c of [1, 8]) {
  for (let round = 0; round < 2; round++) {
    await fill(N);
    const b = await measured(async () => betterdev('drain', c, N));
    await fill(N);
    const n = await measured(() => node(c, N));
    rows.push({ c, round, betterdev: N / b.seconds, bullmq: N / n.seconds, b, n });
  }
}
console.log(`jobs/s, ${N} no-op jobs per run, added by BullMQ's Queue.addBulk, alternating:`);
console.log('| concurrency | betterdev (C++) | bullmq 6.7.0 (Node) | ratio |');
console.log('|---|---|---|---|');
for (const c of [1, 8]) {
  const rs = rows.filter((r) => r.c === c);
  const b = rs.reduce((s, r) => s + r.betterdev, 0) / rs.length;
  const n = rs.reduce((s, r) => s + r.bullmq, 0) / rs.length;
  console.log(`| ${c} | ${b.toFixed(0)} (${rs.map((r) => r.betterdev.toFixed(0)).join(', ')}) | ${n.toFixed(0)} (${rs.map((r) => r.bullmq.toFixed(0)).join(', ')}) | ${(b / n).toFixed(2)}× |`);
}
// Redis busy: its CPU seconds over the run's seconds (1.0 = one core, all Redis can give).
console.log('\nRedis during the runs above (mean of the rounds): CPU busy, CPU µs and commands per job:');
console.log('| concurrency | side | Redis CPU busy | Redis CPU µs/job | Redis commands/job |');
console.log('|---|---|---|---|---|');
for (const c of [1, 8]) {
  const rs = rows.filter((r) => r.c === c);
  for (const [side, key] of [['betterdev', 'b'], ['bullmq', 'n']]) {
    const mean = (f) => rs.reduce((s, r) => s + f(r[key]), 0) / rs.length;
    console.log(`| ${c} | ${side} | ${(100 * mean((x) => x.redisCpu / x.seconds)).toFixed(0)}% | ${mean((x) => 1e6 * x.redisCpu / N).toFixed(1)} | ${mean((x) => x.redisCommands / N).toFixed(2)} |`);
  }
}

// Latency: one lane each, idle on the queue; 500 jobs added 10 ms apart.
async function trickle(n) {
  for (let i = 0; i < n; i++) {
    await queue.add('FILE_PROCESS', { t: Date.now() }, { removeOnComplete: true });
    await sleep(10);
  }
}
const L = 500;
await queue.obliterate({ force: true });
const bLat = spawn(benchBin, ['latency', url, '1', String(L)], { stdio: ['ignore', 'pipe', 'inherit'] });
let bOut = '';
bLat.stdout.on('data', (d) => { bOut += d; });
const bDone = new Promise((r) => bLat.on('exit', r));
await sleep(500);
await trickle(L);
await bDone;
const bw = JSON.parse(bOut).waits_ms;
await queue.obliterate({ force: true });
const nPromise = node(1, L, true);
await sleep(500);
await trickle(L);
const nw = (await nPromise).waits_ms;
console.log(`\nadd → start, ${L} jobs added 10 ms apart to an idle worker (one lane):`);
console.log('| | p50 ms | p99 ms | max ms |');
console.log('|---|---|---|---|');
console.log(`| betterdev | ${pct(bw, 0.5)} | ${pct(bw, 0.99)} | ${Math.max(...bw)} |`);
console.log(`| bullmq | ${pct(nw, 0.5)} | ${pct(nw, 0.99)} | ${Math.max(...nw)} |`);
await queue.close();
admin.disconnect();
process.exit(0);
