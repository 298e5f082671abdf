// Internal to extract/: the per-format extractors behind ExtractorFor. Not part of the API.
#pragma once

#include <memory>
#include <string_view>

#include "extract/extractor.hpp"

namespace betterdev::extract {

inline constexpr std::string_view kDocxMimeType =
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
inline constexpr std::string_view kPptxMimeType =
    "application/vnd.openxmlformats-officedocument.presentationml.presentation";
inline constexpr std::string_view kXlsxMimeType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
inline constexpr std::string_view kOdtMimeType = "application/vnd.oasis.opendocument.text";

enum class OfficeFormat { kDocx, kPptx, kXlsx, kOdt };

std::unique_ptr<Extractor> NewPdfExtractor();   // pdf.cpp (poppler)
std::unique_ptr<Extractor> NewTextExtractor();  // text.cpp
std::unique_ptr<Extractor> NewOfficeExtractor(OfficeFormat format);  // office.cpp (pugixml, office_zip.cpp)

}  // namespace betterdev::extract
