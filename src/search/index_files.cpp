#include "search/index_files.hpp"

#include <zlib.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <thread>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/random.hpp"

namespace betterdev::search {
namespace fs = std::filesystem;
namespace {

constexpr uint32_t kKeywordMagic = 0x464B4442;  // "BDKF"
constexpr uint32_t kKeywordVersion = 2;  // 2: document titles indexed
constexpr const char* kGraphHeader = "betterdev-hnsw 2";

uint32_t Crc(uint32_t crc, const char* data, size_t n) {
  while (n > 0) {
    const auto step = static_cast<uInt>(std::min<size_t>(n, 1U << 30));
    crc = static_cast<uint32_t>(crc32(crc, reinterpret_cast<const Bytef*>(data), step));
    data += step;
    n -= step;
  }
  return crc;
}

// The CRC-32 of `length` bytes of an open file from `offset`, read in blocks; nullopt on a
// read error or a file shorter than that.
std::optional<uint32_t> CrcOfRange(int fd, uint64_t offset, uint64_t length) {
  std::vector<char> block(1 << 20);
  uint32_t crc = Crc(0, nullptr, 0);
  while (length > 0) {
    const ssize_t n = ::pread(fd, block.data(), std::min<uint64_t>(length, block.size()), static_cast<off_t>(offset));
    if (n <= 0) return std::nullopt;
    crc = Crc(crc, block.data(), static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
  }
  return crc;
}

// The CRC-32 and size of a file; a large one's halves on two threads (zlib combines them).
std::optional<std::pair<uint32_t, uint64_t>> CrcOfFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::optional<std::pair<uint32_t, uint64_t>> out;
  if (::fstat(fd, &st) == 0) {
    const auto size = static_cast<uint64_t>(st.st_size);
    const uint64_t half = size >= (64U << 20) ? size / 2 : 0;
    std::optional<uint32_t> second;
    std::thread other;
    if (half > 0) other = std::thread([&] { second = CrcOfRange(fd, half, size - half); });
    const std::optional<uint32_t> first = CrcOfRange(fd, 0, half > 0 ? half : size);
    if (other.joinable()) other.join();
    if (first && (half == 0 || second)) {
      const uint32_t crc =
          half == 0 ? *first
                    : static_cast<uint32_t>(crc32_combine(*first, *second, static_cast<z_off_t>(size - half)));
      out = std::make_pair(crc, size);
    }
  }
  ::close(fd);
  return out;
}

// A temporary name no other writer (thread or process) uses: their bytes never interleave.
std::string TempName(const std::string& path) {
  char nonce[8];
  SecureRandomBytes(nonce, sizeof nonce);
  return path + ".tmp." + HexEncode(std::string_view(nonce, sizeof nonce));
}

Status WriteFile(const std::string& path, std::string_view bytes) {
  const std::string tmp = TempName(path);
  bool written;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    written = static_cast<bool>(out);
  }
  std::error_code ec;
  if (written) fs::rename(tmp, path, ec);
  if (!written || ec) {
    fs::remove(tmp, ec);
    return Status::Internal("cannot write " + path);
  }
  return Status::Ok();
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return std::nullopt;
  std::string bytes;
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (!ec) bytes.resize(size);  // one read of the known size (a stream copy is several times slower)
  const size_t got = ec ? 0 : std::fread(bytes.data(), 1, bytes.size(), f);
  const bool failed = ec || got != bytes.size() || std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return std::nullopt;
  return bytes;
}

bool SafeName(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return true;
}

}  // namespace

IndexFiles::IndexFiles(std::string dir) : dir_(std::move(dir)) {}

std::string IndexFiles::PathOf(const std::string& user_id, const std::string& kind) const {
  std::string name = SafeName(user_id) ? user_id : Sha256Hex(user_id).substr(0, 40).insert(0, 1, 'u');
  name.append(1, '.').append(kind);  // (appends: GCC 12 -O3 warns falsely on "a" + b + "c")
  return (fs::path(dir_.empty() ? fs::temp_directory_path().string() : dir_) / name).string();
}

