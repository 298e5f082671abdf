// DOCX, PPTX, XLSX and ODT: zip archives of XML parts (office_zip.cpp), parsed with pugixml.
//
// Text comes out as paragraphs separated by blank lines; a table is one block with one line
// per row and its cells joined by " | ". Elements are matched by local name ("w:p" and "a:p"
// are both "p"), so the DOCX and PPTX walkers are one. Word and ODT have no pages (layout
// decides them): the whole document is page 1. A slide or a sheet is a page.
//
// Hostile input: office_zip.cpp caps what is inflated; pugixml expands no DTD entities (no
// "billion laughs") and parses without recursion; the walk here stops at kMaxDepth.
// Memory: one XML part (its bytes plus pugixml's tree) and one page's text at a time.
// XLSX is in office_xlsx.cpp.
#include <algorithm>
#include <charconv>
#include <map>
#include <utility>

#include "extract/formats.hpp"
#include "extract/office_xml.hpp"
#include "extract/text_decode.hpp"

namespace betterdev::extract::office {
namespace {

constexpr int kMaxDepth = 256;

bool IsElement(const pugi::xml_node& n) { return n.type() == pugi::node_element; }

}  // namespace

pugi::xml_node ChildByLocalName(const pugi::xml_node& node, std::string_view name) {
  for (const pugi::xml_node& child : node.children()) {
    if (IsElement(child) && Local(child) == name) return child;
  }
  return {};
}

std::string_view Local(const pugi::xml_node& n) {
  std::string_view name = n.name();
  const size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

Result<std::unique_ptr<XmlPart>> ReadXml(OfficeZip& zip, const std::string& name) {
  auto part = std::make_unique<XmlPart>();
  Result<std::string> bytes = zip.Read(name);
  if (!bytes.ok()) return bytes.status();
  part->bytes = std::move(*bytes);
  // parse_ws_pcdata: a run holding one space (<w:t xml:space="preserve"> </w:t>) is a word gap.
  const pugi::xml_parse_result r = part->doc.load_buffer_inplace(part->bytes.data(), part->bytes.size(),
                                                                 pugi::parse_default | pugi::parse_ws_pcdata);
  if (!r) {
    return zip.Unreadable(name + " is not well-formed XML (" + r.description() + " at byte " +
                          std::to_string(r.offset) + ")");
  }
  return part;
}

namespace {

void AddParagraph(std::string& out, std::string_view paragraph) {
  if (paragraph.find_first_not_of(" \t\n") == std::string_view::npos) return;
  if (!out.empty()) out += "\n\n";
  out += paragraph;
}

// Walks WordprocessingML and DrawingML ("p", "t", "tbl", ...) or, with `odf`, ODF text
// ("p", "h", "table", text as the paragraph's own character data).
class TextWalker {
 public:
  explicit TextWalker(bool odf) : odf_(odf) {}

  // Appends the paragraphs and tables under `node` to `out`.
  void Blocks(const pugi::xml_node& node, std::string& out, int depth = 0) {
    if (depth > kMaxDepth) return void(too_deep_ = true);
    for (const pugi::xml_node& child : node.children()) {
      if (!IsElement(child)) continue;
      const std::string_view name = Local(child);
      if (IsParagraph(name)) {
        std::string paragraph;
        Inline(child, paragraph, false, depth + 1);
        AddParagraph(out, paragraph);
      } else if (IsTable(name)) {
        AddParagraph(out, Table(child, depth + 1));
      } else if (!Skipped(name)) {
        Blocks(child, out, depth + 1);
      }
    }
  }

  bool too_deep() const { return too_deep_; }

 private:
  bool IsParagraph(std::string_view name) const { return name == "p" || (odf_ && name == "h"); }
  bool IsTable(std::string_view name) const { return name == (odf_ ? "table" : "tbl"); }
  bool IsRow(std::string_view name) const { return name == (odf_ ? "table-row" : "tr"); }
  bool IsCell(std::string_view name) const { return name == (odf_ ? "table-cell" : "tc"); }
  // mc:Fallback repeats mc:Choice (text boxes); deleted and field-code text is not content;
  // OOXML properties (w:pPr, a:rPr, w:tcPr, ...) hold settings such as tab stops (w:tab).
  bool Skipped(std::string_view name) const {
    if (!odf_ && name.ends_with("Pr")) return true;
    return name == "Fallback" || name == "delText" || name == "instrText" || name == "tracked-changes" ||
           name == "covered-table-cell";
  }

  void Inline(const pugi::xml_node& node, std::string& out, bool in_text, int depth) {
    if (depth > kMaxDepth) return void(too_deep_ = true);
    for (const pugi::xml_node& child : node.children()) {
      if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) {
        if (!odf_ && !in_text) continue;  // OOXML: only w:t / a:t hold text
        std::string text = child.value();
        if (odf_) std::replace(text.begin(), text.end(), '\n', ' ');  // ODF: line breaks are markup
        out += text;
        continue;
      }
      if (!IsElement(child)) continue;
      const std::string_view name = Local(child);
      if (name == "t" && !odf_) {
        Inline(child, out, true, depth + 1);
      } else if (name == "tab") {
        out += '\t';
      } else if (name == "br" || name == "cr" || name == "line-break") {
        out += '\n';
      } else if (name == "s" && odf_) {  // text:s: text:c spaces
        out.append(static_cast<size_t>(std::clamp(child.attribute("text:c").as_int(1), 1, 100)), ' ');
      } else if (IsParagraph(name)) {  // a text box inside a paragraph
        out += '\n';
        Inline(child, out, false, depth + 1);
        out += '\n';
      } else if (IsTable(name)) {
        out += '\n' + Table(child, depth + 1) + '\n';
      } else if (!Skipped(name)) {
        Inline(child, out, in_text, depth + 1);
      }
    }
  }

  // One line per row, cells joined by " | "; rows without text are left out.
  std::string Table(const pugi::xml_node& table, int depth) {
    std::string out;
    Rows(table, out, depth);
    return out;
  }

  void Rows(const pugi::xml_node& node, std::string& out, int depth) {
    if (depth > kMaxDepth) return void(too_deep_ = true);
    for (const pugi::xml_node& child : node.children()) {
      if (!IsElement(child)) continue;
      const std::string_view name = Local(child);
      if (IsRow(name)) {
        std::vector<std::string> cells;
        Cells(child, cells, depth + 1);
        std::string line;
        bool any = false;
        for (size_t i = 0; i < cells.size(); ++i) {
          line += (i == 0 ? "" : " | ") + cells[i];
          any = any || !cells[i].empty();
        }
        if (!any) continue;
        if (!out.empty()) out += '\n';
        out += line;
      } else if (!IsTable(name) && !Skipped(name)) {  // header-row groups, w:sdt, ...
        Rows(child, out, depth + 1);
      }
    }
  }

  void Cells(const pugi::xml_node& row, std::vector<std::string>& cells, int depth) {
    if (depth > kMaxDepth) return void(too_deep_ = true);
    for (const pugi::xml_node& child : row.children()) {
      if (!IsElement(child)) continue;
      const std::string_view name = Local(child);
      if (IsCell(name)) {
        // PPTX: a cell covered by a merge repeats nothing; leave it out.
        if (child.attribute("hMerge").as_bool() || child.attribute("vMerge").as_bool()) continue;
        std::string text;
        // DOCX: a cell continuing a vertical merge is empty on screen whatever it holds.
        const pugi::xml_node v_merge = ChildByLocalName(ChildByLocalName(child, "tcPr"), "vMerge");
        const std::string_view merge_value = v_merge.attribute("w:val").value();
        if (!v_merge || merge_value == "restart") Blocks(child, text, depth + 1);
        for (char& c : text) {
          if (c == '\n' || c == '\t') c = ' ';  // a cell is one line
        }
        cells.push_back(NormalizeExtractedText(text));
      } else if (!Skipped(name)) {
        Cells(child, cells, depth + 1);
      }
    }
  }

  bool odf_;
  bool too_deep_ = false;
};

Result<std::string> DocumentText(OfficeZip& zip, const std::string& part_name, bool odf) {
  Result<std::unique_ptr<XmlPart>> part = ReadXml(zip, part_name);
  if (!part.ok()) return part.status();
  TextWalker walker(odf);
  std::string text;
  walker.Blocks((*part)->doc, text);
  if (walker.too_deep())
    return zip.Unreadable(part_name + " is nested more than " + std::to_string(kMaxDepth) + " levels deep");
  return text;
}

// "ppt/slides/slide12.xml" with prefix "ppt/slides/slide" -> 12; -1 when it is not such a name.
int NumberedPart(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix) || !name.ends_with(".xml")) return -1;
  const std::string_view digits = name.substr(prefix.size(), name.size() - prefix.size() - 4);
  int n = -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  return ec == std::errc() && end == digits.data() + digits.size() && !digits.empty() ? n : -1;
}

}  // namespace

