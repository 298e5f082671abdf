// Extraction breadth through the whole pipeline (upload -> worker -> job process -> chunks):
// scanned PDFs read by OCR, images, HTML, RTF, legacy encodings, and the hostile set, uploaded
// by one user while another user's document goes through untouched.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, test } from 'node:test';

import { api, assertError, eventually, registerAndLogin, sharedServer, tempDir } from './helpers.mjs';
import { docxBomb, makeZip, pngBomb, scannedPdf } from './filegen.mjs';
import { allChunks, DATA, noise, OFFICE, PDF_004, uploadOk, uploadRaw, waitForDocument, waitReady } from './ingest_helpers.mjs';
import { makePdf } from './pdfgen.mjs';

const SCANS = path.join(DATA, 'ocr/tesseract-test');
const IMAGES = path.join(DATA, 'ocr/images');

const words = (s) => s.toLowerCase().match(/[a-z0-9]+/g) ?? [];
const textOf = (chunks) => chunks.map((c) => c.text).join('\n');

// Lines of at most `width` characters from prose.
function wrap(text, width = 70) {
  const lines = [];
  let line = '';
  for (const w of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else {
      line = line ? `${line} ${w}` : w;
    }
  }
  if (line) lines.push(line);
  return lines;
}

describe('extraction', () => {
  const shared = sharedServer({ args: ['--workers', '2', '--poll-ms', '50', '--job-backoff-ms', '100'] });
  let server;
  let url;
  beforeEach(() => {
    server = shared.server;
    url = server.url;
  });

  test('workers run with OMP_THREAD_LIMIT=1 (OCR single-threaded) though the server was started without it', async () => {
    assert.equal(process.env.OMP_THREAD_LIMIT, undefined, 'the test environment must not set it');
    const pid = server.proc.pid;
    const workers = () =>
      fs.readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
        try {
          return fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
        } catch {
          return []; // the thread ended meanwhile
        }
      });
    // A worker starts without the variable (as a standalone `betterdev worker` would) and restarts
    // itself with it, keeping its pid.
    const limited = (child) => {
      try {
        return fs.readFileSync(`/proc/${child}/environ`, 'latin1').split('\0').includes('OMP_THREAD_LIMIT=1');
      } catch {
        return false;
      }
    };
    await eventually(() => workers().length === 2 && workers().every(limited), {
      timeoutMs: 10000,
      what: 'two workers running with OMP_THREAD_LIMIT=1',
    });
  });

  test('a scanned PDF (text pages rendered to image-only pages) comes back with >= 95% of its words', async () => {
    const { token } = await registerAndLogin(url);
    const prose = fs.readFileSync(path.join(OFFICE, 'book-war-and-peace-1p.txt'), 'latin1');
    const lines = wrap(prose);
    const pages = [lines.slice(0, 40), lines.slice(40, 80)];
    const typed = makePdf(pages, { fontSize: 12, leading: 16 });
    const scan = scannedPdf(typed, tempDir());
    const up = await uploadOk(url, token, scan, 'scan.pdf');
    assert.equal(up.content_type, 'application/pdf');
    // OCR of two pages on one thread: about a minute under ASan, over two on a machine busy
    // with other work (once 120 s were not enough); the worker's own limit is 600 s.
    const doc = await waitReady(url, token, up.document_id, { server, timeoutMs: 300000 });
    assert.equal(doc.pages, 2);
    const chunks = await allChunks(url, token, doc.id);
    for (let p = 1; p <= 2; p++) {
      const expected = words(pages[p - 1].join(' '));
      const found = new Set(words(textOf(chunks.filter((c) => c.page_start <= p && c.page_end >= p))));
      const hits = expected.filter((w) => found.has(w)).length;
      assert.ok(hits / expected.length >= 0.95, `page ${p}: ${hits} of ${expected.length} words`);
    }
    assert.equal(doc.note, null, 'a clean scan reads with high confidence');

    // The same scan mirrored: OCR reads gibberish, and the document says so rather than
    // passing it off as text.
    const mirrored = scannedPdf(makePdf([pages[0]], { fontSize: 12, leading: 16 }), tempDir(), { mirrored: true });
    const up2 = await uploadOk(url, token, mirrored, 'mirrored.pdf');
    const doc2 = await waitReady(url, token, up2.document_id, { server, timeoutMs: 300000 });
    assert.match(doc2.note ?? '', /^OCR read 1 page with low confidence \(\d+ of 100\): the text may be wrong\. .*eng/, JSON.stringify(doc2));
  });

  test('images, HTML, RTF and legacy-encoded text become ready with their text', async () => {
    const { token } = await registerAndLogin(url);
    const cp1252 = Buffer.from('Le caf\xe9 co\xfbtait 3,50 \x80 et l\'\xe9t\xe9 fut long. Die sch\xf6ne Frau a\xdf Kuchen.\n', 'latin1');
    const cases = [
      [fs.readFileSync(path.join(SCANS, 'phototest.tif')), 'phototest.tif', 'image/tiff', 'The quick brown dog jumped over the'],
      [fs.readFileSync(path.join(SCANS, 'phototest-rotated-R.png')), 'turned.png', 'image/png', 'The quick brown dog jumped over the'],
      [fs.readFileSync(path.join(IMAGES, 'double-column-A.jpg')), 'columns.jpg', 'image/jpeg', 'CIVIL SERVICE RULES'],
      [fs.readFileSync(path.join(OFFICE, 'fake-html-cp1252.html')), 'page.html', 'text/html', 'Der Preis betrug 15,50 \u20ac.'],
      [fs.readFileSync(path.join(OFFICE, 'example-steelJIS-datasheet-utf-16.html')), 'steel.html', 'text/html', 'SNB22-3'],
      [fs.readFileSync(path.join(OFFICE, 'fake-doc.rtf')), 'doc.rtf', 'text/rtf', 'Row 1, Cell 1 | Row 1, Cell 2'],
      [cp1252, 'ansi.txt', 'text/plain', 'Le caf\u00e9 co\u00fbtait 3,50 \u20ac'],
      // Damaged on purpose (a slide part with broken references): what can be read is read.
      [fs.readFileSync(path.join(OFFICE, 'fake-power-point-malformed.pptx')), 'malformed.pptx',
        'application/vnd.openxmlformats-officedocument.presentationml.presentation', 'Test Slide'],
    ];
    const uploads = [];
    for (const [bytes, name, type] of cases) {
      const up = await uploadOk(url, token, bytes, name);
      assert.equal(up.content_type, type, name);
      uploads.push(up);
    }
    for (let i = 0; i < cases.length; i++) {
      const [, name, , phrase] = cases[i];
      const doc = await waitReady(url, token, uploads[i].document_id, { server, timeoutMs: 120000 });
      assert.ok(doc.pages >= 1, name);
      const text = textOf(await allChunks(url, token, doc.id));
      assert.ok(text.includes(phrase), `${name} lacks "${phrase}": ${text.slice(0, 300)}`);
    }
  });

  test('a sheet split across chunks: rows stay whole and later chunks carry the header row as context', async () => {
    const { token } = await registerAndLogin(url);
    const up = await uploadOk(url, token, fs.readFileSync(path.join(OFFICE, '2023-half-year-analyses-by-segment.xlsx')), 'segments.xlsx');
    const doc = await waitReady(url, token, up.document_id, { server });
    const chunks = await allChunks(url, token, doc.id);
    const continued = chunks.filter((c) => c.context !== '');
    assert.ok(continued.length >= 2, `${continued.length} chunks with context`);
    for (const c of continued) {
      assert.ok(c.context.startsWith('In millions of CHF |'), c.context);
      assert.ok(!c.text.includes(c.context), 'the context is not repeated inside the text');
    }
    // Whole rows: every row of a table chunk has the table's cell count (or is the last, cut text).
    const row = chunks.flatMap((c) => c.text.split('\n')).find((l) => l.startsWith('Zone LATAM | 6082'));
    assert.equal(row, 'Zone LATAM | 6082 | 1202 | 1101 | | -101 | -4 | -21 | | -192');
  });

  test('a PDF statement: rows whole under their column headings, every chunk under its heading path', async () => {
    // Labels at the left margin, figures far to the right in aligned columns (spaces in Courier
    // place them), as financial statements are set.
    const row = (label, a, b) => `${label.padEnd(60)}${a.padStart(12)}${b.padStart(16)}`;
    const statement = [
      'PART I - FINANCIAL INFORMATION',
      'Item 1. Financial Statements',
      '',
      'CONDENSED CONSOLIDATED STATEMENTS OF OPERATIONS',
      '',
      `${''.padEnd(72)}2023${''.padEnd(12)}2022`,
      row('Products', '60,584', '63,355'),
      row('Services', '21,213', '19,604'),
      row('Total net sales', '81,797', '82,959'),
      row('Research and development', '7,442', '6,797'),
      '',
      'Net sales grew in every region this quarter, as the table above shows for each period.',
    ];
    const { token } = await registerAndLogin(url);
    const up = await uploadOk(url, token, makePdf([statement], { fontSize: 7, leading: 10, font: 'Courier' }), 'statement.pdf');
    const doc = await waitReady(url, token, up.document_id, { server });
    const chunks = await allChunks(url, token, doc.id);
    const lines = chunks.flatMap((c) => c.text.split('\n'));
    assert.ok(lines.includes('Total net sales | 81,797 | 82,959'), lines.join('\n'));
    assert.ok(lines.includes('Research and development | 7,442 | 6,797'), lines.join('\n'));
    const path = 'PART I - FINANCIAL INFORMATION › Item 1. Financial Statements › CONDENSED CONSOLIDATED STATEMENTS OF OPERATIONS';
    const withRows = chunks.find((c) => c.text.includes('Total net sales |'));
    assert.equal(withRows.section, path);
    // The heading path is searched: its words find the chunk, which comes back with it.
    const res = await api(url, 'POST', '/v1/search', { token, body: { query: 'statements of operations', mode: 'keyword' } });
    assert.equal(res.status, 200, res.text);
    assert.ok(res.json.data.length >= 1, res.text);
    assert.equal(res.json.data[0].document_id, doc.id);
    assert.ok(res.json.data[0].section.startsWith('PART I - FINANCIAL INFORMATION'), res.text);
  });

  test('a filing with bookmarks: heading paths are its outline, read in the sandboxed worker', async () => {
    // Intel's 10-Q has an outline (bookmarks with the pages they open); its titles are the
    // author's ("Balance Sheet"), not the page's ("Consolidated Condensed Balance Sheets").
    const { token } = await registerAndLogin(url);
    const file = fs.readFileSync(path.join(DATA, 'qa/docugami-sec-10-q/docs/2023 Q1 INTC.pdf'));
    const up = await uploadOk(url, token, file, 'intel.pdf');
    const doc = await waitReady(url, token, up.document_id, { server, timeoutMs: 120000 });
    const chunks = await allChunks(url, token, doc.id);
    const onPage = (page) => chunks.filter((c) => c.page_start === page).map((c) => c.section);
    assert.ok(onPage(8).includes('Financial Statements › Balance Sheet'), onPage(8).join('\n'));
    assert.ok(onPage(13).includes('Financial Statements › Notes to Consolidated Condensed Financial Statements › ' +
      'Other Financial Statement Details › Inventories'), onPage(13).join('\n'));
    assert.deepEqual([...new Set(onPage(43))], ['Signatures']);
  });

  test('the hostile set ends failed with reasons, attempts 1, while another user\'s document becomes ready', async () => {
    const attacker = await registerAndLogin(url);
    const victim = await registerAndLogin(url);
    const pdf = fs.readFileSync(PDF_004);
    const png = fs.readFileSync(path.join(SCANS, 'phototest-rotated-180.png'));
    const deepHtml = Buffer.from('<div>'.repeat(100000) + 'x');
    const victimUpload = uploadOk(url, victim.token, pdf, 'mine.pdf');
    const hostile = [
      [pngBomb(50000, 50000), 'bomb.png', /50000 x 50000 pixels .* the limit is 100 megapixels/],
      [docxBomb(40), 'bomb.docx', /inflates to more than \d+ bytes; the limit per part is/],
      [deepHtml, 'deep.html', /nests elements about 100000 deep/],
      [pdf.subarray(0, pdf.length >> 1), 'half.pdf', /damaged|cut short|not a readable PDF/],
      [png.subarray(0, png.length >> 1), 'half.png', /^not a readable image/],
      [fs.readFileSync(path.join(OFFICE, 'fake-text-all-whitespace.txt')), 'blank.txt', /no text/],
      [fs.readFileSync(path.join(IMAGES, 'example.jpg')), 'flower.jpg', /no text/],
      // The API opens no archive: a zip is accepted and told apart in the job process.
      [makeZip([['a.txt', Buffer.from('hello')], ['b.txt', Buffer.from('world')]]), 'photos.zip',
        /^a zip archive that is not a DOCX, PPTX, XLSX or ODT file/],
    ];
    const ids = [];
    for (const [bytes, name] of hostile) ids.push((await uploadOk(url, attacker.token, bytes, name)).document_id);
    // Refused at the door: random bytes named .pdf, an empty file.
    assertError(await uploadRaw(url, attacker.token, noise(8192, 'random.pdf'), 'random.pdf'), 415, 'unsupported_media_type');
    assertError(await uploadRaw(url, attacker.token, Buffer.alloc(0), 'empty.pdf'), 400, 'invalid_request');

    for (let i = 0; i < hostile.length; i++) {
      const [, name, reason] = hostile[i];
      const doc = await waitForDocument(url, attacker.token, ids[i], { server, timeoutMs: 120000 });
      assert.equal(doc.status, 'failed', `${name}: ${JSON.stringify(doc)}`);
      assert.match(doc.error, reason, name);
      assert.equal(doc.attempts, 1, `${name} is bad input, not retried`);
      assert.equal(doc.chunk_count, 0, name);
    }
    const mine = await waitReady(url, victim.token, (await victimUpload).document_id, { server });
    assert.equal(mine.pages, 4);
    assert.ok(mine.chunk_count > 10);
    assert.equal((await api(url, 'GET', '/healthz')).status, 200);
    const list = await api(url, 'GET', '/v1/documents', { token: victim.token });
    assert.deepEqual(list.json.data.map((d) => d.filename), ['mine.pdf']);
  });
});
