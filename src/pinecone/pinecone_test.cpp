// The Pinecone vector leg against a stand-in server (testdata/pinecone_standin.mjs) that speaks
// Pinecone's data-plane wire format and answers its errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "pinecone/pinecone_mirror.hpp"
#include "pinecone/pinecone_test_server.hpp"

namespace betterdev::pinecone {
namespace {

using Json = nlohmann::json;

constexpr int kDim = 4;
const store::VectorModel kModel{"test-model", kDim};

struct Owned {
  std::vector<std::vector<float>> values;
  std::vector<store::MirroredVector> vectors;
  void Add(const std::string& user, const std::string& doc, const std::string& job, int ordinal, std::vector<float> v) {
    values.push_back(std::move(v));
    vectors.push_back({user, {doc, job, ordinal}, {}});
  }
  std::span<const store::MirroredVector> View() {
    for (size_t i = 0; i < vectors.size(); ++i) vectors[i].vector = values[i];
    return vectors;
  }
};

std::vector<float> Axis(int i, float tilt = 0) {
  std::vector<float> v(kDim, tilt);
  v[static_cast<size_t>(i % kDim)] = 1;
  return v;
}

class PineconeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(server_.port(), 0) << "the stand-in did not start";
    auto m = NewPineconeMirror(server_.options());
    ASSERT_TRUE(m.ok()) << m.status().message();
    mirror_ = std::move(*m);
  }
  int Requests(const std::string& path) {
    int n = 0;
    for (const Json& e : server_.Log()) n += e.value("path", "") == path ? 1 : 0;
    return n;
  }

  PineconeTestServer server_{kDim};
  std::unique_ptr<store::VectorMirror> mirror_;
};

TEST_F(PineconeTest, PutThenQueryFindsTheNearestOfTheUsersOwnVectors) {
  Owned o;
  o.Add("alice", "d1", "j1", 0, Axis(0));
  o.Add("alice", "d1", "j1", 1, Axis(1));
  o.Add("alice", "d2", "j7", 0, Axis(0, 0.2f));
  o.Add("bob", "d3", "j9", 0, Axis(0));
  ASSERT_TRUE(mirror_->Put(kModel, o.View()).ok());

  std::vector<float> q = Axis(0);
  auto hits = mirror_->Query(kModel, {"alice", {}}, q, 10);
  ASSERT_TRUE(hits.ok()) << hits.status().message();
  ASSERT_EQ(hits->size(), 3u);  // bob's vector is in bob's namespace
  EXPECT_EQ((*hits)[0].at.document_id, "d1");
  EXPECT_EQ((*hits)[0].at.job_id, "j1");
  EXPECT_EQ((*hits)[0].at.ordinal, 0);
  EXPECT_NEAR((*hits)[0].score, 1.0, 1e-6);
  EXPECT_EQ((*hits)[1].at.document_id, "d2");
  EXPECT_GE((*hits)[1].score, (*hits)[2].score);

  // Scoped to documents, and at most `limit`.
  hits = mirror_->Query(kModel, {"alice", {"d2"}}, q, 10);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].at.document_id, "d2");
  hits = mirror_->Query(kModel, {"alice", {}}, q, 1);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 1u);

  // What went over the wire: the namespace is the user, the filter names the model.
  const Json log = server_.Log();
  const Json& query = log.back();
  EXPECT_EQ(query["path"], "/query");
  EXPECT_EQ(query["namespace"], "alice");
  EXPECT_EQ(query["topK"], 1);
  EXPECT_EQ(query["apiVersion"], "2025-10");
  EXPECT_NE(query["filter"].dump().find("test-model"), std::string::npos);
}

TEST_F(PineconeTest, VectorsOfAnotherModelNeverMix) {
  Owned a, b;
  a.Add("alice", "d1", "j1", 0, Axis(0));
  b.Add("alice", "d1", "j1", 0, Axis(1));  // the same chunk embedded by another model of the same size
  ASSERT_TRUE(mirror_->Put(kModel, a.View()).ok());
  const store::VectorModel other{"other-model", kDim};
  ASSERT_TRUE(mirror_->Put(other, b.View()).ok());
  std::vector<float> q = Axis(0);
  auto hits = mirror_->Query(kModel, {"alice", {}}, q, 10);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_NEAR((*hits)[0].score, 1.0, 1e-6);
  hits = mirror_->Query(other, {"alice", {}}, q, 10);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_NEAR((*hits)[0].score, 0.0, 1e-6);

  // The switch to `other` is done: the old model's vectors go, in every namespace.
  Owned c;
  c.Add("bob", "d2", "j2", 0, Axis(0));
  ASSERT_TRUE(mirror_->Put(kModel, c.View()).ok());
  ASSERT_TRUE(mirror_->DropModelsExcept(other).ok());
  EXPECT_TRUE(mirror_->Query(kModel, {"alice", {}}, q, 10)->empty());
  EXPECT_TRUE(mirror_->Query(kModel, {"bob", {}}, q, 10)->empty());
  EXPECT_EQ(mirror_->Query(other, {"alice", {}}, q, 10)->size(), 1u);
}

