#include "extract/charset.hpp"

#include <iconv.h>
#include <uchardet/uchardet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <memory>

#include "core/utf8.hpp"
#include "extract/text_decode.hpp"

namespace betterdev::extract {
namespace {

constexpr size_t kDetectBytes = size_t{1} << 20;

std::string Upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

// The name iconv is given for a declared or detected charset.
std::string IconvName(std::string_view charset) {
  std::string name = Upper(charset);
  while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
  while (!name.empty() && std::isspace(static_cast<unsigned char>(name.front()))) name.erase(0, 1);
  // Browsers read these labels as windows-1252 (the WHATWG Encoding Standard), and so do
  // the documents' authors: "Latin-1" pages hold curly quotes in 0x80-0x9F.
  if (name == "ISO-8859-1" || name == "ISO8859-1" || name == "LATIN1" || name == "US-ASCII" || name == "ASCII" ||
      name == "CP1252" || name == "X-CP1252") {
    return "WINDOWS-1252";
  }
  if (name == "ISO-8859-8-I") return "ISO-8859-8";  // logical order; the bytes are the same
  if (name == "SHIFT-JIS" || name == "SJIS" || name == "X-SJIS") return "SHIFT_JIS";
  if (name == "GB2312" || name == "GBK" || name == "X-GBK") return "GB18030";  // supersets
  return name;
}

struct IconvCloser {
  void operator()(iconv_t* cd) const {
    iconv_close(*cd);
    delete cd;
  }
};

// Converts with iconv; an undefined or cut-short byte sequence becomes U+FFFD and conversion
// goes on one byte later. Returns false when iconv does not know `charset`.
bool ConvertWithIconv(std::string_view bytes, const std::string& charset, std::string& out) {
  iconv_t cd = iconv_open("UTF-8", charset.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  std::unique_ptr<iconv_t, IconvCloser> guard(new iconv_t(cd));
  out.clear();
  out.reserve(bytes.size() + bytes.size() / 2);
  char* in = const_cast<char*>(bytes.data());
  size_t in_left = bytes.size();
  char buf[16384];
  while (in_left > 0) {
    char* o = buf;
    size_t o_left = sizeof buf;
    const size_t rc = iconv(cd, &in, &in_left, &o, &o_left);
    out.append(buf, static_cast<size_t>(o - buf));
    if (rc == static_cast<size_t>(-1)) {
      if (errno == E2BIG) continue;
      // EILSEQ (undefined) or EINVAL (cut short at the end): one replacement, skip one byte.
      out.append("\xEF\xBF\xBD");
      ++in;
      --in_left;
      iconv(cd, nullptr, nullptr, nullptr, nullptr);  // reset the shift state
    }
  }
  char* o = buf;
  size_t o_left = sizeof buf;
  iconv(cd, nullptr, nullptr, &o, &o_left);
  out.append(buf, static_cast<size_t>(o - buf));
  return true;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    int need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) need = 1;
    else if (b == 0xE0) need = 2, lo = 0xA0;
    else if (b >= 0xE1 && b <= 0xEC) need = 2;
    else if (b == 0xED) need = 2, hi = 0x9F;
    else if (b >= 0xEE && b <= 0xEF) need = 2;
    else if (b == 0xF0) need = 3, lo = 0x90;
    else if (b >= 0xF1 && b <= 0xF3) need = 3;
    else if (b == 0xF4) need = 3, hi = 0x8F;
    else return false;
    if (i + static_cast<size_t>(need) >= n) return false;  // cut short
    const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (int k = 2; k <= need; ++k) {
      const unsigned char c = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      if (c < 0x80 || c > 0xBF) return false;
    }
    i += static_cast<size_t>(need) + 1;
  }
  return true;
}

std::string DetectCharset(std::string_view bytes) {
  uchardet_t ud = uchardet_new();
  if (ud == nullptr) return {};
  const std::string_view sample = bytes.substr(0, kDetectBytes);
  std::string charset;
  if (uchardet_handle_data(ud, sample.data(), sample.size()) == 0) {
    uchardet_data_end(ud);
    const char* found = uchardet_get_charset(ud);
    if (found != nullptr) charset = IconvName(found);
  }
  uchardet_delete(ud);
  return charset;
}

std::string DecodeText(std::string_view bytes, std::string_view declared_charset) {
  if (SniffEncoding(bytes).encoding != TextEncoding::kUtf8 ||
      (bytes.size() >= 3 && bytes.substr(0, 3) == "\xEF\xBB\xBF")) {
    return DecodeToUtf8(bytes);  // a byte order mark, or UTF-16/32 without one
  }
  std::string charset = declared_charset.empty() ? std::string() : IconvName(declared_charset);
  // A document that declares UTF-16 in ASCII-readable bytes is not UTF-16 (browsers read UTF-8).
  if (charset.starts_with("UTF-16") || charset.starts_with("UTF-32") || charset == "UTF8") charset = "UTF-8";
  if (charset.empty() || charset == "UTF-8") {
    if (charset == "UTF-8" || IsValidUtf8(bytes)) return DecodeToUtf8(bytes);
    charset = DetectCharset(bytes);
    if (charset.empty() || charset == "UTF-8" || charset == "ASCII") charset = "WINDOWS-1252";
  }
  return DecodeToUtf8(DecodeCharset(bytes, charset));  // line ends and NULs, as for every text
}

std::string DecodeCharset(std::string_view bytes, std::string_view charset) {
  std::string utf8;
  if (!ConvertWithIconv(bytes, IconvName(charset), utf8)) ConvertWithIconv(bytes, "WINDOWS-1252", utf8);
  if (IsValidUtf8(utf8)) return utf8;
  // glibc's converters can pass through what is not Unicode (its UTF-8 decoder takes the old 5-
  // and 6-byte forms; found by fuzz/fuzz_text_decode.cpp): each ill-formed byte becomes U+FFFD.
  std::string clean;
  clean.reserve(utf8.size());
  for (size_t i = 0; i < utf8.size();) {
    const Utf8Char c = DecodeUtf8At(utf8, i);
    if (c.length == 0) {
      clean.append("\xEF\xBF\xBD");
      ++i;
    } else {
      clean.append(utf8, i, c.length);
      i += c.length;
    }
  }
  return clean;
}

}  // namespace betterdev::extract
