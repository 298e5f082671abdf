// Process lifecycle: timeouts, graceful shutdown, configuration errors, migrations, restarts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import {
  PASSWORD,
  RawClient,
  api,
  canConnect,
  canGetHealthz,
  login,
  registerAndLogin,
  runBinary,
  sleep,
  startServer,
  tempDir,
  withTimeout,
  ownDocuments,
} from './helpers.mjs';

// Starts a server for one test and always stops it afterwards.
async function serverFor(t, opts) {
  const server = await startServer(opts);
  t.after(async () => {
    await server.kill();
    server.cleanup();
  });
  return server;
}

describe('connection timeouts', () => {
  test('a slow-loris header is cut off after --header-timeout while others are served', async (t) => {
    const server = await serverFor(t, { args: ['--header-timeout', '1'] });
    const c = await RawClient.connect(server.port);
    t.after(() => c.destroy());
    const start = Date.now();
    await c.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const dribble = setInterval(() => c.write('a').catch(() => {}), 300);
    t.after(() => clearInterval(dribble));

    // Meanwhile normal requests are answered promptly.
    let served = 0;
    while (!c.closed && Date.now() - start < 5000) {
      const res = await api(server.url, 'GET', '/healthz');
      assert.equal(res.status, 200);
      served++;
      await sleep(100);
    }
    await c.waitClosed(1000);
    clearInterval(dribble);
    const elapsed = c.closedAt - start;
    assert.ok(elapsed <= 3000, `slow-loris connection stayed open ${elapsed} ms`);
    assert.ok(elapsed >= 700, `connection closed after ${elapsed} ms, before the 1 s header timeout`);
    assert.ok(served >= 3, `only ${served} requests served during the slow-loris`);
    assert.ok(!/^HTTP\/1\.1 200/.test(c.data()), 'the incomplete request must not be answered');
    assert.equal((await api(server.url, 'GET', '/healthz')).status, 200);
  });

  test('an idle connection is closed after --idle-timeout', async (t) => {
    const server = await serverFor(t, { args: ['--idle-timeout', '1'] });
    // Never sends anything.
    const silent = await RawClient.connect(server.port);
    t.after(() => silent.destroy());
    // Sends one request, then goes quiet.
    const used = await RawClient.connect(server.port);
    t.after(() => used.destroy());
    const start = Date.now();
    await used.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const [res] = await used.readResponses(1);
    assert.equal(res.status, 200);
    await silent.waitClosed(4000);
    await used.waitClosed(4000);
    for (const c of [silent, used]) {
      const elapsed = c.closedAt - start;
      assert.ok(elapsed >= 700 && elapsed <= 3500, `idle connection closed after ${elapsed} ms`);
    }
  });

  test('a body that stops arriving is cut off after --body-timeout', async (t) => {
    const server = await serverFor(t, { args: ['--body-timeout', '1'] });
    const { token } = await registerAndLogin(server.url);
    const c = await RawClient.connect(server.port);
    t.after(() => c.destroy());
    const start = Date.now();
    await c.write(
      `POST /v1/conversations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"title":',
    );
    await c.waitClosed(4000);
    const elapsed = c.closedAt - start;
    assert.ok(elapsed >= 700 && elapsed <= 3500, `stalled body connection closed after ${elapsed} ms`);
    assert.ok(!/^HTTP\/1\.1 2/.test(c.data()), `a partial body must not succeed: ${c.data()}`);
    const list = await api(server.url, 'GET', '/v1/conversations', { token });
    assert.deepEqual(list.json.data, []);
  });
});

describe('graceful shutdown', () => {
  test('a request in flight at SIGTERM completes; new connections are refused; exit 0', async (t) => {
    const server = await serverFor(t);
    const { token, email } = await registerAndLogin(server.url);
    const docs = await ownDocuments(server.url, token, 2);
    const body = JSON.stringify({ title: 'in flight during shutdown', document_ids: docs });
    const half = Math.floor(body.length / 2);

    const c = await RawClient.connect(server.port);
    t.after(() => c.destroy());
    await c.write(
      `POST /v1/conversations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, half)}`,
    );
    await sleep(200);
    server.proc.kill('SIGTERM');
    await sleep(300);

    assert.equal(server.exited(), null, 'the server exited with a request in flight');
    assert.equal(await canConnect(server.port), false, 'new connections must be refused while draining');

    await c.write(body.slice(half));
    const [res] = await c.readResponses(1, 10000);
    assert.equal(res.status, 201, res.body);
    assert.equal(res.json.title, 'in flight during shutdown');
    assert.deepEqual(res.json.document_ids, docs);
    assert.equal(res.headers.location, `/v1/conversations/${res.json.id}`);
    await c.waitClosed(5000);

    const exit = await server.waitExit(10000);
    assert.deepEqual(exit, { code: 0, signal: null }, server.logs());

    // The conversation created during shutdown was committed.
    const again = await serverFor(t, { dataDir: server.dataDir });
    const token2 = await login(again.url, email);
    const list = await api(again.url, 'GET', '/v1/conversations', { token: token2 });
    assert.deepEqual(list.json.data.map((x) => x.id), [res.json.id]);
  });

  test('a request that never finishes is abandoned at --shutdown-timeout; exit 0', async (t) => {
    const server = await serverFor(t, { args: ['--shutdown-timeout', '1'] });
    const { token } = await registerAndLogin(server.url);
    const c = await RawClient.connect(server.port);
    t.after(() => c.destroy());
    await c.write(
      `POST /v1/conversations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"title":"never',
    );
    await sleep(200);
    const start = Date.now();
    server.proc.kill('SIGTERM');
    const exit = await server.waitExit(10000);
    const elapsed = Date.now() - start;
    assert.deepEqual(exit, { code: 0, signal: null }, server.logs());
    assert.ok(elapsed >= 700, `exited after ${elapsed} ms, before the 1 s shutdown timeout`);
    assert.ok(elapsed <= 3000, `took ${elapsed} ms to exit with --shutdown-timeout 1`);
    await c.waitClosed(2000);
  });

  test('idle keep-alive connections do not delay shutdown', async (t) => {
    const server = await serverFor(t);
    const clients = [];
    for (let i = 0; i < 3; i++) {
      const c = await RawClient.connect(server.port);
      t.after(() => c.destroy());
      await c.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      const [res] = await c.readResponses(1);
      assert.equal(res.status, 200);
      clients.push(c);
    }
    // One more that connected but never sent a byte.
    const silent = await RawClient.connect(server.port);
    t.after(() => silent.destroy());
    await sleep(100);

    const start = Date.now();
    server.proc.kill('SIGTERM');
    const exit = await server.waitExit(10000);
    const elapsed = Date.now() - start;
    assert.deepEqual(exit, { code: 0, signal: null }, server.logs());
    assert.ok(elapsed < 2000, `idle connections delayed shutdown by ${elapsed} ms`);
    for (const c of [...clients, silent]) await c.waitClosed(2000);
  });

  test('SIGINT shuts down gracefully too', async (t) => {
    const server = await serverFor(t);
    assert.ok(await canGetHealthz(server.port));
    server.proc.kill('SIGINT');
    const exit = await server.waitExit(10000);
    assert.deepEqual(exit, { code: 0, signal: null }, server.logs());
    assert.equal(await canConnect(server.port), false);
  });
});