Status IndexFiles::SaveKeywords(const std::string& user_id, std::string_view body, int64_t through_key) const {
  if (!enabled()) return Status::Ok();
  std::error_code ec;
  fs::create_directories(dir_, ec);
  std::string file;
  file.reserve(body.size() + 28);
  auto put = [&file](const auto& v) { file.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(kKeywordMagic);
  put(kKeywordVersion);
  put(through_key);
  put(static_cast<uint64_t>(body.size()));
  put(Crc(Crc(Crc(0, nullptr, 0), reinterpret_cast<const char*>(&through_key), sizeof through_key), body.data(),
          body.size()));  // the key covered is checked with the bytes
  file += body;
  return WriteFile(PathOf(user_id, "kw"), file);
}

Result<SavedKeywords> IndexFiles::LoadKeywords(const std::string& user_id) const {
  if (!enabled()) return Status::NotFound("no index directory");
  const std::string path = PathOf(user_id, "kw");
  std::optional<std::string> file = ReadFile(path);
  if (!file) return Status::NotFound("no saved keyword index");
  uint32_t magic = 0, version = 0, crc = 0;
  int64_t through = 0;
  uint64_t length = 0;
  constexpr size_t kHeader = sizeof magic + sizeof version + sizeof through + sizeof length + sizeof crc;
  if (file->size() < kHeader) return Status::Internal("truncated keyword index " + path);
  const char* p = file->data();
  auto get = [&p](auto& v) {
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
  };
  get(magic);
  get(version);
  get(through);
  get(length);
  get(crc);
  const std::string_view body(file->data() + kHeader, file->size() - kHeader);
  if (magic != kKeywordMagic || version != kKeywordVersion || length != body.size() ||
      Crc(Crc(Crc(0, nullptr, 0), reinterpret_cast<const char*>(&through), sizeof through), body.data(),
          body.size()) != crc) {
    return Status::Internal("corrupt or foreign keyword index " + path);
  }
  std::optional<index::KeywordIndex> keywords = index::KeywordIndex::Deserialize(body);
  if (!keywords) return Status::Internal("unreadable keyword index " + path);
  return SavedKeywords{std::move(*keywords), through};
}

Status IndexFiles::SaveGraph(const std::string& user_id, const index::VectorIndex& graph,
                             const embed::EmbeddingModel& model, int64_t through_key) const {
  if (!enabled()) return Status::Ok();
  std::error_code ec;
  fs::create_directories(dir_, ec);
  const std::string path = PathOf(user_id, "hnsw"), tmp = TempName(path);
  Status saved = index::SaveHnswIndex(graph, tmp);
  std::optional<std::pair<uint32_t, uint64_t>> crc = saved.ok() ? CrcOfFile(tmp) : std::nullopt;
  if (!crc) {
    fs::remove(tmp, ec);
    return saved.ok() ? Status::Internal("cannot read back " + tmp) : saved;
  }
  // The meta goes first (naming the new file's checksum): between the two renames the old
  // graph fails its check and is rebuilt, never served with the wrong coverage.
  std::ostringstream meta;
  meta << kGraphHeader << "\n"
       << model.id << "\n"
       << model.dimension << "\n"
       << index::EncodingName(graph.encoding()) << "\n"
       << through_key << "\n"
       << crc->second << "\n"
       << crc->first << "\n";
  std::string text = meta.str();
  text += std::to_string(Crc(Crc(0, nullptr, 0), text.data(), text.size()));  // the description's own
  text += "\n";
  Status written = WriteFile(PathOf(user_id, "hnsw.meta"), text);
  if (written.ok()) fs::rename(tmp, path, ec);
  if (!written.ok() || ec) {
    fs::remove(tmp, ec);
    return written.ok() ? Status::Internal("cannot rename " + tmp) : written;
  }
  return Status::Ok();
}

Result<SavedGraph> IndexFiles::LoadGraph(const std::string& user_id, const embed::EmbeddingModel& model,
                                         const index::HnswOptions& options) const {
  if (!enabled()) return Status::NotFound("no index directory");
  std::optional<std::string> meta = ReadFile(PathOf(user_id, "hnsw.meta"));
  if (!meta) return Status::NotFound("no saved vector index");
  const size_t last_line = meta->size() >= 2 ? meta->rfind('\n', meta->size() - 2) : std::string::npos;
  if (last_line == std::string::npos ||
      std::to_string(Crc(Crc(0, nullptr, 0), meta->data(), last_line + 1)) + "\n" != meta->substr(last_line + 1)) {
    return Status::Internal("corrupt vector index description");
  }
  std::istringstream in(meta->substr(0, last_line + 1));
  std::string header, model_id, encoding;
  int dimension = 0;
  int64_t through = 0;
  uint64_t bytes = 0;
  uint32_t crc = 0;
  if (!std::getline(in, header) || header != kGraphHeader) return Status::NotFound("a vector index of another format");
  if (!std::getline(in, model_id) || !(in >> dimension >> encoding >> through >> bytes >> crc)) {
    return Status::Internal("unreadable vector index description");
  }
  if (model_id != model.id || dimension != model.dimension) return Status::NotFound("saved vectors of another model");
  if (encoding != index::EncodingName(options.encoding)) return Status::NotFound("saved vectors of another encoding");
  // Checked and read through a link of our own: a graph saved meanwhile (another thread or
  // process) replaces the name, never the file we check and then read.
  const std::string path = PathOf(user_id, "hnsw"), mine = TempName(path);
  std::error_code ec;
  fs::create_hard_link(path, mine, ec);
  if (ec) return Status::Internal("no vector index beside its description: " + ec.message());
  std::optional<std::pair<uint32_t, uint64_t>> actual = CrcOfFile(mine);
  Result<std::unique_ptr<index::VectorIndex>> graph =
      actual && actual->first == crc && actual->second == bytes
          ? index::LoadHnswIndex(mine, dimension, options)
          : Result<std::unique_ptr<index::VectorIndex>>(Status::Internal("corrupt or stale vector index " + path));
  fs::remove(mine, ec);
  if (!graph.ok()) return Status::Internal(graph.status().message());
  return SavedGraph{std::move(*graph), through};
}

void IndexFiles::RemoveLeftovers() const {
  if (!enabled()) return;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().find(".tmp.") != std::string::npos) fs::remove(it->path(), ec);
  }
}

Result<std::unique_ptr<index::VectorIndex>> IndexFiles::Copy(const std::string& user_id,
                                                            const index::VectorIndex& graph,
                                                            const index::HnswOptions& options) const {
  if (enabled()) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
  }
  const std::string tmp = TempName(PathOf(user_id, "hnsw.copy"));
  BD_RETURN_IF_ERROR(index::SaveHnswIndex(graph, tmp));
  Result<std::unique_ptr<index::VectorIndex>> copy = index::LoadHnswIndex(tmp, graph.dimension(), options);
  std::error_code ec;
  fs::remove(tmp, ec);
  return copy;
}

}  // namespace betterdev::search
