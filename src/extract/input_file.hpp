// The bytes of one file to read, mapped read-only.
//
// Extractors read from memory, never by path: a job process is handed its input as an open
// descriptor and has no access to the filesystem where the file lives (see sandbox/).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.hpp"

namespace betterdev::extract {

class InputFile {
 public:
  // NotFound "no such file: PATH"; InvalidArgument "not a regular file: PATH" for a directory,
  // FIFO or device (which a reader could block on).
  static Result<InputFile> Open(const std::string& path);
  // Takes ownership of `fd`, which must be open for reading a regular file.
  static Result<InputFile> Adopt(int fd);

  InputFile(InputFile&& other) noexcept;
  InputFile& operator=(InputFile&& other) noexcept;
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile();

  // The whole file. Stays valid while this object lives; the file must not shrink meanwhile.
  std::string_view bytes() const { return {data_, size_}; }
  int64_t size() const { return static_cast<int64_t>(size_); }
  int fd() const { return fd_; }

 private:
  InputFile() = default;
  void Reset();

  int fd_ = -1;
  const char* data_ = nullptr;  // nullptr for an empty file
  size_t size_ = 0;
};

}  // namespace betterdev::extract
