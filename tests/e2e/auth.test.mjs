// Accounts, access tokens, logout, API keys and login throttling.
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import {
  PASSWORD,
  api,
  assertError,
  login,
  randomEmail,
  register,
  registerAndLogin,
  sleep,
  startServer,
  sharedServer,
} from './helpers.mjs';

const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function assertUnauthorized(res) {
  assertError(res, 401, 'unauthorized');
  assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer\b/, 'missing WWW-Authenticate: Bearer');
}

describe('accounts and tokens', () => {
  const shared = sharedServer();
  let server;
  let url;
  beforeEach(() => {
    server = shared.server;
    url = server.url;
  });

  test('register returns the user without secrets', async () => {
    const email = randomEmail();
    const res = await api(url, 'POST', '/v1/auth/register', { body: { email, password: PASSWORD } });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(Object.keys(res.json).sort(), ['created_at', 'email', 'id']);
    assert.equal(res.json.email, email);
    assert.equal(typeof res.json.id, 'string');
    assert.ok(res.json.id.length > 0);
    assert.match(res.json.created_at, RFC3339_MS);
    const created = Date.parse(res.json.created_at);
    assert.ok(Math.abs(created - Date.now()) < 60_000, `created_at ${res.json.created_at} is not now`);
    assert.ok(!res.text.includes(PASSWORD), 'response leaks the password');
    assert.ok(!/argon|\$/.test(res.text), `response leaks a hash: ${res.text}`);
  });

  test('a second account with the same e-mail in any ASCII case is a conflict', async () => {
    const local = `Dup${Date.now()}`;
    await register(url, `${local}@Example.com`);
    for (const email of [`${local}@Example.com`, `${local.toLowerCase()}@example.com`, `${local.toUpperCase()}@EXAMPLE.COM`]) {
      const res = await api(url, 'POST', '/v1/auth/register', { body: { email, password: 'another password' } });
      assertError(res, 409, 'conflict');
    }
    // The original password still works: the conflicting attempts changed nothing.
    const token = await login(url, `${local}@Example.com`);
    assert.ok(token.startsWith('bd_at_'));
  });

  test('login issues a bearer access token', async () => {
    const email = randomEmail();
    const user = await register(url, email);
    const res = await api(url, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.json).sort(), ['access_token', 'expires_in', 'token_type']);
    assert.match(res.json.access_token, /^bd_at_[A-Za-z0-9_-]{20,}$/);
    assert.equal(res.json.token_type, 'Bearer');
    assert.equal(res.json.expires_in, 86400);

    const me = await api(url, 'GET', '/v1/me', { token: res.json.access_token });
    assert.equal(me.status, 200, me.text);
    assert.deepEqual(me.json, user);

    // Two logins give two different tokens.
    const second = await login(url, email);
    assert.notEqual(second, res.json.access_token);
  });

  test('login matches the e-mail case-insensitively', async () => {
    const email = randomEmail('Case');
    const user = await register(url, email);
    const token = await login(url, email.toUpperCase());
    const me = await api(url, 'GET', '/v1/me', { token });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.id, user.id);
  });

  test('a wrong password and an unknown e-mail get the same 401', async () => {
    const { email } = await registerAndLogin(url);
    const wrong = await api(url, 'POST', '/v1/auth/login', { body: { email, password: 'not the password' } });
    assertUnauthorized(wrong);
    const unknown = await api(url, 'POST', '/v1/auth/login', {
      body: { email: randomEmail('nobody'), password: PASSWORD },
    });
    assertUnauthorized(unknown);
    assert.equal(wrong.json.error.message, unknown.json.error.message);
    assert.ok(!wrong.text.includes(email), 'the message must not reveal whether the account exists');
  });

  test('/v1/me rejects missing and malformed credentials', async () => {
    const cases = [
      {},
      { Authorization: 'Bearer garbage' },
      { Authorization: 'Basic eHl6' },
      { Authorization: 'Bearer ' },
      { Authorization: 'Bearer bd_at_notarealtoken' },
      { Authorization: 'Bearer bd_sk_notarealkey' },
      { Authorization: 'bd_at_missingscheme' },
    ];
    for (const headers of cases) {
      const res = await api(url, 'GET', '/v1/me', { headers });
      assertUnauthorized(res);
    }
  });

  test('logout revokes only the token in use', async () => {
    const { email, token } = await registerAndLogin(url);
    const other = await login(url, email);

    const out = await api(url, 'POST', '/v1/auth/logout', { token });
    assert.equal(out.status, 204, out.text);
    assert.equal(out.text, '');

    assertUnauthorized(await api(url, 'GET', '/v1/me', { token }));
    assertUnauthorized(await api(url, 'GET', '/v1/conversations', { token }));
    assertUnauthorized(await api(url, 'POST', '/v1/conversations', { token, body: {} }));
    assertUnauthorized(await api(url, 'GET', '/v1/api-keys', { token }));
    assertUnauthorized(await api(url, 'POST', '/v1/auth/logout', { token }));

    const me = await api(url, 'GET', '/v1/me', { token: other });
    assert.equal(me.status, 200, 'the other session must survive');
    assert.equal(me.json.email, email);
  });

  test('API key lifecycle', async () => {
    const { token, email } = await registerAndLogin(url);
    const me = (await api(url, 'GET', '/v1/me', { token })).json;

    const created = await api(url, 'POST', '/v1/api-keys', { token, body: { name: 'ci' } });
    assert.equal(created.status, 201, created.text);
    const k = created.json;
    assert.deepEqual(Object.keys(k).sort(), ['created_at', 'id', 'key', 'last_used_at', 'name', 'prefix']);
    assert.equal(k.name, 'ci');
    assert.match(k.key, /^bd_sk_[A-Za-z0-9_-]{20,}$/);
    assert.ok(k.prefix.length > 'bd_sk_'.length && k.key.startsWith(k.prefix), `prefix ${k.prefix} of ${k.key}`);
    assert.ok(k.prefix.length < k.key.length - 10, 'the prefix must not reveal the secret');
    assert.match(k.created_at, RFC3339_MS);
    assert.equal(k.last_used_at, null);

    // The key authenticates as its owner.
    const viaKey = await api(url, 'GET', '/v1/me', { token: k.key });
    assert.equal(viaKey.status, 200, viaKey.text);
    assert.deepEqual(viaKey.json, me);
    assert.equal(viaKey.json.email, email);

    // Listed without the secret, with last_used_at now set.
    const list = await api(url, 'GET', '/v1/api-keys', { token });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(Object.keys(list.json).sort(), ['data', 'next_cursor']);
    assert.equal(list.json.next_cursor, null);
    assert.equal(list.json.data.length, 1);
    const listed = list.json.data[0];
    assert.deepEqual(Object.keys(listed).sort(), ['created_at', 'id', 'last_used_at', 'name', 'prefix']);
    assert.equal(listed.id, k.id);
    assert.equal(listed.prefix, k.prefix);
    assert.match(listed.last_used_at ?? '', RFC3339_MS, 'last_used_at must be set after use');
    assert.ok(!list.text.includes(k.key), 'the list leaks the secret');

    // A key with no name gets a default name; newest first.
    const unnamed = await api(url, 'POST', '/v1/api-keys', { token });
    assert.equal(unnamed.status, 201, unnamed.text);
    assert.equal(typeof unnamed.json.name, 'string');
    assert.ok(unnamed.json.name.length > 0);
    assert.notEqual(unnamed.json.key, k.key);
    const list2 = await api(url, 'GET', '/v1/api-keys', { token });
    assert.deepEqual(list2.json.data.map((x) => x.id), [unnamed.json.id, k.id]);

    // A key manages no keys (a leaked one must not mint a successor or revoke the others).
    assertError(await api(url, 'POST', '/v1/api-keys', { token: k.key, body: { name: 'successor' } }), 403, 'forbidden');
    assertError(await api(url, 'GET', '/v1/api-keys', { token: k.key }), 403, 'forbidden');
    assertError(await api(url, 'DELETE', `/v1/api-keys/${unnamed.json.id}`, { token: k.key }), 403, 'forbidden');
    assert.equal((await api(url, 'GET', '/v1/api-keys', { token })).json.data.length, 2);

    // Deleting revokes it.
    const del = await api(url, 'DELETE', `/v1/api-keys/${k.id}`, { token });
    assert.equal(del.status, 204, del.text);
    assertUnauthorized(await api(url, 'GET', '/v1/me', { token: k.key }));
    assertError(await api(url, 'DELETE', `/v1/api-keys/${k.id}`, { token }), 404, 'not_found');
    const list3 = await api(url, 'GET', '/v1/api-keys', { token });
    assert.deepEqual(list3.json.data.map((x) => x.id), [unnamed.json.id]);

    // The other key still works.
    assert.equal((await api(url, 'GET', '/v1/me', { token: unnamed.json.key })).status, 200);
  });

  test('API keys are paginated newest first', async () => {
    const { token } = await registerAndLogin(url);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await api(url, 'POST', '/v1/api-keys', { token, body: { name: `k${i}` } })).json.id);
    const seen = [];
    let cursor = null;
    const sizes = [];
    for (let n = 0; n < 5; n++) {
      const q = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2';
      const page = await api(url, 'GET', `/v1/api-keys${q}`, { token });
      assert.equal(page.status, 200, page.text);
      sizes.push(page.json.data.length);
      seen.push(...page.json.data.map((k) => k.id));
      cursor = page.json.next_cursor;
      if (cursor === null) break;
    }
    assert.deepEqual(sizes, [2, 2, 1]);
    assert.deepEqual(seen, [...ids].reverse());
  });

  test('API key names are validated', async () => {
    const { token } = await registerAndLogin(url);
    assertError(await api(url, 'POST', '/v1/api-keys', { token, body: { name: '' } }), 400, 'invalid_request');
    assertError(await api(url, 'POST', '/v1/api-keys', { token, body: { name: 'x'.repeat(101) } }), 400, 'invalid_request');
    assertError(await api(url, 'POST', '/v1/api-keys', { token, body: { name: 5 } }), 400, 'invalid_request');
    assertError(await api(url, 'POST', '/v1/api-keys', { token, body: { name: 'a', scope: 'all' } }), 400, 'invalid_request');
    const ok = await api(url, 'POST', '/v1/api-keys', { token, body: { name: 'x'.repeat(100) } });
    assert.equal(ok.status, 201, ok.text);
    const list = await api(url, 'GET', '/v1/api-keys', { token });
    assert.equal(list.json.data.length, 1, 'rejected keys must not be stored');
  });

  test("deleting another user's API key is a 404 and leaves it working", async () => {
    const a = await registerAndLogin(url);
    const b = await registerAndLogin(url);
    const key = (await api(url, 'POST', '/v1/api-keys', { token: a.token, body: { name: 'mine' } })).json;
    const res = await api(url, 'DELETE', `/v1/api-keys/${key.id}`, { token: b.token });
    assertError(res, 404, 'not_found');
    const missing = await api(url, 'DELETE', '/v1/api-keys/key_doesnotexist', { token: b.token });
    assertError(missing, 404, 'not_found');
    assert.equal((await api(url, 'GET', '/v1/me', { token: key.key })).status, 200);
    const bList = await api(url, 'GET', '/v1/api-keys', { token: b.token });
    assert.deepEqual(bList.json, { data: [], next_cursor: null });
  });

  test('logout with an API key is rejected and the key keeps working', async () => {
    const { token } = await registerAndLogin(url);
    const key = (await api(url, 'POST', '/v1/api-keys', { token, body: { name: 'k' } })).json.key;
    const res = await api(url, 'POST', '/v1/auth/logout', { token: key });
    assertError(res, 400, 'invalid_request');
    assert.equal((await api(url, 'GET', '/v1/me', { token: key })).status, 200);
    assert.equal((await api(url, 'GET', '/v1/me', { token })).status, 200);
  });

  test('the token works with a lower-case scheme name', async () => {
    const { token } = await registerAndLogin(url);
    const res = await api(url, 'GET', '/v1/me', { headers: { Authorization: `bearer ${token}` } });
    assert.equal(res.status, 200, res.text);
  });
});

