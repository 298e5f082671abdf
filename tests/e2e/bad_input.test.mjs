// Every kind of bad input gets its 4xx in the one error shape, and the server keeps serving.
import assert from 'node:assert/strict';
import { before, beforeEach, describe, test } from 'node:test';

import {
  PASSWORD,
  RawClient,
  api,
  assertError,
  assertHealthy,
  randomEmail,
  rawRequest,
  registerAndLogin,
  sharedServer,
  ownDocuments,
} from './helpers.mjs';

// A raw response as an api()-like result, for assertError.
function asResult(raw) {
  return { status: raw.status, headers: new Headers(raw.headers), json: raw.json, text: raw.body };
}

describe('bad input', () => {
  const shared = sharedServer();
  let server;
  let url;
  let token;
  before(async () => {
    ({ token } = await registerAndLogin(shared.url));
  });
  beforeEach(() => {
    server = shared.server;
    url = server.url;
  });

  test('malformed JSON is invalid_json', async () => {
    const bodies = ['{"email":', '{bad}', '{"email":"a@b.co","password":"12345678"}}', "{'a':1}", '\u0000', 'nul'];
    for (const rawBody of bodies) {
      for (const [path, auth] of [
        ['/v1/auth/register', undefined],
        ['/v1/auth/login', undefined],
        ['/v1/conversations', token],
        ['/v1/api-keys', token],
      ]) {
        const res = await api(url, 'POST', path, {
          token: auth,
          rawBody,
          headers: { 'Content-Type': 'application/json' },
        });
        assertError(res, 400, 'invalid_json');
      }
    }
    await assertHealthy(url);
  });

  test('ill-formed UTF-8 in JSON is invalid_json', async () => {
    // {"title":"<0xff>"} and a truncated multi-byte sequence.
    for (const bytes of [[0x7b, 0x22, 0x74, 0x69, 0x74, 0x6c, 0x65, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d], [0x7b, 0x22, 0x74, 0x69, 0x74, 0x6c, 0x65, 0x22, 0x3a, 0x22, 0xe2, 0x82, 0x22, 0x7d]]) {
      const res = await api(url, 'POST', '/v1/conversations', {
        token,
        rawBody: Buffer.from(bytes),
        headers: { 'Content-Type': 'application/json' },
      });
      assertError(res, 400, 'invalid_json');
    }
    await assertHealthy(url);
  });

  test('bodies that are not the expected object are invalid_request', async () => {
    const cases = [
      // Not an object.
      [],
      'a string',
      42,
      null,
      true,
      // Missing fields.
      {},
      { email: randomEmail() },
      { password: PASSWORD },
      // Wrong types.
      { email: 5, password: PASSWORD },
      { email: randomEmail(), password: 12345678 },
      { email: [randomEmail()], password: PASSWORD },
      { email: randomEmail(), password: null },
      // Unknown fields.
      { email: randomEmail(), password: PASSWORD, admin: true },
      { email: randomEmail(), password: PASSWORD, Email: 'x@y.co' },
    ];
    for (const body of cases) {
      for (const path of ['/v1/auth/register', '/v1/auth/login']) {
        const res = await api(url, 'POST', path, { body });
        assertError(res, 400, 'invalid_request');
      }
    }
    // An empty body where one is required.
    for (const path of ['/v1/auth/register', '/v1/auth/login']) {
      const res = await api(url, 'POST', path, { rawBody: '', headers: { 'Content-Type': 'application/json' } });
      assertError(res, 400, 'invalid_request');
    }
    for (const body of [[], 'x', 1, null]) {
      assertError(await api(url, 'POST', '/v1/conversations', { token, body }), 400, 'invalid_request');
      assertError(await api(url, 'POST', '/v1/api-keys', { token, body }), 400, 'invalid_request');
    }
    await assertHealthy(url);
  });

  test('invalid e-mails and passwords are rejected at registration', async () => {
    const badEmails = [
      '',
      'plainaddress',
      '@example.com',
      'user@',
      'user@example',
      'user@.example.com',
      'user@example.com.',
      'user@exa..mple.com',
      'us er@example.com',
      'a@b@example.com',
      'user<x>@example.com',
      `${'a'.repeat(250)}@example.com`,
    ];
    for (const email of badEmails) {
      const res = await api(url, 'POST', '/v1/auth/register', { body: { email, password: PASSWORD } });
      assertError(res, 400, 'invalid_request');
    }
    for (const password of ['', '1234567', 'short', 'x'.repeat(1025)]) {
      const email = randomEmail();
      const res = await api(url, 'POST', '/v1/auth/register', { body: { email, password } });
      assertError(res, 400, 'invalid_request');
      // Nothing was created: the same e-mail can still register.
      const ok = await api(url, 'POST', '/v1/auth/register', { body: { email, password: PASSWORD } });
      assert.equal(ok.status, 201, `after rejected password ${JSON.stringify(password)}: ${ok.text}`);
    }
    // Exactly 8 characters is enough.
    const ok = await api(url, 'POST', '/v1/auth/register', { body: { email: randomEmail(), password: '12345678' } });
    assert.equal(ok.status, 201, ok.text);
    await assertHealthy(url);
  });

  test('a non-JSON Content-Type is unsupported_media_type', async () => {
    const body = JSON.stringify({ email: randomEmail(), password: PASSWORD });
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
      for (const [path, auth] of [
        ['/v1/auth/register', undefined],
        ['/v1/auth/login', undefined],
        ['/v1/conversations', token],
        ['/v1/api-keys', token],
      ]) {
        const res = await api(url, 'POST', path, { token: auth, rawBody: body, headers: { 'Content-Type': ct } });
        assertError(res, 415, 'unsupported_media_type');
      }
    }
    // JSON media types with parameters or a +json suffix are fine.
    for (const ct of ['application/json; charset=utf-8', 'Application/JSON', 'application/merge-patch+json']) {
      const res = await api(url, 'POST', '/v1/conversations', {
        token,
        rawBody: JSON.stringify({ title: 'typed' }),
        headers: { 'Content-Type': ct },
      });
      assert.equal(res.status, 201, `${ct}: ${res.text}`);
    }
    await assertHealthy(url);
  });

  test('bad credentials are unauthorized with WWW-Authenticate', async () => {
    const routes = [
      ['GET', '/v1/me'],
      ['POST', '/v1/auth/logout'],
      ['GET', '/v1/api-keys'],
      ['POST', '/v1/api-keys'],
      ['DELETE', '/v1/api-keys/key_x'],
      ['GET', '/v1/conversations'],
      ['POST', '/v1/conversations'],
      ['GET', '/v1/conversations/conv_x'],
      ['GET', '/v1/conversations/conv_x/messages'],
    ];
    for (const [method, path] of routes) {
      for (const authorization of [undefined, 'Bearer garbage', 'Basic eHl6OmFiYw==', `Token ${token}`, `${token}`]) {
        const headers = authorization ? { Authorization: authorization } : {};
        const res = await api(url, method, path, { headers });
        assertError(res, 401, 'unauthorized');
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
      }
    }
    await assertHealthy(url);
  });

  test('unknown routes are not_found', async () => {
    for (const path of ['/', '/nope', '/v1', '/v1/', '/v1/nope', '/healthz/', '/v1/me/x', '/V1/ME', '/v1/conversations/a/b/c', '/v1/conversations//messages']) {
      const res = await api(url, 'GET', path, { token });
      assertError(res, 404, 'not_found');
    }
    await assertHealthy(url);
  });

  test('wrong methods are method_not_allowed with an Allow header', async () => {
    const cases = [
      ['DELETE', '/healthz', 'GET, HEAD, OPTIONS'],
      ['POST', '/healthz', 'GET, HEAD, OPTIONS'],
      ['PUT', '/v1/conversations', 'GET, HEAD, POST, OPTIONS'],
      ['DELETE', '/v1/conversations', 'GET, HEAD, POST, OPTIONS'],
      ['POST', '/v1/me', 'GET, HEAD, OPTIONS'],
      ['GET', '/v1/auth/login', 'POST, OPTIONS'],
      ['GET', '/v1/api-keys/key_x', 'DELETE, OPTIONS'],
      ['POST', '/v1/conversations/conv_x', 'GET, HEAD, PATCH, DELETE, OPTIONS'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await api(url, method, path, { token });
      assertError(res, 405, 'method_not_allowed');
      const got = (res.headers.get('allow') ?? '').split(',').map((m) => m.trim()).sort();
      assert.deepEqual(got, allow.split(', ').sort(), `Allow for ${method} ${path}`);
    }
    await assertHealthy(url);
  });

  test('bad limit and cursor on every paginated route', async () => {
    const conv = await api(url, 'POST', '/v1/conversations', { token, body: { title: 'paged' } });
    assert.equal(conv.status, 201, conv.text);
    for (const path of ['/v1/conversations', '/v1/api-keys', `/v1/conversations/${conv.json.id}/messages`]) {
      for (const q of ['limit=0', 'limit=1001', 'limit=x', 'limit=-5', 'cursor=%21%21', 'cursor=A']) {
        const res = await api(url, 'GET', `${path}?${q}`, { token });
        assertError(res, 400, 'invalid_request');
      }
      const ok = await api(url, 'GET', `${path}?limit=1000`, { token });
      assert.equal(ok.status, 200, `${path}: ${ok.text}`);
    }
    await assertHealthy(url);
  });

  test('malformed HTTP is bad_request', async () => {
    const requests = [
      'GARBAGE\r\n\r\n',
      'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n',
      'POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
      'POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'GET healthz HTTP/1.1\r\nHost: x\r\n\r\n',
    ];
    for (const bytes of requests) {
      const res = asResult(await rawRequest(server.port, bytes));
      assertError(res, 400, 'bad_request');
      assert.ok(res.headers.get('x-request-id'), 'error responses carry X-Request-Id too');
    }
    await assertHealthy(url);
  });

  test('a header over 16 KiB is header_too_large', async () => {
    const c = await RawClient.connect(server.port);
    try {
      await c.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`).catch(() => {});
      const [raw] = await c.readResponses(1);
      assertError(asResult(raw), 431, 'header_too_large');
      assert.ok(raw.headers['x-request-id'], 'error responses carry X-Request-Id too');
    } finally {
      c.destroy();
    }
    // Just under the limit is fine.
    const ok = await rawRequest(server.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(15 * 1024)}\r\n\r\n`);
    assert.equal(ok.status, 200);
    await assertHealthy(url);
  });

  test('many header lines adding up to more than 16 KiB are header_too_large', async () => {
    // 300 lines of 70 bytes: about 20.5 KiB of header, no single line near the limit.
    const lines = Array.from({ length: 300 }, (_, i) => `X-H${String(i).padStart(4, '0')}: ${'b'.repeat(60)}\r\n`).join('');
    const bytes = `GET /healthz HTTP/1.1\r\nHost: x\r\n${lines}\r\n`;
    assert.ok(bytes.length > 20 * 1024);
    const raw = await rawRequest(server.port, bytes);
    assertError(asResult(raw), 431, 'header_too_large');
    await assertHealthy(url);
  });
});

