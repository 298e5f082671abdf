// OCR through the extractors: the quality bars on real scans with ground truth
// (../shared/data/ocr), every image format, multi-page TIFF, scanned and mixed PDFs, rotated
// pages, and hostile images. Images in other formats are made from the shared scans with
// leptonica in a TempDir.
#include <allheaders.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "extract/detect.hpp"
#include "extract/extract_testutil.hpp"
#include "extract/extractor.hpp"
#include "extract/ocr.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::extract {
namespace {

using namespace testing;  // NOLINT: the module's test helpers

const std::string kScans = kData + "/ocr/tesseract-test/";
const std::string kImages = kData + "/ocr/images/";

// Text compared the way a reader would: typographic quotes and dashes as ASCII, whitespace
// runs (line breaks included) as one space, trimmed. In code points.
std::u32string Comparable(std::string_view utf8) {
  std::u32string cps;
  for (size_t i = 0; i < utf8.size();) {
    const auto b = static_cast<unsigned char>(utf8[i]);
    const size_t len = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    char32_t cp = len == 1 ? b : (b & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07));
    for (size_t k = 1; k < len && i + k < utf8.size(); ++k) cp = (cp << 6) | (utf8[i + k] & 0x3F);
    i += len;
    if (cp == U'\u2018' || cp == U'\u2019') cp = U'\'';
    if (cp == U'\u201C' || cp == U'\u201D') cp = U'"';
    if (cp == U'\u2013' || cp == U'\u2014') cp = U'-';
    const bool space = cp == U' ' || cp == U'\n' || cp == U'\t' || cp == U'\r';
    if (space) {
      if (!cps.empty() && cps.back() != U' ') cps.push_back(U' ');
    } else {
      cps.push_back(cp);
    }
  }
  while (!cps.empty() && cps.back() == U' ') cps.pop_back();
  return cps;
}

