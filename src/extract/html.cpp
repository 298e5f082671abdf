// text/html (and XHTML) through gumbo, the HTML5 parsing algorithm browsers use, so broken
// markup is read the way a browser shows it.
//
// What is kept is the text a reader sees: the title, then the body, with paragraph breaks
// around block elements, a line per list item and per <br>, a line per table row with its cells
// joined by " | " (as for office tables), <pre> as written. Left out: script, style, noscript,
// template, svg, math, iframe/object/embed, form controls, <nav> (menus repeat on every page
// of a site and drown the content), and elements marked `hidden` or aria-hidden="true".
//
// Encoding: a byte order mark, else the <meta charset> / http-equiv / XML declaration in the
// first 4 KiB (what a browser's prescan reads), else detection (charset.hpp).
// Memory: the file (max_text_bytes), its UTF-8 form and gumbo's tree (~10x the text) at once.
// The tree walk uses its own stack, so deep nesting cannot overflow the thread's stack.
// Hostile input: gumbo's time and memory grow with the square of the nesting depth (200,000
// nested <div>s took 110 s; 100,000 unclosed <b>s took 24 GB), so a prescan estimates the depth
// and a document nested deeper than kMaxDepth fails before gumbo sees it.
#include <gumbo.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "extract/charset.hpp"
#include "extract/formats.hpp"
#include "extract/text_decode.hpp"

