// Helpers for the ingestion tests: uploads, waiting for documents, reading all chunks and
// checking their invariants, the test data folder, process discovery through /proc, and a
// calibration of how fast the binary reads PDFs (to build documents that take a known time).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { api, runBinary, sleep, tempDir } from './helpers.mjs';
import { markerPdf } from './pdfgen.mjs';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DATA = path.resolve(repoRoot, '../shared/data');

// `size` bytes of noise from a fixed seed: fresh random bytes now and then match one of
// libmagic's signatures (audio/x-mp4a-latm was seen), which makes "415 names the type" flaky.
export function noise(size, seed = 'noise') {
  const blocks = [];
  for (let i = 0; blocks.length * 32 < size; i++) blocks.push(createHash('sha256').update(`${seed} ${i}`).digest());
  return Buffer.concat(blocks).subarray(0, size);
}
export const SAMPLES = path.join(DATA, 'pdf/py-pdf-sample-files');
export const NTSB = path.join(DATA, 'pdf/ntsb-reports/data/v1/docs');
export const OFFICE = path.join(DATA, 'office/unstructured-example-docs');

export const PDF_004 = path.join(SAMPLES, '004-pdflatex-4-pages/pdflatex-4-pages.pdf');
export const PDF_ENCRYPTED = path.join(SAMPLES, '005-libreoffice-writer-password/libreoffice-writer-password.pdf');
export const PDF_026 = path.join(SAMPLES, '026-latex-multicolumn/multicolumn.pdf');
export const TEX_026 = path.join(SAMPLES, '026-latex-multicolumn/multicolumn.tex');

export const DOCUMENT_KEYS = [
  'attempts',
  'chunk_count',
  'content_type',
  'created_at',
  'embedding_cost_usd',
  'embedding_tokens',
  'error',
  'filename',
  'finished_at',
  'id',
  'job_id',
  'note',
  'page',
  'pages',
  'progress',
  'sha256',
  'size_bytes',
  'stage',
  'status',
  'text_chars',
  'updated_at',
];
export const UPLOAD_KEYS = ['content_type', 'deduplicated', 'document_id', 'filename', 'job_id', 'sha256', 'size_bytes', 'status'];
export const CHUNK_KEYS = ['char_end', 'char_start', 'context', 'document_id', 'id', 'ordinal', 'page_end', 'page_start', 'section', 'text'];

// POST /v1/documents with the raw bytes. `filename` goes percent-encoded into X-Filename.
export function uploadRaw(url, token, bytes, filename, { query = '', headers = {} } = {}) {
  const h = { 'Content-Type': 'application/octet-stream', ...headers };
  if (filename !== undefined) h['X-Filename'] = encodeURIComponent(filename);
  return api(url, 'POST', `/v1/documents${query}`, { token, rawBody: bytes, headers: h });
}

// POST /v1/documents as multipart/form-data: files = [{name, bytes, field?, type?}], fields = {k: v}.
export function uploadMultipart(url, token, files, { query = '', fields = {} } = {}) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  for (const f of files) {
    form.append(f.field ?? 'file', new Blob([f.bytes], { type: f.type ?? 'application/octet-stream' }), f.name);
  }
  return api(url, 'POST', `/v1/documents${query}`, { token, rawBody: form });
}

// Uploads and checks the 202 answer; returns its JSON.
export async function uploadOk(url, token, bytes, filename, opts) {
  const res = await uploadRaw(url, token, bytes, filename, opts);
  assert.equal(res.status, 202, `upload of ${filename}: ${res.text}`);
  return res.json;
}

export async function getDocument(url, token, id) {
  const res = await api(url, 'GET', `/v1/documents/${id}`, { token });
  assert.equal(res.status, 200, `GET document ${id}: ${res.text}`);
  return res.json;
}

