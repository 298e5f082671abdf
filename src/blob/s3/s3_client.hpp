// S3-compatible object storage (Amazon S3, MinIO, Cloudflare R2, Ceph, ...) over libcurl.
//
// Requests are signed with AWS Signature V4 by libcurl (CURLOPT_AWS_SIGV4). libcurl signs the
// path and the query string exactly as written, so this client writes them canonical: query
// parameters sorted, "name=" for an empty value ("?uploads="), RFC 3986 encoding; the payload's
// SHA-256 travels in x-amz-content-sha256 and is signed with the rest. Bodies stream from and
// to files (no object is held in memory); a file larger than one part goes up as a multipart
// upload, a part at a time. 5xx answers, S3's RequestTimeout, timeouts and dropped connections
// are retried with exponential backoff and jitter; other 4xx answers are not. libcurl stays in
// s3_client.cpp. Thread-safe; connections are kept alive between requests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.hpp"

namespace betterdev::blob {

struct S3Options {
  std::string endpoint;           // scheme://host[:port], e.g. https://s3.eu-west-1.amazonaws.com
  std::string bucket;
  std::string region = "us-east-1";
  std::string access_key;
  std::string secret_key;
  bool force_path_style = false;  // endpoint/bucket/key (MinIO, most self-hosted servers); else bucket.host/key
  std::string key_prefix = "blobs/";  // in front of every key: [A-Za-z0-9/._-] only
  uint64_t part_bytes = uint64_t{16} << 20;  // files larger go up in parts of this size (S3: at least 5 MiB)
  int max_attempts = 5;             // per request
  int backoff_ms = 200;             // before the second attempt; doubles with each further one
  int connect_timeout_ms = 10000;
  int stall_seconds = 60;           // a transfer slower than 1 KiB/s for this long is abandoned (and retried)
};

// InvalidArgument when a setting cannot work (no bucket, an endpoint that is not http(s), ...).
Status ValidateS3Options(const S3Options& o);

class S3Client {
 public:
  static Result<std::unique_ptr<S3Client>> Open(const S3Options& options);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Uploads the file at `path` as `name` (key_prefix + name): one PUT, or a multipart upload
  // when larger than part_bytes (aborted when it fails). `sha256_hex`: the whole file's digest.
  Status PutFile(std::string_view name, const std::string& path, const std::string& sha256_hex);
  // Writes the object into `fd` (truncated first, written from offset 0). NotFound when absent.
  Status GetToFile(std::string_view name, int fd);
  Result<bool> Exists(std::string_view name);
  Status Delete(std::string_view name);  // Ok when already absent
  // One HEAD of the bucket, no retry, within 3 s: Unavailable unless S3 answers (any answer but
  // a 5xx: a 403 or 404 is a configuration error, Internal).
  Status Ping();

  // The object's URL: endpoint/bucket/key (path style) or scheme://bucket.host/key.
  std::string UrlOf(std::string_view name) const;

 private:
  struct Impl;
  explicit S3Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// RFC 3986 percent-encoding of everything but unreserved characters (A-Z a-z 0-9 - . _ ~);
// with keep_slash, '/' stays as is (for a path).
std::string UriEncode(std::string_view s, bool keep_slash = false);

}  // namespace betterdev::blob
