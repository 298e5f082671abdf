// Internal to extract/: the per-format extractors behind ExtractorFor. Not part of the API.
#pragma once

#include <memory>

#include "extract/extractor.hpp"

namespace betterdev::extract {

std::unique_ptr<Extractor> NewPdfExtractor();   // pdf.cpp (poppler)
std::unique_ptr<Extractor> NewTextExtractor();  // text.cpp

}  // namespace betterdev::extract