// Polls the document until its status is one of `until`; returns it. Fails with the last
// state seen (and the server's recent output) on timeout.
export async function waitForDocument(url, token, id, { until = ['ready', 'failed'], timeoutMs = 60000, intervalMs = 50, server } = {}) {
  const deadline = Date.now() + timeoutMs;
  let doc;
  for (;;) {
    doc = await getDocument(url, token, id);
    if (until.includes(doc.status)) return doc;
    if (Date.now() > deadline) {
      const tail = server ? `\n--- server output (tail) ---\n${server.logs().slice(-4000)}` : '';
      throw new Error(`document ${id} not ${until.join('/')} after ${timeoutMs} ms: ${JSON.stringify(doc)}${tail}`);
    }
    await sleep(intervalMs);
  }
}

export async function waitReady(url, token, id, opts = {}) {
  const doc = await waitForDocument(url, token, id, opts);
  assert.equal(doc.status, 'ready', `document did not become ready: ${JSON.stringify(doc)}`);
  return doc;
}

// Every chunk of a document, following next_cursor.
export async function allChunks(url, token, id, { limit = 1000 } = {}) {
  const chunks = [];
  let cursor = null;
  for (let i = 0; i < 10000; i++) {
    const q = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await api(url, 'GET', `/v1/documents/${id}/chunks${q}`, { token });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.json).sort(), ['data', 'next_cursor']);
    chunks.push(...res.json.data);
    cursor = res.json.next_cursor;
    if (!cursor) return chunks;
    assert.equal(res.json.data.length, limit, 'a page before the last must be full');
  }
  throw new Error('too many chunk pages');
}

const codePoints = (s) => [...s];

// The invariants of one complete set of chunks of a ready document: one chunk per ordinal
// 0..n-1 in order, ids "<doc>_<ordinal>", page ranges inside 1..pages and not going backwards,
// offsets matching the text's length in code points, overlaps that repeat the same text.
// Returns the document's text rebuilt from the chunks (as code points joined).
export function checkChunks(doc, chunks) {
  assert.equal(chunks.length, doc.chunk_count, 'chunk_count differs from the chunks listed');
  assert.ok(chunks.length > 0, 'a ready document has chunks');
  const rebuilt = [];
  let prev = null;
  chunks.forEach((c, i) => {
    assert.deepEqual(Object.keys(c).sort(), CHUNK_KEYS);
    assert.equal(c.ordinal, i, `ordinals must be 0..n-1 in order (got ${chunks.map((x) => x.ordinal).slice(0, 50)})`);
    assert.equal(c.document_id, doc.id);
    assert.equal(c.id, `${doc.id}_${i}`);
    assert.ok(Number.isInteger(c.page_start) && Number.isInteger(c.page_end), JSON.stringify(c));
    assert.ok(c.page_start >= 1 && c.page_start <= c.page_end && c.page_end <= doc.pages, `bad page range ${c.page_start}-${c.page_end} of ${doc.pages}`);
    const cp = codePoints(c.text);
    assert.ok(cp.length > 0, `chunk ${i} is empty`);
    assert.equal(c.char_end - c.char_start, cp.length, `chunk ${i}: offsets ${c.char_start}-${c.char_end} but ${cp.length} characters`);
    if (prev) {
      assert.ok(c.page_start >= prev.page_start && c.page_end >= prev.page_end, `chunk ${i} pages go backwards`);
      assert.ok(c.char_start > prev.char_start, `chunk ${i} does not start after chunk ${i - 1}`);
      assert.ok(c.char_start <= rebuilt.length, `gap before chunk ${i}: starts at ${c.char_start}, text so far ${rebuilt.length}`);
      const overlap = rebuilt.length - c.char_start;
      if (overlap > 0) {
        assert.equal(
          cp.slice(0, overlap).join(''),
          rebuilt.slice(c.char_start).join(''),
          `chunk ${i} overlap differs from the end of chunk ${i - 1}`,
        );
      }
      rebuilt.length = c.char_start;
    } else {
      while (rebuilt.length < c.char_start) rebuilt.push(' ');
    }
    for (const ch of cp) rebuilt.push(ch);
    prev = c;
  });
  assert.ok(rebuilt.length <= doc.text_chars, `chunks reach character ${rebuilt.length} of ${doc.text_chars}`);
  return rebuilt.join('');
}