// Character error rate: edit distance (insertions, deletions, substitutions) over the length
// of the ground truth.
double CharacterErrorRate(std::string_view truth_utf8, std::string_view ocr_utf8) {
  const std::u32string truth = Comparable(truth_utf8);
  const std::u32string ocr = Comparable(ocr_utf8);
  std::vector<size_t> prev(ocr.size() + 1), cur(ocr.size() + 1);
  for (size_t j = 0; j <= ocr.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= truth.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= ocr.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (truth[i - 1] == ocr[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return truth.empty() ? 1.0 : static_cast<double>(prev[ocr.size()]) / static_cast<double>(truth.size());
}

std::string OcrText(const std::string& mime, const std::string& path) { return OnlyPage(mime, path); }


// ---- Quality bars ----------------------------------------------------------------------------

TEST(OcrQuality, PhototestWithinFivePercent) {
  const double cer = CharacterErrorRate(ReadBytes(kScans + "phototest.gold.txt"),
                                        OcrText("image/tiff", kScans + "phototest.tif"));
  std::printf("phototest.tif: CER %.2f%%\n", cer * 100);
  EXPECT_LE(cer, 0.05);
}

TEST(OcrQuality, RotatedPagesReadAsWellAsTheUprightOne) {
  const std::string truth = ReadBytes(kScans + "phototest.gold.txt");
  const double upright = CharacterErrorRate(truth, OcrText("image/tiff", kScans + "phototest.tif"));
  for (const char* file : {"phototest-rotated-L.png", "phototest-rotated-R.png", "phototest-rotated-180.png"}) {
    const double cer = CharacterErrorRate(truth, OcrText("image/png", kScans + file));
    std::printf("%s: CER %.2f%% (upright %.2f%%)\n", file, cer * 100, upright * 100);
    EXPECT_LE(cer, upright + 0.01) << file;
    EXPECT_LE(cer, 0.05) << file;
  }
}

TEST(OcrQuality, UnlvPagesWithinTenPercent) {
  for (const char* page : {"8071_093.3B", "8087_054.3B"}) {
    const double cer = CharacterErrorRate(ReadBytes(kScans + page + ".txt"),
                                          OcrText("image/tiff", kScans + page + ".tif"));
    std::printf("%s.tif: CER %.2f%%\n", page, cer * 100);
    EXPECT_LE(cer, 0.10) << page;
  }
}

// The photos and scans in ocr/images: the words a person reads there are found.
TEST(OcrQuality, SpotWordsInPhotosAndScans) {
  struct Case {
    const char* file;
    const char* mime;
    std::vector<std::string> words;
  };
  const std::vector<Case> cases = {
      {"DA-1p.png", "image/png", {"abomination", "maleficar", "creatures"}},
      {"english-and-korean.png", "image/png", {"rules", "instructions", "template", "accounts"}},
      {"double-column-A.jpg", "image/jpeg", {"civil", "service", "rules", "definitions", "competitive"}},
      {"layout-parser-paper-fast.jpg", "image/jpeg", {"layoutparser", "unified", "toolkit", "document"}},
  };
  for (const Case& c : cases) {
    const std::vector<std::string> words = Words(OcrText(c.mime, kImages + c.file));
    for (const std::string& w : c.words) {
      EXPECT_NE(std::find(words.begin(), words.end(), w), words.end()) << c.file << " lacks '" << w << "'";
    }
  }
}

// A photo of a flower and a colour test card hold no text: the page comes back empty, so the
// pipeline says "no text found" instead of inventing some.
TEST(OcrQuality, ImagesWithoutTextGiveEmptyPages) {
  EXPECT_LT(Words(OcrText("image/jpeg", kImages + "example.jpg")).size(), 3u);
  EXPECT_LT(Words(OcrText("image/bmp", kImages + "bmp_24.bmp")).size(), 3u);
}

// ---- Formats ---------------------------------------------------------------------------------

TEST(OcrFormats, EveryImageFormatIsDetectedAndRead) {
  testutil::TempDir dir;
  PixPtr scan(pixRead((kScans + "phototest.tif").c_str()));
  ASSERT_TRUE(scan);
  PixPtr gray(pixConvertTo8(scan.get(), 0));
  PixPtr color(pixConvertTo32(scan.get()));
  const std::string truth = ReadBytes(kScans + "phototest.gold.txt");
  struct Case {
    const char* name;
    int format;
    Pix* pix;
    const char* mime;
  };
  for (const Case& c : std::vector<Case>{{"p.png", IFF_PNG, gray.get(), "image/png"},
                                         {"p.jpg", IFF_JFIF_JPEG, color.get(), "image/jpeg"},
                                         {"p.bmp", IFF_BMP, color.get(), "image/bmp"},
                                         {"p.gif", IFF_GIF, gray.get(), "image/gif"},
                                         {"p.webp", IFF_WEBP, color.get(), "image/webp"},
                                         {"p.tif", IFF_TIFF_LZW, gray.get(), "image/tiff"}}) {
    const std::string path = dir.File(c.name);
    ASSERT_EQ(pixWrite(path.c_str(), c.pix, c.format), 0) << c.name;
    Result<DetectedType> type = DetectFileType(path, "");
    ASSERT_TRUE(type.ok()) << c.name;
    EXPECT_EQ(type->mime_type, c.mime) << c.name;
    EXPECT_TRUE(IsSupportedType(type->mime_type)) << c.name;
    EXPECT_LE(CharacterErrorRate(truth, OcrText(type->mime_type, path)), 0.05) << c.name;
  }
}

TEST(OcrFormats, MultiPageTiffReadsEveryPageInOrder) {
  testutil::TempDir dir;
  const std::string path = dir.File("pages.tif");
  PixPtr text(pixRead((kScans + "phototest.tif").c_str()));
  PixPtr blank(pixCreate(640, 480, 1));
  ASSERT_TRUE(text && blank);
  ASSERT_EQ(pixWriteTiff(path.c_str(), text.get(), IFF_TIFF_G4, "w"), 0);
  ASSERT_EQ(pixWriteTiff(path.c_str(), blank.get(), IFF_TIFF_G4, "a"), 0);
  ASSERT_EQ(pixWriteTiff(path.c_str(), text.get(), IFF_TIFF_G4, "a"), 0);
  CollectingSink sink;
  ASSERT_TRUE(ExtractFile("image/tiff", path, sink).ok());
  ASSERT_EQ(sink.pages.size(), 3u);
  const std::string truth = ReadBytes(kScans + "phototest.gold.txt");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(sink.pages[i].number, i + 1);
    EXPECT_EQ(sink.pages[i].count, 3);
  }
  EXPECT_LE(CharacterErrorRate(truth, sink.pages[0].text), 0.05);
  EXPECT_EQ(sink.pages[1].text, "");
  EXPECT_LE(CharacterErrorRate(truth, sink.pages[2].text), 0.05);

  ExtractLimits two_pages;
  two_pages.max_pages = 2;
  CollectingSink none;
  const Status st = ExtractFile("image/tiff", path, none, two_pages);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "document has 3 pages; the limit is 2");
  EXPECT_TRUE(none.pages.empty());
}

// ---- PDFs: per-page decision -----------------------------------------------------------------


// A PDF whose page 1 has a text layer and whose page 2 is only a picture (phototest, as a
// scanner would store it: 8-bit gray, no text).
std::string MixedPdf() {
  PixPtr scan(pixRead((kScans + "phototest.tif").c_str()));
  PixPtr gray(pixConvertTo8(scan.get(), 0));
  const int w = pixGetWidth(gray.get()), h = pixGetHeight(gray.get());
  std::string pixels;
  pixels.reserve(static_cast<size_t>(w) * h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      l_uint32 v = 0;
      pixGetPixel(gray.get(), x, y, &v);
      pixels.push_back(static_cast<char>(v));
    }
  }
  // At 200 dpi: 640 x 480 pixels are 230.4 x 172.8 points.
  const std::string page_w = "230.4", page_h = "172.8";
  const std::string text_stream = "BT /F1 12 Tf 20 120 Td (Typed text about zebras.) Tj ET";
  const std::string image_stream = "q " + page_w + " 0 0 " + page_h + " 0 0 cm /Im1 Do Q";
  std::vector<std::string> objects = {
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 " + page_w + " " + page_h +
          "] /Resources << /Font << /F1 5 0 R >> >> /Contents 6 0 R >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 " + page_w + " " + page_h +
          "] /Resources << /XObject << /Im1 7 0 R >> >> /Contents 8 0 R >>",
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
      "<< /Length " + std::to_string(text_stream.size()) + " >>\nstream\n" + text_stream + "\nendstream",
      "<< /Type /XObject /Subtype /Image /Width " + std::to_string(w) + " /Height " + std::to_string(h) +
          " /ColorSpace /DeviceGray /BitsPerComponent 8 /Length " + std::to_string(pixels.size()) + " >>\nstream\n" +
          pixels + "\nendstream",
      "<< /Length " + std::to_string(image_stream.size()) + " >>\nstream\n" + image_stream + "\nendstream",
  };
  return PdfOf(objects);
}

