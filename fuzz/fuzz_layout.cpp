// What reads the text of strangers' PDFs for structure: the table layout (extract/pdf_layout)
// and the heading finder with the chunker (chunk/): for any text, no crash, no read out of
// bounds, headings in order within the text, heading paths of bounded length.
#include <cstdint>
#include <string>

#include "chunk/chunker.hpp"
#include "chunk/headings.hpp"
#include "extract/pdf_layout.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace betterdev;
  const std::string_view text = fuzz::Bytes(data, size);

  (void)extract::MayHoldTable(text);
  (void)extract::PageTextWithTables(text);

  const std::vector<chunk::Heading> headings = chunk::FindHeadings(text);
  size_t last = 0;
  for (const chunk::Heading& h : headings) {
    BD_FUZZ_CHECK(h.byte >= last && h.byte < text.size() && h.end <= text.size() && h.byte <= h.end);
    BD_FUZZ_CHECK(h.level >= 1 && h.level <= 6 && !h.text.empty());
    last = h.byte;
  }
  chunk::DocumentText doc;
  doc.AddPage(1, text);
  for (const chunk::Chunk& c : chunk::ChunkText(doc, {64, 16})) {
    BD_FUZZ_CHECK(c.section.size() <= 6 * (2 * 120 + 5));  // at most six levels of a line or two each
  }
  return 0;
}