TEST_F(PineconeTest, AnIndexRefusingFilterDeletesHasItsVectorsListedByPrefixAndDeletedById) {
  PineconeTestServer serverless(kDim, "cosine", /*filter_deletes=*/false);
  auto m = NewPineconeMirror(serverless.options());
  ASSERT_TRUE(m.ok());
  store::VectorMirror& mirror = **m;
  Owned o;
  for (int i = 0; i < 250; ++i) o.Add("alice", "d1", "j1", i, Axis(i));  // three pages of ids
  for (int i = 0; i < 3; ++i) o.Add("alice", "d1", "j2", i, Axis(i));
  o.Add("alice", "d10", "j1", 0, Axis(0));  // "d1#" is not its prefix
  o.Add("alice", "d2", "j3", 0, Axis(0));
  ASSERT_TRUE(mirror.Put(kModel, o.View()).ok());
  std::vector<float> q = Axis(0);
  auto count = [&](const std::vector<std::string>& docs, const store::VectorModel& model = kModel) {
    auto hits = mirror.Query(model, {"alice", docs}, q, 1000);
    EXPECT_TRUE(hits.ok()) << hits.status().message();
    return hits.ok() ? hits->size() : size_t{0};
  };
  ASSERT_EQ(count({"d1"}), 253u);

  ASSERT_TRUE(mirror.DeleteDocument("alice", "d1", "j1").ok());
  auto left = mirror.Query(kModel, {"alice", {"d1"}}, q, 1000);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 3u);
  for (const store::MirrorHit& h : *left) EXPECT_EQ(h.at.job_id, "j2");
  ASSERT_TRUE(mirror.DeleteDocument("alice", "d1", "").ok());
  EXPECT_EQ(count({"d1"}), 0u);
  EXPECT_EQ(count({"d10", "d2"}), 2u);
  // The refusal is learnt once: the second delete went straight to the listing.
  int filtered = 0, listed = 0;
  for (const Json& e : serverless.Log()) {
    filtered += e.value("path", "") == "/vectors/delete" && e.contains("filter") && !e["filter"].is_null() ? 1 : 0;
    listed += e.value("path", "") == "/vectors/list" ? 1 : 0;
  }
  EXPECT_EQ(filtered, 1);
  EXPECT_GE(listed, 4);  // 3 pages for the first delete, 1 for the second

  // A model change done: the other models' vectors, found by their ids' suffix.
  const store::VectorModel other{"other-model", kDim};
  Owned b;
  b.Add("alice", "d2", "j3", 0, Axis(1));
  ASSERT_TRUE(mirror.Put(other, b.View()).ok());
  ASSERT_TRUE(mirror.DropModelsExcept(other).ok());
  EXPECT_EQ(count({}, kModel), 0u);
  EXPECT_EQ(count({}, other), 1u);
}

TEST_F(PineconeTest, UpsertsGoInBatches) {
  Owned o;
  for (int i = 0; i < 250; ++i) o.Add("alice", "d1", "j1", i, Axis(i));
  o.Add("bob", "d2", "j2", 0, Axis(0));
  ASSERT_TRUE(mirror_->Put(kModel, o.View()).ok());
  EXPECT_EQ(Requests("/vectors/upsert"), 4);  // 100 + 100 + 50 of alice's, 1 of bob's
  std::vector<float> q = Axis(0);
  auto hits = mirror_->Query(kModel, {"alice", {}}, q, 1000);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 250u);
}

TEST_F(PineconeTest, DeleteDocumentDropsOneJobsVectorsOrAllOfThem) {
  Owned o;
  o.Add("alice", "d1", "old", 0, Axis(0));
  o.Add("alice", "d1", "new", 0, Axis(0));
  o.Add("alice", "d2", "j2", 0, Axis(0));
  ASSERT_TRUE(mirror_->Put(kModel, o.View()).ok());
  std::vector<float> q = Axis(0);
  ASSERT_TRUE(mirror_->DeleteDocument("alice", "d1", "old").ok());
  auto hits = mirror_->Query(kModel, {"alice", {}}, q, 10);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 2u);
  for (const auto& h : *hits) EXPECT_NE(h.at.job_id, "old");
  ASSERT_TRUE(mirror_->DeleteDocument("alice", "d1", "").ok());
  hits = mirror_->Query(kModel, {"alice", {}}, q, 10);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].at.document_id, "d2");
  // A user with nothing stored yet: Pinecone answers 404 for the namespace; nothing to delete,
  // nothing found.
  EXPECT_TRUE(mirror_->DeleteDocument("nobody", "d9", "").ok());
  hits = mirror_->Query(kModel, {"nobody", {}}, q, 10);
  ASSERT_TRUE(hits.ok()) << hits.status().message();
  EXPECT_TRUE(hits->empty());
}

