// text/plain, text/markdown and text/x-*: the whole file is page 1, in any encoding (charset.hpp).
//
// Memory: the file is read whole (in 1 MiB blocks into one buffer) because the sink takes a
// page as one string; the raw bytes are freed before the sink runs. Peak is the file plus its
// UTF-8 form (up to 3x the bytes for ill-formed input), which ExtractLimits::max_text_bytes
// bounds. A streaming decoder would not lower the peak while a page is one string.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "extract/formats.hpp"
#include "extract/charset.hpp"

namespace betterdev::extract {
namespace {

constexpr size_t kBlockBytes = size_t{1} << 20;

Status TooLarge(int64_t size, int64_t limit) {
  return Status::InvalidArgument("the text file has " + std::to_string(size) + " bytes; the limit is " +
                                 std::to_string(limit));
}

}  // namespace

Result<std::string> ReadTextFile(const std::string& path, int64_t limit) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound("no such file: " + path);
    return Status::Internal("cannot open " + path + ": " + std::strerror(err));
  }
  struct stat st {};
  if (fstat(fileno(f.get()), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::InvalidArgument("not a regular file: " + path);
  }
  if (st.st_size > limit) return TooLarge(st.st_size, limit);
  std::string bytes;
  bytes.reserve(static_cast<size_t>(st.st_size) + kBlockBytes);  // one allocation if it stays put
  // Read in blocks until EOF rather than trusting st_size: the file may still be growing.
  while (true) {
    const size_t have = bytes.size();
    bytes.resize(have + kBlockBytes);
    const size_t got = std::fread(bytes.data() + have, 1, kBlockBytes, f.get());
    bytes.resize(have + got);
    if (static_cast<int64_t>(bytes.size()) > limit) {
      return TooLarge(static_cast<int64_t>(bytes.size()), limit);
    }
    if (got < kBlockBytes) break;
  }
  if (std::ferror(f.get())) return Status::Internal("cannot read " + path);
  return bytes;
}

namespace {

class TextExtractor final : public Extractor {
 public:
  Status Extract(const std::string& path, const ExtractLimits& limits, PageSink& sink) override {
    std::string text;
    {
      Result<std::string> bytes = ReadTextFile(path, limits.max_text_bytes);
      if (!bytes.ok()) return bytes.status();
      text = DecodeText(*bytes);
    }
    return sink.OnPage(1, 1, text);
  }
};

}  // namespace

std::unique_ptr<Extractor> NewTextExtractor() { return std::make_unique<TextExtractor>(); }

}  // namespace betterdev::extract
