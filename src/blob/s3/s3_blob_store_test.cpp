// The S3 blob store against a real S3 server (s3rver, which checks every request's SigV4
// signature), started by the tests on loopback; failures injected in front of it.
#include "blob/s3/s3_blob_store.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "blob/s3/s3_test_server.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::blob {
namespace {

namespace fs = std::filesystem;

// SHA-256("abc"), FIPS 180-2 appendix B.1.
constexpr char kAbc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t FilesIn(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file()) ++n;
  return n;
}

size_t Count(const std::vector<std::string>& log, const std::string& prefix) {
  return static_cast<size_t>(std::count_if(log.begin(), log.end(), [&](const std::string& l) { return l.rfind(prefix, 0) == 0; }));
}

class S3BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GT(server_.port(), 0) << "s3rver did not start (node, tests/s3rver: scripts/setup.sh)"; }

  std::unique_ptr<BlobStore> Open(const S3Options& o) {
    auto store = OpenS3BlobStore({o, local_.path()});
    EXPECT_TRUE(store.ok()) << store.status().message();
    return store.ok() ? std::move(*store) : nullptr;
  }
  std::unique_ptr<BlobStore> Open() { return Open(server_.options()); }

  // Stages and commits `bytes`; the key.
  static std::string Put(BlobStore& store, const std::string& bytes, Status* committed = nullptr) {
    auto w = store.Create();
    EXPECT_TRUE(w.ok());
    for (size_t at = 0; at < bytes.size(); at += 1 << 20) EXPECT_TRUE((*w)->Write(std::string_view(bytes).substr(at, 1 << 20)).ok());
    EXPECT_TRUE((*w)->Finish().ok());
    Status s = (*w)->Commit();
    if (committed) *committed = s;
    else EXPECT_TRUE(s.ok()) << s.message();
    return (*w)->sha256_hex();
  }

  std::string cache() const { return local_.File("cache"); }

  S3TestServer server_;
  testutil::TempDir local_;
};

