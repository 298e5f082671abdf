#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <set>

#include "chat/extractive_model.hpp"
#include "api/api.hpp"
#include "queue/sqlite/sqlite_queue.hpp"
#include "api/json_io.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "testutil/faults.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::api {
namespace {

http::Request JsonRequest(std::string body, std::string content_type = "application/json") {
  http::Request r;
  r.body = std::move(body);
  if (!content_type.empty()) r.headers.push_back({"Content-Type", content_type});
  return r;
}

const HttpError* ErrorOf(const auto& result) { return std::get_if<HttpError>(&result); }

TEST(JsonBody, AcceptsKnownFields) {
  auto body = JsonBody::Parse(JsonRequest(R"({"email":"a@b.de","password":"x"})"), {"email", "password"});
  ASSERT_EQ(ErrorOf(body), nullptr);
  auto email = std::get<JsonBody>(body).String("email", true);
  ASSERT_EQ(ErrorOf(email), nullptr);
  EXPECT_EQ(*std::get<0>(email), "a@b.de");
}

TEST(JsonBody, RejectsBadBodiesWithClearErrors) {
  struct Case {
    std::string body, content_type;
    int status;
    std::string code, message_part;
  };
  for (const Case& c : std::vector<Case>{
           {"{", "application/json", 400, "invalid_json", "malformed JSON"},
           {"[1]", "application/json", 400, "invalid_request", "JSON object"},
           {R"({"email":"a","extra":1})", "application/json", 400, "invalid_request", "unknown field \"extra\""},
           {R"({"email":"a"})", "text/plain", 415, "unsupported_media_type", "application/json"},
           {"", "application/json", 400, "invalid_request", "JSON object"},
       }) {
    auto r = JsonBody::Parse(JsonRequest(c.body, c.content_type), {"email"});
    const HttpError* e = ErrorOf(r);
    ASSERT_NE(e, nullptr) << c.body;
    EXPECT_EQ(e->status, c.status) << c.body;
    EXPECT_EQ(e->code, c.code) << c.body;
    EXPECT_NE(e->message.find(c.message_part), std::string::npos) << e->message;
  }
  EXPECT_EQ(ErrorOf(JsonBody::Parse(JsonRequest("", ""), {}, false)), nullptr);
  EXPECT_EQ(ErrorOf(JsonBody::Parse(JsonRequest("{}", "application/json; charset=utf-8"), {})), nullptr);
}

TEST(JsonBody, TypeErrorsNameTheField) {
  auto body = JsonBody::Parse(JsonRequest(R"({"email":5,"ids":["a",2],"name":"x"})"), {"email", "ids", "name"});
  auto& b = std::get<JsonBody>(body);
  EXPECT_EQ(ErrorOf(b.String("email", true))->message, "email must be a string");
  EXPECT_EQ(ErrorOf(b.String("password", true))->message, "password is required");
  EXPECT_EQ(ErrorOf(b.StringArray("ids"))->message, "ids must be an array of strings");
  EXPECT_EQ(ErrorOf(b.StringArray("name"))->message, "name must be an array of strings");
  EXPECT_FALSE(std::get<0>(b.StringArray("absent")).has_value());
}

TEST(Pagination, ParsesLimitAndCursor) {
  http::Request r;
  auto p = ParsePage(r);
  EXPECT_EQ(std::get<0>(p).limit, 50);
  EXPECT_FALSE(std::get<0>(p).after_id);
  r.query = "limit=1000&cursor=" + EncodeCursor("conv_01ABC");
  p = ParsePage(r);
  EXPECT_EQ(std::get<0>(p).limit, 1000);
  EXPECT_EQ(std::get<0>(p).after_id, "conv_01ABC");
  for (std::string bad : std::vector<std::string>{"limit=0", "limit=1001", "limit=abc", "limit=5x", "cursor=%%%", "cursor=" + EncodeCursor("a b")}) {
    r.query = bad;
    EXPECT_NE(ErrorOf(ParsePage(r)), nullptr) << bad;
  }
}

TEST(Errors, StatusMapsToOneHttpErrorEach) {
  Logger log(stderr, LogLevel::kError);
  http::Request req;
  req.request_id = "rid-1";
  struct Case {
    Status s;
    int http;
    std::string code;
  };
  for (const Case& c : std::vector<Case>{{Status::InvalidArgument("x"), 400, "invalid_request"},
                                         {Status::NotFound("x"), 404, "not_found"},
                                         {Status::Conflict("x"), 409, "conflict"},
                                         {Status::Unauthenticated("x"), 401, "unauthorized"},
                                         {Status::ResourceExhausted("x", 3), 429, "rate_limited"},
                                         {Status::Unavailable("x"), 503, "unavailable"},
                                         {Status::Internal("secret SQL detail"), 500, "internal"}}) {
    http::Response r = ErrorResponse(c.s, req, log);
    EXPECT_EQ(r.status, c.http);
    EXPECT_NE(r.body.find("\"code\":\"" + c.code + "\""), std::string::npos) << r.body;
  }
  http::Response internal = ErrorResponse(Status::Internal("secret SQL detail"), req, log);
  EXPECT_EQ(internal.body.find("secret"), std::string::npos);
  EXPECT_NE(internal.body.find("rid-1"), std::string::npos);
  http::Response limited = ErrorResponse(Status::ResourceExhausted("x", 3), req, log);
  ASSERT_EQ(limited.headers.size(), 1u);
  EXPECT_EQ(limited.headers[0].name, "Retry-After");
  EXPECT_EQ(limited.headers[0].value, "3");
}

// Every service the API needs, over a store and a queue the test may wrap (testutil/faults.hpp).
struct Harness {
  explicit Harness(const std::string& dir) : dir_(dir) {}
  // Builds the services over `store` and `queue` (nullptr: the real ones) and registers the API.
  void Build(store::Store* store = nullptr, queue::JobQueue* queue = nullptr, std::FILE* log_to = stderr) {
    auto d = store::OpenSqliteStore({dir_ + "/api.db"});
    ASSERT_TRUE(d.ok());
    db = std::move(*d);
    auto b = blob::OpenFsBlobStore(dir_ + "/blobs");
    ASSERT_TRUE(b.ok());
    blobs = std::move(*b);
    auto q = queue::OpenSqliteQueue(dir_ + "/queue.db", clock);
    ASSERT_TRUE(q.ok());
    real_queue = std::move(*q);
    store::Store& st = store ? *store : *db;
    queue::JobQueue& jq = queue ? *queue : *real_queue;
    ac.argon2_memlimit_kib = 1024;
    ac.argon2_opslimit = 1;
    log = std::make_unique<Logger>(log_to, LogLevel::kInfo);
    auth = std::make_unique<auth::AuthService>(st, clock, ids, ac);
    conversations = std::make_unique<chat::ConversationService>(st, clock, ids);
    ingest = std::make_unique<ingest::IngestService>(st, *blobs, jq, clock, ids, ic, *log);
    search = std::make_unique<search::SearchService>(st, *embedder, sc);
    auto tokenizer = index::Tokenizer::Open();
    ASSERT_TRUE(tokenizer.ok());
    chat = std::make_unique<chat::ChatService>(st, *search, chat::NewExtractiveModel(std::move(*tokenizer), nullptr),
                                               chat::ModelPrices{}, ChatConfig{}, clock, ids, *log);
    auto e = realtime::OpenSqliteEventLog(dir_ + "/events.db");
    ASSERT_TRUE(e.ok());
    events = std::move(*e);
    hub = std::make_unique<realtime::EventHub>(*events, *log);
    services = std::make_unique<Services>(Services{st, *auth, *conversations, *chat, *ingest, *search, *hub, tickets,
                                                   metrics, *log, hc, ic, sc});
    RegisterApi(router, *services);
  }
  http::Response Get(const std::string& path) {
    auto m = router.Find(http::Method::kGet, path);
    EXPECT_EQ(m.kind, http::RouteMatch::Kind::kFound) << path;
    http::Request req;
    return m.route->handler(req);
  }

