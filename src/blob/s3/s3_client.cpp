#include "blob/s3/s3_client.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "core/random.hpp"

namespace betterdev::blob {
namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;
constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

// The SHA-256 of bytes [offset, offset + length) of `fd`.
Result<std::string> Sha256OfRange(int fd, uint64_t offset, uint64_t length) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 16);
  while (length > 0) {
    const ssize_t n = ::pread(fd, buf.data(), std::min<uint64_t>(buf.size(), length), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      EVP_MD_CTX_free(md);
      return Status::Internal("read of a staged upload failed");
    }
    EVP_DigestUpdate(md, buf.data(), static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(md, digest, &len);
  EVP_MD_CTX_free(md);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

// The text of the first <tag>...</tag> in an S3 XML answer ("" when absent).
std::string TagText(std::string_view xml, std::string_view tag) {
  std::string open(1, '<'), close("</");  // (appended: GCC 12's -Wrestrict misfires on "<" + ... at -O3)
  open.append(tag).append(">");
  close.append(tag).append(">");
  const size_t a = xml.find(open);
  if (a == std::string_view::npos) return "";
  const size_t b = xml.find(close, a + open.size());
  if (b == std::string_view::npos) return "";
  return std::string(xml.substr(a + open.size(), b - a - open.size()));
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// One request: what to send and where the answer's body goes.
struct Call {
  const char* method = "GET";
  std::string name;         // object name (after the prefix); empty: the bucket
  std::string query;        // canonical: sorted, encoded, "name=" for empty values
  std::string payload_sha;  // hex; the empty body's when there is none
  std::string body;         // POST: in memory
  int body_fd = -1;         // PUT: bytes [body_offset, body_offset + body_length) of this file
  uint64_t body_offset = 0;
  uint64_t body_length = 0;
  int sink_fd = -1;         // a 2xx answer's body goes here (else into Reply::body)
  int timeout_ms = 0;       // the whole exchange (0: none; stalls are caught by the speed limit)
};

struct Reply {
  long status = 0;    // 0: no answer
  std::string body;   // the answer (an error's XML); not the sink's bytes
  std::string etag;
  std::string error;  // why, when status is 0
  // The answer's S3 error code ("NoSuchKey", "SignatureDoesNotMatch", ...), when it has one.
  std::string code() const { return TagText(body, "Code"); }
};

// Per-transfer state the callbacks see.
struct Transfer {
  const Call* call;
  CURL* curl;
  uint64_t read_pos = 0;   // within the body range
  uint64_t written = 0;    // into sink_fd
  Reply* reply;
  bool write_failed = false;
};

size_t ReadBody(char* buffer, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const uint64_t left = t->call->body_length - t->read_pos;
  const size_t want = static_cast<size_t>(std::min<uint64_t>(left, uint64_t{size} * count));
  if (want == 0) return 0;
  for (;;) {
    const ssize_t n = ::pread(t->call->body_fd, buffer, want, static_cast<off_t>(t->call->body_offset + t->read_pos));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return CURL_READFUNC_ABORT;
    t->read_pos += static_cast<uint64_t>(n);
    return static_cast<size_t>(n);
  }
}

int SeekBody(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<uint64_t>(offset) > t->call->body_length)
    return CURL_SEEKFUNC_CANTSEEK;
  t->read_pos = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (t->call->sink_fd >= 0 && status >= 200 && status < 300) {
    size_t done = 0;
    while (done < n) {
      const ssize_t w = ::pwrite(t->call->sink_fd, data + done, n - done, static_cast<off_t>(t->written));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        t->write_failed = true;
        return 0;  // aborts the transfer
      }
      done += static_cast<size_t>(w);
      t->written += static_cast<uint64_t>(w);
    }
    return n;
  }
  if (t->reply->body.size() < kMaxErrorBody) t->reply->body.append(data, std::min(n, kMaxErrorBody - t->reply->body.size()));
  return n;
}

size_t Header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (line.size() > 5 && ::strncasecmp(line.data(), "etag:", 5) == 0) {  // header names ignore case
    line.remove_prefix(5);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' ')) line.remove_suffix(1);
    t->reply->etag = std::string(line);
  }
  return size * count;
}

