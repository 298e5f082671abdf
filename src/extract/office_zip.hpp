// Internal to extract/: reading the parts of an office file (a zip archive) under the limits
// of ExtractLimits. libzip stays inside office_zip.cpp.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "extract/extractor.hpp"

namespace betterdev::extract {

class OfficeZip {
 public:
  // `kind` ("DOCX", "PPTX", ...) names the format in error messages:
  // "not a readable DOCX file: Not a zip archive". Errors: InvalidArgument for a damaged
  // archive or one with more than limits.max_zip_entries entries. `file` outlives the archive.
  static Result<std::unique_ptr<OfficeZip>> Open(const InputFile& file, const ExtractLimits& limits,
                                                 std::string_view kind);
  ~OfficeZip();
  OfficeZip(const OfficeZip&) = delete;
  OfficeZip& operator=(const OfficeZip&) = delete;

  bool Has(const std::string& name) const;
  std::vector<std::string> Names() const;  // in archive order
  // The inflated bytes of one entry. InvalidArgument when it does not exist, cannot be read
  // (damaged, encrypted) or inflates past max_office_part_bytes, or when all parts read so
  // far from this archive pass max_office_total_bytes (counted while inflating).
  Result<std::string> Read(const std::string& name);
  // InvalidArgument "not a readable <kind> file: <why>".
  Status Unreadable(std::string_view why) const;

 private:
  struct Impl;
  explicit OfficeZip(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The office MIME type of a zip archive, from its entries (word/document.xml,
// ppt/presentation.xml, xl/workbook.xml, an ODF "mimetype" entry), or "" when it is no office
// file this module reads, not a readable zip, or one with more entries than ExtractLimits'
// default (or a zip64 directory). Reads the directory and at most 100 bytes.
std::string OfficeTypeOfZip(std::string_view bytes);

}  // namespace betterdev::extract
