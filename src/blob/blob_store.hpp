// Blob store: the uploaded bytes, content-addressed by SHA-256.
//
// A blob becomes visible under its real name only when complete (written to a temporary
// object, then committed), so a crash never leaves a half blob under a real key. Names from
// clients never become keys or paths. Implementations: blob/fs (embedded default) and, later,
// blob/s3. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.hpp"

namespace betterdev::blob {

// One blob being written. Destroying it without Commit discards the bytes.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual Status Write(std::string_view bytes) = 0;
  // Ends the writing: flushes to stable storage and fixes the digest. The bytes can be read at
  // staged_path() until Commit or destruction (to detect the type before keeping the blob).
  virtual Status Finish() = 0;
  virtual const std::string& staged_path() const = 0;
  virtual uint64_t size() const = 0;
  virtual const std::string& sha256_hex() const = 0;  // after Finish
  // Makes the blob readable under its key (= sha256_hex); replaces an identical existing blob.
  virtual Status Commit() = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  virtual Result<std::unique_ptr<BlobWriter>> Create() = 0;
  // A local file path with the blob's bytes, valid while the blob exists. NotFound when absent.
  virtual Result<std::string> LocalPath(std::string_view key) = 0;
  virtual Result<bool> Exists(std::string_view key) = 0;
  // Ok when already absent.
  virtual Status Delete(std::string_view key) = 0;
  // Removes staged files not written to for `idle` or longer: uploads cut off by a crash. Safe
  // while writers exist, in this process or in another sharing the directory: an upload in
  // flight writes its file as its bytes arrive (and the HTTP server drops a body that stalls
  // far sooner than any sensible `idle`).
  virtual Status RemoveStale(std::chrono::seconds idle) = 0;
};

// Content-addressed files under `root`: root/ab/cd/abcd...; staged files in root/tmp.
Result<std::unique_ptr<BlobStore>> OpenFsBlobStore(const std::string& root);

// True for a 64-character lower-case hex key.
bool ValidKey(std::string_view key);

}  // namespace betterdev::blob
