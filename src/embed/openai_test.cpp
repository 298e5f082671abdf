// The OpenAI-compatible embedder against a stand-in server on loopback that speaks the real
// wire format (POST /v1/embeddings, {"data":[{"index","embedding"}],"usage"}) and fails the way
// providers do: 429 with Retry-After, 5xx, 400/401 with an error body, malformed and slow
// answers, connections refused.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "embed/embedder.hpp"

namespace betterdev::embed {
namespace {

using Json = nlohmann::json;

struct Reply {
  int status = 200;
  std::string body;  // empty with status 200: embeddings of the inputs, items in reverse order
  std::string extra_headers;
  int delay_ms = 0;
};

struct Seen {
  std::string head;
  Json body;
};

class StandIn {
 public:
  StandIn() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~StandIn() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  void Push(Reply r) {
    std::lock_guard lock(mu_);
    replies_.push_back(std::move(r));
  }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  void Serve() {
    while (!stop_) {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      Handle(c);
      close(c);
    }
  }

  void Handle(int c) {
    std::string data;
    char buf[65536];
    size_t head_end = std::string::npos;
    size_t length = 0;
    while (true) {
      if (head_end == std::string::npos) {
        head_end = data.find("\r\n\r\n");
        if (head_end != std::string::npos) {
          std::string head = data.substr(0, head_end);
          for (char& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          const size_t cl = head.find("content-length:");
          if (cl != std::string::npos) length = std::stoul(head.substr(cl + 15));
        }
      }
      if (head_end != std::string::npos && data.size() >= head_end + 4 + length) break;
      const ssize_t n = read(c, buf, sizeof buf);
      if (n <= 0) return;
      data.append(buf, static_cast<size_t>(n));
    }
    Seen s{data.substr(0, head_end), Json::parse(data.substr(head_end + 4, length), nullptr, false)};
    Reply r;
    {
      std::lock_guard lock(mu_);
      seen_.push_back(s);
      if (!replies_.empty()) {
        r = std::move(replies_.front());
        replies_.pop_front();
      }
    }
    if (r.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(r.delay_ms));
    if (r.status == 200 && r.body.empty()) r.body = Embeddings(s.body);
    const std::string answer = "HTTP/1.1 " + std::to_string(r.status) + " X\r\nContent-Type: application/json\r\n" +
                               r.extra_headers + "Content-Length: " + std::to_string(r.body.size()) +
                               "\r\nConnection: close\r\n\r\n" + r.body;
    (void)!write(c, answer.data(), answer.size());
  }

  // Deterministic vectors: component 0 is the input's length, component 1 is 1, the rest 0.
  static std::string Embeddings(const Json& req) {
    const int dim = req.contains("dimensions") ? req["dimensions"].get<int>() : 1536;
    Json data = Json::array();
    int64_t tokens = 0;
    const Json& input = req["input"];
    for (size_t i = input.size(); i > 0; --i) {
      std::vector<float> v(static_cast<size_t>(dim), 0.0F);
      v[0] = static_cast<float>(input[i - 1].get<std::string>().size());
      v[1] = 1.0F;
      tokens += static_cast<int64_t>(input[i - 1].get<std::string>().size() / 4 + 1);
      data.push_back({{"object", "embedding"}, {"index", i - 1}, {"embedding", v}});
    }
    return Json{{"object", "list"}, {"data", data}, {"model", req["model"]}, {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}}
        .dump();
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::deque<Reply> replies_;
  std::vector<Seen> seen_;
};

OpenAiOptions Options(const StandIn& server, int dimensions = 4) {
  OpenAiOptions o;
  o.base_url = server.url();
  o.api_key = "sk-test";
  o.dimensions = dimensions;
  o.base_backoff_ms = 5;
  o.max_backoff_ms = 50;
  o.request_timeout_ms = 2000;
  return o;
}

const std::string kError400 = R"({"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error"}})";

TEST(OpenAiEmbedder, SendsTheWireFormatAndReadsVectorsInInputOrder) {
  StandIn server;
  auto e = NewOpenAiEmbedder(Options(server));
  EXPECT_EQ(e->model(), (EmbeddingModel{"text-embedding-3-small", 4}));
  const std::vector<std::string> texts = {"a", "  ", "bbb", "cc"};
  Result<Embeddings> r = e->Embed(texts);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(server.seen().size(), 1u);
  const Seen s = server.seen()[0];
  EXPECT_TRUE(s.head.starts_with("POST /v1/embeddings HTTP/1.1")) << s.head;
  EXPECT_NE(s.head.find("Authorization: Bearer sk-test"), std::string::npos);
  EXPECT_EQ(s.body["model"], "text-embedding-3-small");
  EXPECT_EQ(s.body["dimensions"], 4);
  EXPECT_EQ(s.body["encoding_format"], "float");
  EXPECT_EQ(s.body["input"], Json::array({"a", "bbb", "cc"}));  // the blank text is not sent
  // Answers come in reverse order; each row is its own input's (length 1, -, 3, 2), normalised.
  auto first = [&](size_t i) { return r->Row(i)[0] / r->Row(i)[1]; };
  EXPECT_FLOAT_EQ(first(0), 1.0F);
  EXPECT_FLOAT_EQ(first(2), 3.0F);
  EXPECT_FLOAT_EQ(first(3), 2.0F);
  EXPECT_NEAR(Dot(r->Row(2), r->Row(2)), 1.0F, 1e-5);
  EXPECT_EQ(Dot(r->Row(1), r->Row(1)), 0.0F);
  EXPECT_EQ(r->tokens, 1 + 1 + 1);
}

TEST(OpenAiEmbedder, RetriesRateLimitsAndServerErrorsHonouringRetryAfter) {
  StandIn server;
  server.Push({429, R"({"error":{"message":"Rate limit reached"}})", "Retry-After: 1\r\n"});
  server.Push({500, R"({"error":{"message":"The server had an error"}})"});
  server.Push({503, "upstream connect error"});
  auto e = NewOpenAiEmbedder(Options(server));
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> one{"hello"};
  Result<Embeddings> r = e->Embed(one);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(server.seen().size(), 4u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(950));  // waited as told
}

TEST(OpenAiEmbedder, RefusalsAreNotRetried) {
  StandIn server;
  server.Push({400, kError400});
  server.Push({401, R"({"error":{"message":"Incorrect API key provided"}})"});
  auto e = NewOpenAiEmbedder(Options(server));
  std::vector<std::string> one{"hello"};
  Result<Embeddings> bad = e->Embed(one);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "the embeddings service refused the request (HTTP 400): This model's maximum context length is 8192 tokens");
  Result<Embeddings> key = e->Embed(one);
  EXPECT_EQ(key.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(key.status().message().find("Incorrect API key provided"), std::string::npos);
  EXPECT_EQ(server.seen().size(), 2u);  // one request each
}

TEST(OpenAiEmbedder, MalformedAndSlowAnswersAreRetriedThenGiveUp) {
  StandIn server;
  server.Push({200, "{not json"});
  server.Push({200, R"({"data":[{"index":0,"embedding":[1,2]}]})"});  // wrong dimension
  server.Push({200, "", "", 2500});                                  // past the 2 s timeout
  auto e = NewOpenAiEmbedder(Options(server));
  std::vector<std::string> one{"hello"};
  Result<Embeddings> r = e->Embed(one);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(server.seen().size(), 4u);

  OpenAiOptions two = Options(server);
  two.max_attempts = 2;
  server.Push({500, "a"});
  server.Push({502, R"({"error":{"message":"Bad gateway"}})"});
  Result<Embeddings> failed = NewOpenAiEmbedder(two)->Embed(one);
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(failed.status().message(), "embeddings failed after 2 attempts: HTTP 502: Bad gateway");
}

TEST(OpenAiEmbedder, UnreachableServerIsUnavailable) {
  int port = 0;
  {
    StandIn gone;  // a port that was just free
    port = std::stoi(gone.url().substr(17));
  }
  OpenAiOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  o.dimensions = 4;
  o.max_attempts = 2;
  o.base_backoff_ms = 1;
  std::vector<std::string> one{"hello"};
  Result<Embeddings> r = NewOpenAiEmbedder(o)->Embed(one);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("no answer from"), std::string::npos) << r.status().message();
}

TEST(OpenAiEmbedder, BatchesWithinTheProviderLimitsAndCutsLongInputs) {
  StandIn server;
  auto e = NewOpenAiEmbedder(Options(server));
  std::vector<std::string> texts(2100, "short text");
  std::string long_text;
  while (long_text.size() < 20000) long_text += "\xC3\xA9t\xC3\xA9 ";  // "été " in UTF-8
  texts[5] = long_text;
  Result<Embeddings> r = e->Embed(texts);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].body["input"].size(), 2048u);
  EXPECT_EQ(seen[1].body["input"].size(), 52u);
  const std::string cut = seen[0].body["input"][5].get<std::string>();
  EXPECT_LE(cut.size(), kOpenAiMaxInputBytes);
  EXPECT_GT(cut.size(), kOpenAiMaxInputBytes - 4);
  EXPECT_TRUE(long_text.starts_with(cut));  // a prefix, cut between characters (it parsed as JSON)
  // 300,000 bytes per request at most: 40 inputs of 8,000 bytes go in two requests.
  StandIn big;
  std::vector<std::string> large(40, std::string(8000, 'x'));
  ASSERT_TRUE(NewOpenAiEmbedder(Options(big))->Embed(large).ok());
  ASSERT_EQ(big.seen().size(), 2u);
  EXPECT_EQ(big.seen()[0].body["input"].size(), 37u);
}

}  // namespace
}  // namespace betterdev::embed