bool Retryable(const Reply& r) {
  if (r.status == 0 || r.status >= 500) return true;
  return r.status == 400 && r.code() == "RequestTimeout";  // S3: the upload was too slow
}

}  // namespace

std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Status ValidateS3Options(const S3Options& o) {
  if (o.bucket.empty()) return Status::InvalidArgument("S3: a bucket is required");
  if (o.endpoint.rfind("http://", 0) != 0 && o.endpoint.rfind("https://", 0) != 0)
    return Status::InvalidArgument("S3: the endpoint must be an http:// or https:// URL, not \"" + o.endpoint + "\"");
  const std::string_view host = std::string_view(o.endpoint).substr(o.endpoint.find("//") + 2);
  if (host.empty() || host.find('/') != std::string_view::npos || host.find('?') != std::string_view::npos)
    return Status::InvalidArgument("S3: the endpoint is scheme://host[:port] with no path");
  if (o.access_key.empty() || o.secret_key.empty())
    return Status::InvalidArgument("S3: an access key and a secret key are required");
  if (o.region.empty()) return Status::InvalidArgument("S3: a region is required (us-east-1 when the server has none)");
  for (char c : o.key_prefix + o.bucket) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' || c == '.' ||
          c == '_' || c == '-'))
      return Status::InvalidArgument("S3: the bucket and the key prefix may hold only letters, digits and / . _ -");
  }
  if (o.part_bytes < (uint64_t{5} << 20)) return Status::InvalidArgument("S3: parts are at least 5 MiB");
  if (o.max_attempts < 1) return Status::InvalidArgument("S3: at least one attempt");
  return Status::Ok();
}

struct S3Client::Impl {
  S3Options o;
  std::string sigv4;  // "aws:amz:<region>:s3"
  std::mutex mu;
  std::vector<CURL*> idle;  // kept-alive handles
  std::mt19937 rng{std::random_device{}()};

  ~Impl() {
    for (CURL* c : idle) curl_easy_cleanup(c);
  }

  std::string Url(const Call& c) const {
    const size_t scheme_end = o.endpoint.find("//") + 2;
    std::string url;
    if (o.force_path_style) {
      url = o.endpoint + "/" + o.bucket + (c.name.empty() ? "" : "/");  // the bucket itself: no trailing '/'
    } else {
      url = o.endpoint.substr(0, scheme_end) + o.bucket + "." + o.endpoint.substr(scheme_end) + "/";
    }
    if (!c.name.empty()) url += UriEncode(o.key_prefix + c.name, /*keep_slash=*/true);
    if (!c.query.empty()) url += "?" + c.query;
    return url;
  }

  CURL* Take() {
    {
      std::lock_guard lock(mu);
      if (!idle.empty()) {
        CURL* c = idle.back();
        idle.pop_back();
        curl_easy_reset(c);
        return c;
      }
    }
    return curl_easy_init();
  }
  void Give(CURL* c) {
    std::lock_guard lock(mu);
    idle.push_back(c);
  }

