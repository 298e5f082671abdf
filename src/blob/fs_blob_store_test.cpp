#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "blob/blob_store.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::blob {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t FilesUnder(const fs::path& dir) {
  size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) ++n;
  return n;
}

TEST(FsBlobStore, WritesHashesAndCommitsUnderTheDigest) {
  testutil::TempDir dir;
  auto store = OpenFsBlobStore(dir.path());
  ASSERT_TRUE(store.ok());
  auto w = (*store)->Create();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write("ab").ok());
  ASSERT_TRUE((*w)->Write("c").ok());
  ASSERT_TRUE((*w)->Finish().ok());
  // SHA-256("abc"), FIPS 180-2 appendix B.1.
  const std::string key = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  EXPECT_EQ((*w)->sha256_hex(), key);
  EXPECT_EQ((*w)->size(), 3u);
  EXPECT_EQ(ReadFile((*w)->staged_path()), "abc");
  EXPECT_FALSE(*(*store)->Exists(key));  // not visible before commit
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_TRUE(*(*store)->Exists(key));
  auto path = (*store)->LocalPath(key);
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*path, (fs::path(dir.path()) / "ba" / "78" / key).string());
  EXPECT_EQ(ReadFile(*path), "abc");
  ASSERT_TRUE((*store)->Delete(key).ok());
  EXPECT_FALSE(*(*store)->Exists(key));
  EXPECT_TRUE((*store)->Delete(key).ok());  // already gone is fine
  EXPECT_EQ((*store)->LocalPath(key).status().code(), StatusCode::kNotFound);
}

TEST(FsBlobStore, AnAbandonedWriterLeavesNothing) {
  testutil::TempDir dir;
  auto store = OpenFsBlobStore(dir.path());
  ASSERT_TRUE(store.ok());
  {
    auto w = (*store)->Create();
    ASSERT_TRUE((*w)->Write(std::string(100000, 'x')).ok());
    ASSERT_TRUE((*w)->Finish().ok());
  }
  EXPECT_EQ(FilesUnder(dir.path()), 0u);
}

// Another process sharing the directory may be writing an upload right now: only files idle
// for long are removed, and a writer's file survives.
TEST(FsBlobStore, RemoveStaleClearsOnlyLongIdleLeftovers) {
  testutil::TempDir dir;
  auto store = OpenFsBlobStore(dir.path());
  ASSERT_TRUE(store.ok());
  const fs::path old = fs::path(dir.path()) / "tmp" / "deadbeef.part";
  std::ofstream(old) << "half an upload";
  fs::last_write_time(old, fs::file_time_type::clock::now() - std::chrono::hours(2));
  const fs::path recent = fs::path(dir.path()) / "tmp" / "cafe.part";
  std::ofstream(recent) << "an upload another process is receiving";
  auto writer = (*store)->Create();
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write("in flight here").ok());
  EXPECT_EQ(FilesUnder(dir.path()), 3u);
  ASSERT_TRUE((*store)->RemoveStale(std::chrono::hours(1)).ok());
  EXPECT_FALSE(fs::exists(old));
  EXPECT_TRUE(fs::exists(recent));
  EXPECT_EQ(FilesUnder(dir.path()), 2u);
  ASSERT_TRUE((*writer)->Finish().ok());
}

TEST(FsBlobStore, KeysAreValidatedBeforeBecomingPaths) {
  testutil::TempDir dir;
  auto store = OpenFsBlobStore(dir.path());
  ASSERT_TRUE(store.ok());
  for (const std::string& bad : std::vector<std::string>{"../../etc/passwd", "", std::string(64, 'G'), std::string(63, 'a')}) {
    EXPECT_EQ((*store)->LocalPath(bad).status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ((*store)->Delete(bad).code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(ValidKey(std::string(64, 'a')));
}

TEST(FsBlobStore, SameBytesTwiceShareOneBlob) {
  testutil::TempDir dir;
  auto store = OpenFsBlobStore(dir.path());
  ASSERT_TRUE(store.ok());
  for (int i = 0; i < 2; ++i) {
    auto w = (*store)->Create();
    ASSERT_TRUE((*w)->Write("same").ok());
    ASSERT_TRUE((*w)->Finish().ok());
    ASSERT_TRUE((*w)->Commit().ok());
  }
  EXPECT_EQ(FilesUnder(dir.path()), 1u);
}

}  // namespace
}  // namespace betterdev::blob