  std::string dir_;
  SystemClock clock;
  IdGenerator ids{clock};
  AuthConfig ac;
  MetricsRegistry metrics;
  HttpConfig hc;
  IngestConfig ic;
  SearchConfig sc;
  realtime::Tickets tickets{clock};
  std::unique_ptr<store::Store> db;
  std::unique_ptr<blob::BlobStore> blobs;
  std::unique_ptr<queue::JobQueue> real_queue;
  std::unique_ptr<Logger> log;
  std::unique_ptr<auth::AuthService> auth;
  std::unique_ptr<chat::ConversationService> conversations;
  std::unique_ptr<ingest::IngestService> ingest;
  std::unique_ptr<embed::Embedder> embedder = embed::NewLocalEmbedder(64);
  std::unique_ptr<search::SearchService> search;
  std::unique_ptr<chat::ChatService> chat;
  std::unique_ptr<realtime::EventLog> events;
  std::unique_ptr<realtime::EventHub> hub;
  std::unique_ptr<Services> services;
  http::Router router;
};

TEST(Readyz, NamesTheDependencyThatDoesNotAnswerAndLogsTheDetail) {
  testutil::TempDir dir;
  Harness h(dir.path());
  auto real = store::OpenSqliteStore({dir.File("api.db")});
  ASSERT_TRUE(real.ok());
  auto real_queue = queue::OpenSqliteQueue(dir.File("queue.db"), h.clock);
  ASSERT_TRUE(real_queue.ok());
  testutil::Faults faults;
  testutil::FaultyStore store(**real, faults);
  testutil::FaultyQueue queue(**real_queue, faults);
  std::FILE* log = std::tmpfile();
  h.Build(&store, &queue, log);
  EXPECT_EQ(h.Get("/readyz").status, 200);

  faults.Arm("store.Ping", Status::Unavailable("unable to open /srv/secret-path/betterdev.db: disk I/O error"));
  http::Response r = h.Get("/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("not ready: the store does not answer"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("secret-path"), std::string::npos) << "no detail for anonymous callers: " << r.body;

  faults.Arm("queue.Counts", Status::Unavailable("queue.db: database is locked by pid 4242"));
  r = h.Get("/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("not ready: the job queue does not answer"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("4242"), std::string::npos) << r.body;

  EXPECT_EQ(h.Get("/readyz").status, 200) << "ready again once they answer";
  h.log.reset();  // flushed
  std::rewind(log);
  std::string logged;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, log)) > 0;) logged.append(buf, n);
  std::fclose(log);
  EXPECT_NE(logged.find("secret-path/betterdev.db: disk I/O error"), std::string::npos) << logged;
  EXPECT_NE(logged.find("locked by pid 4242"), std::string::npos) << logged;
}

