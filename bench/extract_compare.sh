#!/usr/bin/env bash
# What reading PDF tables row by row costs: `betterdev extract` (the worker's job process:
# extract + chunk) over two corpora, with two binaries, alternating, in one run (not a test):
#   1. the ingestion benchmark's text PDFs (20 NTSB reports, 009-pdflatex-geotopo, a generated
#      1,000-page text PDF: bench/ingest_bench.sh);
#   2. the 20 SEC 10-Q filings (1,037 pages, most with financial tables).
#   bash bench/extract_compare.sh OLD_BINARY [NEW_BINARY = build/release/betterdev] [rounds = 3]
# OLD_BINARY: a release build of the commit to compare with (e.g. built from a worktree).
# Prints Markdown: the best of the rounds per binary and corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
OLD="${1:?usage: bench/extract_compare.sh OLD_BINARY [NEW_BINARY] [rounds]}"
NEW="${2:-$PWD/build/release/betterdev}"
ROUNDS="${3:-3}"
source bench/lib.sh
bench_init
for b in "$OLD" "$NEW"; do [ -x "$b" ] || { echo "no binary at $b" >&2; exit 1; }; done

mkdir -p "$WORK/text" "$WORK/sec"
cp "$DATA"/pdf/ntsb-reports/data/*/*.pdf "$WORK/text/" 2>/dev/null || find "$DATA/pdf/ntsb-reports" -name '*.pdf' -exec cp {} "$WORK/text/" \;
cp "$DATA"/pdf/py-pdf-sample-files/009-pdflatex-geotopo/*.pdf "$WORK/text/"
node --input-type=module -e "
  import { markerPdf } from '$PWD/tests/e2e/pdfgen.mjs';
  import fs from 'node:fs';
  fs.writeFileSync('$WORK/text/big-1000.pdf', markerPdf(1000, 40));"
cp "$DATA"/qa/docugami-sec-10-q/docs/*.pdf "$WORK/sec/"

pages() { local n=0; for f in "$1"/*.pdf; do n=$((n + $(pdfinfo "$f" 2>/dev/null | awk '/^Pages:/ {print $2}'))); done; echo $n; }
run() {  # binary dir -> milliseconds for every file, one after another
  local t0; t0=$(now_ms)
  for f in "$2"/*.pdf; do "$1" extract "$f" >/dev/null; done
  echo $(($(now_ms) - t0))
}

machine_line
echo "Date: $(date -u +%Y-%m-%dT%H:%MZ); best of $ROUNDS rounds, binaries alternating"
echo
echo "| corpus | pages | old (ms) | new (ms) | new / old |"
echo "|---|---:|---:|---:|---:|"
for corpus in text sec; do
  best_old=999999999; best_new=999999999
  for _ in $(seq 1 "$ROUNDS"); do
    t=$(run "$OLD" "$WORK/$corpus"); [ "$t" -lt "$best_old" ] && best_old=$t
    t=$(run "$NEW" "$WORK/$corpus"); [ "$t" -lt "$best_new" ] && best_new=$t
  done
  name=$([ $corpus = text ] && echo "text PDFs (ingestion corpus)" || echo "SEC 10-Q filings")
  echo "| $name | $(pages "$WORK/$corpus") | $best_old | $best_new | $(awk "BEGIN {printf \"%.2f\", $best_new / $best_old}") |"
done