namespace betterdev::extract {
namespace {

constexpr size_t kPrescanBytes = 4096;
// Real pages nest tens to a few hundred elements deep.
constexpr int kMaxDepth = 2000;

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The value after `key` ("charset", "encoding") at `pos` in `head`: skips spaces, '=', quotes.
std::string ValueAfter(const std::string& head, size_t pos) {
  while (pos < head.size() && (std::isspace(static_cast<unsigned char>(head[pos])) || head[pos] == '=' ||
                               head[pos] == '"' || head[pos] == '\'')) {
    ++pos;
  }
  size_t end = pos;
  while (end < head.size() && (std::isalnum(static_cast<unsigned char>(head[end])) || head[end] == '-' ||
                               head[end] == '_' || head[end] == '.' || head[end] == ':')) {
    ++end;
  }
  return head.substr(pos, end - pos);
}

// The charset the document declares in its first bytes, or "".
std::string DeclaredCharset(std::string_view bytes) {
  const std::string head = LowerAscii(bytes.substr(0, kPrescanBytes));
  if (head.starts_with("<?xml")) {
    const size_t end = head.find("?>");
    const size_t enc = head.find("encoding", 5);
    if (enc != std::string::npos && (end == std::string::npos || enc < end)) return ValueAfter(head, enc + 8);
  }
  for (size_t meta = head.find("<meta"); meta != std::string::npos; meta = head.find("<meta", meta + 5)) {
    const size_t close = head.find('>', meta);
    const size_t cs = head.find("charset", meta);
    if (cs != std::string::npos && (close == std::string::npos || cs < close)) {
      std::string value = ValueAfter(head, cs + 7);
      if (!value.empty()) return value;
    }
  }
  return {};
}

bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Elements that never nest (void) or whose end tag may be left out (the parser closes them).
bool CountsForDepth(std::string_view name) {
  static constexpr std::string_view kNot[] = {
      "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track",
      "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "tbody", "thead", "tfoot", "colgroup",
      "rt", "rp", "html", "head", "body", "caption", "!doctype"};
  for (std::string_view n : kNot) {
    if (n == name) return false;
  }
  return true;
}

// Where "</name" (any case) starts at or after `from`, or html.size().
size_t FindEndTag(std::string_view html, size_t from, std::string_view name) {
  for (size_t at = html.find("</", from); at != std::string_view::npos; at = html.find("</", at + 2)) {
    const std::string_view candidate = html.substr(at + 2, name.size());
    if (candidate.size() == name.size() &&
        std::equal(candidate.begin(), candidate.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      return at;
    }
  }
  return html.size();
}

// An estimate of how deep the document nests: +1 per start tag of an element that must be
// closed, -1 per end tag; comments and script/style contents are skipped. It errs high only
// for markup that leaves such elements open, which the parser nests just as deep.
int EstimateDepth(std::string_view html) {
  int depth = 0;
  int max_depth = 0;
  size_t i = 0;
  while ((i = html.find('<', i)) != std::string_view::npos) {
    ++i;
    if (html.substr(i, 3) == "!--") {
      const size_t end = html.find("-->", i + 3);
      if (end == std::string_view::npos) break;
      i = end + 3;
      continue;
    }
    const bool closing = i < html.size() && html[i] == '/';
    if (closing) ++i;
    const size_t start = i;
    while (i < html.size() && (IsAsciiAlpha(html[i]) || (i > start && std::isdigit(static_cast<unsigned char>(html[i]))))) ++i;
    if (i == start) continue;
    const std::string name = LowerAscii(html.substr(start, i - start));
    const size_t close = html.find('>', i);
    if (close == std::string_view::npos) break;
    const bool self_closing = close > 0 && html[close - 1] == '/';
    i = close + 1;
    if (!CountsForDepth(name)) continue;
    if (closing) {
      depth = std::max(depth - 1, 0);
      continue;
    }
    if (self_closing) continue;
    if (name == "script" || name == "style") {  // raw text up to the end tag
      i = FindEndTag(html, i, name);
      continue;
    }
    max_depth = std::max(max_depth, ++depth);
  }
  return max_depth;
}

bool IsSkipped(const GumboElement& e) {
  switch (e.tag) {
    case GUMBO_TAG_HEAD:  // its <title> is taken separately
    case GUMBO_TAG_SCRIPT:
    case GUMBO_TAG_STYLE:
    case GUMBO_TAG_NOSCRIPT:
    case GUMBO_TAG_TEMPLATE:
    case GUMBO_TAG_SVG:
    case GUMBO_TAG_MATH:
    case GUMBO_TAG_IFRAME:
    case GUMBO_TAG_OBJECT:
    case GUMBO_TAG_EMBED:
    case GUMBO_TAG_CANVAS:
    case GUMBO_TAG_NAV:
    case GUMBO_TAG_SELECT:
    case GUMBO_TAG_TEXTAREA:
    case GUMBO_TAG_BUTTON:
    case GUMBO_TAG_INPUT:
      return true;
    default: break;
  }
  if (gumbo_get_attribute(&e.attributes, "hidden") != nullptr) return true;
  const GumboAttribute* aria = gumbo_get_attribute(&e.attributes, "aria-hidden");
  return aria != nullptr && LowerAscii(aria->value) == "true";
}

bool IsBlock(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_P: case GUMBO_TAG_DIV: case GUMBO_TAG_SECTION: case GUMBO_TAG_ARTICLE: case GUMBO_TAG_MAIN:
    case GUMBO_TAG_HEADER: case GUMBO_TAG_FOOTER: case GUMBO_TAG_ASIDE: case GUMBO_TAG_H1: case GUMBO_TAG_H2:
    case GUMBO_TAG_H3: case GUMBO_TAG_H4: case GUMBO_TAG_H5: case GUMBO_TAG_H6: case GUMBO_TAG_UL: case GUMBO_TAG_OL:
    case GUMBO_TAG_DL: case GUMBO_TAG_TABLE: case GUMBO_TAG_BLOCKQUOTE: case GUMBO_TAG_PRE: case GUMBO_TAG_FIGURE:
    case GUMBO_TAG_FIGCAPTION: case GUMBO_TAG_ADDRESS: case GUMBO_TAG_HR: case GUMBO_TAG_FORM:
    case GUMBO_TAG_FIELDSET: case GUMBO_TAG_DETAILS: case GUMBO_TAG_SUMMARY: case GUMBO_TAG_CAPTION:
    case GUMBO_TAG_CENTER: case GUMBO_TAG_BODY:
      return true;
    default: return false;
  }
}

bool IsLine(GumboTag tag) {
  return tag == GUMBO_TAG_LI || tag == GUMBO_TAG_TR || tag == GUMBO_TAG_DT || tag == GUMBO_TAG_DD ||
         tag == GUMBO_TAG_OPTION;
}

// Builds the text with breaks written lazily, so that nested blocks give one break, not many.
class TextBuilder {
 public:
  void Text(std::string_view s, bool preformatted) {
    for (char c : s) {
      const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
      if (space && !preformatted) {
        pending_space_ = !out_.empty();
        continue;
      }
      Flush();
      out_.push_back(c);
    }
  }
  void Break(int newlines) { pending_break_ = std::max(pending_break_, newlines); }
  void Cell() {
    if (!row_has_cell_) {
      row_has_cell_ = true;
      return;
    }
    pending_cell_ = true;
  }
  void EndRow() { row_has_cell_ = false, pending_cell_ = false; }
  std::string Take() { return std::move(out_); }

 private:
  void Flush() {
    if (out_.empty()) {
      pending_break_ = 0, pending_space_ = false, pending_cell_ = false;
      return;
    }
    if (pending_break_ > 0) {
      out_.append(static_cast<size_t>(pending_break_), '\n');
    } else if (pending_cell_) {
      out_.append(" | ");
    } else if (pending_space_) {
      out_.push_back(' ');
    }
    pending_break_ = 0, pending_space_ = false, pending_cell_ = false;
  }