// The numbered parts "<prefix>N.xml", in number order.
std::vector<std::string> NumberedParts(const OfficeZip& zip, std::string_view prefix) {
  std::vector<std::pair<int, std::string>> parts;
  for (std::string& name : zip.Names()) {
    const int n = NumberedPart(name, prefix);
    if (n >= 0) parts.emplace_back(n, std::move(name));
  }
  std::sort(parts.begin(), parts.end());
  std::vector<std::string> names;
  for (auto& p : parts) names.push_back(std::move(p.second));
  return names;
}

Status CheckPageCount(size_t count, const ExtractLimits& limits) {
  if (count > static_cast<size_t>(limits.max_pages)) {
    return Status::InvalidArgument("document has " + std::to_string(count) + " pages; the limit is " +
                                   std::to_string(limits.max_pages));
  }
  return Status::Ok();
}

namespace {

Status ExtractDocx(OfficeZip& zip, PageSink& sink) {
  Result<std::string> body = DocumentText(zip, "word/document.xml", false);
  if (!body.ok()) return body.status();
  std::string text = std::move(*body);
  // Headers and footers once, after the body; a section's first-page/even/default variants
  // often repeat one text, which is kept once.
  std::vector<std::string> seen;
  for (std::string_view kind : {"word/header", "word/footer"}) {
    for (const std::string& name : NumberedParts(zip, kind)) {
      Result<std::string> part = DocumentText(zip, name, false);
      if (!part.ok()) return part.status();
      if (std::find(seen.begin(), seen.end(), *part) != seen.end()) continue;
      AddParagraph(text, *part);
      seen.push_back(std::move(*part));
    }
  }
  return sink.OnPage(1, 1, NormalizeExtractedText(text));
}

Status ExtractOdt(OfficeZip& zip, PageSink& sink) {
  Result<std::string> text = DocumentText(zip, "content.xml", true);
  if (!text.ok()) return text.status();
  return sink.OnPage(1, 1, NormalizeExtractedText(*text));
}

// Relationship id -> part name, from a .rels part; targets are relative to `base_dir`.
std::map<std::string, std::string> Relationships(OfficeZip& zip, const std::string& rels, const std::string& base_dir) {
  std::map<std::string, std::string> targets;
  if (!zip.Has(rels)) return targets;
  Result<std::unique_ptr<XmlPart>> part = ReadXml(zip, rels);
  if (!part.ok()) return targets;
  for (const pugi::xml_node& r : (*part)->doc.document_element().children()) {
    std::string target = r.attribute("Target").value();
    target = target.starts_with('/') ? target.substr(1) : base_dir + target;
    targets.emplace(r.attribute("Id").value(), std::move(target));
  }
  return targets;
}

}  // namespace

