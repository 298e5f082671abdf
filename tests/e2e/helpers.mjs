// Shared helpers for the end-to-end tests: start the real binary on a free loopback port,
// talk HTTP to it (fetch or raw sockets) and check the error shape.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, afterEach, before, beforeEach } from 'node:test';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const BIN = process.env.BETTERDEV_BIN;
if (!BIN) throw new Error('BETTERDEV_BIN must point at the betterdev binary');

export const PASSWORD = 'correct horse 1';
const URL_LINE = /on (http:\/\/[^ ]+) /;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Servers still running when this test process exits (e.g. after an uncaught error) are killed
// so that no betterdev outlives the test run.
// Temporary directories (tempDir) are removed then too, whatever the test did with them.
const liveProcesses = new Set();
const tempDirs = [];
process.on('exit', () => {
  for (const p of liveProcesses) p.kill('SIGKILL');
  for (const d of tempDirs) {
    try {
      fs.rmSync(d, { recursive: true, force: true, maxRetries: 3 });
    } catch {}  // a process still writing there: left behind
  }
});

// process.env without any BETTERDEV_* variable, plus `extra`.
export function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BETTERDEV_')) env[k] = v;
  return { ...env, ...extra };
}

export function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'betterdev-e2e-'));
  tempDirs.push(dir);
  return dir;
}

// Runs the binary to completion: {code, signal, stdout, stderr}.
export function runBinary(args, { env = {}, timeoutMs = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, args, { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`betterdev ${args.join(' ')} did not exit within ${timeoutMs} ms\n${stdout}${stderr}`));
    }, timeoutMs);
    proc.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

// Starts `betterdev serve --port 0 --data-dir <dir> ...args` and waits for its URL line.
// `dataDir` reuses an existing data directory (e.g. to test a restart); `command` runs another
// server command (`api`: the API without workers).
export function startServer({ args = [], env = {}, dataDir, command = 'serve' } = {}) {
  const dir = dataDir ? null : tempDir();
  const data = dataDir ?? path.join(dir, 'data');
  const proc = spawn(BIN, [command, '--port', '0', '--data-dir', data, ...args], {
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdoutText = '';
  let stderrText = '';
  let exited = null;
  liveProcesses.add(proc);
  const exitPromise = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      liveProcesses.delete(proc);
      exited = { code, signal };
      resolve(exited);
    });
  });
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    output += d;
    stderrText += d;
  });

  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(new Error(`${why}\n--- server output ---\n${output}`));
    };
    const timer = setTimeout(() => fail('betterdev did not print its URL within 10 s'), 10000);
    proc.on('error', (e) => fail(`cannot start ${BIN}: ${e.message}`));
    proc.on('exit', (code, signal) => fail(`betterdev exited early (code ${code}, signal ${signal})`));
    proc.stdout.on('data', (d) => {
      output += d;
      stdoutText += d;
      if (settled) return;
      const m = URL_LINE.exec(stdoutText);
      if (!m) return;
      settled = true;
      clearTimeout(timer);
      const url = m[1];
      const server = {
        url,
        port: Number(new URL(url).port),
        proc,
        dataDir: data,
        exited: () => exited,
        logs: () => output,
        stdout: () => stdoutText,
        stderr: () => stderrText,
        // JSON log lines printed so far (non-JSON lines skipped).
        logLines: () =>
          stdoutText
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .flatMap((l) => {
              try {
                return [JSON.parse(l)];
              } catch {
                return [];
              }
            }),
        waitExit: (ms = 15000) => withTimeout(exitPromise, ms, 'betterdev did not exit'),
        async stop(ms = 15000) {
          if (exited) return exited;
          proc.kill('SIGTERM');
          try {
            return await withTimeout(exitPromise, ms, 'betterdev did not exit after SIGTERM');
          } catch (e) {
            proc.kill('SIGKILL');
            await exitPromise;
            throw new Error(`${e.message}\n--- server output ---\n${output}`);
          }
        },
        kill() {
          if (!exited) proc.kill('SIGKILL');
          return exitPromise;
        },
        cleanup() {
          if (dir) fs.rmSync(dir, { recursive: true, force: true });
        },
      };
      resolve(server);
    });
  });
}

