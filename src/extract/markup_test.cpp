// HTML, RTF and text in legacy encodings, on the shared office samples and on made-up files.
#include <gtest/gtest.h>

#include <string>

#include "extract/charset.hpp"
#include "extract/detect.hpp"
#include "extract/extract_testutil.hpp"
#include "extract/extractor.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::extract {
namespace {

using namespace testing;  // NOLINT: the module's test helpers
using namespace std::string_literals;

std::string Html(const std::string& file) { return OnlyPage("text/html", kOffice + file); }

bool Has(std::string_view text, std::string_view needle) { return text.find(needle) != std::string_view::npos; }

// Extracts `bytes` written to a file as `mime`.
std::string FromBytes(const std::string& mime, std::string_view bytes, const std::string& name = "f") {
  testutil::TempDir dir;
  WriteBytes(dir.File(name), bytes);
  return OnlyPage(mime, dir.File(name));
}

// ---- HTML ------------------------------------------------------------------------------------

TEST(Html, HeadingsParagraphsListsAndTableRows) {
  const std::string text = Html("fake-html.html");
  EXPECT_TRUE(text.starts_with("My First Heading\n\nMy Second Heading\n\nMy first paragraph.")) << text;
  EXPECT_TRUE(Has(text, "A test list\n\nWith sub-bullets!\nAnd another")) << text;
  // One line per row, cells in order.
  EXPECT_TRUE(Has(text, "Column 1 | Column 2\nRow 1, Cell 1 | Row 1, Cell 2\nRow 2, Cell 1 | Row 2, Cell 2")) << text;
}

TEST(Html, ScriptsStylesAndNavigationAreLeftOutTitleKept) {
  const std::string text = Html("example-with-scripts.html");
  EXPECT_TRUE(text.starts_with("Russian Offensive Campaign Assessment, December 13")) << text.substr(0, 200);
  EXPECT_TRUE(Has(text, "Karolina Hird, George Barros"));
  for (const char* code : {"function(", "var ", "window.", "{display", "gtag(", "jQuery"}) {
    EXPECT_FALSE(Has(text, code)) << code;
  }
  const std::string made = FromBytes("text/html",
                                     "<html><head><title>T</title><style>p{color:red}</style></head><body>"
                                     "<nav>Home | About</nav><p>Body <b>text</b></p><script>alert(1)</script>"
                                     "<div hidden>secret</div><noscript>enable js</noscript></body></html>");
  EXPECT_EQ(made, "T\n\nBody text");
}

TEST(Html, DeclaredAndDetectedEncodings) {
  // cp1252 bytes, no declaration: detected.
  const std::string cp1252 = Html("fake-html-cp1252.html");
  EXPECT_TRUE(Has(cp1252, "Die sch\xC3\xB6ne Frau")) << cp1252;
  EXPECT_TRUE(Has(cp1252, "15,50 \xE2\x82\xAC")) << cp1252;       // the euro sign, 0x80 in cp1252
  EXPECT_TRUE(Has(cp1252, "El ni\xC3\xB1o")) << cp1252;
  // UTF-16 with a byte order mark.
  const std::string utf16 = Html("example-steelJIS-datasheet-utf-16.html");
  EXPECT_TRUE(Has(utf16, "SNB22-3")) << utf16.substr(0, 200);
  EXPECT_TRUE(Has(utf16, "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"));  // 日本語
  // A declaration wins over detection: these bytes are KOI8-R "привет" by the meta tag.
  EXPECT_EQ(FromBytes("text/html", "<meta charset=\"koi8-r\"><p>\xD0\xD2\xC9\xD7\xC5\xD4</p>"),
            "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");
  EXPECT_EQ(FromBytes("text/html", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><html><p>caf\xE9</p></html>"),
            "caf\xC3\xA9");
}

TEST(Html, XhtmlAndHtmlNamedTextAreDetectedAsHtml) {
  Result<DetectedType> xhtml = DetectFileType(kOffice + "example-10k-1p.html", "example-10k-1p.html");
  ASSERT_TRUE(xhtml.ok());
  EXPECT_EQ(xhtml->mime_type, "text/html");
  EXPECT_TRUE(Has(Html("example-10k-1p.html"), "Galaxy Gaming, Inc."));
  Result<DetectedType> fragment = DetectFileType(kOffice + "fake-html-lang-de.html", "fake-html-lang-de.html");
  ASSERT_TRUE(fragment.ok());
  EXPECT_EQ(fragment->mime_type, "text/html");
  EXPECT_EQ(Html("fake-html-lang-de.html"), "Jahresabschluss zum Gesch\xC3\xA4" "ftsjahr vom 01.01.2020 bis zum 31.12.2020");
}

TEST(Html, PreformattedTextKeepsItsLines) {
  const std::string text = Html("fake-html-pre.htm");
  EXPECT_GT(text.size(), 1000u);
  EXPECT_EQ(FromBytes("text/html", "<pre>a  b\nc</pre><p>x   y</p>"), "a b\nc\n\nx y");
}

TEST(Html, NestingTooDeepFailsBeforeParsing) {
  std::string deep;
  for (int i = 0; i < 50000; ++i) deep += "<div>";
  deep += "x";
  testutil::TempDir dir;
  WriteBytes(dir.File("deep.html"), deep);
  CollectingSink sink;
  const Status st = ExtractFile("text/html", dir.File("deep.html"), sink);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "the HTML nests elements about 50000 deep; the limit is 2000");
  // Elements whose end tags may be left out do not count: 50,000 unclosed <p> and <li> are fine.
  std::string flat;
  for (int i = 0; i < 50000; ++i) flat += "<p>para <li>item ";
  EXPECT_TRUE(Has(FromBytes("text/html", flat), "para\n\nitem"));
}

// ---- RTF -------------------------------------------------------------------------------------

TEST(Rtf, ParagraphsAndTableRows) {
  EXPECT_EQ(OnlyPage("text/rtf", kOffice + "fake-doc.rtf"),
            "My First Heading\n\nMy first paragraph.\n\nTable Example:\n\nColumn 1 | Column 2\n"
            "Row 1, Cell 1 | Row 1, Cell 2\nRow 2, Cell 1 | Row 2, Cell 2");
  Result<DetectedType> t = DetectFileType(kOffice + "fake-doc.rtf", "");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(IsSupportedType(t->mime_type)) << t->mime_type;
}

TEST(Rtf, CodePagesUnicodeSymbolsAndSkippedDestinations) {
  const std::string rtf =
      "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0 Times New Roman;}}{\\colortbl;\\red0\\green0\\blue0;}"
      "{\\info{\\title Not text}{\\author Someone}}{\\*\\generator Writer;}"
      "caf\\'e9 \\u8364?5 \\uc2\\u1087??\\u1088??\\uc1 \\ldblquote q\\rdblquote\\emdash end\\par "
      "{\\pict\\pngblip 89504e47}{\\*\\unknownext hidden}\\bin3 {}}after\\line x\\tab y\\par}";
  EXPECT_EQ(FromBytes("text/rtf", rtf),
            "caf\xC3\xA9 \xE2\x82\xAC" "5 \xD0\xBF\xD1\x80\xE2\x80\x9Cq\xE2\x80\x9D\xE2\x80\x94" "end\n\nafter\nx y");
  // Cyrillic in code page 1251.
  EXPECT_EQ(FromBytes("text/rtf", "{\\rtf1\\ansi\\ansicpg1251 \\'cf\\'f0\\'e8\\'e2\\'e5\\'f2}"),
            "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");
}

TEST(Rtf, DamagedAndHostileFilesEndCleanly) {
  testutil::TempDir dir;
  WriteBytes(dir.File("not.rtf"), "plain words");
  CollectingSink sink;
  const Status st = ExtractFile("text/rtf", dir.File("not.rtf"), sink);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "not a readable RTF file: it does not start with {\\rtf");
  // Deep groups, unbalanced braces, a cut-short escape, a huge \bin: read what is there.
  std::string deep = "{\\rtf1 ";
  for (int i = 0; i < 200000; ++i) deep += "{";
  deep += "deep";
  EXPECT_EQ(FromBytes("text/rtf", deep), "deep");
  EXPECT_EQ(FromBytes("text/rtf", "{\\rtf1 a}}}} b\\'"), "a b");
  EXPECT_EQ(FromBytes("text/rtf", "{\\rtf1 a\\bin999999999 b}"), "a");
}