// The parts listed by `list` (p:sldIdLst, sheets) in `main_part` in their order, through
// their r:id relationships; `fallback` (number order) when that yields nothing usable.
std::vector<std::string> OrderedParts(OfficeZip& zip, const std::string& main_part, const std::string& rels,
                                      const std::string& base_dir, std::string_view list,
                                      std::vector<std::string> fallback) {
  std::vector<std::string> ordered;
  Result<std::unique_ptr<XmlPart>> part = ReadXml(zip, main_part);
  if (!part.ok()) return fallback;
  const std::map<std::string, std::string> targets = Relationships(zip, rels, base_dir);
  for (const pugi::xml_node& l : (*part)->doc.document_element().children()) {
    if (Local(l) != list) continue;
    for (const pugi::xml_node& item : l.children()) {
      const auto it = targets.find(item.attribute("r:id").value());
      if (it == targets.end() || !zip.Has(it->second)) return fallback;
      ordered.push_back(it->second);
    }
  }
  return ordered.empty() ? fallback : ordered;
}

namespace {

Status ExtractPptx(OfficeZip& zip, const ExtractLimits& limits, PageSink& sink) {
  const std::vector<std::string> slides = OrderedParts(zip, "ppt/presentation.xml", "ppt/_rels/presentation.xml.rels",
                                                       "ppt/", "sldIdLst", NumberedParts(zip, "ppt/slides/slide"));
  if (slides.empty()) return zip.Unreadable("it has no slides");
  BD_RETURN_IF_ERROR(CheckPageCount(slides.size(), limits));
  const int count = static_cast<int>(slides.size());
  for (int i = 0; i < count; ++i) {
    Result<std::string> text = DocumentText(zip, slides[static_cast<size_t>(i)], false);
    if (!text.ok()) return text.status();
    BD_RETURN_IF_ERROR(sink.OnPage(i + 1, count, NormalizeExtractedText(*text)));
  }
  return Status::Ok();
}

class OfficeExtractor final : public Extractor {
 public:
  explicit OfficeExtractor(OfficeFormat format) : format_(format) {}