export function withTimeout(promise, ms, message) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${message} (after ${ms} ms)`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// fetch wrapper: JSON in, {status, headers, json, text} out.
export async function api(url, method, pathname, { token, body, headers = {}, rawBody } = {}) {
  const h = { ...headers };
  let payload;
  if (rawBody !== undefined) {
    payload = rawBody;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
  }
  if (token) h.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(url + pathname, {
      method,
      headers: h,
      body: payload,
      signal: AbortSignal.timeout(15000),
    });
  } catch (e) {
    const why = e.cause?.code ?? e.cause?.message ?? e.message;
    throw new Error(`${method} ${url}${pathname} failed: ${why} (did the server die?)`, { cause: e });
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, json, text };
}

// Uploads `n` small text files for the user and returns their document ids, in order:
// conversations may name only their owner's existing documents.
export async function ownDocuments(url, token, n, tag = 'doc') {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const text = `${tag} ${i} ${Date.now()} ${Math.random()}: a small document a conversation can name.`;
    const res = await api(url, 'POST', '/v1/documents', {
      token,
      rawBody: text,
      headers: { 'Content-Type': 'application/octet-stream', 'X-Filename': `${tag}-${i}.txt` },
    });
    if (res.status !== 202) throw new Error(`upload for a conversation's documents: ${res.status} ${res.text}`);
    ids.push(res.json.document_id);
  }
  return ids;
}

export function randomEmail(tag = 'u') {
  return `${tag}${randomBytes(6).toString('hex')}@example.com`;
}

export async function register(url, email = randomEmail(), password = PASSWORD) {
  const res = await api(url, 'POST', '/v1/auth/register', { body: { email, password } });
  assert.equal(res.status, 201, `register ${email}: ${res.text}`);
  return res.json;
}

export async function login(url, email, password = PASSWORD) {
  const res = await api(url, 'POST', '/v1/auth/login', { body: { email, password } });
  assert.equal(res.status, 200, `login ${email}: ${res.text}`);
  return res.json.access_token;
}

export async function registerAndLogin(url, email = randomEmail()) {
  const user = await register(url, email, PASSWORD);
  const token = await login(url, email, PASSWORD);
  return { token, email, password: PASSWORD, id: user.id };
}

// The one error shape: {"error":{"code":"<code>","message":"<non-empty>"}} and nothing else.
export function assertError(res, status, code) {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.text}`);
  assert.ok(res.json && typeof res.json === 'object' && !Array.isArray(res.json), `not a JSON object: ${res.text}`);
  assert.deepEqual(Object.keys(res.json), ['error'], `unexpected top-level keys: ${res.text}`);
  const err = res.json.error;
  assert.ok(err && typeof err === 'object', `error is not an object: ${res.text}`);
  assert.deepEqual(Object.keys(err).sort(), ['code', 'message'], `unexpected error keys: ${res.text}`);
  assert.equal(err.code, code, `wrong error code: ${res.text}`);
  assert.equal(typeof err.message, 'string');
  assert.ok(err.message.length > 0, 'empty error message');
  const ct = res.headers.get('content-type') ?? '';
  assert.match(ct, /^application\/json/, `error Content-Type is ${ct}`);
}

export async function assertHealthy(url) {
  const res = await api(url, 'GET', '/healthz');
  assert.equal(res.status, 200, `healthz after bad input: ${res.text}`);
  assert.deepEqual(res.json, { status: 'ok' });
}

// ---- raw sockets ----

// A raw TCP client with byte-level control. `data()` is everything received so far.
export class RawClient {
  static connect(port, { timeoutMs = 5000 } = {}) {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`connect to 127.0.0.1:${port} timed out`));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        resolve(new RawClient(sock));
      });
      sock.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  constructor(sock) {
    this.sock = sock;
    this.chunks = [];
    this.closed = false;
    this.error = null;
    this.waiters = new Set();
    this.closedPromise = new Promise((resolve) => {
      sock.on('close', () => {
        this.closed = true;
        this.closedAt = Date.now();
        resolve();
        this.notify();
      });
    });
    sock.on('data', (d) => {
      this.chunks.push(d);
      this.notify();
    });
    sock.on('error', (e) => {
      this.error = e;
    });
  }

  notify() {
    for (const w of [...this.waiters]) w();
  }

  data() {
    return Buffer.concat(this.chunks).toString('latin1');
  }

  write(bytes) {
    return new Promise((resolve, reject) => {
      if (this.closed || this.sock.destroyed) return reject(new Error('socket closed'));
      this.sock.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
  }

  // Resolves once predicate(data()) is true; rejects on timeout or when the socket closes first.
  waitFor(predicate, timeoutMs = 10000, what = 'data') {
    return new Promise((resolve, reject) => {
      const check = () => {
        const d = this.data();
        if (predicate(d)) {
          done();
          resolve(d);
        } else if (this.closed) {
          done();
          reject(new Error(`socket closed while waiting for ${what}; received: ${JSON.stringify(d)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}; received: ${JSON.stringify(this.data())}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  // Waits for `count` complete HTTP responses and returns them parsed.
  async readResponses(count = 1, timeoutMs = 10000) {
    let parsed;
    await this.waitFor(
      (d) => {
        parsed = parseResponses(d);
        return parsed.complete.length >= count;
      },
      timeoutMs,
      `${count} HTTP response(s)`,
    );
    return parsed.complete.slice(0, count);
  }

  waitClosed(timeoutMs = 10000) {
    return withTimeout(this.closedPromise, timeoutMs, 'socket was not closed by the server');
  }

  destroy() {
    this.sock.destroy();
  }
}

