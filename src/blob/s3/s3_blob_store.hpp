// Blobs in S3-compatible object storage: the uploads every API and worker process shares,
// whatever machine it runs on.
//
// An upload is staged in a local file (local_dir/tmp) as it arrives, like the file store's, so
// the HTTP I/O threads only ever write locally; Commit uploads it (one PUT, or multipart above
// one part) under key_prefix + sha256. LocalPath downloads the object into local_dir/cache,
// streamed to disk, checks its SHA-256 against the key, and keeps the copy while some caller
// of this process still uses it (DoneWith); copies left by a process that crashed go with
// RemoveStale. Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "blob/blob_store.hpp"
#include "blob/s3/s3_client.hpp"

namespace betterdev::blob {

struct S3BlobStoreOptions {
  S3Options s3;
  std::string local_dir;  // staging (tmp/) and downloaded copies (cache/)
};

Result<std::unique_ptr<BlobStore>> OpenS3BlobStore(const S3BlobStoreOptions& options);

}  // namespace betterdev::blob
