#!/usr/bin/env bash
# Extraction benchmarks, side by side in one run, all on loopback (not a test):
#   1. OCR pages/minute of the full path (upload -> ready) with 1 and 2 workers vs the
#      tesseract command-line tool on the same images (one process per image, sequential,
#      OMP_THREAD_LIMIT=1 like our workers); and a scanned PDF vs pdftoppm | tesseract;
#   2. DOCX and HTML MB/s of `betterdev extract` (the job process's code: extract + chunk);
#   3. peak resident memory of `betterdev extract` per format.
#   bash bench/extract_bench.sh [repetitions of the OCR corpus = 2]
# Needs the release build (cmake --preset release && cmake --build --preset release),
# tesseract, pdftoppm (poppler-utils) and node. Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS="${1:-2}"
BIN=$PWD/build/release/betterdev
DATA=$PWD/../shared/data
[ -x "$BIN" ] || { echo "build the release binary first" >&2; exit 1; }
for t in tesseract pdftoppm node curl; do command -v $t >/dev/null || { echo "$t is missing: bash scripts/setup.sh" >&2; exit 1; }; done

WORK=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }; rm -rf "$WORK"; }
trap cleanup EXIT
source bench/lib.sh
export OMP_THREAD_LIMIT=1

# The OCR corpus: the UNLV and phototest scans, a multilingual scan, photos of pages.
SCANS="$DATA/ocr/tesseract-test"
IMAGES=("$SCANS/8071_093.3B.tif" "$SCANS/8087_054.3B.tif" "$SCANS/phototest.tif" "$SCANS/eurotext.tif"
        "$DATA/ocr/images/DA-1p.png" "$DATA/ocr/images/double-column-A.jpg"
        "$DATA/ocr/images/layout-parser-paper-fast.jpg" "$DATA/ocr/images/english-and-korean.png")
# Each repetition is a copy with a different trailing byte: the same pixels, but not a
# duplicate upload (dedupe would skip it).
mkdir -p "$WORK/ocr"
for r in $(seq 1 "$REPS"); do
  for f in "${IMAGES[@]}"; do
    b=$(basename "$f"); cp "$f" "$WORK/ocr/$r-$b"; printf '%s' "$r" >>"$WORK/ocr/$r-$b"
  done
