#include "blob/staged_writer.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "core/random.hpp"

namespace betterdev::blob {

namespace fs = std::filesystem;

Status Errno(std::string_view what, const std::string& path) {
  return Status::Internal(std::string(what) + " " + path + ": " + std::generic_category().message(errno));
}

Result<int> StagedWriter::CreateIn(const std::string& dir, std::string* path) {
  unsigned char random[16];
  SecureRandomBytes(random, sizeof random);
  *path = (fs::path(dir) / (HexEncode(std::string_view(reinterpret_cast<char*>(random), sizeof random)) + ".part"))
              .string();
  const int fd = ::open(path->c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("create", *path);
  return fd;
}

StagedWriter::StagedWriter(std::string staged_path, int fd) : staged_(std::move(staged_path)), fd_(fd) {
  auto* md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), nullptr);
  md_ = md;
}

StagedWriter::~StagedWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!kept_) ::unlink(staged_.c_str());
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(md_));
}

Status StagedWriter::Write(std::string_view bytes) {
  if (finished_) return Status::Internal("blob write after finish");
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(md_), bytes.data(), bytes.size());
  size_ += bytes.size();
  while (!bytes.empty()) {
    ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("write", staged_);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status StagedWriter::Finish() {
  if (finished_) return Status::Ok();
  if (::fsync(fd_) != 0) return Errno("fsync", staged_);
  ::close(fd_);
  fd_ = -1;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(md_), digest, &len);
  sha_ = HexEncode(std::string_view(reinterpret_cast<const char*>(digest), len));
  finished_ = true;
  return Status::Ok();
}

void RemoveIdleFiles(const std::string& dir, std::chrono::seconds idle) {
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::error_code entry_ec;
    if (!entry.is_regular_file(entry_ec)) continue;
    const fs::file_time_type written = fs::last_write_time(entry.path(), entry_ec);
    if (entry_ec || now - written < idle) continue;  // (gone meanwhile, or still in use)
    fs::remove(entry.path(), entry_ec);
  }
}

}  // namespace betterdev::blob
