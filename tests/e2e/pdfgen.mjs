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

// Builds a PDF from pages, each an array of text lines. Returns a Buffer.
export function makePdf(pages, { fontSize = 11, leading = 14, title } = {}) {
  if (!Array.isArray(pages) || pages.length === 0) throw new Error('pdfgen: at least one page');
  // Object numbers: 1 catalog, 2 page tree, 3 font, 4 info; then per page a page and its content.
  const objects = [];
  const pageObj = (i) => 5 + 2 * i;
  const contentObj = (i) => 6 + 2 * i;
  objects[1] = '<< /Type /Catalog /Pages 2 0 R >>';
  objects[2] = `<< /Type /Pages /Count ${pages.length} /Kids [${pages.map((_, i) => `${pageObj(i)} 0 R`).join(' ')}] >>`;
  objects[3] = '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>';
  objects[4] = `<< /Producer (betterdev e2e pdfgen)${title ? ` /Title ${pdfString(title)}` : ''} >>`;
  pages.forEach((lines, i) => {
    const ops = ['BT', `/F1 ${fontSize} Tf`, `${leading} TL`, '56 780 Td'];
    for (const line of lines) ops.push(`${pdfString(line)} '`);
    ops.push('ET');
    const stream = ops.join('\n') + '\n';
    objects[pageObj(i)] =
      '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] ' +
      `/Resources << /Font << /F1 3 0 R >> >> /Contents ${contentObj(i)} 0 R >>`;
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

// A document of `count` pages built with markerPageLines.
export function markerPdf(count, fillerLines = 6) {
  const pages = [];
  for (let p = 1; p <= count; p++) pages.push(markerPageLines(p, fillerLines));
  return makePdf(pages, { title: `${count} marker pages` });
}