describe('body limit', () => {
  const shared = sharedServer({ args: ['--max-json-body', '1024'] });
  let server;
  let url;
  let token;
  before(async () => {
    ({ token } = await registerAndLogin(shared.url));
  });
  beforeEach(() => {
    server = shared.server;
    url = server.url;
  });

  const big = JSON.stringify({ title: 'x'.repeat(2048) });

  test('a body over --max-json-body is payload_too_large', async () => {
    for (const [path, auth] of [
      ['/v1/conversations', token],
      ['/v1/auth/register', undefined],
      ['/v1/auth/login', undefined],
      ['/v1/api-keys', token],
    ]) {
      const res = await api(url, 'POST', path, {
        token: auth,
        rawBody: big,
        headers: { 'Content-Type': 'application/json' },
      });
      assertError(res, 413, 'payload_too_large');
      await assertHealthy(url);
    }
    const patchTarget = await api(url, 'POST', '/v1/conversations', { token, body: { title: 'small' } });
    assert.equal(patchTarget.status, 201, patchTarget.text);
    const res = await api(url, 'PATCH', `/v1/conversations/${patchTarget.json.id}`, {
      token,
      rawBody: big,
      headers: { 'Content-Type': 'application/json' },
    });
    assertError(res, 413, 'payload_too_large');
    const list = await api(url, 'GET', '/v1/conversations', { token });
    assert.deepEqual(list.json.data.map((c) => c.title), ['small'], 'an oversized body must not create anything');
  });

  test('a chunked body over the limit is payload_too_large', async () => {
    const bytes =
      `POST /v1/conversations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
      `${Buffer.byteLength(big).toString(16)}\r\n${big}\r\n0\r\n\r\n`;
    const raw = await rawRequest(server.port, bytes);
    assertError(asResult(raw), 413, 'payload_too_large');
    await assertHealthy(url);
  });

  test('a body within the limit is accepted', async () => {
    const body = { title: 'y'.repeat(200), document_ids: await ownDocuments(url, token, 20) };
    const size = Buffer.byteLength(JSON.stringify(body));
    assert.ok(size > 800 && size <= 1024, `body is ${size} bytes`);
    const res = await api(url, 'POST', '/v1/conversations', { token, body });
    assert.equal(res.status, 201, res.text);
    // Chunked within the limit works as well.
    const small = JSON.stringify({ title: 'chunked' });
    const raw = await rawRequest(
      server.port,
      `POST /v1/conversations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
        `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
        `${small.length.toString(16)}\r\n${small}\r\n0\r\n\r\n`,
    );
    assert.equal(raw.status, 201, raw.body);
    assert.equal(raw.json.title, 'chunked');
  });
});
