// Servers the scale-out tests run on loopback, in temporary directories: redis-server,
// PostgreSQL 15 (with pgvector), an S3 server (s3rver behind the tests' recording proxy), and
// `betterdev worker` processes.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { BIN, cleanEnv, eventually, tempDir, withTimeout } from './helpers.mjs';
import { repoRoot } from './ingest_helpers.mjs';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// A redis-server in a temporary directory, append-only; stop() and start() again keep its data.
export async function startRedis() {
  const dir = tempDir();
  const port = await freePort();
  const redis = { port, url: `redis://127.0.0.1:${port}`, proc: null };
  redis.start = async () => {
    redis.proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes',
      '--save', '', '--logfile', path.join(dir, 'redis.log')], { stdio: 'ignore' });
    await eventually(() => new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    }), { timeoutMs: 5000, what: 'redis-server to listen' });
  };
  redis.stop = async () => {
    const p = redis.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((resolve) => p.on('exit', resolve));
    p.kill('SIGTERM');
    await withTimeout(exited, 10000, 'redis-server did not stop');
  };
  redis.cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  await redis.start();
  return redis;
}

// A `betterdev worker` process on its own (with `args`: where its queue, store and blobs are),
// its JSON log lines kept.
export function startWorker(dataDir, args, index, env = {}) {
  const proc = spawn(BIN, ['worker', '--data-dir', dataDir, ...args, '--lease-seconds', '3',
    '--worker-index', String(index)], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const worker = { proc, lines: [], text: '' };
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d) => {
    worker.text += d;
    for (const l of d.split('\n')) if (l.startsWith('{')) try { worker.lines.push(JSON.parse(l)); } catch { /* partial */ }
  });
  proc.stderr.on('data', (d) => { worker.text += d; });
  worker.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  worker.ready = () => eventually(() => worker.lines.find((l) => l.msg === 'worker ready'), { timeoutMs: 15000, what: 'worker ready' });
  worker.started = (docId) => worker.lines.find((l) => l.msg === 'job started' && l.document_id === docId);
  worker.readyCount = (docId) => worker.lines.filter((l) => l.msg === 'document ready' && l.document_id === docId).length;
  return worker;
}

// s3rver (behind the tests' recording proxy, src/blob/s3/testdata/s3rver.cjs) storing in `dir`,
// on `port` (0: any); log() lists the requests that reached it.
export async function startS3(dir, bucket, port = 0) {
  const proc = spawn('node', [path.join(repoRoot, 'src/blob/s3/testdata/s3rver.cjs'), path.join(repoRoot, 'tests/s3rver'),
    dir, bucket, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  let text = '';
  proc.stdout.setEncoding('utf8');
  const line = await withTimeout(new Promise((resolve) => proc.stdout.on('data', (d) => {
    text += d;
    if (text.includes('\n')) resolve(JSON.parse(text));
  })), 20000, 's3rver did not start');
  const url = `http://127.0.0.1:${line.port}`;
  return {
    port: line.port,
    url,
    log: async () => (await (await fetch(`${url}/__log`)).json()),
    stop: async () => {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

// PostgreSQL 15 in a temporary directory on a free loopback port, without fsync; under root it
// runs as the `postgres` account (PostgreSQL refuses root). stop() and start() keep its data.
export async function startPostgres() {
  const dir = tempDir();
  const owner = {};
  if (process.getuid() === 0) {
    owner.uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    owner.gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    fs.chownSync(dir, owner.uid, owner.gid);
  }
  const data = path.join(dir, 'data');
  execFileSync(path.join(PG_BIN, 'initdb'), ['-D', data, '-U', 'betterdev', '-A', 'trust', '-E', 'UTF8',
    '--locale=C.UTF-8', '--no-sync'], { ...owner, stdio: 'ignore' });
  const port = await freePort();
  const pg = { port, url: `postgresql://betterdev@127.0.0.1:${port}/postgres`, proc: null };
  pg.start = async () => {
    pg.proc = spawn(path.join(PG_BIN, 'postgres'), ['-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir, '-F',
      '-c', 'max_connections=200', '-c', 'synchronous_commit=off'], { ...owner, stdio: 'ignore' });
    await eventually(() => new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    }), { timeoutMs: 10000, what: 'postgres to listen' });
  };
  pg.stop = async () => {
    const p = pg.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((resolve) => p.on('exit', resolve));
    p.kill('SIGINT');  // fast shutdown
    await withTimeout(exited, 15000, 'postgres did not stop');
  };
  pg.cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  await pg.start();
  return pg;
}