export const squash = (s) => s.replace(/\s+/g, ' ').trim();

// Text per page as pdftotext (poppler-utils) reads it, whitespace squashed; index 1..pages.
export function pdftotextPages(file, pages) {
  const out = [];
  for (let p = 1; p <= pages; p++) out[p] = squash(execFileSync('pdftotext', ['-f', `${p}`, '-l', `${p}`, file, '-']).toString());
  return out;
}

export function pdfinfoPages(file) {
  const m = /^Pages:\s+(\d+)$/m.exec(execFileSync('pdfinfo', [file]).toString());
  assert.ok(m, `pdfinfo gave no page count for ${file}`);
  return Number(m[1]);
}

// Path of a committed blob in a data directory.
export function blobPath(dataDir, sha) {
  return path.join(dataDir, 'blobs', sha.slice(0, 2), sha.slice(2, 4), sha);
}

export function stagedFiles(dataDir) {
  try {
    return fs.readdirSync(path.join(dataDir, 'blobs', 'tmp'));
  } catch (e) {
    if (e.code === 'ENOENT') return [];
    throw e;
  }
}

// All committed blob files under a data directory (their names).
export function blobFiles(dataDir) {
  const root = path.join(dataDir, 'blobs');
  const out = [];
  const walk = (dir, depth) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (depth === 0 && e.name === 'tmp') continue;
      if (e.isDirectory()) walk(path.join(dir, e.name), depth + 1);
      else out.push(e.name);
    }
  };
  if (fs.existsSync(root)) walk(root, 0);
  return out.sort();
}

// ---- processes ----

// {pid, ppid, state} of every process, from /proc/*/stat.
export function processTable() {
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.push({ pid: Number(name), state: rest[0], ppid: Number(rest[1]) });
  }
  return out;
}

export function childrenOf(pid) {
  return processTable()
    .filter((p) => p.ppid === pid && p.state !== 'Z')
    .map((p) => p.pid);
}

export function isRunning(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

// The current pid of each worker slot, from the server's "worker started" log lines.
export function workerPids(server) {
  const bySlot = new Map();
  for (const l of server.logLines()) if (l.msg === 'worker started') bySlot.set(l.worker, l.pid);
  return bySlot;
}

// The job process running under one of the server's workers: {worker, child}, or null. A
// worker's only child is its job server (`betterdev job-server`), whose children are the job
// processes (forked from it, so they share its command line).
export function findExtractor(server) {
  for (const pid of workerPids(server).values()) {
    for (const jobServer of childrenOf(pid)) {
      for (const child of childrenOf(jobServer)) return { worker: pid, child };
    }
  }
  return null;
}

// ---- documents that take a known time to read ----

let calibration = null;

// Seconds the binary needs per form operator per page (see pdfgen makePdf formOps), measured
// once per test process by timing `betterdev extract` on two generated documents. ASan builds
// read several times slower than release builds; tests size their slow documents with this.
export async function secondsPerOp() {
  if (calibration) return calibration;
  const dir = tempDir();
  try {
    const measure = async (formOps) => {
      const file = path.join(dir, `cal-${formOps}.pdf`);
      fs.writeFileSync(file, markerPdf(40, { fillerLines: 1, formOps }));
      const start = process.hrtime.bigint();
      const r = await runBinary(['extract', file], { timeoutMs: 60000 });
      assert.equal(r.code, 0, r.stderr);
      return Number(process.hrtime.bigint() - start) / 1e9;
    };
    const base = await measure(0);
    const ops = 5000;
    const busy = await measure(ops);
    calibration = Math.max((busy - base) / (40 * ops), 1e-8);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return calibration;
}

// A `pages`-page marker document whose pages take about `seconds` in total to read.
// Kept under 1 MiB for 1,000 pages (fillerLines 4: about 0.8 MB).
export async function slowMarkerPdf(pages, seconds, { fillerLines = 4 } = {}) {
  const perOp = await secondsPerOp();
  const formOps = Math.max(1, Math.round(seconds / perOp / pages));
  return markerPdf(pages, { formOps, fillerLines });
}
