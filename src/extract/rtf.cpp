// text/rtf: the text of a Rich Text Format file (no library in Debian reads RTF as a library;
// the format's text layer is small). One page.
//
// Read: plain text, \par and \sect (paragraphs), \line, \tab, \cell and \row (a table row is a
// line with its cells joined by " | ", as for office tables), \'hh bytes in the document's
// code page (\ansicpgN, default windows-1252), \uN Unicode characters with their \ucN fallback
// skipped, typographic symbols (\emdash, \lquote, ...), field results (not their instructions).
// Skipped: destinations that are not text (font, colour and style tables, document info,
// pictures, objects, \*-marked extensions), \binN data.
// Hostile input: groups are tracked with a vector, not recursion; the file is capped by
// ExtractLimits::max_text_bytes; anything unexpected is skipped, never fatal, except a file
// that does not start with "{\rtf".
#include <algorithm>
#include <cstdlib>
#include <string>
#include <unordered_set>
#include <vector>

#include "extract/charset.hpp"
#include "extract/formats.hpp"
#include "extract/text_decode.hpp"

namespace betterdev::extract {
namespace {

const std::unordered_set<std::string_view>& SkippedDestinations() {
  static const std::unordered_set<std::string_view> kSkipped = {
      "fonttbl", "colortbl", "stylesheet", "info", "pict", "object", "listtable", "listoverridetable",
      "rsidtbl", "generator", "xmlnstbl", "themedata", "colorschememapping", "datastore", "latentstyles",
      "fldinst", "filetbl", "revtbl", "pgdsctbl", "nonshppict", "shpinst", "header", "headerl", "headerr",
      "headerf", "footer", "footerl", "footerr", "footerf", "footnote", "bkmkstart", "bkmkend", "author",
      "operator", "title", "subject", "keywords", "comment", "doccomm", "company", "userprops", "xe", "tc",
      "mmathPr", "wgrffmtfilter", "panose", "falt", "listtext", "pntext", "pntxta", "pntxtb"};
  return kSkipped;
}

struct GroupState {
  bool skip = false;
  int unicode_skip = 1;  // \ucN: bytes of fallback after each \uN
};

class RtfReader {
 public:
  explicit RtfReader(std::string_view rtf) : in_(rtf) {}

  std::string Read() {
    std::vector<GroupState> groups{GroupState{}};
    size_t i = 0;
    int fallback_left = 0;  // characters still to skip after a \uN
    while (i < in_.size()) {
      const char c = in_[i];
      GroupState& g = groups.back();
      if (c == '{') {
        FlushBytes();
        groups.push_back(g);
        ++i;
        fallback_left = 0;
        continue;
      }
      if (c == '}') {
        FlushBytes();
        if (groups.size() > 1) groups.pop_back();
        ++i;
        fallback_left = 0;
        continue;
      }
      if (c == '\r' || c == '\n') {
        ++i;
        continue;
      }
      if (c != '\\') {
        if (fallback_left > 0) {
          --fallback_left;
        } else if (!g.skip) {
          bytes_.push_back(c);
        }
        ++i;
        continue;
      }
      // A control word or symbol.
      ++i;
      if (i >= in_.size()) break;
      const char s = in_[i];
      if (!IsAsciiLetter(s)) {
        ++i;
        if (s == '\'') {
          if (i + 2 <= in_.size()) {
            const int hi = Hex(in_[i]), lo = Hex(in_[i + 1]);
            i += 2;
            if (hi >= 0 && lo >= 0) {
              if (fallback_left > 0) --fallback_left;
              else if (!g.skip) bytes_.push_back(static_cast<char>(hi * 16 + lo));
            }
          }
          continue;
        }
        if (fallback_left > 0) {
          --fallback_left;
          continue;
        }
        if (s == '*') {
          g.skip = true;  // "ignore unless understood": no starred destination is text
          continue;
        }
        if (g.skip) continue;
        if (s == '\\' || s == '{' || s == '}') bytes_.push_back(s);
        else if (s == '~') Put(U'\u00A0');
        else if (s == '_') Put(U'\u2011');
        else if (s == '\n' || s == '\r') Put(U'\n'), Put(U'\n');
        else if (s == '\t') Put(U'\t');
        continue;  // \- (optional hyphen), \: and others: nothing to read
      }
      const size_t word_start = i;
      while (i < in_.size() && IsAsciiLetter(in_[i]) && i - word_start < 32) ++i;
      const std::string_view word = in_.substr(word_start, i - word_start);
      bool has_param = false;
      long param = 0;
      if (i < in_.size() && (in_[i] == '-' || IsDigit(in_[i]))) {
        const size_t num_start = i;
        ++i;
        while (i < in_.size() && IsDigit(in_[i]) && i - num_start < 11) ++i;
        param = std::strtol(std::string(in_.substr(num_start, i - num_start)).c_str(), nullptr, 10);
        has_param = true;
      }
      if (i < in_.size() && in_[i] == ' ') ++i;  // the delimiter space belongs to the word

      if (word == "bin" && has_param && param > 0) {
        i += std::min(static_cast<size_t>(param), in_.size() - i);
        continue;
      }
      if (fallback_left > 0 && word != "u") {
        --fallback_left;
        continue;
      }
      if (word == "uc" && has_param) {
        g.unicode_skip = static_cast<int>(std::clamp(param, 0L, 8L));
        continue;
      }
      if (word == "ansicpg" && has_param) {
        FlushBytes();
        codepage_ = "CP" + std::to_string(param);
        continue;
      }
      if (word == "mac") codepage_ = "MACINTOSH";
      if (SkippedDestinations().count(word) != 0) {
        FlushBytes();
        g.skip = true;
        continue;
      }
      if (g.skip) continue;
      if (word == "u" && has_param) {
        long cp = param < 0 ? param + 65536 : param;
        PutUnit(static_cast<char32_t>(cp));
        fallback_left = g.unicode_skip;
        continue;
      }
      Symbol(word);
    }
    FlushBytes();
    return std::move(out_);
  }