describe('configured token lifetime', () => {
  test('--token-ttl sets expires_in', async (t) => {
    const server = await startServer({ args: ['--token-ttl', '120'] });
    t.after(async () => {
      await server.stop();
      server.cleanup();
    });
    const email = randomEmail();
    await register(server.url, email);
    const res = await api(server.url, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.expires_in, 120);
  });
});

describe('login throttling', () => {
  test('an account is locked after --login-max-failures failures, then unlocks', async (t) => {
    const server = await startServer({ args: ['--login-max-failures', '2', '--login-lockout-base', '1'] });
    t.after(async () => {
      await server.stop();
      server.cleanup();
    });
    const { url } = server;
    const victim = randomEmail('victim');
    const bystander = randomEmail('bystander');
    await register(url, victim);
    await register(url, bystander);

    for (let i = 0; i < 2; i++) {
      const res = await api(url, 'POST', '/v1/auth/login', { body: { email: victim, password: 'wrong password' } });
      assertUnauthorized(res);
    }
    // Locked: even the right password is refused, with a Retry-After.
    const locked = await api(url, 'POST', '/v1/auth/login', { body: { email: victim, password: PASSWORD } });
    assertError(locked, 429, 'rate_limited');
    const retryAfter = Number(locked.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${locked.headers.get('retry-after')}`);
    assert.ok(retryAfter <= 5, `Retry-After ${retryAfter} is longer than the configured lockout`);
    // The lock is per account: the same e-mail in another case is the same account.
    const lockedUpper = await api(url, 'POST', '/v1/auth/login', {
      body: { email: victim.toUpperCase(), password: PASSWORD },
    });
    assertError(lockedUpper, 429, 'rate_limited');
    // Another account from the same address is not affected.
    assert.ok((await login(url, bystander)).startsWith('bd_at_'));

    await sleep(retryAfter * 1000 + 250);
    const res = await api(url, 'POST', '/v1/auth/login', { body: { email: victim, password: PASSWORD } });
    assert.equal(res.status, 200, `after waiting Retry-After: ${res.text}`);
    assert.ok(res.json.access_token.startsWith('bd_at_'));
  });

  test('an address is locked after --login-ip-max-failures failures across accounts', async (t) => {
    const server = await startServer({
      args: ['--login-ip-max-failures', '3', '--login-max-failures', '100', '--login-lockout-base', '30'],
    });
    t.after(async () => {
      await server.stop();
      server.cleanup();
    });
    const { url } = server;
    const email = randomEmail('real');
    await register(url, email);
    for (let i = 0; i < 3; i++) {
      const res = await api(url, 'POST', '/v1/auth/login', {
        body: { email: randomEmail(`guess${i}`), password: 'guessed password' },
      });
      assertUnauthorized(res);
    }
    const res = await api(url, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
    assertError(res, 429, 'rate_limited');
    const retryAfter = Number(res.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${res.headers.get('retry-after')}`);
    const other = await api(url, 'POST', '/v1/auth/login', {
      body: { email: randomEmail('other'), password: PASSWORD },
    });
    assertError(other, 429, 'rate_limited');
  });
});
