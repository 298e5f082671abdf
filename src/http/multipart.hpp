// Streaming multipart/form-data parser (RFC 7578 / RFC 2046): bytes go in as they arrive, parts
// come out through a handler, and memory stays bounded by the header limit, however large the
// parts are.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.hpp"

namespace betterdev::http {

struct PartHeader {
  std::string name;                     // the form field name
  std::optional<std::string> filename;  // present for file fields (filename*= wins over filename=)
  std::string content_type;             // as sent; "text/plain" when absent
};

class PartHandler {
 public:
  virtual ~PartHandler() = default;
  virtual Status OnPartBegin(const PartHeader& header) = 0;
  virtual Status OnPartData(std::string_view bytes) = 0;
  virtual Status OnPartEnd() = 0;
};

// The boundary parameter of a multipart/form-data Content-Type; nullopt when the type is not
// multipart/form-data or the boundary is missing or invalid (1..70 characters).
std::optional<std::string> MultipartBoundary(std::string_view content_type);

class MultipartParser {
 public:
  MultipartParser(std::string boundary, PartHandler& handler, size_t max_header_bytes = 8 * 1024);

  // Feeds the next bytes of the body. Errors (InvalidArgument for malformed input, or whatever
  // the handler returned) are sticky: later calls return the same error.
  Status Feed(std::string_view bytes);
  // Call at the end of the body: InvalidArgument unless the closing boundary was seen.
  Status Finish();

 private:
  enum class State { kPreamble, kAfterBoundary, kHeaders, kBody, kDone };
  Status Step();
  Status ParseHeaders(std::string_view block);

  std::string delimiter_;  // "\r\n--" + boundary
  PartHandler& handler_;
  size_t max_header_bytes_;
  State state_ = State::kPreamble;
  std::string buf_;  // unconsumed bytes (bounded: a delimiter's length or a header block)
  Status error_;
};

}  // namespace betterdev::http
