// Several processes on one data directory, as the README allows: two `betterdev api` processes
// share the database, the queue and the blobs. Whether a blob may go is decided in the database
// (store.hpp, "Blob lifetimes"), so a delete in one process never takes the bytes an upload of
// the same file in the other has just committed.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { api, registerAndLogin, startServer, tempDir } from './helpers.mjs';
import { uploadOk, uploadRaw } from './ingest_helpers.mjs';

describe('two API processes on one data directory', () => {
  let data;
  let one;
  let two;
  before(async () => {
    data = `${tempDir()}/data`;
    one = await startServer({ command: 'api', dataDir: data });
    two = await startServer({ command: 'api', dataDir: data });
  });
  after(async () => {
    await one?.stop?.();
    await two?.stop?.();
  });

  const blobPath = (sha) => `${data}/blobs/${sha.slice(0, 2)}/${sha.slice(2, 4)}/${sha}`;

  test('a delete in one process never removes the blob an upload of the same bytes commits in the other', async () => {
    const a = await registerAndLogin(one.url);
    const b = await registerAndLogin(one.url);  // one database: b's token works in both
    const rounds = 40;
    const kept = [];
    for (let round = 0; round < rounds; round++) {
      const bytes = Buffer.from(`Round ${round} of the shared blob race ${crypto.randomUUID()}.\n`.repeat(50));
      const first = await uploadOk(one.url, a.token, bytes, `a-${round}.txt`);
      // At once: a deletes its copy through one process, b uploads the same bytes through the other.
      const [del, up] = await Promise.all([
        api(one.url, 'DELETE', `/v1/documents/${first.document_id}`, { token: a.token }),
        uploadOk(two.url, b.token, bytes, `b-${round}.txt`),
      ]);
      assert.equal(del.status, 204, del.text);
      assert.equal(up.sha256, first.sha256);
      assert.ok(fs.existsSync(blobPath(up.sha256)), `round ${round}: b's document lost its blob`);
      kept.push(up);
    }
    // Every document of b's reads its bytes; deleting them (through either process) removes them.
    for (const [i, doc] of kept.entries()) {
      const server = i % 2 ? one : two;
      const got = await api(server.url, 'GET', `/v1/documents/${doc.document_id}`, { token: b.token });
      assert.equal(got.status, 200, got.text);
      const del = await api(server.url, 'DELETE', `/v1/documents/${doc.document_id}`, { token: b.token });
      assert.equal(del.status, 204, del.text);
      assert.ok(!fs.existsSync(blobPath(doc.sha256)), `the blob of ${doc.document_id} outlived its last document`);
    }
  });

  test('the same bytes from one user through both processes at once make one document', async () => {
    const { token } = await registerAndLogin(two.url);
    for (let round = 0; round < 10; round++) {
      const bytes = Buffer.from(`Twice at once, round ${round}: ${crypto.randomUUID()}\n`);
      const answers = await Promise.all([uploadRaw(one.url, token, bytes, 'x.txt'), uploadRaw(two.url, token, bytes, 'y.txt')]);
      // One made the document (202), the other answers it as a duplicate (200).
      assert.deepEqual(answers.map((r) => r.status).sort(), [200, 202], answers.map((r) => r.text).join('\n'));
      const [x, y] = answers.map((r) => r.json);
      assert.equal(x.document_id, y.document_id, JSON.stringify([x, y]));
      assert.equal([x.deduplicated, y.deduplicated].filter(Boolean).length, 1, JSON.stringify([x, y]));
      assert.ok(fs.existsSync(blobPath(x.sha256)));
    }
  });
});
