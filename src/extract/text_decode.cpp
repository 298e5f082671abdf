#include "extract/text_decode.hpp"

#include <algorithm>
#include <cstdint>

namespace betterdev::extract {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

unsigned char Byte(std::string_view s, size_t i) { return static_cast<unsigned char>(s[i]); }

// Appends decoded code points, applying the line-end and NUL rules in one place for every
// source encoding. A CR is written as LF at once; an LF right after it is then swallowed.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void Put(char32_t cp) {
    if (cp == '\n' && after_cr_) {
      after_cr_ = false;
      return;
    }
    after_cr_ = cp == '\r';
    if (cp == 0) return;
    AppendUtf8(out_, after_cr_ ? U'\n' : cp);
  }
  // `bytes` is well-formed UTF-8 without NUL or CR (the fast path for runs of plain text).
  void PutValid(std::string_view bytes) {
    if (bytes.empty()) return;
    if (after_cr_ && bytes.front() == '\n') bytes.remove_prefix(1);
    after_cr_ = false;
    out_.append(bytes);
  }

 private:
  std::string& out_;
  bool after_cr_ = false;
};

void DecodeUtf8(std::string_view in, Writer& w) {
  size_t i = 0;
  const size_t n = in.size();
  while (i < n) {
    const unsigned char b = Byte(in, i);
    if (b < 0x80) {
      size_t j = i;
      while (j < n && Byte(in, j) < 0x80 && in[j] != '\r' && in[j] != '\0') ++j;
      if (j == i) {
        w.Put(b);
        ++i;
      } else {
        w.PutValid(in.substr(i, j - i));
        i = j;
      }
      continue;
    }
    // Lead byte: how many continuation bytes follow, and the allowed range of the first one
    // (which rules out overlong forms, surrogates and code points above U+10FFFF).
    int need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      w.Put(kReplacement);
      ++i;
      continue;
    }
    size_t j = i + 1;
    bool ok = true;
    for (int k = 0; k < need; ++k, ++j) {
      if (j >= n || Byte(in, j) < lo || Byte(in, j) > hi) {
        ok = false;
        break;
      }
      lo = 0x80;
      hi = 0xBF;
    }
    // On failure bytes [i, j) are a maximal ill-formed subpart: one U+FFFD, resume at j.
    if (ok) {
      w.PutValid(in.substr(i, j - i));
    } else {
      w.Put(kReplacement);
    }
    i = j;
  }
}

uint32_t Unit16(std::string_view s, size_t i, bool le) {
  return le ? Byte(s, i) | (Byte(s, i + 1) << 8) : (Byte(s, i) << 8) | Byte(s, i + 1);
}

uint32_t Unit32(std::string_view s, size_t i, bool le) {
  uint32_t v = 0;
  for (int k = 0; k < 4; ++k) v = (v << 8) | Byte(s, le ? i + 3 - k : i + k);
  return v;
}

// Calls put(code point) for each character; unpaired surrogates and a trailing odd byte
// become U+FFFD.
template <typename Put>
void DecodeUtf16(std::string_view in, bool le, Put&& put) {
  size_t i = 0;
  for (; i + 1 < in.size(); i += 2) {
    const uint32_t u = Unit16(in, i, le);
    if (u >= 0xD800 && u <= 0xDBFF && i + 3 < in.size()) {
      const uint32_t u2 = Unit16(in, i + 2, le);
      if (u2 >= 0xDC00 && u2 <= 0xDFFF) {
        put(static_cast<char32_t>(0x10000 + ((u - 0xD800) << 10) + (u2 - 0xDC00)));
        i += 2;
        continue;
      }
    }
    put(u >= 0xD800 && u <= 0xDFFF ? kReplacement : static_cast<char32_t>(u));
  }
  if (i < in.size()) put(kReplacement);
}

template <typename Put>
void DecodeUtf32(std::string_view in, bool le, Put&& put) {
  size_t i = 0;
  for (; i + 3 < in.size(); i += 4) {
    const uint32_t u = Unit32(in, i, le);
    put(u > 0x10FFFF || (u >= 0xD800 && u <= 0xDFFF) ? kReplacement : static_cast<char32_t>(u));
  }
  if (i < in.size()) put(kReplacement);
}