// `pages` pages of nothing but, on every tenth, a dot of `speck` points (dust on a scan).
std::string BlankPdf(int pages, double speck) {
  const std::string dot = speck > 0 ? "0 g 300 400 " + std::to_string(speck) + " " + std::to_string(speck) + " re f" : "";
  std::vector<std::string> objects = {"<< /Type /Catalog /Pages 2 0 R >>", ""};
  std::string kids;
  for (int i = 0; i < pages; ++i) {
    const std::string content = i % 10 == 0 ? dot : "";
    const size_t page_obj = objects.size() + 1;
    kids += std::to_string(page_obj) + " 0 R ";
    objects.push_back("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents " +
                      std::to_string(page_obj + 1) + " 0 R >>");
    objects.push_back("<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "\nendstream");
  }
  objects[1] = "<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(pages) + " >>";
  return PdfOf(objects);
}

TEST(OcrPdf, ScannedPagesAreReadAndTypedPagesKeepTheirText) {
  testutil::TempDir dir;
  WriteBytes(dir.File("mixed.pdf"), MixedPdf());
  CollectingSink sink;
  ASSERT_TRUE(ExtractFile("application/pdf", dir.File("mixed.pdf"), sink).ok());
  ASSERT_EQ(sink.pages.size(), 2u);
  EXPECT_EQ(sink.pages[0].text, "Typed text about zebras.");
  EXPECT_LE(CharacterErrorRate(ReadBytes(kScans + "phototest.gold.txt"), sink.pages[1].text), 0.05)
      << sink.pages[1].text;
}

TEST(OcrPdf, BlankPagesAreNotReadByOcr) {
  // OCR with a language that is not installed fails the moment OCR is tried: a document that
  // extracts cleanly with it was never OCR'd.
  OcrOptions missing;
  missing.languages = "xyz";
  testutil::TempDir dir;
  WriteBytes(dir.File("blank.pdf"), BlankPdf(2000, 1.0));  // blank, with a 1-point speck on every tenth page
  std::unique_ptr<Extractor> extractor = ExtractorFor("application/pdf", missing);
  Result<InputFile> file = InputFile::Open(dir.File("blank.pdf"));
  ASSERT_TRUE(file.ok());
  CollectingSink sink;
  const Status st = extractor->Extract(*file, {}, sink);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(sink.pages.size(), 2000u);
  for (const auto& page : sink.pages) ASSERT_EQ(page.text, "");

  // What is not blank still goes to OCR: a scanned page, and a page with a large mark.
  for (const auto& [name, bytes] : {std::pair<std::string, std::string>{"mixed.pdf", MixedPdf()},
                                    {"mark.pdf", BlankPdf(1, 72.0)}}) {
    WriteBytes(dir.File(name), bytes);
    Result<InputFile> f = InputFile::Open(dir.File(name));
    ASSERT_TRUE(f.ok());
    CollectingSink s;
    const Status tried = extractor->Extract(*f, {}, s);
    EXPECT_EQ(tried.code(), StatusCode::kInvalidArgument) << name;
    EXPECT_NE(tried.message().find("'xyz'"), std::string::npos) << name << ": " << tried.message();
  }
}

// ---- Limits and hostile images ---------------------------------------------------------------

uint32_t Crc32(std::string_view bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::string BigEndian32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string PngChunk(std::string_view type, std::string_view data) {
  const std::string body = std::string(type) + std::string(data);
  return BigEndian32(static_cast<uint32_t>(data.size())) + body + BigEndian32(Crc32(body));
}

// A valid PNG header claiming width x height 8-bit gray pixels, with a few bytes of data.
std::string PngBomb(uint32_t width, uint32_t height) {
  const std::string ihdr = BigEndian32(width) + BigEndian32(height) + std::string("\x08\x00\x00\x00\x00", 5);
  const std::string idat("\x78\x9c\x63\x60\x00\x00\x00\x02\x00\x01", 10);  // zlib of one 0 byte
  return std::string("\x89PNG\r\n\x1a\n", 8) + PngChunk("IHDR", ihdr) + PngChunk("IDAT", idat) + PngChunk("IEND", "");
}

TEST(OcrLimits, DecompressionBombFailsFromItsHeader) {
  testutil::TempDir dir;
  WriteBytes(dir.File("bomb.png"), PngBomb(50000, 50000));
  Result<DetectedType> type = DetectFileType(dir.File("bomb.png"), "bomb.png");
  ASSERT_TRUE(type.ok());
  EXPECT_EQ(type->mime_type, "image/png");
  CollectingSink sink;
  const Status st = ExtractFile("image/png", dir.File("bomb.png"), sink);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "the image is 50000 x 50000 pixels (2500 megapixels); the limit is 100 megapixels");
  EXPECT_TRUE(sink.pages.empty());
}

TEST(OcrLimits, PixelLimitIsConfigurable) {
  ExtractLimits small;
  small.max_image_pixels = 100'000;  // phototest is 640 x 480 = 307,200
  CollectingSink sink;
  const Status st = ExtractFile("image/tiff", kScans + "phototest.tif", sink, small);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("640 x 480"), std::string::npos) << st.message();
}

