// Asynchronous ingestion through the API: uploads (raw and multipart), type detection, limits,
// real PDFs and text files end to end, chunks, deduplication, deletion, isolation between
// users, listing, metrics, OpenAPI and the `betterdev ingest` command. One server with two
// workers for the whole file; the fault tests (killed processes, restarts) are in
// ingestion_faults.test.mjs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeEach, describe, test } from 'node:test';

import {
  RawClient,
  api,
  assertError,
  assertHealthy,
  eventually,
  metricValue,
  parseMetrics,
  registerAndLogin,
  runBinary,
  sharedServer,
  sleep,
  startServer,
  tempDir,
} from './helpers.mjs';
import {
  CHUNK_KEYS,
  DATA,
  DOCUMENT_KEYS,
  NTSB,
  OFFICE,
  PDF_004,
  PDF_026,
  PDF_ENCRYPTED,
  TEX_026,
  UPLOAD_KEYS,
  allChunks,
  blobFiles,
  blobPath,
  checkChunks,
  getDocument,
  noise,
  pdfinfoPages,
  pdftotextPages,
  slowMarkerPdf,
  squash,
  stagedFiles,
  uploadMultipart,
  uploadOk,
  uploadRaw,
  waitForDocument,
  waitReady,
} from './ingest_helpers.mjs';
import { checkXref, markerPdf, pageMarker } from './pdfgen.mjs';

const MAX_UPLOAD = 3_000_000;
const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
// Distinct text each call (dedupe never joins two test files by accident).
const uniqueText = (tag = 'note') =>
  Buffer.from(`${tag} ${randomBytes(8).toString('hex')}\n\nThe ${tag} says something worth reading twice.\n`);

function assertDocumentShape(d) {
  assert.deepEqual(Object.keys(d).sort(), DOCUMENT_KEYS, JSON.stringify(d));
  assert.match(d.sha256, SHA256_HEX);
  assert.match(d.created_at, RFC3339_MS);
  assert.match(d.updated_at, RFC3339_MS);
  assert.ok(['queued', 'processing', 'ready', 'failed'].includes(d.status), d.status);
  assert.ok([null, 'extracting', 'chunking', 'embedding', 'indexing'].includes(d.stage), `stage ${d.stage}`);
  assert.ok(Number.isInteger(d.progress) && d.progress >= 0 && d.progress <= 100, `progress ${d.progress}`);
  if (d.status === 'ready' || d.status === 'failed') {
    assert.match(d.finished_at ?? '', RFC3339_MS, `finished_at of a ${d.status} document`);
    assert.equal(d.stage, null, 'a finished document has no stage');
  } else {
    assert.equal(d.finished_at, null);
  }
  if (d.status === 'ready') {
    assert.equal(d.error, null);
    assert.equal(d.progress, 100);
  }
  if (d.status === 'failed') assert.ok(typeof d.error === 'string' && d.error.length > 0, 'a failed document says why');
}

function assertUploadAnswer(u, { filename, bytes, contentType }) {
  assert.deepEqual(Object.keys(u).sort(), UPLOAD_KEYS, JSON.stringify(u));
  assert.match(u.document_id, /^doc_/);
  assert.match(u.job_id, /^job_/);
  assert.equal(u.status, 'queued');
  assert.equal(u.deduplicated, false);
  if (filename !== undefined) assert.equal(u.filename, filename);
  if (contentType !== undefined) assert.equal(u.content_type, contentType);
  if (bytes !== undefined) assert.equal(u.size_bytes, bytes.length);
}