  Reply Once(const Call& call) {
    Reply reply;
    CURL* curl = Take();
    if (!curl) {
      reply.error = "cannot make a libcurl handle";
      return reply;
    }
    Transfer t{&call, curl, 0, 0, &reply, false};
    if (call.sink_fd >= 0 && ::ftruncate(call.sink_fd, 0) != 0) {
      reply.error = "cannot truncate the download file";
      Give(curl);
      return reply;
    }
    const std::string url = Url(call);
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, ("x-amz-content-sha256: " + call.payload_sha).c_str());
    const std::string method = call.method;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(curl, CURLOPT_USERNAME, o.access_key.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, o.secret_key.c_str());
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout_ms));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(o.stall_seconds));
    if (call.timeout_ms > 0) curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(call.timeout_ms));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, Header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    if (method == "HEAD") {
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (method == "PUT") {
      curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(call.body_length));
      curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadBody);
      curl_easy_setopt(curl, CURLOPT_READDATA, &t);
      curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, SeekBody);
      curl_easy_setopt(curl, CURLOPT_SEEKDATA, &t);
    } else if (method == "POST") {
      headers = curl_slist_append(headers, "content-type: application/xml");
      curl_easy_setopt(curl, CURLOPT_POST, 1L);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, call.body.c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size()));
    } else if (method == "DELETE") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    const CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) {
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
    } else {
      reply.error = t.write_failed ? "cannot write the download file" : curl_easy_strerror(rc);
    }
    curl_slist_free_all(headers);
    Give(curl);
    return reply;
  }

  // Tries the call up to max_attempts times while the failure is worth another try.
  Reply Run(const Call& call) {
    Reply r;
    for (int attempt = 1;; ++attempt) {
      r = Once(call);
      if (attempt >= o.max_attempts || !Retryable(r)) return r;
      const int64_t base = int64_t{o.backoff_ms} << std::min(attempt - 1, 10);
      int64_t wait = 0;
      {
        std::lock_guard lock(mu);
        wait = std::uniform_int_distribution<int64_t>(base / 2, base)(rng);  // jitter: callers do not retry in step
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(wait, 10000)));
    }
  }

  // A failed call as a Status: what was asked, what S3 said.
  Status Failure(const Call& call, const Reply& r) const {
    std::string what = std::string("S3 ") + call.method + " " + (call.name.empty() ? o.bucket : o.key_prefix + call.name);
    if (r.status == 0) return Status::Unavailable(what + ": " + r.error);
    std::string said = std::to_string(r.status);
    if (std::string code = r.code(); !code.empty()) said += " " + code;
    if (std::string message = TagText(r.body, "Message"); !message.empty()) said += ": " + message;
    // A missing bucket is a configuration error, not a missing object (which would fail a
    // document for good).
    if (r.status == 404 && r.code() == "NoSuchBucket") return Status::Internal(what + ": " + said);
    if (r.status == 404) return Status::NotFound(what + ": " + said);
    if (r.status == 401 || r.status == 403) return Status::PermissionDenied(what + ": " + said);
    if (Retryable(r)) return Status::Unavailable(what + ": " + said);
    return Status::Internal(what + ": " + said);
  }

  bool ObjectExists(std::string_view name) {
    Call head;
    head.method = "HEAD";
    head.name = std::string(name);
    head.payload_sha = kEmptySha256;
    return Run(head).status == 200;
  }

  Status Multipart(std::string_view name, int fd, uint64_t size) {
    Call start;
    start.method = "POST";
    start.name = std::string(name);
    start.query = "uploads=";
    start.payload_sha = kEmptySha256;
    Reply started = Run(start);
    if (started.status != 200) return Failure(start, started);
    const std::string upload_id = TagText(started.body, "UploadId");
    if (upload_id.empty()) return Status::Internal("S3 multipart upload of " + o.key_prefix + std::string(name) + ": no UploadId");
    const std::string id_query = "uploadId=" + UriEncode(upload_id);
    std::string done = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
    Status failed = Status::Ok();
    int part = 1;
    for (uint64_t offset = 0; offset < size; offset += o.part_bytes, ++part) {
      Call put;
      put.method = "PUT";
      put.name = std::string(name);
      put.query = "partNumber=" + std::to_string(part) + "&" + id_query;  // sorted: p < u
      put.body_fd = fd;
      put.body_offset = offset;
      put.body_length = std::min(o.part_bytes, size - offset);
      auto sha = Sha256OfRange(fd, put.body_offset, put.body_length);
      if (!sha.ok()) {
        failed = sha.status();
        break;
      }
      put.payload_sha = *sha;
      Reply r = Run(put);
      if (r.status != 200 || r.etag.empty()) {
        failed = r.status == 200 ? Status::Internal("S3 part upload answered without an ETag") : Failure(put, r);
        break;
      }
      done += "<Part><PartNumber>" + std::to_string(part) + "</PartNumber><ETag>" + XmlEscape(r.etag) + "</ETag></Part>";
    }
    if (failed.ok()) {
      done += "</CompleteMultipartUpload>";
      Call complete;
      complete.method = "POST";
      complete.name = std::string(name);
      complete.query = id_query;
      complete.body = done;
      complete.payload_sha = Sha256Hex(done);
      for (int attempt = 1;; ++attempt) {
        Reply r = Run(complete);
        // S3 may answer 200 and still fail: the error is then in the body.
        if (r.status == 200 && r.body.find("<Error>") == std::string::npos) return Status::Ok();
        // An earlier try completed it but its answer was lost: the object is there.
        if (r.status == 404 && r.code() == "NoSuchUpload" && ObjectExists(name)) return Status::Ok();
        const bool internal = r.status == 200 && (r.code() == "InternalError" || r.code() == "SlowDown");
        if (!internal || attempt >= o.max_attempts) {
          failed = r.status == 200 ? Status::Unavailable("S3 completing the upload of " + o.key_prefix + std::string(name) +
                                                         ": " + r.code() + " " + TagText(r.body, "Message"))
                                   : Failure(complete, r);
          break;
        }
      }
    }
    // Abort, so the parts stop costing storage (best effort; a bucket lifecycle rule
    // AbortIncompleteMultipartUpload catches what a crash leaves).
    Call abort;
    abort.method = "DELETE";
    abort.name = std::string(name);
    abort.query = id_query;
    abort.payload_sha = kEmptySha256;
    (void)Run(abort);
    return failed;
  }
};

