// Shared by the fuzz targets: a failed property check aborts (libFuzzer saves the input), and
// inputs that extractors read from a descriptor go through an anonymous memory file.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "extract/input_file.hpp"

namespace betterdev::fuzz {

#define BD_FUZZ_CHECK(cond)                                                      \
  do {                                                                          \
    if (!(cond)) {                                                              \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                             \
    }                                                                           \
  } while (0)

inline std::string_view Bytes(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The bytes as an extract::InputFile (as a job process gets its input: a descriptor, mapped).
inline extract::InputFile MemoryInput(std::string_view bytes) {
  const int fd = ::memfd_create("fuzz-input", MFD_CLOEXEC);
  BD_FUZZ_CHECK(fd >= 0);
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    BD_FUZZ_CHECK(n > 0);
    done += static_cast<size_t>(n);
  }
  auto input = extract::InputFile::Adopt(fd);
  BD_FUZZ_CHECK(input.ok());
  return std::move(*input);
}

}  // namespace betterdev::fuzz
