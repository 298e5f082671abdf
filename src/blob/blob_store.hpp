// Blob store: the uploaded bytes, content-addressed by SHA-256.
//
// A blob becomes visible under its real name only when complete (written to a temporary
// object, then committed), so a crash never leaves a half blob under a real key. Names from
// clients never become keys or paths. An upload is staged in a local file as it arrives (each
// write is a file write, fit for an HTTP I/O thread); Commit, which may take long (an upload to
// S3), runs where blocking is allowed. Implementations: fs_blob_store (the embedded default)
// and s3/ (S3-compatible object storage). Thread-safe.
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
  // A local file path with the blob's bytes, valid until the matching DoneWith (a remote store
  // downloads the blob into a local copy first, streamed to disk, its digest checked). NotFound
  // when absent; Unavailable when the store cannot be reached (worth another try).
  virtual Result<std::string> LocalPath(std::string_view key) = 0;
  // One call per successful LocalPath, once its file is no longer needed (an open descriptor
  // stays readable): a remote store removes its local copy when no caller still uses it.
  virtual void DoneWith(std::string_view key) { (void)key; }
  virtual Result<bool> Exists(std::string_view key) = 0;
  // Ok when already absent.
  virtual Status Delete(std::string_view key) = 0;
  // Removes staged files not written to for `idle` or longer: uploads cut off by a crash. Safe
  // while writers exist, in this process or in another sharing the directory: an upload in
  // flight writes its file as its bytes arrive (and the HTTP server drops a body that stalls
  // far sooner than any sensible `idle`).
  virtual Status RemoveStale(std::chrono::seconds idle) = 0;
  // Unavailable when the store cannot be reached (readiness); answers within a few seconds.
  virtual Status Ping() { return Status::Ok(); }
};

// Content-addressed files under `root`: root/ab/cd/abcd...; staged files in root/tmp.
Result<std::unique_ptr<BlobStore>> OpenFsBlobStore(const std::string& root);

// True for a 64-character lower-case hex key.
bool ValidKey(std::string_view key);

}  // namespace betterdev::blob