TEST(OpenApi, DescribesEveryRouteTheRouterServes) {
  testutil::TempDir dir;
  Harness h(dir.path());
  h.Build();
  http::Router& router = h.router;
  auto m = router.Find(http::Method::kGet, "/openapi.json");
  ASSERT_EQ(m.kind, http::RouteMatch::Kind::kFound);
  http::Request req;
  Json doc = Json::parse(m.route->handler(req).body);
  EXPECT_EQ(doc["openapi"], "3.1.0");
  std::set<std::pair<std::string, std::string>> documented, served;
  for (auto& [path, ops] : doc["paths"].items())
    for (auto& [method, op] : ops.items()) {
      documented.emplace(path, method);
      EXPECT_TRUE(op.contains("responses")) << path;
    }
  for (const http::Route& r : router.routes()) {
    std::string method(http::MethodName(r.method));
    for (char& ch : method) ch = static_cast<char>(std::tolower(ch));
    served.emplace(r.pattern, method);
  }
  EXPECT_EQ(documented, served);
  EXPECT_TRUE(served.count({"/v1/conversations/{id}", "patch"}));
  EXPECT_TRUE(served.count({"/v1/conversations/{id}/messages", "post"}));
  EXPECT_TRUE(served.count({"/v1/chat/completions", "post"}));
  EXPECT_TRUE(served.count({"/v1/documents/{id}/chunks/{chunk_id}", "get"}));
  EXPECT_TRUE(served.count({"/v1/events", "get"}));
  EXPECT_EQ(doc["paths"]["/v1/me"]["get"]["security"][0].count("bearer"), 1u);
}

}  // namespace
}  // namespace betterdev::api
