#include "extract/detect.hpp"

#include <magic.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "extract/charset.hpp"
#include "extract/extractor.hpp"
#include "extract/formats.hpp"
#include "extract/text_decode.hpp"

namespace betterdev::extract {
namespace {

struct MagicCloser {
  void operator()(magic_t m) const { magic_close(m); }
};
using MagicHandle = std::unique_ptr<std::remove_pointer_t<magic_t>, MagicCloser>;

// A libmagic handle is not thread-safe and loading its database costs milliseconds, so each
// thread opens one on first use and keeps it until the thread ends. A failed load is not
// cached: the next call tries again.
Result<magic_t> ThreadMagic() {
  thread_local MagicHandle handle;
  if (!handle) {
    MagicHandle m(magic_open(MAGIC_MIME_TYPE | MAGIC_MIME_ENCODING | MAGIC_ERROR));
    if (!m) return Status::Internal("libmagic: cannot open a handle");
    if (magic_load(m.get(), nullptr) != 0) {
      const char* why = magic_error(m.get());
      return Status::Internal(std::string("libmagic: cannot load its database: ") + (why ? why : "?"));
    }
    handle = std::move(m);
  }
  return handle.get();
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// "text/plain; charset=us-ascii" -> {"text/plain", "us-ascii"}.
DetectedType ParseMagic(std::string_view magic) {
  DetectedType t;
  const size_t semi = magic.find(';');
  t.mime_type = Lower(Trim(magic.substr(0, semi)));
  if (semi != std::string_view::npos) {
    std::string_view rest = magic.substr(semi + 1);
    const size_t eq = rest.find("charset=");
    if (eq != std::string_view::npos) t.encoding = Lower(Trim(rest.substr(eq + 8)));
  }
  return t;
}

std::string ReadHead(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string head(max_bytes, '\0');
  in.read(head.data(), static_cast<std::streamsize>(max_bytes));
  head.resize(static_cast<size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  return head;
}

bool HasMarkdownName(std::string_view filename_hint) {
  const std::string ext = Lower(std::filesystem::path(filename_hint).extension().string());
  return ext == ".md" || ext == ".markdown";
}

bool HasHtmlName(std::string_view filename_hint) {
  const std::string ext = Lower(std::filesystem::path(filename_hint).extension().string());
  return ext == ".html" || ext == ".htm" || ext == ".xhtml";
}

// XHTML (and HTML that starts with an XML declaration), which libmagic calls text/xml.
bool LooksLikeHtml(std::string_view head) {
  const std::string start = Lower(head.substr(0, 4096));
  return start.find("<html") != std::string::npos || start.find("<!doctype html") != std::string::npos;
}

std::string ReadTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  const std::streamoff size = in.tellg();
  if (size <= 0) return {};
  const auto n = static_cast<std::streamoff>(std::min<uint64_t>(static_cast<uint64_t>(size), max_bytes));
  in.seekg(size - n);
  std::string tail(static_cast<size_t>(n), '\0');
  in.read(tail.data(), n);
  tail.resize(static_cast<size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  return tail;
}

// A PDF whose header comes after some leading bytes (a mail or HTTP header, a BOM, junk),
// which libmagic calls something else when the leading bytes are binary (say image/x-tga;
// after text it finds the header itself): PDF readers look for
// "%PDF-" in the first 1,024 bytes, and every PDF ends with "%%EOF" (give or take trailing
// bytes). Both are asked for, so that text that merely mentions "%PDF-1.4" stays text.
bool LooksLikeOffsetPdf(std::string_view head, const std::string& path) {
  constexpr size_t kHeaderWindow = 1024;
  constexpr size_t kTrailerWindow = 1024;
  return head.substr(0, kHeaderWindow).find("%PDF-") != std::string_view::npos &&
         ReadTail(path, kTrailerWindow).find("%%EOF") != std::string::npos;
}

// The encoding of `head` (a file's first bytes) when it is text: UTF-16/32 recognised by
// SniffEncoding, valid UTF-8, or a legacy encoding uchardet names that decodes without an
// undefined byte; with no NUL and almost no other control characters. Empty when it is not.
std::string TextEncodingOf(std::string_view head) {
  if (head.empty()) return {};  // an empty file is refused as empty, not read as text
  const SniffedEncoding sniffed = SniffEncoding(head);
  if (sniffed.encoding != TextEncoding::kUtf8) return std::string(EncodingName(sniffed.encoding));
  size_t controls = 0;
  bool ascii = true;
  for (char ch : head) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) return {};
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') || c == 0x7F) ++controls;
    ascii = ascii && c < 0x80;
  }
  if (controls * 100 > head.size()) return {};
  if (ascii) return "us-ascii";
  // The head may end inside a character: up to 3 bytes of it.
  for (size_t cut = 0; cut <= 3 && cut < head.size(); ++cut) {
    if (IsValidUtf8(head.substr(0, head.size() - cut))) return "utf-8";
  }
  std::string charset = DetectCharset(head);
  if (charset.empty() || DecodeCharset(head, charset).find("\xEF\xBF\xBD") != std::string::npos) return {};
  return Lower(charset);
}

// Formats written in text that are not prose to read as such: pictures (SVG), XML, PostScript.
bool MarkupNotProse(std::string_view mime_type) {
  return mime_type.starts_with("image/") || mime_type.find("xml") != std::string_view::npos ||
         mime_type == "application/postscript";
}

}  // namespace

Result<DetectedType> DetectFileType(const std::string& path, std::string_view filename_hint) {
  // libmagic would block reading a FIFO and describe a directory: only files are documents.
  BD_RETURN_IF_ERROR(CheckRegularFile(path));

  Result<magic_t> magic = ThreadMagic();
  if (!magic.ok()) return magic.status();
  const char* described = magic_file(*magic, path.c_str());
  if (described == nullptr) {
    const char* why = magic_error(*magic);
    return Status::Internal(std::string("libmagic: ") + (why ? why : "cannot read the file"));
  }
  DetectedType t = ParseMagic(described);

  // libmagic 5.44 says "inode/x-empty", older versions "application/x-empty": callers get one.
  if (t.mime_type == "inode/x-empty") t.mime_type = std::string(kEmptyFileMimeType);

  // The file's first bytes, read once when a rule below needs them.
  std::optional<std::string> head_bytes;
  auto head = [&]() -> std::string_view {
    if (!head_bytes) head_bytes = ReadHead(path, kEncodingSniffBytes);
    return *head_bytes;
  };

  if (!IsSupportedType(t.mime_type) && LooksLikeOffsetPdf(head(), path)) {
    t.mime_type = "application/pdf";
    t.encoding = "binary";
    return t;
  }

  // Office files are zip archives; libmagic names them from the first entries and says
  // application/zip (or octet-stream) when their writer ordered the entries differently. The
  // archive's directory tells, but the API parses no archive of a stranger's: the job process
  // reads the entries (ExtractorFor("application/zip")) and refuses any other zip there.
  if (t.mime_type == "application/octet-stream" && head().starts_with(std::string_view("PK\x03\x04", 4))) {
    t.mime_type = "application/zip";
    t.encoding = "binary";
    return t;
  }

  // Text is text whatever libmagic's more exotic guess (application/vnd.hp-hpgl for prose that
  // starts "PA", message/news for "Article ...", message/rfc822, text/csv, application/json, and
  // application/octet-stream for UTF-16/32 without a byte order mark).
  if (!IsSupportedType(t.mime_type) && !MarkupNotProse(t.mime_type)) {
    if (std::string encoding = TextEncodingOf(head()); !encoding.empty()) {
      t.mime_type = "text/plain";
      t.encoding = std::move(encoding);
    }
  }

  if (t.mime_type == "text/xml" && LooksLikeHtml(head())) t.mime_type = "text/html";
  // A fragment of HTML without <html> (libmagic: text/plain) named .html is read as HTML,
  // which for plain text changes nothing but whitespace.
  if (t.mime_type == "text/plain" && HasHtmlName(filename_hint)) t.mime_type = "text/html";
  // libmagic's older name for BMP.
  if (t.mime_type == "image/x-ms-bmp") t.mime_type = "image/bmp";

  // Markdown is text; libmagic calls it text/plain, or text/html / text/x-* when it holds
  // HTML or code blocks. The name decides between kinds of text, never more.
  if (HasMarkdownName(filename_hint) &&
      (t.mime_type == "text/plain" || t.mime_type == "text/html" || t.mime_type.starts_with("text/x-"))) {
    t.mime_type = "text/markdown";
  }
  return t;
}

}  // namespace betterdev::extract