TEST(OcrLimits, PageTimeLimitFailsNamingIt) {
  ExtractLimits quick;
  quick.ocr_page_timeout_seconds = 1;  // the UNLV page takes several seconds
  CollectingSink sink;
  const Status st = ExtractFile("image/tiff", kScans + "8087_054.3B.tif", sink, quick);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "OCR took longer than 1 s, the limit for one page");
}

TEST(OcrDamaged, RandomEmptyAndTruncatedImagesFailCleanly) {
  testutil::TempDir dir;
  std::string random(4096, '\0');
  uint32_t x = 12345;
  for (char& c : random) c = static_cast<char>((x = x * 1103515245u + 12345u) >> 16);
  WriteBytes(dir.File("random.png"), random);
  WriteBytes(dir.File("empty.png"), "");
  const std::string png = ReadBytes(kScans + "phototest-rotated-180.png");
  WriteBytes(dir.File("cut.png"), png.substr(0, png.size() / 2));
  WriteBytes(dir.File("header-only.png"), png.substr(0, 40));
  for (const char* name : {"random.png", "empty.png", "cut.png", "header-only.png"}) {
    CollectingSink sink;
    const Status st = ExtractFile("image/png", dir.File(name), sink);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << name;
    EXPECT_TRUE(st.message().starts_with("not a readable image")) << name << ": " << st.message();
  }
  // A JPEG cut short decodes to a partial picture (libjpeg fills the rest): whatever it reads,
  // it must end, with text or with an error, never a crash.
  const std::string jpg = ReadBytes(kImages + "double-column-A.jpg");
  WriteBytes(dir.File("cut.jpg"), jpg.substr(0, jpg.size() / 3));
  CollectingSink sink;
  const Status st = ExtractFile("image/jpeg", dir.File("cut.jpg"), sink);
  EXPECT_TRUE(st.ok() || st.code() == StatusCode::kInvalidArgument) << st.message();
}

TEST(OcrOptionsTest, MissingLanguageIsAClearError) {
  OcrOptions ocr;
  ocr.languages = "xyz";
  std::unique_ptr<Extractor> extractor = ExtractorFor("image/tiff", ocr);
  CollectingSink sink;
  Result<InputFile> file = InputFile::Open(kScans + "phototest.tif");
  ASSERT_TRUE(file.ok());
  const Status st = extractor->Extract(*file, {}, sink);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("'xyz'"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace betterdev::extract
