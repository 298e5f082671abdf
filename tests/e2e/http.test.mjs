// HTTP behaviour: request ids, keep-alive, HEAD, 405, CORS, metrics, OpenAPI, readiness, access log.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, test } from 'node:test';

import {
  PASSWORD,
  RawClient,
  api,
  assertError,
  eventually,
  metricValue,
  parseMetrics,
  parseResponses,
  randomEmail,
  registerAndLogin,
  startServer,
  sharedServer,
} from './helpers.mjs';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;
const rid = (tag = 'e2e') => `${tag}-${randomBytes(6).toString('hex')}`;

describe('http basics', () => {
  const shared = sharedServer();
  let server;
  let url;
  beforeEach(() => {
    server = shared.server;
    url = server.url;
  });

  test('healthz and readyz', async () => {
    const h = await api(url, 'GET', '/healthz');
    assert.equal(h.status, 200);
    assert.match(h.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(h.json, { status: 'ok' });
    const r = await api(url, 'GET', '/readyz');
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(r.json, { status: 'ready', checks: { store: 'ok', queue: 'ok', blobs: 'ok' } });
  });

  test('every response has a fresh request id unless a valid one was sent', async () => {
    const seen = new Set();
    const requests = [
      ['GET', '/healthz'],
      ['GET', '/nope'],
      ['DELETE', '/healthz'],
      ['GET', '/v1/me'],
      ['POST', '/v1/auth/login'],
    ];
    for (let i = 0; i < 4; i++) {
      for (const [method, path] of requests) {
        const res = await api(url, method, path);
        const id = res.headers.get('x-request-id');
        assert.ok(id, `${method} ${path} has no X-Request-Id`);
        assert.match(id, REQUEST_ID);
        assert.ok(!seen.has(id), `request id ${id} repeated`);
        seen.add(id);
      }
    }
  });

  test('a well-formed X-Request-Id is echoed', async () => {
    for (const id of [rid(), 'abc.DEF_123-xyz', 'a', 'x'.repeat(128)]) {
      for (const [method, path] of [
        ['GET', '/healthz'],
        ['GET', '/nope'],
        ['PUT', '/healthz'],
        ['GET', '/v1/me'],
      ]) {
        const res = await api(url, method, path, { headers: { 'X-Request-Id': id } });
        assert.equal(res.headers.get('x-request-id'), id, `${method} ${path}`);
      }
    }
  });

  test('a malformed X-Request-Id is replaced with a fresh one', async () => {
    const seen = new Set();
    for (const bad of ['x'.repeat(129), 'has space', 'slash/es', 'semi;colon', 'quote"d', 'caf\u00e9', '{json}']) {
      const res = await api(url, 'GET', '/healthz', { headers: { 'X-Request-Id': bad } });
      const id = res.headers.get('x-request-id');
      assert.ok(id, 'no X-Request-Id');
      assert.notEqual(id, bad);
      assert.match(id, REQUEST_ID);
      assert.ok(!seen.has(id), 'replacement ids must be distinct');
      seen.add(id);
    }
  });

  test('keep-alive: several requests on one connection are all answered', async () => {
    const c = await RawClient.connect(server.port);
    try {
      await c.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: ka-1\r\n\r\n');
      const [first] = await c.readResponses(1);
      assert.equal(first.status, 200);
      assert.equal(first.headers['x-request-id'], 'ka-1');
      assert.notEqual((first.headers.connection ?? '').toLowerCase(), 'close');
      assert.ok(!c.closed, 'the server closed a keep-alive connection');

      await c.write('GET /readyz HTTP/1.1\r\nHost: x\r\nX-Request-Id: ka-2\r\n\r\n');
      const responses = await c.readResponses(2);
      assert.equal(responses[1].status, 200);
      assert.equal(responses[1].headers['x-request-id'], 'ka-2');
      assert.deepEqual(responses[1].json, { status: 'ready', checks: { store: 'ok', queue: 'ok', blobs: 'ok' } });

      // Pipelined: two requests in one write, answered in order.
      await c.write(
        'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: ka-3\r\n\r\n' +
          'GET /nope HTTP/1.1\r\nHost: x\r\nX-Request-Id: ka-4\r\n\r\n',
      );
      const all = await c.readResponses(4);
      assert.deepEqual(all.slice(2).map((r) => [r.status, r.headers['x-request-id']]), [
        [200, 'ka-3'],
        [404, 'ka-4'],
      ]);

      // A request with a body, then another on the same connection.
      const body = JSON.stringify({ email: 'nobody', password: 'x' });
      await c.write(
        `POST /v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
          'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      const more = await c.readResponses(6);
      assert.equal(more[4].status, 400);
      assert.equal(more[4].json.error.code, 'invalid_request');
      assert.equal(more[5].status, 200);
      // Connection: close is honoured.
      await c.waitClosed(5000);
    } finally {
      c.destroy();
    }
  });

  test('Expect: 100-continue gets an interim response before the body is sent', async () => {
    const { token } = await registerAndLogin(url);
    const body = JSON.stringify({ title: 'expected' });
    const c = await RawClient.connect(server.port);
    try {
      await c.write(
        `POST /v1/conversations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`,
      );
      await c.waitFor((d) => /^HTTP\/1\.1 100 /.test(d) && d.includes('\r\n\r\n'), 5000, '100 Continue');
      await c.write(body);
      // The interim response has no body; the final one follows it.
      const afterInterim = () => c.data().slice(c.data().indexOf('\r\n\r\n') + 4);
      await c.waitFor(() => parseResponses(afterInterim()).complete.length === 1, 5000, 'the final response');
      const [res] = parseResponses(afterInterim()).complete;
      assert.equal(res.status, 201, res.body);
      assert.equal(res.json.title, 'expected');
    } finally {
      c.destroy();
    }
  });

  test('HEAD answers like GET without a body', async () => {
    const get = await api(url, 'GET', '/healthz');
    const head = await api(url, 'HEAD', '/healthz');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(get.text)));
    assert.match(head.headers.get('content-type') ?? '', /^application\/json/);
    assert.ok(head.headers.get('x-request-id'));

    const unauth = await api(url, 'HEAD', '/v1/me');
    assert.equal(unauth.status, 401);
    assert.equal(unauth.text, '');

    // On a raw connection: no body bytes follow a HEAD response, so the next response parses.
    const c = await RawClient.connect(server.port);
    try {
      await c.write('HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      await c.waitClosed(5000);
      const text = c.data();
      const parts = text.split('\r\n\r\n');
      assert.match(parts[0], /^HTTP\/1\.1 200 /);
      assert.match(parts[1], /^HTTP\/1\.1 404 /, `bytes after the HEAD response: ${JSON.stringify(text)}`);
    } finally {
      c.destroy();
    }
  });

  test('405 carries the allowed methods and OPTIONS lists them', async () => {
    const res = await api(url, 'PUT', '/healthz');
    assertError(res, 405, 'method_not_allowed');
    assert.equal(res.headers.get('allow'), 'GET, HEAD, OPTIONS');

    const opt = await api(url, 'OPTIONS', '/v1/conversations');
    assert.equal(opt.status, 204);
    assert.equal(opt.text, '');
    const allow = (opt.headers.get('allow') ?? '').split(',').map((m) => m.trim());
    for (const m of ['GET', 'HEAD', 'POST', 'OPTIONS']) assert.ok(allow.includes(m), `Allow: ${allow}`);
    assertError(await api(url, 'OPTIONS', '/no/such/route'), 404, 'not_found');
  });

  test('without --cors-origins there are no CORS headers', async () => {
    const res = await api(url, 'GET', '/healthz', { headers: { Origin: 'http://app.example' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    assert.equal(res.headers.get('access-control-expose-headers'), null);
    const pre = await api(url, 'OPTIONS', '/v1/conversations', {
      headers: { Origin: 'http://app.example', 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
    assert.equal(pre.headers.get('access-control-allow-methods'), null);
    assert.equal(pre.headers.get('access-control-allow-headers'), null);
  });

  test('metrics count requests by method, route pattern and status', async () => {
    const { token } = await registerAndLogin(url);
    const conv = await api(url, 'POST', '/v1/conversations', { token, body: { title: 'metrics' } });
    assert.equal(conv.status, 201, conv.text);

    const scrape = async () => {
      const res = await api(url, 'GET', '/metrics');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      return { text: res.text, samples: parseMetrics(res.text) };
    };
    const count = (samples, method, route, status) =>
      metricValue(samples, 'betterdev_http_requests_total', { method, route, status: String(status) }) ?? 0;

    const before = (await scrape()).samples;
    for (let i = 0; i < 3; i++) assert.equal((await api(url, 'GET', '/healthz')).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await api(url, 'GET', `/v1/conversations/${conv.json.id}`, { token })).status, 200);
    assert.equal((await api(url, 'GET', '/v1/conversations/conv_missing', { token })).status, 404);
    assert.equal((await api(url, 'GET', '/definitely/not/here')).status, 404);

    const expected = [
      ['GET', '/healthz', 200, 3],
      ['GET', '/v1/conversations/{id}', 200, 2],
      ['GET', '/v1/conversations/{id}', 404, 1],
      ['GET', 'unmatched', 404, 1],
    ];
    // Requests are counted once answered, so allow a moment for the last one.
    const { text, samples } = await eventually(
      async () => {
        const s = await scrape();
        return expected.every(([m, r, st, n]) => count(s.samples, m, r, st) === count(before, m, r, st) + n) && s;
      },
      { what: 'request counters to increase' },
    );
    for (const [m, r, st, n] of expected) {
      assert.equal(count(samples, m, r, st), count(before, m, r, st) + n, `${m} ${r} ${st}`);
    }
    assert.match(text, /^betterdev_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+$/m);
    assert.ok(!text.includes('conv_missing') && !text.includes(conv.json.id), 'raw paths must not become labels');
    assert.ok(!text.includes('/definitely/not/here'));

    // The histogram agrees with the counter and its buckets are cumulative.
    const labels = { method: 'GET', route: '/healthz', status: '200' };
    const buckets = samples
      .filter((s) => s.name === 'betterdev_http_request_duration_seconds_bucket' && s.labels.route === '/healthz' && s.labels.status === '200' && s.labels.method === 'GET')
      .map((s) => [s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value])
      .sort((a, b) => a[0] - b[0]);
    assert.ok(buckets.length >= 5, 'too few histogram buckets');
    assert.equal(buckets.at(-1)[0], Infinity, 'no +Inf bucket');
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i][1] >= buckets[i - 1][1], 'buckets must be cumulative');
    const total = count(samples, 'GET', '/healthz', 200);
    assert.equal(buckets.at(-1)[1], total);
    assert.equal(metricValue(samples, 'betterdev_http_request_duration_seconds_count', labels), total);
    const sum = metricValue(samples, 'betterdev_http_request_duration_seconds_sum', labels);
    assert.ok(sum > 0 && sum < total * 5, `implausible duration sum ${sum}`);

    const rss = metricValue(samples, 'betterdev_process_resident_memory_bytes', {});
    assert.ok(rss > 1024 * 1024, `resident memory ${rss}`);
  });

  test('metric route labels are route patterns or "unmatched"', async () => {
    const doc = (await api(url, 'GET', '/openapi.json')).json;
    // Exercise the paths that do not end in a handler: 404, 405, OPTIONS, malformed HTTP.
    await api(url, 'GET', '/nope');
    await api(url, 'PUT', '/healthz');
    await api(url, 'OPTIONS', '/v1/conversations');
    await api(url, 'OPTIONS', '/v1/conversations/conv_x', {
      headers: { Origin: 'http://app.example', 'Access-Control-Request-Method': 'PATCH' },
    });
    const c = await RawClient.connect(server.port);
    await c.write('GARBAGE\r\n\r\n');
    await c.readResponses(1).finally(() => c.destroy());
    const routes = await eventually(
      async () => {
        const samples = parseMetrics((await api(url, 'GET', '/metrics')).text);
        const totals = samples.filter((s) => s.name === 'betterdev_http_requests_total');
        return totals.some((s) => s.labels.method === 'OPTIONS') && new Set(totals.map((s) => s.labels.route));
      },
      { what: 'OPTIONS requests to be counted' },
    );
    const allowed = new Set([...Object.keys(doc.paths), 'unmatched']);
    const odd = [...routes].filter((r) => !allowed.has(r));
    assert.deepEqual(odd, [], `route labels that are neither a pattern nor "unmatched": ${odd.join(', ')}`);
  });

  test('204 responses carry neither a body nor Content-Length (RFC 9110 8.6)', async () => {
    const { token } = await registerAndLogin(url);
    const conv = (await api(url, 'POST', '/v1/conversations', { token, body: { title: 'to delete' } })).json;
    const c = await RawClient.connect(server.port);
    try {
      await c.write(
        'OPTIONS /v1/conversations HTTP/1.1\r\nHost: x\r\n\r\n' +
          `DELETE /v1/conversations/${conv.id} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n` +
          `POST /v1/auth/logout HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`,
      );
      await c.waitClosed(5000);
      const heads = c.data().split('\r\n\r\n').filter(Boolean);
      assert.equal(heads.length, 3, `expected three bodiless responses: ${JSON.stringify(c.data())}`);
      for (const head of heads) {
        assert.match(head, /^HTTP\/1\.1 204 /);
        assert.doesNotMatch(head, /^content-length:/im, `204 with Content-Length: ${JSON.stringify(head)}`);
      }
    } finally {
      c.destroy();
    }
  });

  test('an HTTP/1.0 request is answered and the connection closed', async () => {
    const c = await RawClient.connect(server.port);
    try {
      await c.write('GET /healthz HTTP/1.0\r\n\r\n');
      await c.waitClosed(5000);
      const [res] = parseResponses(c.data()).complete;
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { status: 'ok' });
    } finally {
      c.destroy();
    }
  });

  test('openapi.json lists every route and every listed operation exists', async () => {
    const res = await api(url, 'GET', '/openapi.json');
    assert.equal(res.status, 200);
    const doc = res.json;
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(typeof doc.info?.title, 'string');
    const required = [
      '/healthz',
      '/readyz',
      '/metrics',
      '/openapi.json',
      '/v1/auth/register',
      '/v1/auth/login',
      '/v1/auth/logout',
      '/v1/me',
      '/v1/api-keys',
      '/v1/api-keys/{id}',
      '/v1/conversations',
      '/v1/conversations/{id}',
      '/v1/conversations/{id}/messages',
    ];
    for (const p of required) assert.ok(doc.paths[p], `openapi.json lacks ${p}`);
    const expectMethods = {
      '/v1/api-keys': ['get', 'post'],
      '/v1/api-keys/{id}': ['delete'],
      '/v1/conversations': ['get', 'post'],
      '/v1/conversations/{id}': ['delete', 'get', 'patch'],
      '/v1/conversations/{id}/messages': ['get'],
      '/v1/auth/login': ['post'],
      '/v1/me': ['get'],
    };
    for (const [p, methods] of Object.entries(expectMethods))
      for (const m of methods) assert.ok(doc.paths[p][m], `openapi.json lacks ${m} ${p}`);

    const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
    for (const [pattern, ops] of Object.entries(doc.paths)) {
      assert.ok(pattern.startsWith('/'), pattern);
      const concrete = pattern.replace(/\{[^}]+\}/g, 'x_e2e_probe');
      const opt = await api(url, 'OPTIONS', concrete);
      assert.equal(opt.status, 204, `OPTIONS ${concrete}: ${opt.text}`);
      const allow = (opt.headers.get('allow') ?? '').split(',').map((m) => m.trim().toLowerCase());
      for (const [method, op] of Object.entries(ops)) {
        if (!methods.includes(method)) continue;
        assert.ok(allow.includes(method), `${method} ${pattern} documented but Allow is ${allow}`);
        assert.ok(op.responses && Object.keys(op.responses).length > 0, `${method} ${pattern} has no responses`);
        const r = await api(url, method.toUpperCase(), concrete);
        assert.notEqual(r.status, 405, `${method} ${pattern} is documented but not routed`);
        assert.ok(r.status !== 404 || r.json?.error?.code !== 'not_found' || !/route/.test(r.json.error.message),
          `${method} ${pattern} is documented but not routed: ${r.text}`);
        if (op.security?.length) {
          assertError(r, 401, 'unauthorized');
        } else {
          assert.ok(r.status < 500 && r.status !== 404, `${method} ${concrete}: ${r.status} ${r.text}`);
        }
      }
    }

    // Every $ref points at a schema that exists.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]);
    assert.ok(refs.length > 0);
    for (const r of refs) assert.ok(doc.components?.schemas?.[r], `dangling $ref ${r}`);
  });

  test('the access log has one JSON line per request', async () => {
    const { token } = await registerAndLogin(url);
    const id1 = rid('log');
    const id2 = rid('log');
    const id3 = rid('log');
    await api(url, 'GET', '/healthz?verbose=1', { headers: { 'X-Request-Id': id1 } });
    await api(url, 'GET', '/v1/conversations/conv_abc', { token, headers: { 'X-Request-Id': id2 } });
    await api(url, 'DELETE', '/healthz', { headers: { 'X-Request-Id': id3 } });

    const find = (id) => server.logLines().filter((l) => l.request_id === id && l.msg === 'request');
    const [l1] = await eventually(() => find(id1).length && find(id1), { what: `access log line for ${id1}` });
    assert.equal(find(id1).length, 1);
    for (const f of ['request_id', 'method', 'path', 'route', 'status', 'duration_ms']) assert.ok(f in l1, `missing ${f}`);
    assert.equal(l1.method, 'GET');
    assert.equal(l1.path, '/healthz');
    assert.equal(l1.route, '/healthz');
    assert.equal(l1.status, 200);
    assert.equal(typeof l1.duration_ms, 'number');
    assert.ok(l1.duration_ms >= 0 && l1.duration_ms < 10_000);

    const [l2] = await eventually(() => find(id2).length && find(id2), { what: `access log line for ${id2}` });
    assert.equal(l2.path, '/v1/conversations/conv_abc');
    assert.equal(l2.route, '/v1/conversations/{id}');
    assert.equal(l2.status, 404);
    const [l3] = await eventually(() => find(id3).length && find(id3), { what: `access log line for ${id3}` });
    assert.equal(l3.method, 'DELETE');
    assert.equal(l3.status, 405);

    // Every line after the URL line is one JSON object.
    const lines = server.stdout().split('\n').filter(Boolean);
    assert.match(lines[0], /^betterdev serving on http:\/\/127\.0\.0\.1:\d+ \(data dir: /);
    for (const line of lines.slice(1)) assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
  });

  test('secrets never reach the log', async () => {
    const email = randomEmail('secret');
    const { token } = await registerAndLogin(url, email);
    const key = (await api(url, 'POST', '/v1/api-keys', { token, body: { name: 'k' } })).json.key;
    await api(url, 'GET', '/v1/me', { token: key });
    await api(url, 'POST', '/v1/auth/login', { body: { email, password: 'wrong password 9' } });
    await eventually(() => server.logLines().filter((l) => l.msg === 'request' && l.path === '/v1/me').length, {
      what: 'access log lines',
    });
    const logs = server.logs();
    for (const secret of [PASSWORD, 'wrong password 9', token, key, token.slice(6, 30), key.slice(6, 30)])
      assert.ok(!logs.includes(secret), `the log contains a secret: ${secret.slice(0, 10)}...`);
  });
});

describe('CORS', () => {
  const shared = sharedServer({ args: ['--cors-origins', 'http://app.example, http://b.example'] });
  let server;
  let url;
  beforeEach(() => {
    server = shared.server;
    url = server.url;
  });

  const list = (h) => (h ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);

  test('a listed origin is allowed and may read X-Request-Id', async () => {
    for (const origin of ['http://app.example', 'http://b.example']) {
      const res = await api(url, 'GET', '/healthz', { headers: { Origin: origin } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('access-control-allow-origin'), origin);
      assert.ok(list(res.headers.get('access-control-expose-headers')).includes('x-request-id'));
      assert.ok(list(res.headers.get('vary')).includes('origin'), 'Vary: Origin is required when echoing origins');
    }
    // Errors are readable by the allowed origin as well.
    const err = await api(url, 'GET', '/v1/me', { headers: { Origin: 'http://app.example' } });
    assert.equal(err.status, 401);
    assert.equal(err.headers.get('access-control-allow-origin'), 'http://app.example');
  });

  test('a preflight from a listed origin is answered', async () => {
    const res = await api(url, 'OPTIONS', '/v1/conversations', {
      headers: {
        Origin: 'http://app.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization, content-type',
      },
    });
    assert.equal(res.status, 204, res.text);
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://app.example');
    assert.ok(list(res.headers.get('access-control-allow-methods')).includes('post'));
    const headers = list(res.headers.get('access-control-allow-headers'));
    assert.ok(headers.includes('authorization'), `Allow-Headers: ${headers}`);
    assert.ok(headers.includes('content-type'), `Allow-Headers: ${headers}`);

    const item = await api(url, 'OPTIONS', '/v1/conversations/conv_x', {
      headers: { Origin: 'http://b.example', 'Access-Control-Request-Method': 'PATCH' },
    });
    assert.equal(item.status, 204);
    assert.ok(list(item.headers.get('access-control-allow-methods')).includes('patch'));
  });

  test('an unlisted origin gets no CORS headers', async () => {
    for (const origin of ['http://evil.example', 'http://app.example.evil.com', 'https://app.example', 'null']) {
      const res = await api(url, 'GET', '/healthz', { headers: { Origin: origin } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('access-control-allow-origin'), null, origin);
      const pre = await api(url, 'OPTIONS', '/v1/conversations', {
        headers: { Origin: origin, 'Access-Control-Request-Method': 'POST' },
      });
      assert.equal(pre.headers.get('access-control-allow-origin'), null, origin);
      assert.equal(pre.headers.get('access-control-allow-methods'), null, origin);
    }
    // Requests without Origin get none either.
    const plain = await api(url, 'GET', '/healthz');
    assert.equal(plain.headers.get('access-control-allow-origin'), null);
  });

  test("'*' allows any origin", async (t) => {
    const any = await startServer({ args: ['--cors-origins', '*'] });
    t.after(async () => {
      await any.stop();
      any.cleanup();
    });
    const origin = `http://${randomBytes(4).toString('hex')}.example`;
    const res = await api(any.url, 'GET', '/healthz', { headers: { Origin: origin } });
    assert.ok(['*', origin].includes(res.headers.get('access-control-allow-origin')), res.headers.get('access-control-allow-origin'));
    const pre = await api(any.url, 'OPTIONS', '/v1/me', {
      headers: { Origin: origin, 'Access-Control-Request-Method': 'GET' },
    });
    assert.equal(pre.status, 204);
    assert.ok(list(pre.headers.get('access-control-allow-methods')).includes('get'));
  });
});

describe('access log switch', () => {
  test('--access-log false writes no request lines', async (t) => {
    const server = await startServer({ args: ['--access-log', 'false'] });
    t.after(async () => {
      await server.stop();
      server.cleanup();
    });
    const id = rid('quiet');
    assert.equal((await api(server.url, 'GET', '/healthz', { headers: { 'X-Request-Id': id } })).status, 200);
    // The request is counted (so it has been fully handled) but not logged.
    await eventually(async () => {
      const samples = parseMetrics((await api(server.url, 'GET', '/metrics')).text);
      return metricValue(samples, 'betterdev_http_requests_total', { method: 'GET', route: '/healthz', status: '200' }) === 1;
    }, { what: 'the request to be counted' });
    assert.equal(server.logLines().filter((l) => l.msg === 'request').length, 0, server.stdout());
    assert.ok(!server.logs().includes(id));
  });
});
