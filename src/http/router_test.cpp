#include "http/router.hpp"

#include <gtest/gtest.h>

namespace betterdev::http {
namespace {

Handler Named(std::string name) {
  return [name](Request&) { return Response::Text(200, "text/plain", name); };
}

std::string Call(const RouteMatch& m) {
  Request r;
  return m.route->handler(r).body;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router.Add(Method::kGet, "/healthz", Named("health"));
    router.Add(Method::kGet, "/v1/conversations", Named("list"));
    router.Add(Method::kPost, "/v1/conversations", Named("create"), {.body_limit = 10});
    router.Add(Method::kGet, "/v1/conversations/{id}", Named("get"));
    router.Add(Method::kDelete, "/v1/conversations/{id}", Named("delete"));
    router.Add(Method::kGet, "/v1/conversations/{id}/messages", Named("messages"));
  }
  Router router;
};

TEST_F(RouterTest, MatchesStaticAndParameterisedPaths) {
  auto m = router.Find(Method::kGet, "/healthz");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(Call(m), "health");

  m = router.Find(Method::kGet, "/v1/conversations/conv_123");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(Call(m), "get");
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0].first, "id");
  EXPECT_EQ(m.params[0].second, "conv_123");

  m = router.Find(Method::kGet, "/v1/conversations/a%20b/messages");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(Call(m), "messages");
  EXPECT_EQ(m.params[0].second, "a b");

  m = router.Find(Method::kPost, "/v1/conversations");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(m.route->options.body_limit, 10u);
}

TEST_F(RouterTest, UnknownPathsAreNotFound) {
  EXPECT_EQ(router.Find(Method::kGet, "/nope").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(router.Find(Method::kGet, "/v1/conversations/").kind, RouteMatch::Kind::kNotFound);  // empty id
  EXPECT_EQ(router.Find(Method::kGet, "/v1/conversations/x/y").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(router.Find(Method::kGet, "/v1/conversations/%zz").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(router.Find(Method::kGet, "healthz").kind, RouteMatch::Kind::kNotFound);
}

TEST_F(RouterTest, WrongMethodListsAllowedOnes) {
  auto m = router.Find(Method::kPut, "/v1/conversations/abc");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(AllowHeader(m.allowed), "GET, HEAD, DELETE, OPTIONS");
  m = router.Find(Method::kDelete, "/v1/conversations");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(AllowHeader(m.allowed), "GET, HEAD, POST, OPTIONS");
}

TEST_F(RouterTest, HeadUsesGetRoutes) {
  auto m = router.Find(Method::kHead, "/healthz");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(Call(m), "health");
}

TEST_F(RouterTest, RejectsDuplicatesAndMalformedPatterns) {
  EXPECT_THROW(router.Add(Method::kGet, "/healthz", Named("again")), std::invalid_argument);
  EXPECT_THROW(router.Add(Method::kGet, "no-slash", Named("x")), std::invalid_argument);
  EXPECT_THROW(router.Add(Method::kGet, "/a/{b", Named("x")), std::invalid_argument);
}

TEST(Request, QueryAndHeaders) {
  Request r;
  r.query = "limit=10&cursor=abc%3D&flag&name=a+b";
  r.headers = {{"Content-Type", "application/json"}};
  EXPECT_EQ(r.QueryParam("limit"), "10");
  EXPECT_EQ(r.QueryParam("cursor"), "abc=");
  EXPECT_EQ(r.QueryParam("flag"), "");
  EXPECT_EQ(r.QueryParam("name"), "a b");
  EXPECT_FALSE(r.QueryParam("missing"));
  ASSERT_NE(r.FindHeader("content-type"), nullptr);
  EXPECT_EQ(*r.FindHeader("CONTENT-TYPE"), "application/json");
  EXPECT_EQ(r.FindHeader("Authorization"), nullptr);
}

TEST(Response, ErrorShape) {
  Response r = Response::Error(404, "not_found", "no such route: /x");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error":{"code":"not_found","message":"no such route: /x"}})");
  EXPECT_EQ(r.content_type, "application/json");
}

TEST(PercentDecode, RejectsMalformedEscapes) {
  EXPECT_EQ(PercentDecode("a%2Fb", false), "a/b");
  EXPECT_FALSE(PercentDecode("a%2", false));
  EXPECT_FALSE(PercentDecode("a%", false));
  EXPECT_FALSE(PercentDecode("%g0", false));
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
}

}  // namespace
}  // namespace betterdev::http
