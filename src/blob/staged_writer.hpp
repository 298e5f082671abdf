// What every blob store shares: an upload staged in a local file as its bytes arrive, hashed
// on the way (SHA-256), flushed to stable storage by Finish. Implementations add Commit (a
// rename for local files, an upload for S3). Internal to module blob.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "blob/blob_store.hpp"

namespace betterdev::blob {

class StagedWriter : public BlobWriter {
 public:
  // Creates a new file (read-write) with a random name in `dir` (which must exist).
  static Result<int> CreateIn(const std::string& dir, std::string* path);
  StagedWriter(std::string staged_path, int fd);
  ~StagedWriter() override;  // removes the staged file unless kept()
  StagedWriter(const StagedWriter&) = delete;
  StagedWriter& operator=(const StagedWriter&) = delete;

  Status Write(std::string_view bytes) override;
  Status Finish() override;
  const std::string& staged_path() const override { return staged_; }
  uint64_t size() const override { return size_; }
  const std::string& sha256_hex() const override { return sha_; }

 protected:
  bool finished() const { return finished_; }
  // The staged file has been moved away (renamed into the store): the destructor leaves it.
  void set_kept() { kept_ = true; }

 private:
  std::string staged_;
  int fd_;
  void* md_;  // EVP_MD_CTX; OpenSSL stays in the .cpp
  uint64_t size_ = 0;
  std::string sha_;
  bool finished_ = false;
  bool kept_ = false;
};

// Removes regular files directly in `dir` not written to for `idle` or longer.
void RemoveIdleFiles(const std::string& dir, std::chrono::seconds idle);

// Status::Internal("<what> <path>: <errno's message>").
Status Errno(std::string_view what, const std::string& path);

}  // namespace betterdev::blob