describe('configuration', () => {
  const CONFIG_ERRORS = [
    { name: '--port out of range', args: ['--port', '99999'], mention: ['--port'] },
    { name: 'BETTERDEV_PORT out of range', env: { BETTERDEV_PORT: '99999' }, portFlag: false, mention: ['--port', 'BETTERDEV_PORT'] },
    { name: '--port not a number', args: ['--port', 'abc'], mention: ['--port'] },
    { name: 'unknown BETTERDEV_ variable', env: { BETTERDEV_NOPE: '1' }, mention: ['BETTERDEV_NOPE'] },
    { name: 'unknown flag', args: ['--no-such-flag', '1'], mention: ['--no-such-flag'] },
    { name: '--max-json-body below 1024', args: ['--max-json-body', '1000'], mention: ['--max-json-body'] },
    { name: '--token-ttl below 60', args: ['--token-ttl', '59'], mention: ['--token-ttl'] },
    { name: '--header-timeout 0', args: ['--header-timeout', '0'], mention: ['--header-timeout'] },
    { name: '--access-log not a boolean', args: ['--access-log', 'maybe'], mention: ['--access-log'] },
    {
      name: 'lockout base above lockout max',
      args: ['--login-lockout-base', '100', '--login-lockout-max', '10'],
      mention: ['--login-lockout-base'],
    },
    { name: '--host not an address', args: ['--host', 'not-an-ip'], mention: ['host'] },
  ];

  // Runs every bad configuration once and shares the results between the tests below.
  let results;
  const runConfigErrors = async () => {
    if (results) return results;
    results = [];
    for (const c of CONFIG_ERRORS) {
      const dir = tempDir();
      try {
        const portArgs = c.portFlag === false ? [] : ['--port', '0'];
        const args = ['serve', ...portArgs, '--data-dir', path.join(dir, 'data'), ...(c.args ?? [])];
        results.push({ c, r: await runBinary(args, { env: c.env ?? {} }) });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    return results;
  };

  test('a bad configuration does not start a server', async () => {
    for (const { c, r } of await runConfigErrors()) {
      assert.notEqual(r.code, 0, `${c.name}: exit code 0`);
      assert.equal(r.signal, null, `${c.name}: killed by ${r.signal}`);
      assert.ok(!/serving on/.test(r.stdout), `${c.name}: a server started despite the error`);
    }
  });

  test('a bad configuration is explained on stderr, naming the setting', async () => {
    for (const { c, r } of await runConfigErrors()) {
      assert.ok(
        c.mention.some((m) => r.stderr.includes(m)),
        `${c.name}: stderr should name ${c.mention.join(' or ')}: ${JSON.stringify(r.stderr)}`,
      );
    }
  });

  test('a bad configuration exits with code 2', async () => {
    const wrong = (await runConfigErrors())
      .filter(({ r }) => r.code !== 2)
      .map(({ c, r }) => `${c.name}: exit ${r.code} (${r.stderr.trim().split('\n')[0]})`);
    assert.deepEqual(wrong, [], `expected exit code 2 for every configuration error:\n  ${wrong.join('\n  ')}`);
  });

  test('settings come from BETTERDEV_* environment variables', async (t) => {
    const server = await serverFor(t, { env: { BETTERDEV_MAX_JSON_BODY: '1024', BETTERDEV_ACCESS_LOG: 'false' } });
    const { token } = await registerAndLogin(server.url);
    const res = await api(server.url, 'POST', '/v1/conversations', { token, body: { title: 'x'.repeat(2000) } });
    assert.equal(res.status, 413, res.text);
    assert.equal(server.logLines().filter((l) => l.msg === 'request').length, 0, 'BETTERDEV_ACCESS_LOG=false ignored');
  });

  test('a command-line flag wins over the same setting in the environment', async (t) => {
    const dir = tempDir();
    const fromEnv = path.join(dir, 'from-env');
    const fromFlag = path.join(dir, 'from-flag');
    const server = await serverFor(t, { dataDir: fromFlag, env: { BETTERDEV_DATA_DIR: fromEnv, BETTERDEV_MAX_JSON_BODY: '1024' }, args: ['--max-json-body', '4096'] });
    // After hooks run in the order they were added: the server (and its workers, still reading
    // the uploads below) stops first, then its data dir goes.
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const line = server.stdout().split('\n')[0];
    assert.ok(line.includes(`(data dir: ${fromFlag})`), `URL line: ${line}`);
    assert.ok(fs.existsSync(path.join(fromFlag, 'betterdev.db')), 'no database in the --data-dir directory');
    assert.ok(!fs.existsSync(fromEnv), 'the environment overrode --data-dir');
    const { token } = await registerAndLogin(server.url);
    const res = await api(server.url, 'POST', '/v1/conversations', { token, body: { title: 'x'.repeat(150), document_ids: await ownDocuments(server.url, token, 30) } });
    assert.equal(res.status, 201, `--max-json-body 4096 should beat BETTERDEV_MAX_JSON_BODY=1024: ${res.text}`);
  });

  test('a port in use is reported', async (t) => {
    const first = await serverFor(t);
    const dir = tempDir();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const r = await runBinary(['serve', '--port', String(first.port), '--data-dir', path.join(dir, 'data')]);
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.includes(String(first.port)), r.stderr);
    assert.ok(await canGetHealthz(first.port), 'the first server must be unaffected');
  });

  test('migrate applies the schema once, then is up to date', async () => {
    const dir = tempDir();
    try {
      const data = path.join(dir, 'data');
      const first = await runBinary(['migrate', '--data-dir', data]);
      assert.equal(first.code, 0, first.stderr);
      // Every migration is applied on an empty directory: version N after N migrations.
      const applied = /at schema version (\d+) \(applied (\d+) migration\(s\)\)/.exec(first.stdout);
      assert.ok(applied, first.stdout);
      const version = Number(applied[1]);
      assert.ok(version >= 2, first.stdout);
      assert.equal(Number(applied[2]), version, first.stdout);
      const second = await runBinary(['migrate', '--data-dir', data]);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, new RegExp(`at schema version ${version} \\(up to date\\)`));
      assert.doesNotMatch(second.stdout, /applied/);

      // A migrated directory serves; serving leaves it up to date.
      const server = await startServer({ dataDir: data });
      try {
        await registerAndLogin(server.url);
      } finally {
        assert.equal((await server.stop()).code, 0);
      }
      const third = await runBinary(['migrate', '--data-dir', data]);
      assert.equal(third.code, 0, third.stderr);
      assert.match(third.stdout, /\(up to date\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('persistence', () => {
  test('accounts, tokens, keys and conversations survive a restart', async (t) => {
    const first = await serverFor(t);
    const { token, email } = await registerAndLogin(first.url);
    const conv = await api(first.url, 'POST', '/v1/conversations', { token, body: { title: 'kept', document_ids: await ownDocuments(first.url, token, 1) } });
    assert.equal(conv.status, 201, conv.text);
    const key = await api(first.url, 'POST', '/v1/api-keys', { token, body: { name: 'kept-key' } });
    assert.equal(key.status, 201, key.text);
    const exit = await first.stop();
    assert.deepEqual(exit, { code: 0, signal: null });

    const second = await serverFor(t, { dataDir: first.dataDir });
    assert.notEqual(second.url, '', 'restarted');
    // Log in again with the same password.
    const token2 = await login(second.url, email, PASSWORD);
    const list = await api(second.url, 'GET', '/v1/conversations', { token: token2 });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.data, [conv.json]);
    // The old access token and the API key still work.
    assert.equal((await api(second.url, 'GET', '/v1/me', { token })).status, 200);
    const viaKey = await api(second.url, 'GET', `/v1/conversations/${conv.json.id}`, { token: key.json.key });
    assert.deepEqual(viaKey.json, conv.json);
    // The e-mail is still taken.
    const dup = await api(second.url, 'POST', '/v1/auth/register', { body: { email, password: PASSWORD } });
    assert.equal(dup.status, 409);
    assert.deepEqual(await withTimeout(second.stop(), 10000, 'stop'), { code: 0, signal: null });
  });
});
