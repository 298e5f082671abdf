#include "extract/pdf_outline.hpp"

// poppler's own API (libpoppler-private-dev), only here.
#include <poppler/Link.h>
#include <poppler/Outline.h>
#include <poppler/PDFDoc.h>
#include <poppler/Stream.h>

#include <memory>
#include <string>
#include <vector>

#include "extract/text_decode.hpp"

namespace betterdev::extract {
namespace {

std::string CleanTitle(const Unicode* title, int length) {
  std::string out;
  bool space = false;
  for (int i = 0; i < length && out.size() < kMaxOutlineTitleBytes; ++i) {
    const Unicode cp = title[i];
    if (cp < 0x20 || cp == 0x7F || cp == 0xA0 || (cp >= 0x80 && cp < 0xA0) || cp == ' ') {
      space = !out.empty();
      continue;
    }
    if ((cp >= 0xD800 && cp < 0xE000) || cp >= 0x110000) continue;  // not a scalar value
    if (space) out.push_back(' ');
    space = false;
    const size_t before = out.size();
    AppendUtf8(out, static_cast<char32_t>(cp));
    if (out.size() > kMaxOutlineTitleBytes) out.resize(before);  // never half a character
  }
  return out;
}

// The page (1-based) an entry opens, or 0.
int PageOf(PDFDoc& doc, const OutlineItem& item, int page_count) {
  const LinkAction* action = item.getAction();
  if (action == nullptr || !action->isOk() || action->getKind() != actionGoTo) return 0;
  const auto* go_to = static_cast<const LinkGoTo*>(action);
  std::unique_ptr<LinkDest> named;
  const LinkDest* dest = go_to->getDest();
  if (dest == nullptr && go_to->getNamedDest() != nullptr) {
    named = doc.findDest(go_to->getNamedDest());
    dest = named.get();
  }
  if (dest == nullptr || !dest->isOk()) return 0;
  const int page = dest->isPageRef() ? doc.findPage(dest->getPageRef()) : dest->getPageNum();
  return page >= 1 && page <= page_count ? page : 0;
}

class Walk {
 public:
  Walk(PDFDoc& doc, int page_count, PageSink& sink) : doc_(doc), page_count_(page_count), sink_(sink) {}

  void Items(const std::vector<OutlineItem*>* items, int level) {
    if (items == nullptr || level > kMaxOutlineDepth) return;
    for (OutlineItem* item : *items) {
      if (item == nullptr) continue;
      if (sent_ >= kMaxOutlineEntries) return;
      const int page = PageOf(doc_, *item, page_count_);
      const std::string title = CleanTitle(item->getTitle(), item->getTitleLength());
      if (page > 0 && !title.empty()) {
        sink_.OnOutlineEntry(level, page, title);
        ++sent_;
      }
      if (level < kMaxOutlineDepth && item->hasKids()) {
        item->open();
        Items(item->getKids(), level + 1);
      }
    }
  }

 private:
  PDFDoc& doc_;
  const int page_count_;
  PageSink& sink_;
  int sent_ = 0;
};

}  // namespace

void SendOutline(const InputFile& file, int page_count, PageSink& sink) {
  const std::string_view bytes = file.bytes();
  // The stream reads the mapped bytes in place; the document owns (and deletes) the stream.
  PDFDoc doc(new MemStream(bytes.data(), 0, static_cast<Goffset>(bytes.size()), Object(objNull)));
  if (!doc.isOk()) return;
  Outline* outline = doc.getOutline();
  if (outline == nullptr) return;
  Walk(doc, page_count, sink).Items(outline->getItems(), 1);
}

}  // namespace betterdev::extract
