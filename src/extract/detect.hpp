// File type detection from the bytes (libmagic), never from the name.
#pragma once

#include <string>
#include <string_view>

#include "core/status.hpp"

namespace betterdev::extract {

// What DetectFileType says for a file of zero bytes, whatever the libmagic version.
inline constexpr std::string_view kEmptyFileMimeType = "application/x-empty";

struct DetectedType {
  std::string mime_type;  // "application/pdf", "text/plain", ... (lower case, no parameters)
  std::string encoding;   // libmagic's charset guess: "utf-8", "utf-16le", "us-ascii", "binary", ...
};

// Thread-safe (each call uses its own libmagic handle from a per-thread cache).
// `filename_hint` only refines text types (".md"/".markdown" text, which libmagic may call
// text/plain, text/html or text/x-*, becomes "text/markdown"); it never turns one kind of
// bytes into another (".html"/".htm" text/plain becomes text/html). Beyond libmagic: XHTML
// (libmagic: text/xml, when the first 4 KiB hold <html or <!doctype html) is text/html;
// image/x-ms-bmp is image/bmp; UTF-16/32 text without a byte order mark (libmagic:
// application/octet-stream) is text/plain with encoding "utf-16le" etc.; an empty file is
// kEmptyFileMimeType; a zip archive that libmagic calls application/zip (or octet-stream)
// but whose entries make it a DOCX, PPTX, XLSX or ODT gets that type (encoding "binary").
// For that it reads the zip directory with libzip (see OfficeTypeOfZip in office_zip.hpp).
// Errors: NotFound when `path` does not exist, InvalidArgument when it is not a regular file,
// Internal when libmagic fails (database missing, file unreadable).
Result<DetectedType> DetectFileType(const std::string& path, std::string_view filename_hint);

}  // namespace betterdev::extract
