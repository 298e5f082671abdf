// A small, correct PDF writer for the tests: text pages in Helvetica (a standard 14 font, so
// nothing is embedded), uncompressed content streams, one classic cross-reference table with
// exact byte offsets. Enough to build documents of any page count with known text per page.

// Escapes a string for a PDF literal string: ( ) and \ are special; only Latin-1 text is used.
function pdfString(s) {
  for (const ch of s) {
    if (ch.charCodeAt(0) > 126 || ch.charCodeAt(0) < 32) throw new Error(`pdfgen: non-ASCII text ${JSON.stringify(s)}`);
  }
  return `(${s.replace(/[\\()]/g, (c) => `\\${c}`)})`;
}

// Builds a PDF from pages, each an array of text lines. Returns a Buffer. `font`: a standard 14
// font's name ("Courier" sets columns padded with spaces in line, as a table's).
//
// `formOps` > 0 adds busy work that carries no text: every page draws one shared form XObject
// of that many tiny line strokes. A reader still interprets every operator on every page, so
// the time to read the document grows with pages * formOps while its size and text do not
// (used to make documents that take a known time to process).
export function makePdf(pages, { fontSize = 11, leading = 14, title, formOps = 0, font = 'Helvetica' } = {}) {
  if (!Array.isArray(pages) || pages.length === 0) throw new Error('pdfgen: at least one page');
  // Object numbers: 1 catalog, 2 page tree, 3 font, 4 info, 5 the form (may be unused); then per
  // page a page and its content stream.
  const objects = [];
  const pageObj = (i) => 6 + 2 * i;
  const contentObj = (i) => 7 + 2 * i;
  objects[1] = '<< /Type /Catalog /Pages 2 0 R >>';
  objects[2] = `<< /Type /Pages /Count ${pages.length} /Kids [${pages.map((_, i) => `${pageObj(i)} 0 R`).join(' ')}] >>`;
  objects[3] = `<< /Type /Font /Subtype /Type1 /BaseFont /${font} /Encoding /WinAnsiEncoding >>`;
  objects[4] = `<< /Producer (betterdev e2e pdfgen)${title ? ` /Title ${pdfString(title)}` : ''} >>`;
  const form = [];
  for (let k = 0; k < formOps; k++) form.push(`${k % 500} ${k % 700} m ${(k * 7) % 600} ${(k * 3) % 780} l S`);
  const formStream = form.length ? form.join('\n') + '\n' : '';
  objects[5] =
    '<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] ' +
    `/Length ${Buffer.byteLength(formStream, 'latin1')} >>\nstream\n${formStream}endstream`;
  const resources = `<< /Font << /F1 3 0 R >>${formOps > 0 ? ' /XObject << /Fm1 5 0 R >>' : ''} >>`;
  pages.forEach((lines, i) => {
    const ops = formOps > 0 ? ['q /Fm1 Do Q'] : [];
    ops.push('BT', `/F1 ${fontSize} Tf`, `${leading} TL`, '56 780 Td');
    for (const line of lines) ops.push(`${pdfString(line)} '`);
    ops.push('ET');
    const stream = ops.join('\n') + '\n';
    objects[pageObj(i)] =
      '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] ' +
      `/Resources ${resources} /Contents ${contentObj(i)} 0 R >>`;
    objects[contentObj(i)] = `<< /Length ${Buffer.byteLength(stream, 'latin1')} >>\nstream\n${stream}endstream`;
  });

  const parts = [];
  let offset = 0;
  const push = (s) => {
    const b = Buffer.from(s, 'latin1');
    parts.push(b);
    offset += b.length;
  };
  // The binary comment line tells tools the file holds 8-bit data.
  push('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n');
  const offsets = [];
  for (let n = 1; n < objects.length; n++) {
    offsets[n] = offset;
    push(`${n} 0 obj\n${objects[n]}\nendobj\n`);
  }
  const xrefAt = offset;
  // Each entry is exactly 20 bytes: 10-digit offset, 5-digit generation, n/f, two-byte EOL.
  let xref = `xref\n0 ${objects.length}\n0000000000 65535 f \n`;
  for (let n = 1; n < objects.length; n++) xref += `${String(offsets[n]).padStart(10, '0')} 00000 n \n`;
  push(xref);
  push(`trailer\n<< /Size ${objects.length} /Root 1 0 R /Info 4 0 R >>\nstartxref\n${xrefAt}\n%%EOF\n`);
  return Buffer.concat(parts);
}

// A word made of letters only that is unique to page `p` (1-based), e.g. "pgmkbcd".
// Letters only, so no text extractor or chunker splits or rewrites it.
export function pageMarker(p) {
  let s = '';
  let n = p;
  for (let i = 0; i < 4; i++) {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26);
  }
  return `pgmk${s}`;
}

const FILLER = [
  'the quick brown fox jumps over the lazy dog while the committee reviews the quarterly numbers',
  'every page of this generated document carries one marker word that appears on no other page',
  'engineers measure throughput latency and memory before they change the ingestion pipeline',
  'a careful reader can find the marker at the top and again at the bottom of the same page',
];

// Lines of one page of the many-page test document: the marker, then `fillerLines` lines of
// filler text, then the marker again.
export function markerPageLines(p, fillerLines = 6) {
  const m = pageMarker(p);
  const lines = [`Page ${p} begins with the marker ${m} for this page.`];
  for (let i = 0; i < fillerLines; i++) lines.push(`${FILLER[(p + i) % FILLER.length]} ${i}.`);
  lines.push(`End of page ${p}: ${m}.`);
  return lines;
}

// A document of `count` pages built with markerPageLines (see makePdf for formOps).
export function markerPdf(count, { fillerLines = 6, formOps = 0 } = {}) {
  const pages = [];
  for (let p = 1; p <= count; p++) pages.push(markerPageLines(p, fillerLines));
  return makePdf(pages, { title: `${count} marker pages`, formOps });
}

// Checks the file structure makePdf promises: header, every cross-reference entry 20 bytes and
// pointing at "N 0 obj", startxref pointing at the table. Throws on the first problem.
export function checkXref(buf) {
  const text = buf.toString('latin1');
  if (!text.startsWith('%PDF-1.')) throw new Error('no %PDF header');
  const m = /startxref\n(\d+)\n%%EOF\n$/.exec(text);
  if (!m) throw new Error('no startxref at the end');
  const at = Number(m[1]);
  const head = /^xref\n0 (\d+)\n/.exec(text.slice(at));
  if (!head) throw new Error(`startxref ${at} does not point at an xref table`);
  const count = Number(head[1]);
  const entries = at + head[0].length;
  for (let n = 0; n < count; n++) {
    const e = text.slice(entries + 20 * n, entries + 20 * (n + 1));
    const em = /^(\d{10}) (\d{5}) ([nf])( \n|\r\n)$/.exec(e);
    if (!em) throw new Error(`xref entry ${n} malformed: ${JSON.stringify(e)}`);
    if (n === 0) {
      if (em[3] !== 'f' || em[2] !== '65535') throw new Error('entry 0 must be the free list head');
      continue;
    }
    const off = Number(em[1]);
    if (!text.startsWith(`${n} 0 obj\n`, off)) throw new Error(`xref entry ${n} points at ${JSON.stringify(text.slice(off, off + 20))}`);
  }
  const trailer = text.slice(entries + 20 * count);
  if (!trailer.startsWith(`trailer\n<< /Size ${count} `)) throw new Error('trailer /Size does not match the table');
  return count;
}
