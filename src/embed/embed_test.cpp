#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "embed/embedder.hpp"

namespace betterdev::embed {
namespace {

std::vector<float> Vec(Embedder& e, const std::string& text) {
  std::vector<std::string> one{text};
  Result<Embeddings> r = e.Embed(one);
  EXPECT_TRUE(r.ok());
  return r->values;
}

float Cos(Embedder& e, const std::string& a, const std::string& b) { return Dot(Vec(e, a), Vec(e, b)); }

TEST(LocalEmbedder, NormalisedDeterministicAndShaped) {
  auto e = NewLocalEmbedder(384);
  EXPECT_EQ(e->model(), (EmbeddingModel{"local-hash-v1", 384}));
  const std::vector<std::string> texts = {"Statin use and breast cancer survival", "", "the of and"};
  Result<Embeddings> r = e->Embed(texts);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->dimension, 384);
  ASSERT_EQ(r->values.size(), 3u * 384);
  EXPECT_NEAR(Dot(r->Row(0), r->Row(0)), 1.0F, 1e-5);
  EXPECT_EQ(Dot(r->Row(1), r->Row(1)), 0.0F);  // empty text: zero vector
  EXPECT_EQ(Dot(r->Row(2), r->Row(2)), 0.0F);  // only stopwords
  EXPECT_EQ(r->tokens, 6 + 0 + 3);
  auto again = NewLocalEmbedder(384)->Embed(texts);
  EXPECT_EQ(again->values, r->values);
}

TEST(LocalEmbedder, MorphologyAndWordOrderAndCaseAreNear) {
  auto e = NewLocalEmbedder(384);
  const float inflected = Cos(*e, "vitamin supplements for children", "Vitamins supplement in a child");
  const float unrelated = Cos(*e, "vitamin supplements for children", "railway timetable of the northern line");
  EXPECT_GT(inflected, 0.5F);
  EXPECT_LT(std::fabs(unrelated), 0.2F);
  EXPECT_NEAR(Cos(*e, "Breast CANCER", "breast cancer"), 1.0F, 1e-5);
  // Non-ASCII scripts tokenise at spaces and punctuation too.
  EXPECT_GT(Cos(*e, "Москва столица России", "столица России"), 0.5F);
}

TEST(LocalEmbedder, DimensionIsConfigurable) {
  auto e = NewLocalEmbedder(1536);
  EXPECT_EQ(e->model().dimension, 1536);
  EXPECT_EQ(Vec(*e, "one two three").size(), 1536u);
}

}  // namespace
}  // namespace betterdev::embed
