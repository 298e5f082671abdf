#include "extract/extractor.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>

#include "extract/formats.hpp"

namespace betterdev::extract {
namespace {

enum class Format { kNone, kPdf, kText, kDocx, kPptx, kXlsx, kOdt, kZip, kHtml, kRtf, kImage };

Format FormatOf(std::string_view mime_type) {
  // "Text/Plain; charset=utf-8" -> "text/plain": MIME types are case-insensitive.
  mime_type = mime_type.substr(0, mime_type.find(';'));
  while (!mime_type.empty() && std::isspace(static_cast<unsigned char>(mime_type.back()))) {
    mime_type.remove_suffix(1);
  }
  std::string type(mime_type);
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (type == "application/pdf") return Format::kPdf;
  if (type == kDocxMimeType) return Format::kDocx;
  if (type == kPptxMimeType) return Format::kPptx;
  if (type == kXlsxMimeType) return Format::kXlsx;
  if (type == kOdtMimeType) return Format::kOdt;
  if (type == "application/zip") return Format::kZip;
  if (type == "text/html" || type == "application/xhtml+xml") return Format::kHtml;
  if (type == "text/rtf" || type == "application/rtf") return Format::kRtf;
  if (type == "image/png" || type == "image/jpeg" || type == "image/tiff" || type == "image/bmp" ||
      type == "image/x-ms-bmp" || type == "image/gif" || type == "image/webp") {
    return Format::kImage;
  }
  // text/x-* is libmagic's guess at source code and scripts (text/x-c, text/x-shellscript,
  // text/x-tex, ...). It is text to read either way, and libmagic also hands these types to
  // ordinary prose that has a few code-like lines, which must not be rejected.
  if (type == "text/plain" || type == "text/markdown" || type.starts_with("text/x-")) {
    return Format::kText;
  }
  return Format::kNone;
}

}  // namespace

Status CheckRegularFile(const std::string& path) {
  std::error_code ec;
  const auto kind = std::filesystem::status(path, ec).type();
  if (kind == std::filesystem::file_type::not_found) return Status::NotFound("no such file: " + path);
  if (kind != std::filesystem::file_type::regular) return Status::InvalidArgument("not a regular file: " + path);
  return Status::Ok();
}

std::unique_ptr<Extractor> ExtractorFor(std::string_view mime_type, const OcrOptions& ocr) {
  switch (FormatOf(mime_type)) {
    case Format::kPdf: return NewPdfExtractor(ocr);
    case Format::kText: return NewTextExtractor();
    case Format::kDocx: return NewOfficeExtractor(OfficeFormat::kDocx);
    case Format::kPptx: return NewOfficeExtractor(OfficeFormat::kPptx);
    case Format::kXlsx: return NewOfficeExtractor(OfficeFormat::kXlsx);
    case Format::kOdt: return NewOfficeExtractor(OfficeFormat::kOdt);
    case Format::kZip: return NewOfficeExtractor(OfficeFormat::kZip);
    case Format::kHtml: return NewHtmlExtractor();
    case Format::kRtf: return NewRtfExtractor();
    case Format::kImage: return NewImageExtractor(ocr);
    case Format::kNone: break;
  }
  return nullptr;
}

bool IsSupportedType(std::string_view mime_type) { return FormatOf(mime_type) != Format::kNone; }

int64_t MaxFileBytes(std::string_view mime_type, const ExtractLimits& limits) {
  const Format f = FormatOf(mime_type);
  return f == Format::kText || f == Format::kHtml || f == Format::kRtf ? limits.max_text_bytes : 0;
}

std::string_view SupportedTypesDescription() {
  return "PDF (scanned pages too), Word (DOCX), PowerPoint (PPTX), Excel (XLSX), OpenDocument text (ODT), HTML, "
         "RTF, plain text, Markdown and images (PNG, JPEG, TIFF, BMP, GIF, WebP)";
}

}  // namespace betterdev::extract
