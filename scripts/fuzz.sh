#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/, clang + libFuzzer + ASan/UBSan) and runs each for a bounded
# time: first over its corpus (fuzz/corpus/<target>/: small hand-written inputs, and every input
# that once failed, kept so it never fails again) and seeds (real files from ../shared/data,
# chosen per target), then mutating. A failure stops the script and names the input that caused it.
# Usage: fuzz.sh [SECONDS_PER_TARGET] (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
shared="$(cd .. && pwd)/shared/data"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

work="$(mktemp -d /tmp/betterdev-fuzz-XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Seeds: files of the shared data set that the target reads, at most 256 KiB each.
seed() {  # seed TARGET FIND-ARGS...
  local dir="$work/seeds/$1"
  shift
  mkdir -p "$dir"
  find "$shared" -type f -size -256k \( "$@" \) -print0 | while IFS= read -r -d '' f; do
    cp "$f" "$dir/$(sha256sum "$f" | cut -c1-16)"
  done
}
seed fuzz_text_decode -name '*.txt' -o -name '*.csv' -o -name '*.md'
seed fuzz_markup -name '*.html' -o -name '*.htm' -o -name '*.rtf'
# The markup target's first byte picks the reader (odd: RTF): give each seed its reader.
for f in "$work/seeds/fuzz_markup"/*; do
  [ -e "$f" ] || continue
  if head -c 5 "$f" | grep -q '{\\rtf'; then printf '\001' | cat - "$f" >"$f.in"; else printf '\000' | cat - "$f" >"$f.in"; fi
  mv "$f.in" "$f"
done
mkdir -p "$work/seeds/fuzz_multipart" "$work/seeds/fuzz_job_message" "$work/seeds/fuzz_layout"
# The layout target reads page text: what pdftotext -layout gives for a few statement pages.
for f in "$shared"/qa/docugami-sec-10-q/docs/*.pdf; do
  pdftotext -layout -f 3 -l 6 "$f" "$work/seeds/fuzz_layout/$(basename "$f" .pdf | tr ' ' _).txt" 2>/dev/null || true
done

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
for target in fuzz_multipart fuzz_text_decode fuzz_markup fuzz_job_message fuzz_layout; do
  corpus="$work/corpus/$target"
  mkdir -p "$corpus"
  echo "fuzz: $target for ${seconds}s"
  if ! build/fuzz/fuzz/$target -max_total_time="$seconds" -max_len=65536 -timeout=20 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$work/" \
      "$corpus" "fuzz/corpus/$target" "$work/seeds/$target" >"$work/$target.log" 2>&1; then
    tail -n 60 "$work/$target.log"
    for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
      [ -e "$a" ] || continue
      echo "fuzz: $target failed on $a (base64 below); keep it in fuzz/corpus/$target/ once fixed"
      base64 -w0 "$a"
      echo
    done
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$work/$target.log" | tr '\n' ' '
  echo
done