// True when at most 2% of the decoded characters are controls (other than tab, LF, CR, FF)
// or replacements: binary data that happens to have a NUL pattern fails this.
template <typename Decode>
bool DecodesToText(Decode&& decode) {
  size_t total = 0, bad = 0;
  decode([&](char32_t cp) {
    ++total;
    const bool control =
        (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r' && cp != '\f') || (cp >= 0x7F && cp <= 0x9F);
    if (control || cp == kReplacement || cp == 0xFFFE || cp == 0xFFFF) ++bad;
  });
  return total > 0 && bad * 50 <= total;
}

bool IsBidiControl(char32_t cp) {
  return (cp >= 0x200E && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

bool IsHorizontalSpace(char32_t cp) {
  return cp == ' ' || cp == '\t' || cp == 0xA0 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

// Decodes one code point of well-formed UTF-8 at `i` and advances `i`.
char32_t NextCodePoint(std::string_view s, size_t& i) {
  const unsigned char b = Byte(s, i);
  const int len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
  char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (Byte(s, i + k) & 0x3F);
  i += len;
  return cp;
}

}  // namespace

void AppendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}


SniffedEncoding SniffEncoding(std::string_view bytes) {
  const auto starts = [&](std::string_view bom) { return bytes.substr(0, bom.size()) == bom; };
  using namespace std::string_view_literals;
  // UTF-32LE before UTF-16LE: its BOM begins with the UTF-16LE one.
  if (starts("\xFF\xFE\x00\x00"sv)) return {TextEncoding::kUtf32Le, 4};
  if (starts("\x00\x00\xFE\xFF"sv)) return {TextEncoding::kUtf32Be, 4};
  if (starts("\xEF\xBB\xBF"sv)) return {TextEncoding::kUtf8, 3};
  if (starts("\xFF\xFE"sv)) return {TextEncoding::kUtf16Le, 2};
  if (starts("\xFE\xFF"sv)) return {TextEncoding::kUtf16Be, 2};

  std::string_view sample = bytes.substr(0, kEncodingSniffBytes);
  if (sample.find('\0') == std::string_view::npos) return {};

  // UTF-32: the two high bytes of almost every unit are zero (all of the BMP below U+10000).
  const size_t units32 = sample.size() / 4;
  if (units32 > 0) {
    size_t le = 0, be = 0;
    for (size_t i = 0; i + 3 < sample.size(); i += 4) {
      if (sample[i + 2] == '\0' && sample[i + 3] == '\0' && (sample[i] | sample[i + 1]) != 0) ++le;
      if (sample[i] == '\0' && sample[i + 1] == '\0' && (sample[i + 2] | sample[i + 3]) != 0) ++be;
    }
    for (const bool little : {true, false}) {
      if ((little ? le : be) * 10 >= units32 * 9 &&
          DecodesToText([&](auto put) { DecodeUtf32(sample.substr(0, units32 * 4), little, put); })) {
        return {little ? TextEncoding::kUtf32Le : TextEncoding::kUtf32Be, 0};
      }
    }
  }
  // UTF-16 in a Latin script: the high byte of most units is zero, the low byte almost never.
  const size_t units16 = sample.size() / 2;
  if (units16 > 0) {
    size_t zero_even = 0, zero_odd = 0;
    for (size_t i = 0; i + 1 < sample.size(); i += 2) {
      zero_even += sample[i] == '\0';
      zero_odd += sample[i + 1] == '\0';
    }
    for (const bool little : {true, false}) {
      const size_t high_zero = little ? zero_odd : zero_even;
      const size_t low_zero = little ? zero_even : zero_odd;
      if (high_zero * 10 >= units16 * 3 && low_zero * 20 <= units16 &&
          DecodesToText([&](auto put) { DecodeUtf16(sample.substr(0, units16 * 2), little, put); })) {
        return {little ? TextEncoding::kUtf16Le : TextEncoding::kUtf16Be, 0};
      }
    }
  }
  return {};
}

std::string_view EncodingName(TextEncoding encoding) {
  switch (encoding) {
    case TextEncoding::kUtf8: return "utf-8";
    case TextEncoding::kUtf16Le: return "utf-16le";
    case TextEncoding::kUtf16Be: return "utf-16be";
    case TextEncoding::kUtf32Le: return "utf-32le";
    case TextEncoding::kUtf32Be: return "utf-32be";
  }
  return "utf-8";
}

std::string DecodeToUtf8(std::string_view bytes) {
  const SniffedEncoding sniffed = SniffEncoding(bytes);
  bytes.remove_prefix(sniffed.bom_size);
  std::string out;
  Writer w(out);
  const auto put = [&w](char32_t cp) { w.Put(cp); };
  switch (sniffed.encoding) {
    case TextEncoding::kUtf8:
      out.reserve(bytes.size());
      DecodeUtf8(bytes, w);
      break;
    case TextEncoding::kUtf16Le:
    case TextEncoding::kUtf16Be:
      out.reserve(bytes.size());
      DecodeUtf16(bytes, sniffed.encoding == TextEncoding::kUtf16Le, put);
      break;
    case TextEncoding::kUtf32Le:
    case TextEncoding::kUtf32Be:
      out.reserve(bytes.size() / 2);
      DecodeUtf32(bytes, sniffed.encoding == TextEncoding::kUtf32Le, put);
      break;
  }
  return out;
}

std::string NormalizeExtractedText(std::string_view text) {
  std::string valid;
  Writer w(valid);
  DecodeUtf8(text, w);

  std::string out;
  out.reserve(valid.size());
  bool line_has_text = false;  // the current output line has a visible character
  bool space_pending = false;  // spaces seen since the last visible character on this line
  int newlines_pending = 0;    // line ends seen since the last visible character
  for (size_t i = 0; i < valid.size();) {
    const char32_t cp = NextCodePoint(valid, i);
    if (cp == '\n') {
      ++newlines_pending;
      line_has_text = false;
      space_pending = false;
      continue;
    }
    if (IsHorizontalSpace(cp)) {
      space_pending = line_has_text;
      continue;
    }
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || IsBidiControl(cp) || cp == 0xFEFF) continue;
    if (newlines_pending > 0 && !out.empty()) out.append(std::min(newlines_pending, 2), '\n');
    if (space_pending) out.push_back(' ');
    newlines_pending = 0;
    space_pending = false;
    line_has_text = true;
    static constexpr std::string_view kLigatures[] = {"ff", "fi", "fl", "ffi", "ffl", "st", "st"};
    if (cp >= 0xFB00 && cp <= 0xFB06) {
      out.append(kLigatures[cp - 0xFB00]);
    } else {
      AppendUtf8(out, cp);
    }
  }
  return out;
}

}  // namespace betterdev::extract