  Status Extract(const InputFile& file, const ExtractLimits& limits, PageSink& sink) override {
    OfficeFormat format = format_;
    if (format == OfficeFormat::kZip) {
      // A zip libmagic could not name: its entries tell (here, in the job process, not at upload).
      const std::string type = OfficeTypeOfZip(file.bytes());
      if (type == kDocxMimeType) format = OfficeFormat::kDocx;
      else if (type == kPptxMimeType) format = OfficeFormat::kPptx;
      else if (type == kXlsxMimeType) format = OfficeFormat::kXlsx;
      else if (type == kOdtMimeType) format = OfficeFormat::kOdt;
      else return Status::InvalidArgument("a zip archive that is not a DOCX, PPTX, XLSX or ODT file: archives are not read");
    }
    static constexpr const char* kKinds[] = {"DOCX", "PPTX", "XLSX", "ODT"};
    Result<std::unique_ptr<OfficeZip>> zip = OfficeZip::Open(file, limits, kKinds[static_cast<int>(format)]);
    if (!zip.ok()) return zip.status();
    switch (format) {
      case OfficeFormat::kDocx:
        return ExtractDocx(**zip, sink);
      case OfficeFormat::kPptx:
        return ExtractPptx(**zip, limits, sink);
      case OfficeFormat::kXlsx:
        return ExtractXlsx(**zip, limits, sink);
      case OfficeFormat::kOdt:
        return ExtractOdt(**zip, sink);
      case OfficeFormat::kZip:
        break;
    }
    return Status::Internal("unknown office format");
  }

 private:
  OfficeFormat format_;
};

}  // namespace
}  // namespace betterdev::extract::office

namespace betterdev::extract {

std::unique_ptr<Extractor> NewOfficeExtractor(OfficeFormat format) {
  return std::make_unique<office::OfficeExtractor>(format);
}

}  // namespace betterdev::extract