// Parses a byte stream of HTTP/1.1 responses that use Content-Length (as betterdev does).
export function parseResponses(text) {
  const complete = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = rest.slice(0, end).split('\r\n');
    const [, status] = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]) ?? [];
    if (!status) throw new Error(`not an HTTP response: ${JSON.stringify(rest.slice(0, 200))}`);
    const headers = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const len = Number(headers['content-length'] ?? 0);
    const bodyStart = end + 4;
    if (rest.length < bodyStart + len) break;
    const body = rest.slice(bodyStart, bodyStart + len);
    let json = null;
    try {
      json = body ? JSON.parse(body) : null;
    } catch {
      json = null;
    }
    complete.push({ status: Number(status), headers, body, json });
    rest = rest.slice(bodyStart + len);
  }
  return { complete, rest };
}

// Sends `bytes` on a fresh connection and returns the first response (and the client).
export async function rawRequest(port, bytes, timeoutMs = 10000) {
  const c = await RawClient.connect(port);
  try {
    await c.write(bytes);
    const [res] = await c.readResponses(1, timeoutMs);
    return res;
  } finally {
    c.destroy();
  }
}

// Whether a new TCP connection to the port is accepted (false: refused or reset).
export function canConnect(port, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(false);
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

// Whether an HTTP request on a new connection gets an answer (false: refused/reset/closed).
export async function canGetHealthz(port, timeoutMs = 2000) {
  try {
    const c = await RawClient.connect(port, { timeoutMs });
    try {
      await c.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const [res] = await c.readResponses(1, timeoutMs);
      return res.status === 200;
    } finally {
      c.destroy();
    }
  } catch {
    return false;
  }
}

// Polls `fn` (sync or async) until it returns a truthy value; returns that value.
export async function eventually(fn, { timeoutMs = 5000, intervalMs = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

// Parses Prometheus text into [{name, labels, value}].
export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
      let lm;
      let consumed = 0;
      while ((lm = re.exec(m[2])) !== null) {
        labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
        consumed += lm[0].length;
      }
      if (consumed !== m[2].length) throw new Error(`malformed labels in ${JSON.stringify(line)}`);
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

// The value of the sample with exactly these labels (undefined when absent).
export function metricValue(samples, name, labels) {
  const want = Object.entries(labels);
  const s = samples.find(
    (x) =>
      x.name === name &&
      Object.keys(x.labels).length === want.length &&
      want.every(([k, v]) => x.labels[k] === v),
  );
  return s?.value;
}

// One server for a whole describe block: started in before(), stopped in after() (which checks
// for a clean exit 0). If the server dies during a test, that test fails with the server's
// output (e.g. a sanitizer report) and the server is restarted on the same data directory, so
// one crash does not take the rest of the file down with it.
// Returns a live view: `shared.url`, `shared.server`, `shared.port`.
export function sharedServer(opts = {}) {
  const shared = {
    server: null,
    crashes: [],
    get url() {
      return this.server.url;
    },
    get port() {
      return this.server.port;
    },
  };
  let first = null;
  before(async () => {
    shared.server = first = await startServer(opts);
  });
  beforeEach(async () => {
    if (shared.server?.exited()) shared.server = await startServer({ ...opts, dataDir: first.dataDir });
  });
  afterEach(async (t) => {
    const s = shared.server;
    if (!s) return;
    // Give a crashing process a moment to be reaped.
    if (!s.exited()) await Promise.race([s.waitExit(200).catch(() => {}), sleep(30)]);
    const exit = s.exited();
    if (exit) {
      shared.crashes.push(exit);
      // The head of stderr holds the sanitizer report or error message; the tail of stdout the
      // last requests. Shown as diagnostics even when the test already failed on its own
      // (e.g. with "fetch failed").
      const report = [
        `betterdev died during this test (code ${exit.code}, signal ${exit.signal})`,
        '--- stderr (head) ---',
        ...s.stderr().split('\n').slice(0, 40),
        '--- stdout (tail) ---',
        ...s.stdout().trimEnd().split('\n').slice(-5),
      ];
      for (const line of report) t?.diagnostic?.(line);
      throw new Error(report.join('\n'));
    }
  });
  after(async () => {
    const s = shared.server;
    if (!s) return;
    const exit = await s.stop();
    first.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `unclean exit after SIGTERM\n${s.logs().slice(-8000)}`);
  });
  return shared;
}
