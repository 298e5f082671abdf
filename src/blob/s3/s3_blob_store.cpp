#include "blob/s3/s3_blob_store.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <system_error>
#include <vector>

#include "blob/staged_writer.hpp"
#include "core/random.hpp"

namespace betterdev::blob {
namespace {

namespace fs = std::filesystem;

class S3Writer final : public StagedWriter {
 public:
  S3Writer(S3Client& client, std::string staged, int fd) : StagedWriter(std::move(staged), fd), client_(client) {}

  // The staged file stays where it is (the destructor removes it): S3 has its own copy now.
  Status Commit() override {
    if (!finished()) return Status::Internal("blob commit before finish");
    return client_.PutFile(sha256_hex(), staged_path(), sha256_hex());
  }

 private:
  S3Client& client_;
};

// The SHA-256 of a whole file, read from its start.
Result<std::string> FileSha256(int fd) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 16);
  off_t offset = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buf.data(), buf.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      EVP_MD_CTX_free(md);
      return Status::Internal("cannot read a downloaded blob");
    }
    if (n == 0) break;
    EVP_DigestUpdate(md, buf.data(), static_cast<size_t>(n));
    offset += n;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(md, digest, &len);
  EVP_MD_CTX_free(md);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

class S3BlobStore final : public BlobStore {
 public:
  S3BlobStore(std::unique_ptr<S3Client> client, fs::path local)
      : client_(std::move(client)), tmp_(local / "tmp"), cache_(local / "cache") {
    // Per store, not per pid: processes in containers sharing a directory may all be pid 1.
    unsigned char random[6];
    SecureRandomBytes(random, sizeof random);
    suffix_.push_back('.');  // (pushed, not "." + ...: GCC 12's -Wrestrict misfires on that at -O3)
    suffix_.append(HexEncode(std::string_view(reinterpret_cast<char*>(random), sizeof random)));
  }

  Result<std::unique_ptr<BlobWriter>> Create() override {
    std::string staged;
    auto fd = StagedWriter::CreateIn(tmp_.string(), &staged);
    if (!fd.ok()) return fd.status();
    return std::unique_ptr<BlobWriter>(new S3Writer(*client_, std::move(staged), *fd));
  }

  Result<std::string> LocalPath(std::string_view key) override {
    if (!ValidKey(key)) return Status::InvalidArgument("malformed blob key");
    std::shared_ptr<Copy> copy;
    {
      std::lock_guard lock(mu_);
      auto& slot = copies_[std::string(key)];
      if (!slot) slot = std::make_shared<Copy>();
      copy = slot;
      ++copy->users;
    }
    // One download per key at a time; others wait for it and share the copy.
    std::lock_guard fetching(copy->mu);
    const std::string path = PathOf(key);
    std::error_code ec;
    if (copy->ready && fs::exists(path, ec)) return path;  // (RemoveStale elsewhere may have taken an old one)
    Status s = Download(key, path);
    if (s.ok()) {
      copy->ready = true;
      return path;
    }
    Release(key);
    return s;
  }

  void DoneWith(std::string_view key) override { Release(key); }

  Result<bool> Exists(std::string_view key) override {
    if (!ValidKey(key)) return Status::InvalidArgument("malformed blob key");
    return client_->Exists(key);
  }

  Status Delete(std::string_view key) override {
    if (!ValidKey(key)) return Status::InvalidArgument("malformed blob key");
    return client_->Delete(key);
  }

  Status Ping() override { return client_->Ping(); }

  Status RemoveStale(std::chrono::seconds idle) override {
    RemoveIdleFiles(tmp_.string(), idle);
    RemoveIdleFiles(cache_.string(), idle);  // copies a crashed process left (one in use stays open)
    return Status::Ok();
  }

 private:
  struct Copy {
    std::mutex mu;  // held while downloading
    bool ready = false;
    int users = 0;  // guarded by S3BlobStore::mu_
  };

  // Per store: two processes sharing the directory never remove each other's copy.
  std::string PathOf(std::string_view key) const { return (cache_ / (std::string(key) + suffix_)).string(); }

  void Release(std::string_view key) {
    std::lock_guard lock(mu_);
    auto it = copies_.find(std::string(key));
    if (it == copies_.end() || --it->second->users > 0) return;
    if (it->second->ready) ::unlink(PathOf(key).c_str());
    copies_.erase(it);
  }

  // Streams the object into a new file beside `path`, checks its digest, renames it to `path`.
  Status Download(std::string_view key, const std::string& path) {
    std::string part;
    auto fd = StagedWriter::CreateIn(cache_.string(), &part);
    if (!fd.ok()) return fd.status();
    Status s = client_->GetToFile(key, *fd);
    if (s.ok()) {
      auto sha = FileSha256(*fd);
      if (!sha.ok()) {
        s = sha.status();
      } else if (*sha != key) {
        s = Status::Internal("blob " + std::string(key) + " downloaded from S3 does not match its digest (" + *sha + ")");
      }
    }
    ::close(*fd);
    if (s.ok() && ::rename(part.c_str(), path.c_str()) != 0) s = Errno("rename", path);
    if (!s.ok()) ::unlink(part.c_str());
    return s;
  }

  std::unique_ptr<S3Client> client_;
  fs::path tmp_;
  fs::path cache_;
  std::string suffix_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Copy>> copies_;
};

}  // namespace

Result<std::unique_ptr<BlobStore>> OpenS3BlobStore(const S3BlobStoreOptions& options) {
  auto client = S3Client::Open(options.s3);
  if (!client.ok()) return client.status();
  const fs::path local(options.local_dir);
  for (const fs::path& dir : {local / "tmp", local / "cache"}) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::InvalidArgument("cannot create blob directory " + dir.string() + ": " + ec.message());
  }
  return std::unique_ptr<BlobStore>(new S3BlobStore(std::move(*client), local));
}

}  // namespace betterdev::blob