TEST_F(S3BlobStoreTest, CommitsDownloadsAndDeletesUnderTheDigest) {
  auto store = Open();
  ASSERT_TRUE(store);
  auto w = store->Create();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write("ab").ok());
  ASSERT_TRUE((*w)->Write("c").ok());
  ASSERT_TRUE((*w)->Finish().ok());
  EXPECT_EQ((*w)->sha256_hex(), kAbc);
  EXPECT_EQ(ReadFile((*w)->staged_path()), "abc");  // readable for type detection before Commit
  EXPECT_FALSE(*store->Exists(kAbc));                // not visible before commit
  ASSERT_TRUE((*w)->Commit().ok());
  const std::string staged = (*w)->staged_path();
  w->reset();
  EXPECT_FALSE(fs::exists(staged));  // S3 holds it now; nothing stays staged
  EXPECT_TRUE(*store->Exists(kAbc));
  EXPECT_EQ(Count(server_.Log(), std::string("PUT /") + S3TestServer::kBucket + "/blobs/" + kAbc), 1u);

  auto path = store->LocalPath(kAbc);
  ASSERT_TRUE(path.ok()) << path.status().message();
  EXPECT_EQ(ReadFile(*path), "abc");
  const int fd = ::open(path->c_str(), O_RDONLY);  // as the worker gives it to the job process
  store->DoneWith(kAbc);
  EXPECT_FALSE(fs::exists(*path));  // the local copy goes when nobody uses it
  char buf[3];
  EXPECT_EQ(::read(fd, buf, 3), 3);  // an open descriptor still reads
  ::close(fd);

  ASSERT_TRUE(store->Delete(kAbc).ok());
  EXPECT_FALSE(*store->Exists(kAbc));
  EXPECT_TRUE(store->Delete(kAbc).ok());  // already gone is fine
  EXPECT_EQ(store->LocalPath(kAbc).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(FilesIn(cache()), 0u);
  EXPECT_EQ(store->LocalPath("not-a-key").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(S3BlobStoreTest, LargeFilesGoUpInPartsAndComeBackWhole) {
  auto store = Open();
  ASSERT_TRUE(store);
  std::string big(12 * 1024 * 1024 + 17, '\0');  // three parts of 5, 5 and 2 MiB
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  const std::string key = Put(*store, big);
  const auto log = server_.Log();
  EXPECT_EQ(Count(log, "POST /" + std::string(S3TestServer::kBucket) + "/blobs/" + key + "?uploads="), 1u);
  EXPECT_EQ(Count(log, "PUT /" + std::string(S3TestServer::kBucket) + "/blobs/" + key + "?partNumber="), 3u);
  EXPECT_EQ(Count(log, "POST /" + std::string(S3TestServer::kBucket) + "/blobs/" + key + "?uploadId="), 1u);
  auto path = store->LocalPath(key);
  ASSERT_TRUE(path.ok()) << path.status().message();
  EXPECT_EQ(fs::file_size(*path), big.size());
  EXPECT_TRUE(ReadFile(*path) == big);
  store->DoneWith(key);
}

TEST_F(S3BlobStoreTest, AWrongSecretIsRefusedAtOnce) {
  EXPECT_TRUE(Open()->Ping().ok());
  S3Options o = server_.options();
  o.secret_key = "not-the-secret";
  auto store = Open(o);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->Ping().code(), StatusCode::kInternal) << "a configuration error, not a passing outage";
  Status committed;
  Put(*store, "abc", &committed);
  EXPECT_EQ(committed.code(), StatusCode::kPermissionDenied) << committed.message();
  EXPECT_NE(committed.message().find("SignatureDoesNotMatch"), std::string::npos) << committed.message();
  EXPECT_EQ(Count(server_.Log(), "PUT "), 1u);  // a 4xx is not retried
  EXPECT_EQ(store->LocalPath(kAbc).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(S3BlobStoreTest, ServerErrorsAndDroppedConnectionsAreRetried) {
  auto store = Open();
  ASSERT_TRUE(store);
  server_.Inject(R"([{"status": 503, "code": "SlowDown"}, {"drop": true}])");
  Put(*store, "abc");
  EXPECT_EQ(Count(server_.Log(), "PUT "), 1u);  // the third attempt reached the server
  server_.Inject(R"([{"status": 500, "code": "InternalError"}])");
  auto path = store->LocalPath(kAbc);
  ASSERT_TRUE(path.ok()) << path.status().message();
  EXPECT_EQ(ReadFile(*path), "abc");
  store->DoneWith(kAbc);
  // Past max_attempts (3): Unavailable, worth another try later.
  server_.Inject(R"([{"status": 503, "code": "SlowDown"}, {"status": 503, "code": "SlowDown"}, {"status": 503, "code": "SlowDown"}])");
  auto gone = store->LocalPath(kAbc);
  EXPECT_EQ(gone.status().code(), StatusCode::kUnavailable) << gone.status().message();
  EXPECT_EQ(FilesIn(cache()), 0u);  // a failed download leaves nothing behind
}

TEST_F(S3BlobStoreTest, OtherClientErrorsAreNotRetried) {
  auto store = Open();
  ASSERT_TRUE(store);
  server_.Inject(R"([{"status": 400, "code": "InvalidArgument"}])");
  Status committed;
  Put(*store, "abc", &committed);
  EXPECT_EQ(committed.code(), StatusCode::kInternal) << committed.message();
  EXPECT_NE(committed.message().find("400 InvalidArgument"), std::string::npos) << committed.message();
  EXPECT_EQ(Count(server_.Log(), "PUT "), 0u);
}

TEST_F(S3BlobStoreTest, AnUnreachableServerIsUnavailableNotMissing) {
  auto store = Open();
  ASSERT_TRUE(store);
  Put(*store, "abc");
  server_.Stop();
  EXPECT_EQ(store->LocalPath(kAbc).status().code(), StatusCode::kUnavailable);
  Status committed;
  Put(*store, "abcd", &committed);
  EXPECT_EQ(committed.code(), StatusCode::kUnavailable);
  EXPECT_EQ(store->Exists(kAbc).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(store->Ping().code(), StatusCode::kUnavailable);
  EXPECT_EQ(FilesIn(local_.File("tmp")), 0u);  // the failed upload's staged file went with its writer
}

TEST_F(S3BlobStoreTest, ADownloadThatDoesNotMatchItsDigestIsRefused) {
  auto client = S3Client::Open(server_.options());
  ASSERT_TRUE(client.ok());
  const std::string other = local_.File("other");
  std::ofstream(other) << "not abc";
  // "not abc" stored under abc's digest, as a corrupted or tampered object would be.
  ASSERT_TRUE((*client)->PutFile(kAbc, other, "40626e500d8be194d839c9adf6790e9fac6c535e1a0ca6801229b9a5ae522c36").ok());
  auto store = Open();
  ASSERT_TRUE(store);
  auto path = store->LocalPath(kAbc);
  EXPECT_EQ(path.status().code(), StatusCode::kInternal);
  EXPECT_NE(path.status().message().find("does not match its digest"), std::string::npos) << path.status().message();
  EXPECT_EQ(FilesIn(cache()), 0u);
}

TEST_F(S3BlobStoreTest, CallersOfOneProcessShareOneDownload) {
  auto store = Open();
  ASSERT_TRUE(store);
  const std::string key = Put(*store, std::string(3 << 20, 'x'));
  std::vector<std::thread> threads;
  std::vector<std::string> paths(4);
  for (size_t i = 0; i < paths.size(); ++i)
    threads.emplace_back([&, i] {
      auto p = store->LocalPath(key);
      if (p.ok()) paths[i] = *p;
    });
  for (auto& t : threads) t.join();
  for (const auto& p : paths) EXPECT_EQ(p, paths[0]);
  EXPECT_EQ(Count(server_.Log(), "GET "), 1u);
  for (size_t i = 0; i + 1 < paths.size(); ++i) store->DoneWith(key);
  EXPECT_TRUE(fs::exists(paths[0]));  // one caller still uses it
  store->DoneWith(key);
  EXPECT_FALSE(fs::exists(paths[0]));
}

TEST_F(S3BlobStoreTest, ACopyRemovedUnderneathIsDownloadedAgain) {
  auto store = Open();
  ASSERT_TRUE(store);
  Put(*store, "abc");
  auto first = store->LocalPath(kAbc);
  ASSERT_TRUE(first.ok());
  fs::remove(*first);  // as another process's RemoveStale would take an old copy
  auto second = store->LocalPath(kAbc);
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(ReadFile(*second), "abc");
  EXPECT_EQ(Count(server_.Log(), "GET "), 2u);
  store->DoneWith(kAbc);
  store->DoneWith(kAbc);
  EXPECT_EQ(FilesIn(cache()), 0u);
}

TEST_F(S3BlobStoreTest, RemoveStaleTakesOnlyIdleStagedFilesAndCopies) {
  auto store = Open();
  ASSERT_TRUE(store);
  auto in_flight = store->Create();
  ASSERT_TRUE(in_flight.ok());
  ASSERT_TRUE((*in_flight)->Write("still arriving").ok());
  const std::string old_staged = local_.File("tmp/old.part"), old_copy = local_.File("cache/" + std::string(kAbc) + ".1");
  std::ofstream(old_staged) << "x";
  std::ofstream(old_copy) << "x";
  const auto long_ago = fs::file_time_type::clock::now() - std::chrono::hours(2);
  fs::last_write_time(old_staged, long_ago);
  fs::last_write_time(old_copy, long_ago);
  ASSERT_TRUE(store->RemoveStale(std::chrono::hours(1)).ok());
  EXPECT_FALSE(fs::exists(old_staged));
  EXPECT_FALSE(fs::exists(old_copy));
  EXPECT_TRUE(fs::exists((*in_flight)->staged_path()));
}

TEST(S3Client, UrlsAndEncoding) {
  S3Options o;
  o.endpoint = "https://s3.eu-west-1.amazonaws.com/";
  o.bucket = "docs";
  o.access_key = o.secret_key = "k";
  auto vhost = S3Client::Open(o);
  ASSERT_TRUE(vhost.ok());
  EXPECT_EQ((*vhost)->UrlOf(kAbc), std::string("https://docs.s3.eu-west-1.amazonaws.com/blobs/") + kAbc);
  o.force_path_style = true;
  o.endpoint = "http://127.0.0.1:9000";
  auto path = S3Client::Open(o);
  ASSERT_TRUE(path.ok());
  EXPECT_EQ((*path)->UrlOf("x"), "http://127.0.0.1:9000/docs/blobs/x");
  EXPECT_EQ(UriEncode("a b+c/d~e_f.g-h=&%"), "a%20b%2Bc%2Fd~e_f.g-h%3D%26%25");
  EXPECT_EQ(UriEncode("a b/c", true), "a%20b/c");
  EXPECT_EQ(UriEncode("é"), "%C3%A9");

  S3Options bad = o;
  bad.bucket = "";
  EXPECT_EQ(S3Client::Open(bad).status().code(), StatusCode::kInvalidArgument);
  bad = o;
  bad.endpoint = "ftp://x";
  EXPECT_EQ(S3Client::Open(bad).status().code(), StatusCode::kInvalidArgument);
  bad = o;
  bad.endpoint = "http://x/path";
  EXPECT_EQ(S3Client::Open(bad).status().code(), StatusCode::kInvalidArgument);
  bad = o;
  bad.secret_key = "";
  EXPECT_EQ(S3Client::Open(bad).status().code(), StatusCode::kInvalidArgument);
  bad = o;
  bad.part_bytes = 1 << 20;
  EXPECT_EQ(S3Client::Open(bad).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace betterdev::blob