done
OCR_FILES=("$WORK"/ocr/*)
OCR_PAGES=${#OCR_FILES[@]}

# Generated: a 10-page scanned PDF (prose rendered at 300 dpi, image only), a large DOCX and a
# large HTML page.
node --input-type=module -e "
  import fs from 'node:fs';
  import { makePdf } from '$PWD/tests/e2e/pdfgen.mjs';
  import { makeZip, scannedPdf } from '$PWD/tests/e2e/filegen.mjs';
  const prose = fs.readFileSync('$DATA/office/unstructured-example-docs/book-war-and-peace-1p.txt', 'latin1')
    .split(/\s+/).filter(Boolean);
  const line = (i) => prose.slice((i * 11) % (prose.length - 12), (i * 11) % (prose.length - 12) + 11).join(' ');
  const pages = Array.from({ length: 10 }, (_, p) => Array.from({ length: 45 }, (_, l) => line(p * 45 + l)));
  fs.mkdirSync('$WORK/scan', { recursive: true });
  fs.writeFileSync('$WORK/scanned-10.pdf', scannedPdf(makePdf(pages, { fontSize: 11, leading: 15 }), '$WORK/scan', { dpi: 300 }));
  const paras = [];
  for (let i = 0; paras.length < 120000; i++) paras.push('<w:p><w:r><w:t>' + line(i) + '</w:t></w:r></w:p>');
  const types = '<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>';
  const doc = '<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>' + paras.join('') + '</w:body></w:document>';
  fs.writeFileSync('$WORK/big.docx', makeZip([['[Content_Types].xml', Buffer.from(types)], ['word/document.xml', Buffer.from(doc)]]));
  const html = fs.readFileSync('$DATA/office/unstructured-example-docs/example-with-scripts.html', 'utf8');
  fs.writeFileSync('$WORK/big.html', html.repeat(40));
  import('$PWD/tests/e2e/pdfgen.mjs').then(({ markerPdf }) => fs.writeFileSync('$WORK/text-1000.pdf', markerPdf(1000, 40)));
"

machine_line
echo "Date: $(date -u +%Y-%m-%dT%H:%MZ); OCR corpus: ${#IMAGES[@]} images x $REPS = $OCR_PAGES pages (UNLV, phototest, eurotext, photos of pages); tesseract $(tesseract --version 2>&1 | head -1 | awk '{print $2}')"
echo

# 1. OCR throughput.
sec() { awk -v ms="$1" 'BEGIN {printf "%.2f", ms / 1000}'; }
ppm() { awk -v p="$1" -v ms="$2" 'BEGIN {printf "%.1f", p * 60000 / ms}'; }
T0=$(now_ms)
for f in "${OCR_FILES[@]}"; do tesseract "$f" - >/dev/null 2>&1; done
T1=$(now_ms)
CLI_PPM=$(ppm "$OCR_PAGES" $((T1 - T0)))
echo "| path | workers | pages | seconds | pages/minute | per worker vs tesseract |"
echo "|---|---|---|---|---|---|"
echo "| tesseract CLI (sequential, one process per image) | 1 | $OCR_PAGES | $(sec $((T1 - T0))) | $CLI_PPM | 1.00× |"
for W in 1 2; do
  start_server --workers "$W"
  T0=$(now_ms)
  for f in "${OCR_FILES[@]}"; do upload "$f" >/dev/null; done
  wait_ready
  T1=$(now_ms)
  FAILED=$(curl -fs "$URL/v1/documents?status=failed" -H "Authorization: Bearer $TOKEN" | { grep -o '"id"' || true; } | wc -l)
  P=$(ppm "$OCR_PAGES" $((T1 - T0)))
  echo "| images: upload → ready (betterdev serve) | $W | $OCR_PAGES | $(sec $((T1 - T0))) | $P | $(awk -v a="$P" -v b="$CLI_PPM" -v w="$W" 'BEGIN {printf "%.2f", a / w / b}')× ($FAILED failed) |"
  stop_server
done
T0=$(now_ms)
pdftoppm -r 300 -gray "$WORK/scanned-10.pdf" "$WORK/scan/p"
for f in "$WORK"/scan/p-*.pgm; do tesseract "$f" - >/dev/null 2>&1; done
T1=$(now_ms)
SCAN_CLI=$(ppm 10 $((T1 - T0)))
echo "| pdftoppm -r 300 + tesseract CLI, 10-page scanned PDF | 1 | 10 | $(sec $((T1 - T0))) | $SCAN_CLI | 1.00× |"
start_server --workers 1
T0=$(now_ms)
upload "$WORK/scanned-10.pdf" >/dev/null
wait_ready
T1=$(now_ms)
P=$(ppm 10 $((T1 - T0)))
echo "| scanned PDF: upload → ready (betterdev serve) | 1 | 10 | $(sec $((T1 - T0))) | $P | $(awk -v a="$P" -v b="$SCAN_CLI" 'BEGIN {printf "%.2f", a / b}')× |"
stop_server
echo

# 2. DOCX and HTML throughput of the job process's code (best of 3).
best_ms() {  # file -> best wall time of `betterdev extract` in ms
  local best=999999999
  for _ in 1 2 3; do
    local t0 t1; t0=$(now_ms); "$BIN" extract "$1" >/dev/null; t1=$(now_ms)
    [ $((t1 - t0)) -lt "$best" ] && best=$((t1 - t0))
  done
  echo "$best"
}
echo "| file | size | text (UTF-8) | seconds | MB/s of file | MB/s of text |"
echo "|---|---|---|---|---|---|"
for f in "$WORK/big.docx" "$WORK/big.html"; do
  MS=$(best_ms "$f")
  SIZE=$(wc -c <"$f")
  TEXT=$("$BIN" extract "$f" | node -e "let n=0,prev=0;require('readline').createInterface({input:process.stdin}).on('line',l=>{const m=JSON.parse(l);if(m.t==='chunk'){n+=Buffer.byteLength(m.text)-Math.max(0,prev-m.char_start);prev=m.char_end;}}).on('close',()=>console.log(n))")
  echo "| $(basename "$f") (generated) | $(awk -v b="$SIZE" 'BEGIN {printf "%.1f MB", b / 1e6}') | $(awk -v b="$TEXT" 'BEGIN {printf "%.1f MB", b / 1e6}') | $(sec "$MS") | $(awk -v b="$SIZE" -v ms="$MS" 'BEGIN {printf "%.1f", b / 1e3 / ms}') | $(awk -v b="$TEXT" -v ms="$MS" 'BEGIN {printf "%.1f", b / 1e3 / ms}') |"
done
echo

# 3. Peak RSS of the job process's code per format.
OFF="$DATA/office/unstructured-example-docs"
echo "| format (file) | peak RSS |"
echo "|---|---|"
for entry in "text PDF (generated, 1,000 pages)|$WORK/text-1000.pdf" "scanned PDF (10 pages, OCR at 300 dpi)|$WORK/scanned-10.pdf" \
             "TIFF scan (8087_054.3B.tif, 2560 x 3300)|$SCANS/8087_054.3B.tif" "JPEG photo of a page (double-column-A.jpg)|$DATA/ocr/images/double-column-A.jpg" \
             "DOCX (generated, $(($(wc -c <"$WORK/big.docx") / 1000)) KB)|$WORK/big.docx" "DOCX (fake.docx)|$OFF/fake.docx" \
             "PPTX (fake-power-point.pptx)|$OFF/fake-power-point.pptx" "XLSX (2023-half-year-analyses-by-segment.xlsx)|$OFF/2023-half-year-analyses-by-segment.xlsx" \
             "HTML (generated, $(($(wc -c <"$WORK/big.html") / 1000)) KB)|$WORK/big.html" "RTF (fake-doc.rtf)|$OFF/fake-doc.rtf" \
             "text (book-war-and-peace-1p.txt)|$OFF/book-war-and-peace-1p.txt"; do
  name=${entry%%|*}; f=${entry#*|}
  KB=$( { /usr/bin/time -f '%M' "$BIN" extract "$f" >/dev/null; } 2>&1 | tail -1)
  echo "| $name | $((KB / 1024)) MB |"
done