TEST_F(PineconeTest, RateLimitsAndServerErrorsAreRetried) {
  server_.Inject(R"([{"status":429,"retryAfter":0},{"status":503},{"drop":true}])");
  Owned o;
  o.Add("alice", "d1", "j1", 0, Axis(0));
  Status s = mirror_->Put(kModel, o.View());
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Requests("/vectors/upsert"), 4);
  std::vector<float> q = Axis(0);
  server_.Inject(R"([{"status":500}])");
  auto hits = mirror_->Query(kModel, {"alice", {}}, q, 10);
  ASSERT_TRUE(hits.ok()) << hits.status().message();
  EXPECT_EQ(hits->size(), 1u);
}

TEST_F(PineconeTest, ServerErrorsPastTheAttemptsAreUnavailable) {
  server_.Inject(R"([{"status":503},{"status":503},{"status":503},{"status":503},{"status":503}])");
  Owned o;
  o.Add("alice", "d1", "j1", 0, Axis(0));
  Status s = mirror_->Put(kModel, o.View());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("5 attempts"), std::string::npos) << s.message();
  EXPECT_EQ(Requests("/vectors/upsert"), 5);
}

TEST_F(PineconeTest, RefusalsAreNotRetried) {
  // A 400 from Pinecone: the index's dimension is not the vectors'.
  auto m = NewPineconeMirror(server_.options());
  ASSERT_TRUE(m.ok());
  const store::VectorModel wide{"wide", kDim + 1};
  std::vector<float> v(kDim + 1, 1.0f);
  std::vector<store::MirroredVector> vectors{{"alice", {"d1", "j1", 0}, v}};
  Status s = (*m)->Put(wide, vectors);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("does not match the dimension of the index"), std::string::npos) << s.message();
  EXPECT_EQ(Requests("/vectors/upsert"), 1);

  // A wrong key: 401, no retry.
  PineconeOptions o = server_.options();
  o.api_key = "wrong";
  auto bad = NewPineconeMirror(o);
  ASSERT_TRUE(bad.ok());
  std::vector<float> q = Axis(0);
  auto hits = (*bad)->Query(kModel, {"alice", {}}, q, 10);
  EXPECT_EQ(hits.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(hits.status().message().find("Unauthorized"), std::string::npos);
  EXPECT_EQ((*bad)->Ping().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(mirror_->Ping().ok());
}

TEST_F(PineconeTest, TheIndexIsCheckedAgainstTheModelAtStart) {
  EXPECT_TRUE(mirror_->CheckFits(kModel).ok());
  const Status other = mirror_->CheckFits({kModel.id, kModel.dimension + 1});
  EXPECT_EQ(other.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other.message().find("the Pinecone index has " + std::to_string(kModel.dimension) + " dimensions; the embedding model " +
                                 kModel.id + " gives " + std::to_string(kModel.dimension + 1)),
            std::string::npos)
      << other.message();

  PineconeTestServer euclidean(kModel.dimension, "euclidean");
  auto m = NewPineconeMirror(euclidean.options());
  ASSERT_TRUE(m.ok());
  const Status metric = (*m)->CheckFits(kModel);
  EXPECT_EQ(metric.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(metric.message().find("compares vectors by euclidean; betterdev needs an index with the cosine metric"),
            std::string::npos)
      << metric.message();

  PineconeOptions o = server_.options();
  o.api_key = "wrong";
  auto bad = NewPineconeMirror(o);
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ((*bad)->CheckFits(kModel).code(), StatusCode::kPermissionDenied);
  o = server_.options();
  o.index_host = "http://127.0.0.1:1";
  auto gone = NewPineconeMirror(o);
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ((*gone)->CheckFits(kModel).code(), StatusCode::kUnavailable);
}

TEST_F(PineconeTest, AnUnreachableIndexIsUnavailable) {
  PineconeOptions o = server_.options();
  o.index_host = "http://127.0.0.1:1";
  auto m = NewPineconeMirror(o);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->Ping().code(), StatusCode::kUnavailable);
  std::vector<float> q = Axis(0);
  EXPECT_EQ((*m)->Query(kModel, {"alice", {}}, q, 10).status().code(), StatusCode::kUnavailable);
}

TEST(PineconeOptionsTest, HostAndKeyAreRequired) {
  PineconeOptions o;
  o.api_key = "k";
  EXPECT_EQ(NewPineconeMirror(o).status().code(), StatusCode::kInvalidArgument);
  o.index_host = "my-index.svc.pinecone.io";
  o.api_key = "";
  EXPECT_EQ(NewPineconeMirror(o).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace betterdev::pinecone
