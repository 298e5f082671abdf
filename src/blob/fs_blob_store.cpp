#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "blob/blob_store.hpp"
#include "core/random.hpp"

namespace betterdev::blob {
namespace {

namespace fs = std::filesystem;

Status Errno(std::string_view what, const std::string& path) {
  return Status::Internal(std::string(what) + " " + path + ": " + std::generic_category().message(errno));
}

// fsync of a directory makes a rename in it durable.
Status SyncDir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open", dir.string());
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : Errno("fsync", dir.string());
}

class FsWriter final : public BlobWriter {
 public:
  FsWriter(fs::path root, fs::path staged, int fd) : root_(std::move(root)), staged_(staged.string()), fd_(fd) {
    md_ = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md_, EVP_sha256(), nullptr);
  }
  ~FsWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(staged_.c_str());
    EVP_MD_CTX_free(md_);
  }

  Status Write(std::string_view bytes) override {
    if (finished_) return Status::Internal("blob write after finish");
    EVP_DigestUpdate(md_, bytes.data(), bytes.size());
    size_ += bytes.size();
    while (!bytes.empty()) {
      ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("write", staged_);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }

  Status Finish() override {
    if (finished_) return Status::Ok();
    if (::fsync(fd_) != 0) return Errno("fsync", staged_);
    ::close(fd_);
    fd_ = -1;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(md_, digest, &len);
    sha_ = HexEncode(std::string_view(reinterpret_cast<const char*>(digest), len));
    finished_ = true;
    return Status::Ok();
  }

  const std::string& staged_path() const override { return staged_; }
  uint64_t size() const override { return size_; }
  const std::string& sha256_hex() const override { return sha_; }

  Status Commit() override {
    if (!finished_) return Status::Internal("blob commit before finish");
    fs::path dir = root_ / sha_.substr(0, 2) / sha_.substr(2, 2);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::Internal("create " + dir.string() + ": " + ec.message());
    fs::path final_path = dir / sha_;
    if (::rename(staged_.c_str(), final_path.c_str()) != 0) return Errno("rename", final_path.string());
    committed_ = true;
    return SyncDir(dir);
  }

 private:
  fs::path root_;
  std::string staged_;
  int fd_;
  EVP_MD_CTX* md_;
  uint64_t size_ = 0;
  std::string sha_;
  bool finished_ = false;
  bool committed_ = false;
};

class FsBlobStore final : public BlobStore {
 public:
  explicit FsBlobStore(fs::path root) : root_(std::move(root)) {}

  Result<std::unique_ptr<BlobWriter>> Create() override {
    unsigned char random[16];
    SecureRandomBytes(random, sizeof random);
    fs::path staged = root_ / "tmp" / (HexEncode(std::string_view(reinterpret_cast<char*>(random), sizeof random)) + ".part");
    int fd = ::open(staged.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Errno("create", staged.string());
    return std::unique_ptr<BlobWriter>(new FsWriter(root_, staged, fd));
  }

  Result<std::string> LocalPath(std::string_view key) override {
    if (!ValidKey(key)) return Status::InvalidArgument("malformed blob key");
    fs::path p = PathOf(key);
    std::error_code ec;
    if (!fs::exists(p, ec)) return Status::NotFound("blob " + std::string(key) + " is missing");
    return p.string();
  }

  Result<bool> Exists(std::string_view key) override {
    if (!ValidKey(key)) return Status::InvalidArgument("malformed blob key");
    std::error_code ec;
    return fs::exists(PathOf(key), ec);
  }

  Status Delete(std::string_view key) override {
    if (!ValidKey(key)) return Status::InvalidArgument("malformed blob key");
    fs::path p = PathOf(key);
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) return Errno("unlink", p.string());
    return Status::Ok();
  }

  Status RemoveStale(std::chrono::seconds idle) override {
    std::error_code ec;
    const auto now = fs::file_time_type::clock::now();
    for (const auto& entry : fs::directory_iterator(root_ / "tmp", ec)) {
      std::error_code entry_ec;
      const fs::file_time_type written = fs::last_write_time(entry.path(), entry_ec);
      if (entry_ec || now - written < idle) continue;  // (gone meanwhile, or still being written)
      fs::remove(entry.path(), entry_ec);
    }
    return Status::Ok();
  }

 private:
  fs::path PathOf(std::string_view key) const {
    std::string k(key);
    return root_ / k.substr(0, 2) / k.substr(2, 2) / k;
  }
  fs::path root_;
};

}  // namespace

bool ValidKey(std::string_view key) {
  if (key.size() != 64) return false;
  for (char c : key)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<std::unique_ptr<BlobStore>> OpenFsBlobStore(const std::string& root) {
  std::error_code ec;
  fs::create_directories(fs::path(root) / "tmp", ec);
  if (ec) return Status::InvalidArgument("cannot create blob directory " + root + ": " + ec.message());
  return std::unique_ptr<BlobStore>(new FsBlobStore(root));
}

}  // namespace betterdev::blob