// ---- Legacy encodings in text files ------------------------------------------------------------

TEST(Charset, LegacyTextIsDetected) {
  // cp1252 without any declaration (the usual "ANSI" text file from Windows).
  const std::string cp1252 =
      "Le caf\xE9 \xE9tait tr\xE8s chaud, co\xFBtait 3,50 \x80 et l'\xE9t\xE9 fut long. "
      "Die sch\xF6ne Frau a\xDF Kuchen f\xFCr 4 \x80.\n";
  const std::string utf8 = FromBytes("text/plain", cp1252);
  EXPECT_TRUE(Has(utf8, "Le caf\xC3\xA9 \xC3\xA9tait tr\xC3\xA8s chaud")) << utf8;
  EXPECT_TRUE(Has(utf8, "3,50 \xE2\x82\xAC")) << utf8;
  // windows-1251 Russian prose.
  const std::string cp1251 = DecodeCharset("", "windows-1251");  // (empty stays empty)
  EXPECT_EQ(cp1251, "");
  const std::string russian_utf8 =
      "\xD0\x9C\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0 \xE2\x80\x94 \xD1\x81\xD1\x82\xD0\xBE\xD0\xBB\xD0\xB8\xD1\x86"
      "\xD0\xB0 \xD0\xA0\xD0\xBE\xD1\x81\xD1\x81\xD0\xB8\xD0\xB8, \xD0\xBA\xD1\x80\xD1\x83\xD0\xBF\xD0\xBD\xD0\xB5"
      "\xD0\xB9\xD1\x88\xD0\xB8\xD0\xB9 \xD0\xB3\xD0\xBE\xD1\x80\xD0\xBE\xD0\xB4 \xD1\x81\xD1\x82\xD1\x80\xD0\xB0"
      "\xD0\xBD\xD1\x8B \xD0\xB8 \xD0\xB5\xD1\x91 \xD0\xBF\xD0\xBE\xD0\xBB\xD0\xB8\xD1\x82\xD0\xB8\xD1\x87\xD0\xB5"
      "\xD1\x81\xD0\xBA\xD0\xB8\xD0\xB9 \xD1\x86\xD0\xB5\xD0\xBD\xD1\x82\xD1\x80.";
  // The same sentence in windows-1251 bytes (made by iconv, the converter under test being
  // DetectCharset + DecodeText, not iconv).
  std::string cp1251_bytes;
  for (size_t i = 0; i < russian_utf8.size();) {
    const auto b = static_cast<unsigned char>(russian_utf8[i]);
    if (b < 0x80) {
      cp1251_bytes.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    const char32_t cp = ((b & 0x1F) << 6) | (russian_utf8[i + 1] & 0x3F);
    if (b == 0xE2) {  // the em dash
      cp1251_bytes.push_back('\x97');
      i += 3;
      continue;
    }
    cp1251_bytes.push_back(static_cast<char>(cp == 0x451 ? 0xB8 : cp - 0x410 + 0xC0));
    i += 2;
  }
  std::string repeated;
  for (int i = 0; i < 5; ++i) repeated += cp1251_bytes + " ";
  EXPECT_EQ(DetectCharset(repeated), "WINDOWS-1251");
  EXPECT_TRUE(Has(DecodeText(repeated), russian_utf8));
}

TEST(Charset, DecodeTextOrder) {
  EXPECT_EQ(DecodeText("caf\xC3\xA9"), "caf\xC3\xA9");                      // valid UTF-8 stays
  EXPECT_EQ(DecodeText("caf\xE9", "iso-8859-1"), "caf\xC3\xA9");            // declared
  EXPECT_EQ(DecodeText("\x80", "latin1"), "\xE2\x82\xAC");                  // latin1 means cp1252
  EXPECT_EQ(DecodeText("\xFF\xFE" "a\0"s, "koi8-r"), "a");                  // a BOM beats a declaration
  EXPECT_EQ(DecodeText("a\r\nb\rc"), "a\nb\nc");
  EXPECT_EQ(DecodeText("x\x81y", "windows-1252"), "x\xEF\xBF\xBDy");        // undefined in cp1252
  EXPECT_EQ(DecodeText("caf\xE9", "no-such-charset"), "caf\xC3\xA9");       // unknown: cp1252
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));  // a surrogate
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));      // cut short
}

// glibc's UTF-8 decoder passes the old 6-byte form through; what DecodeCharset answers is
// well-formed UTF-8 whatever the converter did (found by fuzz_text_decode).
TEST(Charset, DecodeCharsetAnswersWellFormedUtf8) {
  const std::string out = DecodeCharset("a\xFD\xBD\xBD\xBD\xBD\xBD" "b", "utf-8");
  EXPECT_TRUE(IsValidUtf8(out));
  EXPECT_EQ(out.front(), 'a');
  EXPECT_EQ(out.back(), 'b');
  EXPECT_NE(out.find("\xEF\xBF\xBD"), std::string::npos);
  EXPECT_EQ(DecodeCharset("a\0b\r\n"s, "utf-8"), "a\0b\r\n"s);  // NULs and line ends as they are
}

}  // namespace
}  // namespace betterdev::extract
