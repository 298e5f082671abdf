// Text in any encoding to UTF-8: Unicode encodings (text_decode.hpp) and legacy ones
// (Windows code pages, ISO-8859-*, KOI8-R, Shift_JIS, GB18030, ...) through iconv, with
// detection by uchardet when nothing declares the encoding.
//
// Pure functions of their input; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace betterdev::extract {

// uchardet's guess for `bytes` (it reads at most the first MiB), normalized for iconv
// ("WINDOWS-1252", "ISO-8859-8", "UTF-8", ...), or "" when it cannot tell.
std::string DetectCharset(std::string_view bytes);

// True when `bytes` is well-formed UTF-8 (ASCII included).
bool IsValidUtf8(std::string_view bytes);

// `bytes` in `charset` (any name iconv knows, spelled as documents do: "cp1252", "latin1",
// "koi8-r", "shift_jis"), without sniffing; windows-1252 when iconv does not know the name.
// Undefined bytes become U+FFFD. Line ends and NULs are left as they are.
std::string DecodeCharset(std::string_view bytes, std::string_view charset);

// Decodes a document's bytes in this order: a byte order mark, or UTF-16/32 recognised without
// one (SniffEncoding); else `declared_charset` when iconv knows it (what an HTML <meta> or XML
// declaration says; "iso-8859-1" and "us-ascii" mean windows-1252, as browsers treat them);
// else UTF-8 when the bytes are valid UTF-8; else uchardet's guess; else windows-1252. The
// result follows DecodeToUtf8's rules (CRLF and CR become LF, NUL dropped); a byte the
// encoding does not define becomes U+FFFD.
std::string DecodeText(std::string_view bytes, std::string_view declared_charset = {});

}  // namespace betterdev::extract