describe('ingestion', () => {
  const shared = sharedServer({
    args: ['--workers', '2', '--poll-ms', '50', '--job-backoff-ms', '100', '--max-upload-bytes', `${MAX_UPLOAD}`],
  });
  let server;
  let url;
  beforeEach(() => {
    server = shared.server;
    url = server.url;
  });

  const metrics = async () => parseMetrics((await api(url, 'GET', '/metrics')).text);

  describe('real files end to end', () => {
    test('the 4-page LaTeX PDF becomes ready with sane chunks and each page\'s text on that page', async () => {
      const { token } = await registerAndLogin(url);
      const bytes = fs.readFileSync(PDF_004);
      const res = await uploadRaw(url, token, bytes, 'pdflatex-4-pages.pdf');
      assert.equal(res.status, 202, res.text);
      assertUploadAnswer(res.json, { filename: 'pdflatex-4-pages.pdf', bytes, contentType: 'application/pdf' });
      assert.equal(res.json.sha256, sha256(bytes));
      assert.equal(res.headers.get('location'), `/v1/documents/${res.json.document_id}`);

      const doc = await waitReady(url, token, res.json.document_id, { server });
      assertDocumentShape(doc);
      assert.equal(doc.id, res.json.document_id);
      assert.equal(doc.job_id, res.json.job_id);
      assert.equal(doc.pages, 4);
      assert.equal(doc.page, 4);
      assert.equal(doc.attempts, 1);
      assert.equal(doc.size_bytes, bytes.length);
      assert.equal(doc.filename, 'pdflatex-4-pages.pdf');
      assert.ok(doc.text_chars > 10000, `text_chars ${doc.text_chars}`);
      assert.ok(Date.parse(doc.finished_at) >= Date.parse(doc.created_at));

      const chunks = await allChunks(url, token, doc.id);
      checkChunks(doc, chunks);
      // Chunks of about --chunk-size (500) characters: none far larger, most not tiny.
      for (const c of chunks) assert.ok([...c.text].length <= 600, `chunk ${c.ordinal} has ${[...c.text].length} characters`);
      assert.ok(chunks.length >= 20 && chunks.length <= 60, `${chunks.length} chunks for ~15k characters`);
      assert.equal(chunks[0].page_start, 1);
      assert.equal(chunks.at(-1).page_end, 4);
      for (let p = 1; p <= 4; p++) assert.ok(chunks.some((c) => c.page_start === p), `no chunk starts on page ${p}`);
      // blindtext's first words open page 1; its last sentence closes page 4.
      assert.ok(chunks[0].text.startsWith('Hello, here is some text without a meaning.'), chunks[0].text.slice(0, 80));
      assert.ok(squash(chunks.at(-1).text).includes('the length of words should match the language.'));
      // Every chunk's text is on the page(s) it names: the same words as pdftotext reads there.
      const pages = pdftotextPages(PDF_004, 4);
      for (const c of chunks) {
        const span = pages.slice(c.page_start, c.page_end + 1).join(' ');
        assert.ok(span.includes(squash(c.text)), `chunk ${c.ordinal} (pages ${c.page_start}-${c.page_end}) is not on those pages: ${c.text.slice(0, 120)}`);
      }
    });

    test('the two-column PDF: words of its .tex source are found on the right pages', async () => {
      const { token } = await registerAndLogin(url);
      const tex = fs.readFileSync(TEX_026, 'utf8');
      const title = /\\title\{([^}]*)\}/.exec(tex)[1];
      const abstract = squash(/\\begin\{abstract\}([\s\S]*?)\\end\{abstract\}/.exec(tex)[1]);
      // Table rows "Country & population & area & Capital & Language \\" after \midrule.
      const rows = /\\midrule([\s\S]*?)\\bottomrule/
        .exec(tex)[1]
        .split('\\\\')
        .map((r) => r.split('&').map((x) => x.trim()))
        .filter((r) => r.length === 5);
      assert.equal(rows.length, 5, 'the .tex table has five countries');
      const capitals = rows.map((r) => r[3]);
      const countries = rows.map((r) => r[0]);

      const u = await uploadOk(url, token, fs.readFileSync(PDF_026), 'multicolumn.pdf');
      const doc = await waitReady(url, token, u.document_id, { server });
      assert.equal(doc.pages, pdfinfoPages(PDF_026));
      assert.equal(doc.pages, 3);
      const chunks = await allChunks(url, token, doc.id);
      checkChunks(doc, chunks);
      const pagesOf = (needle) => {
        const hits = chunks.filter((c) => squash(c.text).includes(needle));
        assert.ok(hits.length > 0, `"${needle}" is in no chunk`);
        return hits.map((c) => [c.page_start, c.page_end]);
      };
      for (const [a] of pagesOf(title)) assert.equal(a, 1, 'the title is on page 1');
      // The abstract: its first words on page 1 (a chunk may cut the sentence).
      for (const [a] of pagesOf(abstract.split(' ').slice(0, 6).join(' '))) assert.equal(a, 1);
      // The table is on the last page, after \pagebreak.
      for (const word of [...capitals, ...countries, 'EU Countries Information']) {
        for (const [, b] of pagesOf(word)) assert.equal(b, 3, `"${word}" must be on page 3`);
      }
    });

    test('an NTSB report: the page count is pdfinfo\'s and the text is pdftotext\'s', async () => {
      const { token } = await registerAndLogin(url);
      const file = path.join(NTSB, '20080104X00020.pdf');
      const u = await uploadOk(url, token, fs.readFileSync(file), path.basename(file));
      const doc = await waitReady(url, token, u.document_id, { server });
      const expected = pdfinfoPages(file);
      assert.equal(doc.pages, expected);
      const chunks = await allChunks(url, token, doc.id);
      checkChunks(doc, chunks);
      assert.equal(chunks.at(-1).page_end, expected);
      const pages = pdftotextPages(file, expected);
      for (const c of chunks) {
        assert.ok(pages.slice(c.page_start, c.page_end + 1).join(' ').includes(squash(c.text)), `chunk ${c.ordinal} not on pages ${c.page_start}-${c.page_end}`);
      }
      // NTSB reports name the agency and the report's number on page 1.
      assert.ok(squash(chunks[0].text).length > 0);
      assert.ok(chunks.filter((c) => c.page_start === 1).some((c) => /National Transportation Safety Board/i.test(c.text)));
    });

    test('text in UTF-16 (both byte orders) and UTF-32 becomes ready with the right text', async () => {
      const { token } = await registerAndLogin(url);
      const expected = fs.readFileSync(path.join(OFFICE, 'fake-text-utf-16-le.txt')).toString('utf16le').replace(/^\uFEFF/, '');
      assert.ok(expected.startsWith('This is a test document'), 'the sample decodes as UTF-16LE');
      for (const name of ['fake-text-utf-16-le.txt', 'fake-text-utf-16-be.txt', 'fake-text-utf-32.txt']) {
        const bytes = fs.readFileSync(path.join(OFFICE, name));
        const u = await uploadOk(url, token, bytes, name);
        assert.equal(u.content_type, 'text/plain', `${name} is text`);
        const doc = await waitReady(url, token, u.document_id, { server });
        assert.equal(doc.pages, 1);
        const chunks = await allChunks(url, token, doc.id);
        checkChunks(doc, chunks);
        const text = chunks.map((c) => c.text).join('\n');
        assert.ok(!text.includes('\u0000'), `${name}: NUL bytes in the text`);
        // Same words as the file, whitespace aside (the UTF-32 sample differs in indentation only).
        assert.equal(squash(text), squash(expected), `${name} decoded wrong`);
        assert.ok(text.includes('Hamburgers are delicious'));
      }
    });

    test('Markdown is text/markdown and code-like text (text/x-*) is accepted', async () => {
      const { token } = await registerAndLogin(url);
      const md = fs.readFileSync(path.join(OFFICE, 'codeblock.md'));
      const u = await uploadOk(url, token, md, 'codeblock.md');
      assert.equal(u.content_type, 'text/markdown');
      // The same kind of bytes named .txt are not Markdown.
      const plain = Buffer.from(`# Heading ${randomBytes(4).toString('hex')}\n\nSome words.\n`);
      const asTxt = await uploadOk(url, token, plain, 'notes.txt');
      assert.notEqual(asTxt.content_type, 'text/markdown');
      const script = Buffer.from(`#!/bin/sh\n# ${randomBytes(4).toString('hex')}\necho "deploy the ingestion service"\nexit 0\n`);
      const sh = await uploadOk(url, token, script, 'deploy');
      assert.match(sh.content_type, /^text\/x-/);
      for (const id of [u.document_id, asTxt.document_id, sh.document_id]) {
        const doc = await waitReady(url, token, id, { server });
        checkChunks(doc, await allChunks(url, token, id));
      }
      const chunks = await allChunks(url, token, sh.document_id);
      assert.ok(chunks.some((c) => c.text.includes('deploy the ingestion service')));
    });
  });

  describe('office files', () => {
    test('DOCX, PPTX (slides as pages), XLSX and ODT become ready with their text', async () => {
      const { token } = await registerAndLogin(url);
      const cases = [
        ['fake.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'Lorem ipsum dolor sit amet.'],
        ['fake-power-point.pptx', 'application/vnd.openxmlformats-officedocument.presentationml.presentation', 'Adding a Bullet Slide'],
        ['fake.odt', 'application/vnd.oasis.opendocument.text', null],
        ['emoji.xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', null],
      ];
      for (const [name, type, phrase] of cases) {
        const up = await uploadOk(url, token, fs.readFileSync(path.join(OFFICE, name)), name);
        assert.equal(up.content_type, type, name);
        const doc = await waitReady(url, token, up.document_id, { server });
        assert.ok(doc.chunk_count >= 1, `${name}: ${JSON.stringify(doc)}`);
        const chunks = await allChunks(url, token, up.document_id);
        assert.ok(chunks.every((c) => c.page_start >= 1 && c.page_end <= doc.pages), name);
        if (phrase) assert.ok(chunks.some((c) => c.text.includes(phrase)), `${name} lacks "${phrase}"`);
      }
      const many = await uploadOk(url, token, fs.readFileSync(path.join(OFFICE, 'fake-power-point-many-pages.pptx')), 'many.pptx');
      const deck = await waitReady(url, token, many.document_id, { server });
      assert.ok(deck.pages > 1, `slides are pages: ${JSON.stringify(deck)}`);
    });
  });

  describe('bad files', () => {
    test('415 names the detected type: random bytes named .pdf, a gzip file, an SVG picture', async () => {
      const { token } = await registerAndLogin(url);
      const cases = [
        [noise(4096), 'report.pdf', 'application/octet-stream'],
        [gzipSync(Buffer.from('some text '.repeat(100))), 'notes.txt', 'application/gzip'],
        [Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><text>hi</text></svg>'), 'drawing.svg', 'image/svg+xml'],
      ];
      for (const [bytes, name, type] of cases) {
        const res = await uploadRaw(url, token, bytes, name);
        assertError(res, 415, 'unsupported_media_type');
        assert.ok(res.json.error.message.includes(type), `415 for ${name} should name ${type}: ${res.text}`);
        assert.ok(res.json.error.message.includes(name), `415 should name the file: ${res.text}`);
      }
      const list = await api(url, 'GET', '/v1/documents', { token });
      assert.deepEqual(list.json, { data: [], next_cursor: null });
      await eventually(() => stagedFiles(server.dataDir).length === 0, { what: 'blobs/tmp to be empty' });
    });

    test('an empty file is 400, raw or in a multipart upload', async () => {
      const { token } = await registerAndLogin(url);
      assertError(await uploadRaw(url, token, Buffer.alloc(0), 'empty.txt'), 400, 'invalid_request');
      assertError(await uploadRaw(url, token, fs.readFileSync(path.join(OFFICE, 'empty.txt')), 'empty.txt'), 400, 'invalid_request');
      const res = await uploadMultipart(url, token, [{ name: 'empty.pdf', bytes: Buffer.alloc(0) }]);
      assertError(res, 400, 'invalid_request');
      assert.match(res.json.error.message, /empty/);
      const list = await api(url, 'GET', '/v1/documents', { token });
      assert.deepEqual(list.json.data, []);
    });

    test('the encrypted PDF fails at once with a clear reason and no retry', async () => {
      const { token } = await registerAndLogin(url);
      const u = await uploadOk(url, token, fs.readFileSync(PDF_ENCRYPTED), 'secret.pdf');
      assert.equal(u.content_type, 'application/pdf');
      const start = Date.now();
      const doc = await waitForDocument(url, token, u.document_id, { server, timeoutMs: 20000 });
      assertDocumentShape(doc);
      assert.equal(doc.status, 'failed');
      assert.equal(doc.error, 'the PDF is encrypted and needs a password');
      assert.equal(doc.attempts, 1, 'bad input is not retried');
      assert.equal(doc.chunk_count, 0);
      assert.ok(Date.now() - start < 10000, 'failing took too long');
      // Still failed a moment later: no retry was scheduled (backoff here is 100 ms).
      await sleep(500);
      const again = await getDocument(url, token, u.document_id);
      assert.equal(again.status, 'failed');
      assert.equal(again.attempts, 1);
      const chunks = await api(url, 'GET', `/v1/documents/${u.document_id}/chunks`, { token });
      assert.deepEqual(chunks.json, { data: [], next_cursor: null });
    });

    test('a PDF cut in half is detected as PDF but fails with a clear reason, attempts 1', async () => {
      const { token } = await registerAndLogin(url);
      const whole = fs.readFileSync(PDF_004);
      const half = whole.subarray(0, Math.floor(whole.length / 2));
      const u = await uploadOk(url, token, half, 'half.pdf');
      assert.equal(u.content_type, 'application/pdf');
      const doc = await waitForDocument(url, token, u.document_id, { server, timeoutMs: 20000 });
      assert.equal(doc.status, 'failed');
      assert.match(doc.error, /damaged|cut short|not a readable PDF/, doc.error);
      assert.equal(doc.attempts, 1);
    });

    test('a text file of only whitespace fails: no text, attempts 1', async () => {
      const { token } = await registerAndLogin(url);
      const u = await uploadOk(url, token, fs.readFileSync(path.join(OFFICE, 'fake-text-all-whitespace.txt')), 'blank.txt');
      const doc = await waitForDocument(url, token, u.document_id, { server, timeoutMs: 20000 });
      assert.equal(doc.status, 'failed');
      assert.match(doc.error, /no text/);
      assert.equal(doc.attempts, 1);
    });
  });

  describe('upload limits', () => {
    // Sends a request head, then the body pieces from `pieces` (Buffers) as they come, stopping
    // early once the server has answered; returns the first response. With `chunked` each piece
    // is framed as one chunk, and the last chunk follows unless `terminate` is false. (A write
    // after the server closed would make Node drop the answer already received, so the tests
    // send no more than the server needs to decide.)
    async function send(head, pieces, { chunked = false, terminate = true } = {}) {
      const c = await RawClient.connect(server.port);
      let sent = 0;
      try {
        await c.write(head);
        for (const body of pieces) {
          if (c.closed || c.data().includes('\r\n\r\n')) break;
          try {
            await c.write(chunked ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n')]) : body);
          } catch {
            break;
          }
          sent += body.length;
        }
        if (chunked && terminate && !c.closed && !c.data().includes('\r\n\r\n')) await c.write('0\r\n\r\n').catch(() => {});
        try {
          const [res] = await c.readResponses(1, 15000);
          return res;
        } catch (e) {
          throw new Error(`no complete answer after ${sent} body bytes: ${e.message}`);
        }
      } finally {
        c.destroy();
      }
    }
    function* filler(total, piece = 256 * 1024, text = 'plain text for the upload limit tests\n') {
      for (let sent = 0; sent < total; sent += piece) yield Buffer.alloc(Math.min(piece, total - sent), text);
    }
    const rawHead = (token, extra) =>
      `POST /v1/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nX-Filename: big.txt\r\n` +
      `Content-Type: application/octet-stream\r\n${extra}\r\n`;
    const boundary = 'e2e-boundary-7d0f3a';
    const partHead = (name) =>
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: text/plain\r\n\r\n`);
    const multipartHead = (token, extra) =>
      `POST /v1/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: multipart/form-data; boundary=${boundary}\r\n${extra}\r\n`;

    async function assertNothingLeft(token) {
      await assertHealthy(url);
      const list = await api(url, 'GET', '/v1/documents', { token });
      assert.deepEqual(list.json, { data: [], next_cursor: null }, 'no document may be created by a rejected upload');
      await eventually(() => stagedFiles(server.dataDir).length === 0, { what: 'blobs/tmp to be empty', timeoutMs: 5000 });
    }

    test('uploads over 1 MiB but within --max-upload-bytes are accepted, raw and multipart', async () => {
      const { token } = await registerAndLogin(url);
      const line = (tag) => `${randomBytes(8).toString('hex')} ${tag}: a line of plain text for a larger upload\n`;
      const raw = await uploadRaw(url, token, Buffer.alloc(1_500_000, line('raw')), 'one-and-a-half.txt');
      assert.equal(raw.status, 202, `a 1.5 MB raw upload (limit ${MAX_UPLOAD}) was refused: ${raw.text}`);
      const mp = await uploadMultipart(url, token, [{ name: 'mp.txt', bytes: Buffer.alloc(1_200_000, line('multipart')) }]);
      assert.equal(mp.status, 202, `a 1.2 MB multipart upload (limit ${MAX_UPLOAD}) was refused: ${mp.text}`);
      for (const r of [raw, mp]) assert.equal((await api(url, 'DELETE', `/v1/documents/${r.json.document_id}`, { token })).status, 204);
    });

    test('exactly --max-upload-bytes is accepted; one byte more is 413 (Content-Length, checked while streaming)', async () => {
      const { token } = await registerAndLogin(url);
      const over = await send(rawHead(token, `Content-Length: ${MAX_UPLOAD + 1}\r\n`), filler(MAX_UPLOAD + 1));
      assert.equal(over.status, 413, over.body);
      assert.equal(over.json?.error?.code, 'payload_too_large', over.body);
      assert.match(over.json.error.message, new RegExp(`${MAX_UPLOAD}`));
      await assertNothingLeft(token);

      const exact = await send(rawHead(token, `Content-Length: ${MAX_UPLOAD}\r\n`), filler(MAX_UPLOAD));
      assert.equal(exact.status, 202, exact.body);
      assert.equal(exact.json.size_bytes, MAX_UPLOAD);
      assert.equal((await api(url, 'DELETE', `/v1/documents/${exact.json.document_id}`, { token })).status, 204);
      assert.ok(!fs.existsSync(blobPath(server.dataDir, exact.json.sha256)), 'the deleted upload\'s blob remains');
    });

    test('a text file over the 64 MiB text limit is 413 at upload, naming the limit (not accepted, then failed)', async (t) => {
      const server = await startServer();  // the default upload limit (100 MiB)
      t.after(async () => {
        await server.stop();
        server.cleanup();
      });
      const { token } = await registerAndLogin(server.url);
      const size = 64 * 1024 * 1024 + 1;
      const res = await uploadRaw(server.url, token, Buffer.alloc(size, 'a line of plain text in a very large file\n'), 'huge.txt');
      assertError(res, 413, 'payload_too_large');
      assert.match(res.json.error.message, /huge\.txt/);
      assert.match(res.json.error.message, /64 MiB/);
      assert.match(res.json.error.message, new RegExp(`${size} bytes`));
      const list = await api(server.url, 'GET', '/v1/documents', { token });
      assert.deepEqual(list.json, { data: [], next_cursor: null }, 'the refused upload left a document');
    });

    test('a declared Content-Length far over the limit is 413 before any body is sent', async () => {
      const { token } = await registerAndLogin(url);
      const res = await send(rawHead(token, `Content-Length: ${50 * 1024 * 1024}\r\n`), []);
      assert.equal(res.status, 413, res.body);
      assert.equal(res.json?.error?.code, 'payload_too_large');
      await assertNothingLeft(token);
    });

    test('a chunked upload past the limit is 413 and leaves nothing behind', async () => {
      const { token } = await registerAndLogin(url);
      const res = await send(rawHead(token, 'Transfer-Encoding: chunked\r\n'), filler(MAX_UPLOAD + 1), { chunked: true, terminate: false });
      assert.equal(res.status, 413, res.body);
      assert.equal(res.json?.error?.code, 'payload_too_large');
      await assertNothingLeft(token);
    });

    test('a chunked multipart upload whose files add up to more than the limit is 413', async () => {
      const { token } = await registerAndLogin(url);
      const half = Math.floor(MAX_UPLOAD / 2);
      function* body() {
        yield partHead('first.txt');
        yield* filler(half);
        yield Buffer.from('\r\n');
        yield partHead('second.txt');
        yield* filler(MAX_UPLOAD - half + 1);
        yield Buffer.from(`\r\n--${boundary}--\r\n`);
      }
      const res = await send(multipartHead(token, 'Transfer-Encoding: chunked\r\n'), body(), { chunked: true, terminate: false });
      assert.equal(res.status, 413, res.body);
      assert.equal(res.json?.error?.code, 'payload_too_large');
      assert.match(res.json.error.message, /second\.txt/, 'the message names the file that went over');
      await assertNothingLeft(token);
    });

    test('a chunked multipart upload whose files add up to exactly the limit is accepted (framing not counted)', async () => {
      const { token } = await registerAndLogin(url);
      const half = Math.floor(MAX_UPLOAD / 2);
      const tag = randomBytes(6).toString('hex');
      function* body() {
        yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\n${'x'.repeat(1000)}\r\n`);
        yield partHead('first.txt');
        yield* filler(half, 256 * 1024, `${tag} first file text\n`);
        yield Buffer.from('\r\n');
        yield partHead('second.txt');
        yield* filler(MAX_UPLOAD - half, 256 * 1024, `${tag} second file text\n`);
        yield Buffer.from(`\r\n--${boundary}--\r\n`);
      }
      const res = await send(multipartHead(token, 'Transfer-Encoding: chunked\r\n'), body(), { chunked: true });
      assert.equal(res.status, 202, res.body);
      assert.deepEqual(res.json.data.map((d) => [d.filename, d.size_bytes]), [
        ['first.txt', half],
        ['second.txt', MAX_UPLOAD - half],
      ]);
      for (const d of res.json.data) assert.equal((await api(url, 'DELETE', `/v1/documents/${d.document_id}`, { token })).status, 204);
    });

    test('a chunked upload under the limit is accepted', async () => {
      const { token } = await registerAndLogin(url);
      const text = uniqueText('chunked');
      const pieces = [];
      for (let i = 0; i < text.length; i += 10) pieces.push(text.subarray(i, i + 10));
      const res = await send(rawHead(token, 'Transfer-Encoding: chunked\r\n'), pieces, { chunked: true });
      assert.equal(res.status, 202, res.body);
      assert.equal(res.json.size_bytes, text.length);
      assert.equal(res.json.sha256, sha256(text));
      const doc = await waitReady(url, token, res.json.document_id, { server });
      const chunks = await allChunks(url, token, doc.id);
      assert.equal(squash(chunks.map((x) => x.text).join(' ')), squash(text.toString()));
    });
  });

  describe('upload forms and names', () => {
    test('multipart with three files answers {data:[...]} and each becomes ready', async () => {
      const { token } = await registerAndLogin(url);
      const files = [
        { name: 'pdflatex-4-pages.pdf', bytes: fs.readFileSync(PDF_004), type: 'application/pdf' },
        { name: 'notes.txt', bytes: uniqueText('multipart'), field: 'attachment' },
        { name: 'readme.md', bytes: Buffer.from(`# Read me ${randomBytes(4).toString('hex')}\n\nSome *markdown* text.\n`) },
      ];
      const res = await uploadMultipart(url, token, files, { fields: { comment: 'ignored form field' } });
      assert.equal(res.status, 202, res.text);
      assert.deepEqual(Object.keys(res.json), ['data']);
      assert.equal(res.json.data.length, 3);
      const types = ['application/pdf', 'text/plain', 'text/markdown'];
      res.json.data.forEach((u, i) => assertUploadAnswer(u, { filename: files[i].name, bytes: files[i].bytes, contentType: types[i] }));
      assert.equal(new Set(res.json.data.map((u) => u.document_id)).size, 3);
      assert.equal(new Set(res.json.data.map((u) => u.job_id)).size, 3);
      for (const u of res.json.data) {
        const doc = await waitReady(url, token, u.document_id, { server });
        assertDocumentShape(doc);
        checkChunks(doc, await allChunks(url, token, doc.id));
      }
      const list = await api(url, 'GET', '/v1/documents', { token });
      assert.deepEqual(list.json.data.map((d) => d.filename).sort(), files.map((f) => f.name).sort());
    });

    test('multipart: one file answers a single object with Location; no file is 400; one bad file rejects all', async () => {
      const { token } = await registerAndLogin(url);
      const one = await uploadMultipart(url, token, [{ name: 'one.txt', bytes: uniqueText('single') }]);
      assert.equal(one.status, 202, one.text);
      assertUploadAnswer(one.json, { filename: 'one.txt' });
      assert.equal(one.headers.get('location'), `/v1/documents/${one.json.document_id}`);

      assertError(await uploadMultipart(url, token, [], { fields: { note: 'no file here' } }), 400, 'invalid_request');

      const mixed = await uploadMultipart(url, token, [
        { name: 'good.txt', bytes: uniqueText('good') },
        { name: 'bad.bin', bytes: noise(2048, 'bad.bin') },
      ]);
      assertError(mixed, 415, 'unsupported_media_type');
      assert.match(mixed.json.error.message, /bad\.bin/);
      await waitReady(url, token, one.json.document_id, { server });
      const list = await api(url, 'GET', '/v1/documents', { token });
      assert.deepEqual(list.json.data.map((d) => d.id), [one.json.document_id], 'the rejected upload created documents');
    });

    test('raw upload: UTF-8 X-Filename (percent-encoded), none at all, and undecodable escapes', async () => {
      const { token } = await registerAndLogin(url);
      const name = 'Grüße – 日本語 📄 report.txt';
      const res = await uploadRaw(url, token, uniqueText('utf8 name'), name);
      assert.equal(res.status, 202, res.text);
      assert.equal(res.json.filename, name);
      assert.equal((await getDocument(url, token, res.json.document_id)).filename, name);

      const anon = await uploadRaw(url, token, uniqueText('anonymous'), undefined);
      assert.equal(anon.status, 202, anon.text);
      assert.equal(anon.json.filename, 'upload');

      const bad = await uploadRaw(url, token, uniqueText('bad escape'), undefined, { headers: { 'X-Filename': '100%ZZ.txt' } });
      assert.equal(bad.status, 202, bad.text);
      assert.equal(bad.json.filename, '100%ZZ.txt');
      for (const id of [res.json.document_id, anon.json.document_id, bad.json.document_id]) await waitReady(url, token, id, { server });
    });

    test('path components, control characters and leading dots are cleaned from file names', async () => {
      const { token } = await registerAndLogin(url);
      const cases = [
        ['../../etc/passwd', 'passwd'],
        ['/abs/dir/notes.txt', 'notes.txt'],
        ['C:\\Users\\me\\Desktop\\report.txt', 'report.txt'],
        ['..\\..\\windows\\win.ini', 'win.ini'],
        ['a\u0001b\u0007c\u007f.txt', 'abc.txt'],
        ['line\r\nbreak.txt', 'linebreak.txt'],
        ['.hidden.txt', 'hidden.txt'],
        ['dir/', 'upload'],
        ['../..', 'upload'],
      ];
      const ids = [];
      for (const [sent, cleaned] of cases) {
        const res = await uploadRaw(url, token, uniqueText('name'), sent);
        assert.equal(res.status, 202, `${JSON.stringify(sent)}: ${res.text}`);
        assert.equal(res.json.filename, cleaned, `X-Filename ${JSON.stringify(sent)}`);
        ids.push(res.json.document_id);
      }
      // In a multipart part's filename too.
      const mp = await uploadMultipart(url, token, [{ name: '../../secret/dir/evil.txt', bytes: uniqueText('mp name') }]);
      assert.equal(mp.status, 202, mp.text);
      assert.equal(mp.json.filename, 'evil.txt');
      ids.push(mp.json.document_id);
      // No client-chosen name reaches the file system: blobs are named by their SHA-256 only.
      for (const f of blobFiles(server.dataDir)) assert.match(f, SHA256_HEX);
      assert.ok(!fs.existsSync(path.join(server.dataDir, 'passwd')));
      assert.ok(!fs.existsSync(path.resolve(server.dataDir, '../../etc/passwd.betterdev')));
      for (const id of ids) await waitReady(url, token, id, { server });
    });
  });

  describe('deduplication and reprocessing', () => {
    test('the same bytes again answer 200 with the existing document; ?reprocess=true runs a new job once', async () => {
      const { token } = await registerAndLogin(url);
      const bytes = fs.readFileSync(PDF_004);
      const first = await uploadOk(url, token, bytes, 'first-name.pdf');
      const ready = await waitReady(url, token, first.document_id, { server });
      const before = await allChunks(url, token, first.document_id);
      checkChunks(ready, before);

      const again = await uploadRaw(url, token, bytes, 'second-name.pdf');
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(Object.keys(again.json).sort(), UPLOAD_KEYS);
      assert.equal(again.json.document_id, first.document_id);
      assert.equal(again.json.job_id, first.job_id, 'no new job for a duplicate');
      assert.equal(again.json.deduplicated, true);
      assert.equal(again.json.status, 'ready');
      assert.equal(again.json.filename, 'first-name.pdf');
      assert.equal(again.json.sha256, first.sha256);
      // As multipart too.
      const mp = await uploadMultipart(url, token, [{ name: 'third.pdf', bytes }]);
      assert.equal(mp.status, 200, mp.text);
      assert.equal(mp.json.document_id, first.document_id);
      assert.equal(mp.json.deduplicated, true);
      let list = await api(url, 'GET', '/v1/documents', { token });
      assert.equal(list.json.data.length, 1);
      assert.equal((await getDocument(url, token, first.document_id)).attempts, 1);

      assertError(await uploadRaw(url, token, bytes, 'x.pdf', { query: '?reprocess=maybe' }), 400, 'invalid_request');

      const re = await uploadRaw(url, token, bytes, 'again.pdf', { query: '?reprocess=true' });
      assert.equal(re.status, 202, re.text);
      assert.equal(re.json.document_id, first.document_id);
      assert.notEqual(re.json.job_id, first.job_id, 'reprocess must start a new job');
      assert.equal(re.json.status, 'queued');
      const redone = await waitReady(url, token, first.document_id, { server });
      assert.equal(redone.job_id, re.json.job_id);
      assert.equal(redone.attempts, 1);
      assert.ok(Date.parse(redone.finished_at) >= Date.parse(ready.finished_at));
      const after = await allChunks(url, token, first.document_id);
      checkChunks(redone, after);
      assert.equal(after.length, before.length, 'reprocessing must leave exactly one set of chunks');
      assert.deepEqual(after.map((c) => c.text), before.map((c) => c.text));
      list = await api(url, 'GET', '/v1/documents', { token });
      assert.equal(list.json.data.length, 1);
    });

    test('reprocess while the first job is still running leaves one set of chunks from the new job', async () => {
      const { token } = await registerAndLogin(url);
      const bytes = await slowMarkerPdf(40, 1.5);
      const first = await uploadOk(url, token, bytes, 'slow.pdf');
      await waitForDocument(url, token, first.document_id, { until: ['processing', 'ready', 'failed'], intervalMs: 20, server });
      const re = await uploadRaw(url, token, bytes, 'slow.pdf', { query: '?reprocess=1' });
      assert.equal(re.status, 202, re.text);
      assert.notEqual(re.json.job_id, first.job_id);
      const doc = await waitReady(url, token, first.document_id, { server });
      assert.equal(doc.job_id, re.json.job_id);
      assert.equal(doc.pages, 40);
      const chunks = await allChunks(url, token, doc.id);
      checkChunks(doc, chunks);
      for (let p = 1; p <= 40; p++) assert.ok(chunks.some((c) => c.text.includes(pageMarker(p))), `page ${p} missing`);
      // The superseded job does not come back to overwrite or duplicate anything.
      await sleep(1000);
      const later = await getDocument(url, token, doc.id);
      assert.equal(later.status, 'ready');
      assert.equal(later.job_id, re.json.job_id);
      assert.equal((await allChunks(url, token, doc.id)).length, chunks.length);
    });
  });

  describe('deleting', () => {
    test('delete removes the document, its chunks and its blob; a second delete is 404', async () => {
      const { token } = await registerAndLogin(url);
      const bytes = uniqueText('to delete');
      const u = await uploadOk(url, token, bytes, 'gone.txt');
      await waitReady(url, token, u.document_id, { server });
      const blob = blobPath(server.dataDir, u.sha256);
      assert.ok(fs.existsSync(blob), 'the blob is stored under its SHA-256');
      assert.deepEqual(fs.readFileSync(blob), bytes);

      const del = await api(url, 'DELETE', `/v1/documents/${u.document_id}`, { token });
      assert.equal(del.status, 204, del.text);
      assert.equal(del.text, '');
      assertError(await api(url, 'GET', `/v1/documents/${u.document_id}`, { token }), 404, 'not_found');
      assertError(await api(url, 'GET', `/v1/documents/${u.document_id}/chunks`, { token }), 404, 'not_found');
      assertError(await api(url, 'DELETE', `/v1/documents/${u.document_id}`, { token }), 404, 'not_found');
      assert.ok(!fs.existsSync(blob), 'the blob file must be removed');
      const list = await api(url, 'GET', '/v1/documents', { token });
      assert.deepEqual(list.json.data, []);
      // The same bytes again are a new document, processed again.
      const back = await uploadOk(url, token, bytes, 'back.txt');
      assert.notEqual(back.document_id, u.document_id);
      await waitReady(url, token, back.document_id, { server });
      assert.ok(fs.existsSync(blob));
    });

    test('deleting a document removes it from its owner\'s conversations only', async () => {
      const a = await registerAndLogin(url);
      const b = await registerAndLogin(url);
      const u = await uploadOk(url, a.token, uniqueText('in conversations'), 'talked-about.txt');
      const keep = await uploadOk(url, a.token, uniqueText('kept'), 'kept.txt');
      const id = u.document_id;
      const conv = async (token, document_ids) => {
        const res = await api(url, 'POST', '/v1/conversations', { token, body: { title: 't', document_ids } });
        assert.equal(res.status, 201, res.text);
        return res.json.id;
      };
      const c1 = await conv(a.token, [id, keep.document_id]);
      const c2 = await conv(a.token, [keep.document_id, id]);
      const c3 = await conv(a.token, [id]);
      // Conversations name only their owner's documents (the store's unit test covers ids that
      // contain another id and other users' lists that held it before that rule).
      const bDoc = await uploadOk(url, b.token, uniqueText('b keeps'), 'b.txt');
      const cb = await conv(b.token, [bDoc.document_id]);
      assertError(await api(url, 'POST', '/v1/conversations', { token: b.token, body: { document_ids: [id] } }), 404, 'not_found');
      assert.equal((await api(url, 'DELETE', `/v1/documents/${id}`, { token: a.token })).status, 204);
      const docsOf = async (token, cid) => (await api(url, 'GET', `/v1/conversations/${cid}`, { token })).json.document_ids;
      assert.deepEqual(await docsOf(a.token, c1), [keep.document_id]);
      assert.deepEqual(await docsOf(a.token, c2), [keep.document_id]);
      assert.deepEqual(await docsOf(a.token, c3), []);
      assert.deepEqual(await docsOf(b.token, cb), [bDoc.document_id], 'another user\'s conversation is not touched');
      await waitForDocument(url, a.token, keep.document_id, { server });
    });

    test('a blob shared by two users stays until the last document using it is deleted', async () => {
      const a = await registerAndLogin(url);
      const b = await registerAndLogin(url);
      const bytes = uniqueText('shared bytes');
      const ua = await uploadOk(url, a.token, bytes, 'a.txt');
      const ub = await uploadOk(url, b.token, bytes, 'b.txt');
      assert.notEqual(ua.document_id, ub.document_id, 'another user\'s upload is never a duplicate');
      assert.equal(ub.deduplicated, false);
      await waitReady(url, a.token, ua.document_id, { server });
      await waitReady(url, b.token, ub.document_id, { server });
      const blob = blobPath(server.dataDir, ua.sha256);
      assert.equal((await api(url, 'DELETE', `/v1/documents/${ua.document_id}`, { token: a.token })).status, 204);
      assert.ok(fs.existsSync(blob), 'b\'s document still uses the blob');
      const chunks = await allChunks(url, b.token, ub.document_id);
      assert.ok(chunks.length > 0);
      // b can reprocess from the kept blob.
      const re = await uploadRaw(url, b.token, bytes, 'b.txt', { query: '?reprocess=true' });
      assert.equal(re.status, 202, re.text);
      await waitReady(url, b.token, ub.document_id, { server });
      assert.equal((await api(url, 'DELETE', `/v1/documents/${ub.document_id}`, { token: b.token })).status, 204);
      assert.ok(!fs.existsSync(blob), 'the last user of the blob is gone');
    });
  });

  describe('users and listing', () => {
    test('another user\'s document is 404 on every route and their list stays empty', async () => {
      const a = await registerAndLogin(url);
      const b = await registerAndLogin(url);
      const u = await uploadOk(url, a.token, uniqueText('private'), 'private.txt');
      await waitReady(url, a.token, u.document_id, { server });
      const id = u.document_id;
      assertError(await api(url, 'GET', `/v1/documents/${id}`, { token: b.token }), 404, 'not_found');
      assertError(await api(url, 'GET', `/v1/documents/${id}/chunks`, { token: b.token }), 404, 'not_found');
      assertError(await api(url, 'DELETE', `/v1/documents/${id}`, { token: b.token }), 404, 'not_found');
      for (const q of ['', '?status=ready', '?limit=1000']) {
        const list = await api(url, 'GET', `/v1/documents${q}`, { token: b.token });
        assert.deepEqual(list.json, { data: [], next_cursor: null });
      }
      // Still there for its owner, untouched.
      const doc = await getDocument(url, a.token, id);
      assert.equal(doc.status, 'ready');
      assert.ok((await allChunks(url, a.token, id)).length > 0);
      // Unknown ids are 404 too, the same answer.
      assertError(await api(url, 'GET', '/v1/documents/doc_nonexistent', { token: a.token }), 404, 'not_found');
      // No token: 401 everywhere.
      for (const [method, p] of [
        ['GET', '/v1/documents'],
        ['POST', '/v1/documents'],
        ['GET', `/v1/documents/${id}`],
        ['GET', `/v1/documents/${id}/chunks`],
        ['DELETE', `/v1/documents/${id}`],
      ]) {
        assertError(await api(url, method, p), 401, 'unauthorized');
      }
      assert.equal((await getDocument(url, a.token, id)).status, 'ready');
    });

    test('listing: newest first, pages with cursors, ?status filter', async () => {
      const { token } = await registerAndLogin(url);
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push((await uploadOk(url, token, uniqueText(`list${i}`), `list${i}.txt`)).document_id);
      const bad = await uploadOk(url, token, Buffer.from('\n \n\t\n'), 'blank.txt');
      ids.push(bad.document_id);
      for (const id of ids) await waitForDocument(url, token, id, { server });
      const newestFirst = [...ids].reverse();

      const all = await api(url, 'GET', '/v1/documents', { token });
      assert.deepEqual(all.json.data.map((d) => d.id), newestFirst);
      assert.equal(all.json.next_cursor, null);
      all.json.data.forEach(assertDocumentShape);

      const seen = [];
      let cursor = null;
      let pages = 0;
      do {
        const res = await api(url, 'GET', `/v1/documents?limit=4${cursor ? `&cursor=${cursor}` : ''}`, { token });
        assert.equal(res.status, 200, res.text);
        seen.push(...res.json.data.map((d) => d.id));
        cursor = res.json.next_cursor;
        pages++;
      } while (cursor && pages < 10);
      assert.equal(pages, 2);
      assert.deepEqual(seen, newestFirst);

      const ready = await api(url, 'GET', '/v1/documents?status=ready', { token });
      assert.deepEqual(ready.json.data.map((d) => d.id), newestFirst.filter((id) => id !== bad.document_id));
      const failed = await api(url, 'GET', '/v1/documents?status=failed', { token });
      assert.deepEqual(failed.json.data.map((d) => d.id), [bad.document_id]);
      for (const s of ['queued', 'processing']) {
        const none = await api(url, 'GET', `/v1/documents?status=${s}`, { token });
        assert.deepEqual(none.json, { data: [], next_cursor: null });
      }
      const page1 = await api(url, 'GET', '/v1/documents?status=ready&limit=3', { token });
      assert.equal(page1.json.data.length, 3);
      const page2 = await api(url, 'GET', `/v1/documents?status=ready&limit=3&cursor=${page1.json.next_cursor}`, { token });
      assert.deepEqual([...page1.json.data, ...page2.json.data].map((d) => d.id), ready.json.data.map((d) => d.id));
      assert.equal(page2.json.next_cursor, null);

      for (const q of ['?status=done', '?status=', '?limit=0', '?limit=1001', '?cursor=%25%25']) {
        assertError(await api(url, 'GET', `/v1/documents${q}`, { token }), 400, 'invalid_request');
      }
    });

    test('chunk pages of any size add up to the same chunks', async () => {
      const { token } = await registerAndLogin(url);
      const u = await uploadOk(url, token, fs.readFileSync(path.join(NTSB, '20080102X00002.pdf')), 'ntsb.pdf');
      const doc = await waitReady(url, token, u.document_id, { server });
      const whole = await allChunks(url, token, doc.id);
      checkChunks(doc, whole);
      for (const limit of [1, 3, 7]) assert.deepEqual(await allChunks(url, token, doc.id, { limit }), whole, `limit=${limit}`);
      const first = await api(url, 'GET', `/v1/documents/${doc.id}/chunks`, { token });
      assert.equal(first.json.data.length, Math.min(50, whole.length), 'the default page is 50 chunks');
      for (const q of ['?limit=0', '?limit=1001', '?cursor=nonsense!']) {
        assertError(await api(url, 'GET', `/v1/documents/${doc.id}/chunks${q}`, { token }), 400, 'invalid_request');
      }
    });
  });

  describe('a 1,000-page document', () => {
    test('the generator writes a valid PDF (pdfinfo, pdftotext agree)', () => {
      const dir = tempDir();
      try {
        const bytes = markerPdf(1000, { formOps: 3 });
        const objects = checkXref(bytes);
        assert.equal(objects, 2 * 1000 + 6);
        const file = path.join(dir, 'm.pdf');
        fs.writeFileSync(file, bytes);
        assert.equal(pdfinfoPages(file), 1000);
        const p417 = execFileSync('pdftotext', ['-f', '417', '-l', '417', file, '-']).toString();
        assert.ok(p417.startsWith(`Page 417 begins with the marker ${pageMarker(417)}`), p417.slice(0, 80));
        assert.equal(new Set(Array.from({ length: 1000 }, (_, i) => pageMarker(i + 1))).size, 1000);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test('becomes ready with 1,000 pages, progress observable, and every page\'s marker in a chunk of that page', async () => {
      const { token } = await registerAndLogin(url);
      const bytes = await slowMarkerPdf(1000, 3);
      assert.ok(bytes.length < MAX_UPLOAD, `${bytes.length} bytes`);
      const u = await uploadOk(url, token, bytes, 'thousand.pdf');

      // Poll while it is processed.
      const samples = [];
      const deadline = Date.now() + 120000;
      let doc;
      for (;;) {
        doc = await getDocument(url, token, u.document_id);
        samples.push(doc);
        if (doc.status === 'ready' || doc.status === 'failed') break;
        assert.ok(Date.now() < deadline, `not done: ${JSON.stringify(doc)}`);
        await sleep(20);
      }
      assert.equal(doc.status, 'ready', JSON.stringify(doc));
      assertDocumentShape(doc);
      const extracting = samples.filter((s) => s.status === 'processing' && s.stage === 'extracting' && s.pages === 1000);
      const pagesSeen = [...new Set(extracting.map((s) => s.page))].filter((p) => p > 0 && p < 1000);
      assert.ok(pagesSeen.length >= 2, `progress was not observable: pages seen while extracting ${JSON.stringify(pagesSeen)} in ${samples.length} samples`);
      for (const s of samples) assertDocumentShape(s);
      for (let i = 1; i < samples.length; i++) {
        assert.ok(samples[i].progress >= samples[i - 1].progress, `progress went back: ${samples[i - 1].progress} -> ${samples[i].progress}`);
        if (samples[i].stage === 'extracting' && samples[i - 1].stage === 'extracting') {
          assert.ok(samples[i].page >= samples[i - 1].page, 'page went back');
        }
      }
      assert.ok(extracting.every((s) => s.progress > 0 && s.progress < 100));
      assert.ok(samples.some((s) => s.status === 'processing'), 'never seen processing');

      assert.equal(doc.pages, 1000);
      assert.equal(doc.page, 1000);
      assert.equal(doc.attempts, 1);
      const chunks = await allChunks(url, token, doc.id);
      checkChunks(doc, chunks);
      assert.equal(chunks.at(-1).page_end, 1000);
      // Every page's marker is in a chunk that names that page, and in no chunk that does not.
      const where = new Map();
      for (const c of chunks) {
        for (const m of c.text.matchAll(/pgmk[a-z]{4}/g)) {
          if (!where.has(m[0])) where.set(m[0], []);
          where.get(m[0]).push(c);
        }
      }
      for (let p = 1; p <= 1000; p++) {
        const hits = where.get(pageMarker(p)) ?? [];
        assert.ok(hits.length > 0, `the marker of page ${p} is in no chunk`);
        for (const c of hits) assert.ok(c.page_start <= p && p <= c.page_end, `page ${p}'s marker is in chunk ${c.ordinal} of pages ${c.page_start}-${c.page_end}`);
      }
      assert.equal(where.size, 1000, 'unexpected markers');
      // Worker events reach /metrics through the supervisor's pipe after the document row says
      // ready (metrics lag readiness, by design: see docs/architecture.md), so wait for them.
      await eventually(async () => metricValue(await metrics(), 'betterdev_ingest_pages_total', {}) >= 1000, {
        timeoutMs: 10000,
        what: 'the 1,000 pages to be counted in /metrics',
      });
    });
  });

  describe('observability', () => {
    test('metrics move with uploads, successes and failures', async () => {
      const { token } = await registerAndLogin(url);
      const v = (m, name, labels = {}) => metricValue(m, name, labels) ?? 0;
      // Start from an idle queue so that only this test's jobs move the numbers.
      const m0 = await eventually(
        async () => {
          const m = await metrics();
          return ['waiting', 'active', 'delayed'].every((state) => v(m, 'betterdev_queue_jobs', { state }) === 0) ? m : null;
        },
        { timeoutMs: 30000, intervalMs: 100, what: 'an idle queue' },
      );
      const good = uniqueText('metrics');
      const okDoc = await uploadOk(url, token, good, 'm.txt');
      const badBytes = fs.readFileSync(PDF_ENCRYPTED);
      const badDoc = await uploadOk(url, token, badBytes, 'm.pdf');
      await waitReady(url, token, okDoc.document_id, { server });
      await waitForDocument(url, token, badDoc.document_id, { server });
      const m1 = await eventually(
        async () => {
          const m = await metrics();
          return v(m, 'betterdev_ingest_documents_total', { status: 'ready' }) >= v(m0, 'betterdev_ingest_documents_total', { status: 'ready' }) + 1 &&
            v(m, 'betterdev_ingest_documents_total', { status: 'failed' }) >= v(m0, 'betterdev_ingest_documents_total', { status: 'failed' }) + 1
            ? m
            : null;
        },
        { timeoutMs: 5000, what: 'ingest metrics to count the two documents' },
      );
      const d = (name, labels) => v(m1, name, labels) - v(m0, name, labels);
      assert.equal(d('betterdev_ingest_documents_total', { status: 'ready' }), 1);
      assert.equal(d('betterdev_ingest_documents_total', { status: 'failed' }), 1);
      assert.equal(d('betterdev_ingest_attempts_total', { result: 'ready' }), 1);
      assert.equal(d('betterdev_ingest_attempts_total', { result: 'failed' }), 1);
      assert.equal(d('betterdev_upload_bytes_total', {}), good.length + badBytes.length);
      assert.equal(d('betterdev_ingest_bytes_total', {}), good.length);
      assert.equal(d('betterdev_ingest_pages_total', {}), 1);
      assert.equal(d('betterdev_ingest_stage_seconds_count', { stage: 'extracting' }), 1);
      assert.ok(d('betterdev_ingest_stage_seconds_sum', { stage: 'extracting' }) > 0);
      assert.equal(d('betterdev_queue_jobs', { state: 'completed' }), 1);
      assert.equal(d('betterdev_queue_jobs', { state: 'failed' }), 1);
      for (const state of ['waiting', 'active', 'delayed']) assert.equal(v(m1, 'betterdev_queue_jobs', { state }), 0, `queue ${state}`);
      assert.equal(v(m1, 'betterdev_workers', {}), 2);
      assert.equal(v(m1, 'betterdev_worker_restarts', {}), 0);
      const routes = m1.filter((s) => s.name === 'betterdev_http_requests_total' && s.labels.route?.startsWith('/v1/documents'));
      assert.ok(routes.some((s) => s.labels.route === '/v1/documents' && s.labels.method === 'POST' && s.labels.status === '202'));
      assert.ok(routes.some((s) => s.labels.route === '/v1/documents/{id}' && s.labels.method === 'GET'));
    });

    test('OpenAPI documents the document routes and their shapes', async () => {
      const res = await api(url, 'GET', '/openapi.json');
      assert.equal(res.status, 200);
      const doc = res.json;
      const p = doc.paths;
      assert.deepEqual(Object.keys(p['/v1/documents']).sort(), ['get', 'post']);
      assert.deepEqual(Object.keys(p['/v1/documents/{id}']).sort(), ['delete', 'get']);
      assert.deepEqual(Object.keys(p['/v1/documents/{id}/chunks']), ['get']);
      const post = p['/v1/documents'].post;
      assert.deepEqual(Object.keys(post.requestBody.content).sort(), ['application/octet-stream', 'multipart/form-data']);
      for (const code of ['202', '400', '401', '413', '415']) assert.ok(post.responses[code], `POST /v1/documents lacks ${code}`);
      // One file: the upload object; several files: {"data": [...]} of them.
      const uploadRef = { $ref: '#/components/schemas/DocumentUpload' };
      const uploadAnswer = {
        oneOf: [uploadRef, { type: 'object', required: ['data'], properties: { data: { type: 'array', items: uploadRef } } }],
      };
      assert.deepEqual(post.responses['202'].content['application/json'].schema, uploadAnswer);
      // The deduplicated answer (200) has the same body as 202, not an error.
      assert.ok(post.responses['200'], 'POST /v1/documents lacks 200 (deduplicated)');
      assert.deepEqual(
        post.responses['200'].content?.['application/json']?.schema,
        uploadAnswer,
        `the 200 answer of POST /v1/documents is documented as ${JSON.stringify(post.responses['200'])}`,
      );
      assert.ok(post.parameters.some((x) => x.name === 'reprocess' && x.in === 'query'));
      assert.ok(p['/v1/documents'].get.parameters.some((x) => x.name === 'status'));
      for (const m of ['get', 'delete']) assert.ok(p['/v1/documents/{id}'][m].responses['404']);
      const schemas = doc.components.schemas;
      assert.deepEqual([...schemas.Document.required].sort(), DOCUMENT_KEYS);
      assert.deepEqual([...schemas.DocumentUpload.required].sort(), UPLOAD_KEYS);
      assert.deepEqual([...schemas.Chunk.required].sort(), CHUNK_KEYS);
      assert.deepEqual(schemas.DocumentStatus.enum, ['queued', 'processing', 'ready', 'failed']);
    });
  });

  describe('betterdev ingest', () => {
    const ingest = (args, token, timeoutMs = 90000) =>
      runBinary(['ingest', ...args, '--server', url], { env: { BETTERDEV_TOKEN: token }, timeoutMs });

    test('a folder of two good files: exit 0, "2 ready, 0 failed", documents listed', async () => {
      const { token } = await registerAndLogin(url);
      const dir = tempDir();
      try {
        fs.copyFileSync(PDF_004, path.join(dir, 'four pages.pdf'));
        fs.mkdirSync(path.join(dir, 'sub'));
        fs.writeFileSync(path.join(dir, 'sub', 'notes.txt'), uniqueText('cli'));
        const r = await ingest([dir], token);
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout, /^2 ready, 0 failed$/m);
        assert.ok(r.stderr.includes('four pages.pdf'), `no progress on stderr: ${r.stderr}`);
        const list = await api(url, 'GET', '/v1/documents', { token });
        assert.deepEqual(list.json.data.map((d) => d.filename).sort(), ['four pages.pdf', 'notes.txt']);
        assert.ok(list.json.data.every((d) => d.status === 'ready'));
        // Again: both are duplicates, still ready; nothing new.
        const again = await ingest([dir], token);
        assert.equal(again.code, 0, again.stdout + again.stderr);
        assert.match(again.stdout, /^2 ready, 0 failed$/m);
        assert.equal((await api(url, 'GET', '/v1/documents', { token })).json.data.length, 2);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test('a folder with bad files: exit 1, counts and reasons', async () => {
      const { token } = await registerAndLogin(url);
      const dir = tempDir();
      try {
        fs.writeFileSync(path.join(dir, 'a.txt'), uniqueText('cli good a'));
        fs.writeFileSync(path.join(dir, 'b.md'), `# ${randomBytes(4).toString('hex')}\n\ncli good b\n`);
        fs.copyFileSync(PDF_ENCRYPTED, path.join(dir, 'c-locked.pdf'));
        fs.writeFileSync(path.join(dir, 'd-noise.pdf'), noise(3000, 'd-noise'));
        const r = await ingest([dir], token);
        assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout, /^2 ready, 2 failed$/m);
        assert.match(r.stdout, /c-locked\.pdf: .*encrypted/);
        assert.match(r.stdout, /d-noise\.pdf: .*415/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test('bad invocations exit 2 with a message', async () => {
      const { token } = await registerAndLogin(url);
      const missing = await ingest(['/nonexistent/betterdev-e2e'], token, 15000);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /no such file or folder/);
      const noToken = await runBinary(['ingest', PDF_004, '--server', url], { timeoutMs: 15000 });
      assert.equal(noToken.code, 2);
      assert.match(noToken.stderr, /token/);
      const badUrl = await runBinary(['ingest', PDF_004, '--server', 'ftp://x', '--token', token], { timeoutMs: 15000 });
      assert.equal(badUrl.code, 2);
    });

    test('a wrong token: exit 1 naming the refusal (the server was reached)', async () => {
      // The server refuses the upload before reading its body (1 MB here); the client must
      // still report the 401, not a network failure. Repeated: the outcome must not be luck.
      const dir = tempDir();
      try {
        const file = path.join(dir, 'refused.txt');
        fs.writeFileSync(file, Buffer.alloc(1_000_000, 'text that is never read\n'));
        for (let i = 0; i < 15; i++) {
          const wrong = await runBinary(['ingest', file, '--server', url, '--token', 'bd_at_wrong'], { timeoutMs: 15000 });
          const out = wrong.stdout + wrong.stderr;
          assert.equal(wrong.code, 1, out);
          assert.doesNotMatch(out, /cannot reach/, `run ${i}: a 401 reported as a network failure:\n${out}`);
          assert.match(out, /401|token/, out);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test('a file over --max-upload-bytes fails alone; the other files are still ingested', async () => {
      const { token } = await registerAndLogin(url);
      const dir = tempDir();
      try {
        fs.writeFileSync(path.join(dir, 'a-too-big.txt'), Buffer.alloc(MAX_UPLOAD + 100_000, 'far too much text\n'));
        fs.writeFileSync(path.join(dir, 'b-fine.txt'), uniqueText('cli fine'));
        const r = await ingest([dir], token);
        const out = r.stdout + r.stderr;
        assert.equal(r.code, 1, out);
        assert.doesNotMatch(out, /cannot reach/, `an over-limit file aborted the whole run:\n${out}`);
        assert.match(r.stdout, /^1 ready, 1 failed$/m, out);
        assert.match(r.stdout, /a-too-big\.txt: .*413/, out);
        const list = await api(url, 'GET', '/v1/documents', { token });
        assert.deepEqual(list.json.data.map((d) => [d.filename, d.status]), [['b-fine.txt', 'ready']]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