 private:
  static bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }
  static int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  void Symbol(std::string_view word) {
    FlushBytes();
    if (word == "par" || word == "sect" || word == "page") Put(U'\n'), Put(U'\n');
    else if (word == "line") Put(U'\n');
    else if (word == "tab") Put(U'\t');
    else if (word == "cell") FlushBytes(), cell_pending_ = true;  // " | " before the next cell's text
    else if (word == "row") cell_pending_ = false, Put(U'\n');
    else if (word == "emdash") Put(U'\u2014');
    else if (word == "endash") Put(U'\u2013');
    else if (word == "bullet") Put(U'\u2022');
    else if (word == "lquote") Put(U'\u2018');
    else if (word == "rquote") Put(U'\u2019');
    else if (word == "ldblquote") Put(U'\u201C');
    else if (word == "rdblquote") Put(U'\u201D');
    else if (word == "emspace" || word == "enspace" || word == "qmspace") Put(U' ');
  }

  // UTF-16 code units from \uN: pairs of surrogates become one character.
  void PutUnit(char32_t unit) {
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      high_surrogate_ = unit;
      return;
    }
    if (unit >= 0xDC00 && unit <= 0xDFFF) {
      if (high_surrogate_ != 0) Put(0x10000 + ((high_surrogate_ - 0xD800) << 10) + (unit - 0xDC00));
      high_surrogate_ = 0;
      return;
    }
    high_surrogate_ = 0;
    Put(unit);
  }

  void Put(char32_t cp) {
    FlushBytes();
    if (cp != U'\n') CellSeparator();
    if (cp < 0x110000) AppendUtf8(out_, cp);
  }

  void CellSeparator() {
    if (cell_pending_) out_.append(" | ");
    cell_pending_ = false;
  }

  // Text bytes collected so far, decoded in the document's code page.
  void FlushBytes() {
    if (bytes_.empty()) return;
    CellSeparator();
    out_.append(DecodeCharset(bytes_, codepage_));
    bytes_.clear();
  }

  std::string_view in_;
  std::string out_;
  std::string bytes_;
  std::string codepage_ = "WINDOWS-1252";
  char32_t high_surrogate_ = 0;
  bool cell_pending_ = false;
};

class RtfExtractor final : public Extractor {
 public:
  Status Extract(const InputFile& file, const ExtractLimits& limits, PageSink& sink) override {
    Result<std::string> bytes = ReadTextFile(file, limits.max_text_bytes);
    if (!bytes.ok()) return bytes.status();
    if (!std::string_view(*bytes).starts_with("{\\rtf")) {
      return Status::InvalidArgument("not a readable RTF file: it does not start with {\\rtf");
    }
    std::string text = RtfReader(*bytes).Read();
    bytes->clear();
    return sink.OnPage(1, 1, NormalizeExtractedText(text));
  }
};

}  // namespace

std::unique_ptr<Extractor> NewRtfExtractor() { return std::make_unique<RtfExtractor>(); }

}  // namespace betterdev::extract
