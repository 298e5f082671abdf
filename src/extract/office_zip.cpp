// Zip access for office files through libzip, with the zip-bomb limits of ExtractLimits.
//
// The directory's sizes are only a first check: every part is inflated in blocks and counted,
// so an entry that declares 1 KB and inflates to 1 GB stops at the cap.
#include "extract/office_zip.hpp"

#include <zip.h>

#include <algorithm>
#include <cstdint>

#include "extract/formats.hpp"

namespace betterdev::extract {
namespace {

constexpr size_t kBlockBytes = size_t{64} << 10;

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }  // read-only: nothing to write back
};
struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};
using ZipHandle = std::unique_ptr<zip_t, ZipCloser>;

// The entry count in the end-of-central-directory record, read before libzip loads the
// directory (which costs a few hundred bytes per entry), or -1 when not found. Zip64 archives
// say 0xFFFF here; they are counted after opening.
int64_t DeclaredEntries(std::string_view bytes) {
  if (bytes.size() < 22) return -1;
  bytes = bytes.substr(bytes.size() - std::min<size_t>(bytes.size(), 22 + 65535));  // record + max comment
  const size_t at = bytes.rfind(std::string_view("PK\x05\x06", 4));
  if (at == std::string_view::npos || at + 22 > bytes.size()) return -1;
  return static_cast<unsigned char>(bytes[at + 10]) | (static_cast<unsigned char>(bytes[at + 11]) << 8);
}

// Over bytes in memory (the mapped input), which the archive does not own.
Result<ZipHandle> OpenZip(std::string_view bytes) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (source == nullptr) {
    std::string text = zip_error_strerror(&error);
    zip_error_fini(&error);
    return Status::InvalidArgument(text);
  }
  ZipHandle z(zip_open_from_source(source, ZIP_RDONLY, &error));
  if (!z) {
    zip_source_free(source);  // not taken over when opening fails
    std::string text = zip_error_strerror(&error);
    zip_error_fini(&error);
    return Status::InvalidArgument(text);
  }
  zip_error_fini(&error);
  return z;
}

}  // namespace

struct OfficeZip::Impl {
  ZipHandle zip;
  ExtractLimits limits;
  std::string kind;
  int64_t total_read = 0;
};

OfficeZip::OfficeZip(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OfficeZip::~OfficeZip() = default;

Result<std::unique_ptr<OfficeZip>> OfficeZip::Open(const InputFile& file, const ExtractLimits& limits,
                                                   std::string_view kind) {

  auto impl = std::make_unique<Impl>();
  impl->limits = limits;
  impl->kind = std::string(kind);
  std::unique_ptr<OfficeZip> zip(new OfficeZip(std::move(impl)));
  auto too_many = [&](int64_t entries) {
    return Status::InvalidArgument("the " + zip->impl_->kind + " file has " + std::to_string(entries) +
                                   " zip entries; the limit is " + std::to_string(limits.max_zip_entries));
  };
  if (const int64_t declared = DeclaredEntries(file.bytes()); declared != 0xFFFF && declared > limits.max_zip_entries)
    return too_many(declared);
  Result<ZipHandle> z = OpenZip(file.bytes());
  if (!z.ok()) return zip->Unreadable(z.status().message());
  zip->impl_->zip = std::move(*z);
  const zip_int64_t entries = zip_get_num_entries(zip->impl_->zip.get(), 0);
  if (entries > limits.max_zip_entries) return too_many(entries);
  return zip;
}

Status OfficeZip::Unreadable(std::string_view why) const {
  return Status::InvalidArgument("not a readable " + impl_->kind + " file: " + std::string(why));
}

bool OfficeZip::Has(const std::string& name) const { return zip_name_locate(impl_->zip.get(), name.c_str(), 0) >= 0; }

std::vector<std::string> OfficeZip::Names() const {
  std::vector<std::string> names;
  const zip_int64_t n = zip_get_num_entries(impl_->zip.get(), 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(impl_->zip.get(), static_cast<zip_uint64_t>(i), 0);
    if (name != nullptr) names.emplace_back(name);
  }
  return names;
}

Result<std::string> OfficeZip::Read(const std::string& name) {
  zip_t* z = impl_->zip.get();
  const ExtractLimits& limits = impl_->limits;
  const zip_int64_t index = zip_name_locate(z, name.c_str(), 0);
  if (index < 0) return Unreadable("it has no " + name);
  auto too_large = [&](int64_t size) {
    return Status::InvalidArgument("the " + impl_->kind + " part " + name + " inflates to more than " +
                                   std::to_string(size) + " bytes; the limit per part is " +
                                   std::to_string(limits.max_office_part_bytes));
  };
  auto total_too_large = [&] {
    return Status::InvalidArgument("the " + impl_->kind + " file inflates to more than " +
                                   std::to_string(limits.max_office_total_bytes) +
                                   " bytes; that is the limit for all its parts together");
  };
  zip_stat_t st;
  zip_stat_init(&st);
  size_t reserve = 0;
  if (zip_stat_index(z, static_cast<zip_uint64_t>(index), 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE) != 0) {
    const auto declared = static_cast<int64_t>(std::min<zip_uint64_t>(st.size, INT64_MAX));
    if (declared > limits.max_office_part_bytes) return too_large(declared);
    if (declared > limits.max_office_total_bytes - impl_->total_read) return total_too_large();
    reserve = static_cast<size_t>(declared);
  }
  std::unique_ptr<zip_file_t, ZipFileCloser> f(zip_fopen_index(z, static_cast<zip_uint64_t>(index), 0));
  if (!f) return Unreadable("cannot read " + name + ": " + zip_strerror(z));
  std::string bytes;
  bytes.reserve(reserve);
  while (true) {
    const size_t have = bytes.size();
    bytes.resize(have + kBlockBytes);
    const zip_int64_t got = zip_fread(f.get(), bytes.data() + have, kBlockBytes);
    if (got < 0) return Unreadable("cannot read " + name + ": " + zip_file_strerror(f.get()));
    bytes.resize(have + static_cast<size_t>(got));
    impl_->total_read += got;
    if (static_cast<int64_t>(bytes.size()) > limits.max_office_part_bytes)
      return too_large(static_cast<int64_t>(bytes.size()));
    if (impl_->total_read > limits.max_office_total_bytes) return total_too_large();
    if (got == 0) break;
  }
  return bytes;
}

std::string OfficeTypeOfZip(std::string_view bytes) {
  // An archive the extractor would refuse is not loaded here.
  if (const int64_t declared = DeclaredEntries(bytes); declared == 0xFFFF || declared > ExtractLimits{}.max_zip_entries)
    return "";
  Result<ZipHandle> opened = OpenZip(bytes);
  if (!opened.ok()) return "";
  zip_t* z = opened->get();
  auto has = [z](const char* name) { return zip_name_locate(z, name, 0) >= 0; };
  if (has("word/document.xml")) return std::string(kDocxMimeType);
  if (has("ppt/presentation.xml")) return std::string(kPptxMimeType);
  if (has("xl/workbook.xml")) return std::string(kXlsxMimeType);
  // ODF: a "mimetype" entry holding the type (ODS and ODP are not read, so not named here).
  std::unique_ptr<zip_file_t, ZipFileCloser> f(zip_fopen(z, "mimetype", 0));
  if (!f) return "";
  char buf[100];
  const zip_int64_t got = zip_fread(f.get(), buf, sizeof buf);
  if (got <= 0) return "";
  const std::string_view type(buf, static_cast<size_t>(got));
  return type == kOdtMimeType ? std::string(kOdtMimeType) : std::string();
}

}  // namespace betterdev::extract
