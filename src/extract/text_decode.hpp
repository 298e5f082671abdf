// Decoding of text files to UTF-8, and the clean-up every extractor's output goes through.
//
// Pure functions of their input; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace betterdev::extract {

enum class TextEncoding { kUtf8, kUtf16Le, kUtf16Be, kUtf32Le, kUtf32Be };

// SniffEncoding reads no further than this.
inline constexpr size_t kEncodingSniffBytes = size_t{64} * 1024;

struct SniffedEncoding {
  TextEncoding encoding = TextEncoding::kUtf8;
  size_t bom_size = 0;  // bytes of byte order mark to skip; 0 when guessed from the content
};

// The encoding of `bytes`, from the byte order mark or, without one, from the first
// kEncodingSniffBytes: UTF-16/32 text in a Latin script is full of NUL bytes at fixed
// positions, which UTF-8 text never has. Without a BOM, UTF-16/32 is reported only when the decoded sample is text (almost
// no control characters); everything else is UTF-8 (also plain ASCII and garbage).
SniffedEncoding SniffEncoding(std::string_view bytes);

// Appends `cp` (a Unicode scalar value below U+110000) to `out` as UTF-8.
void AppendUtf8(std::string& out, char32_t cp);

// "utf-8", "utf-16le", "utf-16be", "utf-32le", "utf-32be" (libmagic's spelling).
std::string_view EncodingName(TextEncoding encoding);

// UTF-8 (with or without BOM), UTF-16LE/BE and UTF-32LE/BE (with a BOM, or recognised by
// SniffEncoding) become UTF-8. Ill-formed sequences become U+FFFD (one per maximal ill-formed
// subpart, as Unicode recommends), NUL characters are dropped, CRLF and lone CR become LF.
// Other encodings (Latin-1, cp1252, ...) are not guessed: their non-ASCII bytes become U+FFFD.
std::string DecodeToUtf8(std::string_view bytes);

// Cleans text that a layout engine produced (PDF pages now, office formats later) for
// chunking: decodes like DecodeToUtf8 (without BOM sniffing), then drops control characters
// (form feeds included), invisible bidi marks and zero-width no-break spaces, turns tabs and
// Unicode spaces into plain spaces, collapses runs of spaces, removes spaces at line starts
// and ends, keeps at most one blank line (a paragraph break, "\n\n") between lines, trims
// blank lines at both ends, and spells out the Latin ligatures U+FB00..U+FB06 ("ﬁ" -> "fi")
// so that words typeset with them can be found.
std::string NormalizeExtractedText(std::string_view text);

}  // namespace betterdev::extract
