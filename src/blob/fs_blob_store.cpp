#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "blob/blob_store.hpp"
#include "blob/staged_writer.hpp"

namespace betterdev::blob {
namespace {

namespace fs = std::filesystem;

// fsync of a directory makes a rename in it durable.
Status SyncDir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open", dir.string());
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : Errno("fsync", dir.string());
}

class FsWriter final : public StagedWriter {
 public:
  FsWriter(fs::path root, std::string staged, int fd) : StagedWriter(std::move(staged), fd), root_(std::move(root)) {}

  Status Commit() override {
    if (!finished()) return Status::Internal("blob commit before finish");
    const std::string& sha = sha256_hex();
    fs::path dir = root_ / sha.substr(0, 2) / sha.substr(2, 2);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::Internal("create " + dir.string() + ": " + ec.message());
    fs::path final_path = dir / sha;
    if (::rename(staged_path().c_str(), final_path.c_str()) != 0) return Errno("rename", final_path.string());
    set_kept();
    return SyncDir(dir);
  }

 private:
  fs::path root_;
};

class FsBlobStore final : public BlobStore {
 public:
  explicit FsBlobStore(fs::path root) : root_(std::move(root)) {}

  Result<std::unique_ptr<BlobWriter>> Create() override {
    std::string staged;
    auto fd = StagedWriter::CreateIn((root_ / "tmp").string(), &staged);
    if (!fd.ok()) return fd.status();
    return std::unique_ptr<BlobWriter>(new FsWriter(root_, std::move(staged), *fd));
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
    RemoveIdleFiles((root_ / "tmp").string(), idle);
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