  std::string out_;
  int pending_break_ = 0;
  bool pending_space_ = false;
  bool pending_cell_ = false;
  bool row_has_cell_ = false;
};

const GumboNode* FindTitle(const GumboNode* root) {
  std::vector<const GumboNode*> stack{root};
  while (!stack.empty()) {
    const GumboNode* n = stack.back();
    stack.pop_back();
    if (n->type != GUMBO_NODE_ELEMENT && n->type != GUMBO_NODE_DOCUMENT) continue;
    if (n->type == GUMBO_NODE_ELEMENT && n->v.element.tag == GUMBO_TAG_TITLE) return n;
    if (n->type == GUMBO_NODE_ELEMENT && n->v.element.tag == GUMBO_TAG_BODY) continue;
    const GumboVector& kids = n->type == GUMBO_NODE_DOCUMENT ? n->v.document.children : n->v.element.children;
    for (unsigned i = kids.length; i > 0; --i) stack.push_back(static_cast<const GumboNode*>(kids.data[i - 1]));
  }
  return nullptr;
}

void Walk(const GumboNode* root, TextBuilder& out) {
  struct Frame {
    const GumboNode* node;
    unsigned next_child;
    bool preformatted;
  };
  std::vector<Frame> stack{{root, 0, false}};
  while (!stack.empty()) {
    Frame& f = stack.back();
    const GumboNode* n = f.node;
    if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_CDATA || n->type == GUMBO_NODE_WHITESPACE) {
      out.Text(n->v.text.text, f.preformatted);
      stack.pop_back();
      continue;
    }
    if (n->type != GUMBO_NODE_ELEMENT && n->type != GUMBO_NODE_TEMPLATE && n->type != GUMBO_NODE_DOCUMENT) {
      stack.pop_back();  // comments
      continue;
    }
    const bool document = n->type == GUMBO_NODE_DOCUMENT;
    const GumboTag tag = document ? GUMBO_TAG_UNKNOWN : n->v.element.tag;
    const GumboVector& kids = document ? n->v.document.children : n->v.element.children;
    if (f.next_child == 0) {  // entering
      if (!document && IsSkipped(n->v.element)) {
        stack.pop_back();
        continue;
      }
      if (IsBlock(tag)) out.Break(2);
      if (IsLine(tag)) out.Break(1);
      if (tag == GUMBO_TAG_BR) out.Break(1);
      if (tag == GUMBO_TAG_TD || tag == GUMBO_TAG_TH) out.Cell();
    }
    if (f.next_child < kids.length) {
      const bool pre = f.preformatted || tag == GUMBO_TAG_PRE || tag == GUMBO_TAG_TEXTAREA;
      const auto* child = static_cast<const GumboNode*>(kids.data[f.next_child++]);
      stack.push_back({child, 0, pre});  // `f` is not used after this
      continue;
    }
    // leaving
    if (IsBlock(tag)) out.Break(2);
    if (IsLine(tag)) out.Break(1);
    if (tag == GUMBO_TAG_TR) out.EndRow();
    if (tag == GUMBO_TAG_TD || tag == GUMBO_TAG_TH) out.Text(" ", false);
    stack.pop_back();
  }
}

class HtmlExtractor final : public Extractor {
 public:
  Status Extract(const InputFile& file, const ExtractLimits& limits, PageSink& sink) override {
    std::string html;
    {
      Result<std::string> bytes = ReadTextFile(file, limits.max_text_bytes);
      if (!bytes.ok()) return bytes.status();
      html = DecodeText(*bytes, DeclaredCharset(*bytes));
    }
    if (const int depth = EstimateDepth(html); depth > kMaxDepth) {
      return Status::InvalidArgument("the HTML nests elements about " + std::to_string(depth) +
                                     " deep; the limit is " + std::to_string(kMaxDepth));
    }
    GumboOutput* parsed = gumbo_parse_with_options(&kGumboDefaultOptions, html.data(), html.size());
    if (parsed == nullptr) return Status::InvalidArgument("not a readable HTML file");
    TextBuilder out;
    if (const GumboNode* title = FindTitle(parsed->document)) {
      for (unsigned i = 0; i < title->v.element.children.length; ++i) {
        const auto* t = static_cast<const GumboNode*>(title->v.element.children.data[i]);
        if (t->type == GUMBO_NODE_TEXT) out.Text(t->v.text.text, false);
      }
      out.Break(2);
    }
    Walk(parsed->document, out);
    gumbo_destroy_output(&kGumboDefaultOptions, parsed);
    html.clear();
    html.shrink_to_fit();
    return sink.OnPage(1, 1, NormalizeExtractedText(out.Take()));
  }
};

}  // namespace

std::unique_ptr<Extractor> NewHtmlExtractor() { return std::make_unique<HtmlExtractor>(); }

}  // namespace betterdev::extract
