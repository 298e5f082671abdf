// Internal to extract/: the per-format extractors behind ExtractorFor. Not part of the API.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "extract/extractor.hpp"

namespace betterdev::extract {

inline constexpr std::string_view kDocxMimeType =
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
inline constexpr std::string_view kPptxMimeType =
    "application/vnd.openxmlformats-officedocument.presentationml.presentation";
inline constexpr std::string_view kXlsxMimeType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
inline constexpr std::string_view kOdtMimeType = "application/vnd.oasis.opendocument.text";

// kZip: any of the four, told apart by the archive's entries when it is read.
enum class OfficeFormat { kDocx, kPptx, kXlsx, kOdt, kZip };

std::unique_ptr<Extractor> NewPdfExtractor(const OcrOptions& ocr);    // pdf.cpp (poppler; ocr.cpp for scans)
std::unique_ptr<Extractor> NewImageExtractor(const OcrOptions& ocr);  // image.cpp (leptonica, ocr.cpp)
std::unique_ptr<Extractor> NewTextExtractor();                        // text.cpp
std::unique_ptr<Extractor> NewHtmlExtractor();                        // html.cpp (gumbo)
std::unique_ptr<Extractor> NewRtfExtractor();                         // rtf.cpp

// OK for a regular file; NotFound "no such file: PATH" when nothing is there; InvalidArgument
// "not a regular file: PATH" for a directory, FIFO, device (which a reader could block on).
Status CheckRegularFile(const std::string& path);

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// The whole file for the text-like formats (text, HTML, RTF), which are held in memory whole:
// InvalidArgument "the text file has N bytes; the limit is M" past `limit`. text.cpp.
Result<std::string> ReadTextFile(const InputFile& file, int64_t limit);
std::unique_ptr<Extractor> NewOfficeExtractor(OfficeFormat format);  // office.cpp (pugixml, office_zip.cpp)

}  // namespace betterdev::extract