S3Client::S3Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
S3Client::~S3Client() = default;

Result<std::unique_ptr<S3Client>> S3Client::Open(const S3Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->o = options;
  while (!impl->o.endpoint.empty() && impl->o.endpoint.back() == '/') impl->o.endpoint.pop_back();
  BD_RETURN_IF_ERROR(ValidateS3Options(impl->o));
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  impl->sigv4 = "aws:amz:" + options.region + ":s3";
  return std::unique_ptr<S3Client>(new S3Client(std::move(impl)));
}

std::string S3Client::UrlOf(std::string_view name) const {
  Call c;
  c.name = std::string(name);
  return impl_->Url(c);
}

Status S3Client::PutFile(std::string_view name, const std::string& path, const std::string& sha256_hex) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Internal("cannot open " + path + " to upload it");
  struct stat st {};
  ::fstat(fd, &st);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  Status result = Status::Ok();
  if (size > impl_->o.part_bytes) {
    result = impl_->Multipart(name, fd, size);
  } else {
    Call put;
    put.method = "PUT";
    put.name = std::string(name);
    put.body_fd = fd;
    put.body_length = size;
    put.payload_sha = sha256_hex;
    Reply r = impl_->Run(put);
    if (r.status != 200) result = impl_->Failure(put, r);
  }
  ::close(fd);
  return result;
}

Status S3Client::GetToFile(std::string_view name, int fd) {
  Call get;
  get.name = std::string(name);
  get.payload_sha = kEmptySha256;
  get.sink_fd = fd;
  Reply r = impl_->Run(get);
  return r.status == 200 ? Status::Ok() : impl_->Failure(get, r);
}

Result<bool> S3Client::Exists(std::string_view name) {
  Call head;
  head.method = "HEAD";
  head.name = std::string(name);
  head.payload_sha = kEmptySha256;
  Reply r = impl_->Run(head);
  if (r.status == 200) return true;
  if (r.status == 404) return false;
  return impl_->Failure(head, r);
}

Status S3Client::Ping() {
  Call head;
  head.method = "HEAD";
  head.payload_sha = kEmptySha256;
  head.timeout_ms = 3000;
  Reply r = impl_->Once(head);
  if (r.status >= 200 && r.status < 300) return Status::Ok();
  if (r.status == 0 || r.status >= 500) return impl_->Failure(head, r);
  return Status::Internal("S3 HEAD bucket " + impl_->o.bucket + ": " + std::to_string(r.status) +
                          " (check the bucket, the region and the keys)");
}

Status S3Client::Delete(std::string_view name) {
  Call del;
  del.method = "DELETE";
  del.name = std::string(name);
  del.payload_sha = kEmptySha256;
  Reply r = impl_->Run(del);
  if (r.status == 204 || r.status == 200 || r.status == 404) return Status::Ok();
  return impl_->Failure(del, r);
}

}  // namespace betterdev::blob
