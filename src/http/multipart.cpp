#include "http/multipart.hpp"

#include <cctype>

#include "http/message.hpp"

namespace betterdev::http {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits `value` at ';' outside quotes; returns the parameters as (lower-case name, value).
std::vector<std::pair<std::string, std::string>> Params(std::string_view value) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = value.find(';');
  while (i != std::string_view::npos && i < value.size()) {
    ++i;
    size_t eq = value.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string name(Trim(value.substr(i, eq - i)));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t j = eq + 1;
    while (j < value.size() && (value[j] == ' ' || value[j] == '\t')) ++j;
    std::string v;
    if (j < value.size() && value[j] == '"') {
      for (++j; j < value.size() && value[j] != '"'; ++j) {
        if (value[j] == '\\' && j + 1 < value.size()) ++j;
        v.push_back(value[j]);
      }
      i = value.find(';', j);
    } else {
      size_t end = value.find(';', j);
      v = std::string(Trim(value.substr(j, end == std::string_view::npos ? std::string_view::npos : end - j)));
      i = end;
    }
    out.emplace_back(std::move(name), std::move(v));
  }
  return out;
}

// RFC 5987 ext-value: charset'language'percent-encoded. Only UTF-8 (and ASCII) are accepted.
std::optional<std::string> DecodeExtValue(std::string_view v) {
  size_t q1 = v.find('\'');
  size_t q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
  if (q2 == std::string_view::npos) return std::nullopt;
  std::string_view charset = v.substr(0, q1);
  if (!EqualsIgnoreCase(charset, "utf-8") && !EqualsIgnoreCase(charset, "us-ascii")) return std::nullopt;
  return PercentDecode(v.substr(q2 + 1), false);
}

}  // namespace

std::optional<std::string> MultipartBoundary(std::string_view content_type) {
  std::string_view type = Trim(content_type.substr(0, content_type.find(';')));
  if (!EqualsIgnoreCase(type, "multipart/form-data")) return std::nullopt;
  for (auto& [name, value] : Params(content_type))
    if (name == "boundary" && !value.empty() && value.size() <= 70) return value;
  return std::nullopt;
}

MultipartParser::MultipartParser(std::string boundary, PartHandler& handler, size_t max_header_bytes)
    : delimiter_("\r\n--" + boundary), handler_(handler), max_header_bytes_(max_header_bytes) {
  buf_ = "\r\n";  // so a boundary on the very first line is found like every other
}

Status MultipartParser::Feed(std::string_view bytes) {
  if (!error_.ok()) return error_;
  if (state_ == State::kDone) return Status::Ok();  // the epilogue is ignored
  buf_.append(bytes);
  error_ = Step();
  return error_;
}

Status MultipartParser::Finish() {
  if (!error_.ok()) return error_;
  if (state_ != State::kDone) {
    error_ = Status::InvalidArgument("multipart body ended before its closing boundary");
  }
  return error_;
}

Status MultipartParser::Step() {
  for (;;) {
    switch (state_) {
      case State::kPreamble:
      case State::kBody: {
        size_t at = buf_.find(delimiter_);
        if (at == std::string::npos) {
          // Keep what could be the start of a delimiter split across two pieces.
          size_t keep = std::min(buf_.size(), delimiter_.size() - 1);
          size_t emit = buf_.size() - keep;
          if (state_ == State::kBody && emit > 0) BD_RETURN_IF_ERROR(handler_.OnPartData(std::string_view(buf_).substr(0, emit)));
          buf_.erase(0, emit);
          return Status::Ok();
        }
        if (state_ == State::kBody) {
          if (at > 0) BD_RETURN_IF_ERROR(handler_.OnPartData(std::string_view(buf_).substr(0, at)));
          BD_RETURN_IF_ERROR(handler_.OnPartEnd());
        }
        buf_.erase(0, at + delimiter_.size());
        state_ = State::kAfterBoundary;
        break;
      }
      case State::kAfterBoundary: {
        if (buf_.size() < 2) return Status::Ok();
        if (buf_.compare(0, 2, "--") == 0) {
          state_ = State::kDone;
          buf_.clear();
          return Status::Ok();
        }
        // The rest of the boundary line (RFC 2046 allows trailing white space) may take 256
        // bytes, decided alike whether its CRLF has arrived or not.
        size_t eol = buf_.find("\r\n");
        if (eol == std::string::npos ? buf_.size() > 257 : eol > 256)
          return Status::InvalidArgument("malformed multipart boundary line");
        if (eol == std::string::npos) return Status::Ok();
        if (!Trim(std::string_view(buf_).substr(0, eol)).empty())
          return Status::InvalidArgument("malformed multipart boundary line");
        buf_.erase(0, eol + 2);
        state_ = State::kHeaders;
        break;
      }
      case State::kHeaders: {
        if (buf_.size() < 2) return Status::Ok();
        if (buf_.compare(0, 2, "\r\n") == 0) {  // no header lines at all
          BD_RETURN_IF_ERROR(ParseHeaders({}));
          buf_.erase(0, 2);
        } else {
          // The block (its lines with their CRLFs) may take max_header_bytes_; the blank line
          // after it does not count. Without the blank line yet, the block is too large only
          // once no blank line still to come could end it within the limit: however the body
          // was cut into pieces, the verdict is the same (found by fuzz/fuzz_multipart.cpp).
          size_t end = buf_.find("\r\n\r\n");
          if (end == std::string::npos ? buf_.size() > max_header_bytes_ + 1 : end + 2 > max_header_bytes_)
            return Status::InvalidArgument("multipart part header too large");
          if (end == std::string::npos) return Status::Ok();
          BD_RETURN_IF_ERROR(ParseHeaders(std::string_view(buf_).substr(0, end + 2)));
          // The body starts after the blank line; the CRLF before its closing delimiter is
          // part of the delimiter, so an empty body is found too.
          buf_.erase(0, end + 4);
        }
        state_ = State::kBody;
        break;
      }
      case State::kDone:
        return Status::Ok();
    }
  }
}

Status MultipartParser::ParseHeaders(std::string_view block) {
  PartHeader h;
  h.content_type = "text/plain";
  bool disposition = false;
  while (!block.empty()) {
    size_t eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    block = eol == std::string_view::npos ? std::string_view{} : block.substr(eol + 2);
    if (line.empty()) continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return Status::InvalidArgument("malformed multipart part header");
    std::string_view name = Trim(line.substr(0, colon));
    std::string_view value = Trim(line.substr(colon + 1));
    if (EqualsIgnoreCase(name, "Content-Disposition")) {
      if (!EqualsIgnoreCase(Trim(value.substr(0, value.find(';'))), "form-data"))
        return Status::InvalidArgument("multipart part is not form-data");
      disposition = true;
      std::optional<std::string> ext_filename;
      for (auto& [pname, pvalue] : Params(value)) {
        if (pname == "name") h.name = pvalue;
        else if (pname == "filename") h.filename = pvalue;
        else if (pname == "filename*") ext_filename = DecodeExtValue(pvalue);
      }
      if (ext_filename) h.filename = std::move(ext_filename);
    } else if (EqualsIgnoreCase(name, "Content-Type")) {
      h.content_type = std::string(value);
    }
  }
  if (!disposition) return Status::InvalidArgument("multipart part without Content-Disposition");
  return handler_.OnPartBegin(h);
}

}  // namespace betterdev::http
