// Uploads kept in S3-compatible object storage: `betterdev serve` with BETTERDEV_S3_* against a
// real S3 server (@20minutes/s3rver, which checks every request's SigV4 signature) started here
// on loopback. The API stages and uploads the file, a worker downloads it, processes it and lets
// its copy go; deleting the document deletes the object; while S3 is away uploads answer 503
// and leave nothing behind, and everything works again when it returns.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { api, eventually, registerAndLogin, startServer, tempDir } from './helpers.mjs';
import { PDF_004, uploadOk, uploadRaw, waitReady } from './ingest_helpers.mjs';
import { startS3 } from './scaleout_helpers.mjs';

const BUCKET = 'betterdev-e2e';

// Regular files under `dir`, recursively.
function filesUnder(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
}

describe('uploads in S3-compatible object storage', () => {
  let s3dir;
  let s3;
  let server;
  before(async () => {
    s3dir = tempDir();
    s3 = await startS3(s3dir, BUCKET);
    server = await startServer({
      args: ['--workers', '1', '--s3-endpoint', s3.url, '--s3-bucket', BUCKET, '--s3-force-path-style', 'true',
        '--s3-access-key', 'S3RVER'],
      env: { BETTERDEV_S3_SECRET_KEY: 'S3RVER' },
    });
  });
  after(async () => {
    await server?.stop();
    await s3?.stop();
    fs.rmSync(s3dir, { recursive: true, force: true });
  });

  test('a PDF goes up to S3, a worker reads it back, and deleting the document deletes the object', async () => {
    const { token } = await registerAndLogin(server.url);
    const up = await uploadOk(server.url, token, fs.readFileSync(PDF_004), 'four-pages.pdf');
    const doc = await waitReady(server.url, token, up.document_id, { timeoutMs: 60000 });
    assert.equal(doc.pages, 4);
    const object = `/${BUCKET}/blobs/${up.sha256}`;
    const log = await s3.log();
    assert.ok(log.includes(`PUT ${object}`), `the API uploaded the file: ${log.join('\n')}`);
    assert.ok(log.includes(`GET ${object}`), `a worker downloaded it: ${log.join('\n')}`);
    // Nothing kept locally: the staged upload and the worker's copy are gone.
    const blobs = path.join(server.dataDir, 'blobs');
    await eventually(() => filesUnder(blobs).length === 0, { timeoutMs: 5000, what: `no local blob file (${filesUnder(blobs)})` });
    const chunks = await api(server.url, 'GET', `/v1/documents/${up.document_id}/chunks?limit=1`, { token });
    const words = chunks.json.data[0].text.split(/\s+/).filter((w) => /^[a-z]{4,}$/i.test(w)).slice(0, 4).join(' ');
    const hits = await api(server.url, 'POST', '/v1/search', { token, body: { query: words, k: 3 } });
    assert.equal(hits.status, 200, hits.text);
    assert.ok(hits.text.includes(up.document_id), `"${words}" finds the document: ${hits.text}`);

    assert.equal((await api(server.url, 'DELETE', `/v1/documents/${up.document_id}`, { token })).status, 204);
    assert.ok((await s3.log()).includes(`DELETE ${object}`), 'the object is deleted with its last document');
  });

  test('while S3 is away an upload answers 503 and leaves nothing; it works again when S3 returns', async () => {
    const { token } = await registerAndLogin(server.url);
    const port = s3.port;
    await s3.stop();
    const ready = await api(server.url, 'GET', '/readyz');
    assert.equal(ready.status, 503, ready.text);
    assert.match(ready.json.error.message, /file storage/);
    const res = await uploadRaw(server.url, token, Buffer.from(`kept in S3 ${Date.now()}`), 'away.txt');
    assert.equal(res.status, 503, res.text);
    assert.equal(res.json.error.code, 'unavailable', res.text);
    const list = await api(server.url, 'GET', '/v1/documents', { token });
    assert.equal(list.json.data.length, 0, 'no document without its file');
    assert.equal(filesUnder(path.join(server.dataDir, 'blobs', 'tmp')).length, 0, 'the staged upload is gone');

    s3 = await startS3(s3dir, BUCKET, port);
    assert.deepEqual((await api(server.url, 'GET', '/readyz')).json.checks, { store: 'ok', queue: 'ok', blobs: 'ok' });
    const up = await uploadOk(server.url, token, Buffer.from(`kept in S3 ${Date.now()}: back again.`), 'back.txt');
    await waitReady(server.url, token, up.document_id, { timeoutMs: 30000 });
  });
});
