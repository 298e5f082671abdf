// Files the extraction tests make: zip archives (office files, zip bombs), PNG headers that
// claim huge sizes, and image-only ("scanned") PDFs rendered from text PDFs with pdftoppm.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// A zip archive of `entries` ([name, Buffer]) with deflated data and a central directory.
export function makeZip(entries) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBuf = Buffer.from(name, 'utf8');
    const packed = zlib.deflateRawSync(data, { level: 9 });
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, packed);
    centrals.push(central, nameBuf);
    offset += local.length + nameBuf.length + packed.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

// A DOCX whose document part inflates to `inflatedMb` MB (a zip bomb: ~1000x smaller packed).
export function docxBomb(inflatedMb) {
  const types =
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>';
  const head = '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>';
  const body = Buffer.alloc(inflatedMb << 20, 'a');
  const doc = Buffer.concat([Buffer.from(head), body, Buffer.from('</w:t></w:r></w:p></w:body></w:document>')]);
  return makeZip([
    ['[Content_Types].xml', Buffer.from(types)],
    ['word/document.xml', doc],
  ]);
}

function pngChunk(type, data) {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

// A valid PNG header claiming width x height gray pixels, followed by a few bytes of data.
export function pngBomb(width, height) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth; colour type 0 (gray), no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zlib.deflateSync(Buffer.alloc(64))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

// Parses a binary PGM (P5) as pdftoppm -gray writes it.
function readPgm(buf) {
  const tokens = [];
  let i = 0;
  while (tokens.length < 4) {
    while (/\s/.test(String.fromCharCode(buf[i]))) i++;
    if (buf[i] === 0x23) {
      while (buf[i] !== 0x0a) i++;
      continue;
    }
    let t = '';
    while (!/\s/.test(String.fromCharCode(buf[i]))) t += String.fromCharCode(buf[i++]);
    tokens.push(t);
  }
  if (tokens[0] !== 'P5' || tokens[3] !== '255') throw new Error(`not an 8-bit PGM: ${tokens}`);
  const width = Number(tokens[1]);
  const height = Number(tokens[2]);
  return { width, height, pixels: buf.subarray(i + 1, i + 1 + width * height) };
}

// Renders each page of `pdf` (a Buffer) at `dpi` with pdftoppm and returns a PDF of the same
// page size whose pages are only those pictures (Flate-compressed 8-bit gray), no text: what a
// scanner makes of the printed document. `mirrored`: each picture drawn flipped left to right
// (text OCR cannot read: it comes out as gibberish with low confidence).
export function scannedPdf(pdf, dir, { dpi = 200, mirrored = false } = {}) {
  const src = path.join(dir, 'typed.pdf');
  fs.writeFileSync(src, pdf);
  execFileSync('pdftoppm', ['-r', String(dpi), '-gray', src, path.join(dir, 'page')]);
  const files = fs.readdirSync(dir).filter((f) => f.startsWith('page') && f.endsWith('.pgm')).sort();
  const pages = files.map((f) => readPgm(fs.readFileSync(path.join(dir, f))));
  const objects = [];
  objects[1] = '<< /Type /Catalog /Pages 2 0 R >>';
  const pageObj = (i) => 3 + 3 * i;
  objects[2] = `<< /Type /Pages /Count ${pages.length} /Kids [${pages.map((_, i) => `${pageObj(i)} 0 R`).join(' ')}] >>`;
  const binary = [];
  pages.forEach((p, i) => {
    const w = (p.width * 72) / dpi;
    const h = (p.height * 72) / dpi;
    const content = mirrored
      ? `q ${(-w).toFixed(2)} 0 0 ${h.toFixed(2)} ${w.toFixed(2)} 0 cm /Im1 Do Q\n`
      : `q ${w.toFixed(2)} 0 0 ${h.toFixed(2)} 0 0 cm /Im1 Do Q\n`;
    objects[pageObj(i)] =
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${w.toFixed(2)} ${h.toFixed(2)}] ` +
      `/Resources << /XObject << /Im1 ${pageObj(i) + 2} 0 R >> >> /Contents ${pageObj(i) + 1} 0 R >>`;
    objects[pageObj(i) + 1] = `<< /Length ${content.length} >>\nstream\n${content}endstream`;
    binary[pageObj(i) + 2] = zlib.deflateSync(p.pixels);
    objects[pageObj(i) + 2] =
      `<< /Type /XObject /Subtype /Image /Width ${p.width} /Height ${p.height} /ColorSpace /DeviceGray ` +
      `/BitsPerComponent 8 /Filter /FlateDecode /Length ${binary[pageObj(i) + 2].length} >>`;
  });
  const parts = [];
  let offset = 0;
  const push = (b) => {
    parts.push(b);
    offset += b.length;
  };
  push(Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1'));
  const offsets = [];
  for (let n = 1; n < objects.length; n++) {
    offsets[n] = offset;
    if (binary[n]) {
      push(Buffer.from(`${n} 0 obj\n${objects[n]}\nstream\n`, 'latin1'));
      push(binary[n]);
      push(Buffer.from('\nendstream\nendobj\n', 'latin1'));
    } else {
      push(Buffer.from(`${n} 0 obj\n${objects[n]}\nendobj\n`, 'latin1'));
    }
  }
  const xrefAt = offset;
  let xref = `xref\n0 ${objects.length}\n0000000000 65535 f \n`;
  for (let n = 1; n < objects.length; n++) xref += `${String(offsets[n]).padStart(10, '0')} 00000 n \n`;
  push(Buffer.from(xref, 'latin1'));
  push(Buffer.from(`trailer\n<< /Size ${objects.length} /Root 1 0 R >>\nstartxref\n${xrefAt}\n%%EOF\n`, 'latin1'));
  return Buffer.concat(parts);
}
