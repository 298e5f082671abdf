// libcurl under httpclient::Client: pooled easy handles for Send, one multi-interface event loop
// for every Stream. See http_client.hpp for the contract.
#include "httpclient/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

namespace betterdev::httpclient {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr size_t kMaxBody = size_t{256} << 20;  // a quarter GB is no model's answer
constexpr double kMaxRetryAfterSeconds = 120;

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

Slist MakeHeaders(const Request& r) {
  Slist list;
  for (const auto& [name, value] : r.headers)
    list.reset(curl_slist_append(list.release(), (name + ": " + value).c_str()));
  // No "Expect: 100-continue" round trip before a large body.
  list.reset(curl_slist_append(list.release(), "Expect:"));
  return list;
}

// Remembers Retry-After (seconds) and retry-after-ms (which wins) from response header lines.
struct RetryAfterHeaders {
  double seconds = -1;
  bool from_ms = false;
  void Line(std::string_view line) {
    if (line.starts_with("HTTP/")) *this = {};  // a new response (after a 100 Continue)
    std::string lower(line);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto value = [&](std::string_view name) -> std::optional<double> {
      if (!lower.starts_with(name)) return std::nullopt;
      char* end = nullptr;
      const double v = std::strtod(lower.c_str() + name.size(), &end);
      if (end == lower.c_str() + name.size() || !std::isfinite(v) || v < 0) return std::nullopt;
      return v;
    };
    if (auto ms = value("retry-after-ms:")) {
      seconds = *ms / 1000.0;
      from_ms = true;
    } else if (auto s = value("retry-after:"); s && !from_ms) {
      seconds = *s;
    }
  }
};

// Options every transfer gets.
void SetCommon(CURL* c, const Request& r, curl_slist* headers, char* error) {
  curl_easy_setopt(c, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (r.method != "GET" || !r.body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, r.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
  }
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(r.connect_timeout_ms));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
}

// ---- Send: pooled easy handles -------------------------------------------------------------

struct SendState {
  Answer* answer;
  RetryAfterHeaders retry;
};

size_t OnSendBody(char* data, size_t size, size_t count, void* user) {
  auto* a = static_cast<SendState*>(user)->answer;
  const size_t n = size * count;
  if (a->body.size() + n > kMaxBody) return 0;
  a->body.append(data, n);
  return n;
}

size_t OnSendHeader(char* data, size_t size, size_t count, void* user) {
  auto* s = static_cast<SendState*>(user);
  const size_t n = size * count;
  s->retry.Line(std::string_view(data, n));
  s->answer->retry_after_seconds = s->retry.seconds;
  return n;
}

// ---- Stream: one multi-interface event loop ------------------------------------------------

class ClientImpl;

struct StreamState {
  CURL* easy = nullptr;
  Slist headers;
  Request request;
  StreamTimeouts timeouts;
  std::shared_ptr<StreamListener> listener;
  char error[CURL_ERROR_SIZE] = {0};
  long status = 0;
  RetryAfterHeaders retry;
  bool head_sent = false;
  bool got_body = false;
  SteadyClock::time_point started, last_byte;
};

class StreamHandle final : public Transfer {
 public:
  StreamHandle(std::weak_ptr<ClientImpl> client, uint64_t id) : client_(std::move(client)), id_(id) {}
  void Cancel() override;

 private:
  std::weak_ptr<ClientImpl> client_;
  uint64_t id_;
};

class ClientImpl final : public Client, public std::enable_shared_from_this<ClientImpl> {
 public:
  ClientImpl() { InitCurlOnce(); }

  ~ClientImpl() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    if (multi_) curl_multi_wakeup(multi_);
    if (loop_.joinable()) loop_.join();
    for (auto& [id, s] : streams_) {
      curl_multi_remove_handle(multi_, s->easy);
      curl_easy_cleanup(s->easy);
      s->listener->OnDone(0, "cancelled: the client is shutting down");
    }
    if (multi_) curl_multi_cleanup(multi_);
    for (CURL* c : idle_) curl_easy_cleanup(c);
  }

  Answer Send(const Request& r) override {
    Answer a;
    CURL* c = TakeEasy();
    if (c == nullptr) {
      a.error = "libcurl could not start";
      return a;
    }
    Slist headers = MakeHeaders(r);
    char error[CURL_ERROR_SIZE] = {0};
    SetCommon(c, r, headers.get(), error);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout_ms));
    SendState state{&a, {}};
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnSendBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &state);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnSendHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &state);
    const CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
      a.status = 0;
      a.error = error[0] != 0 ? error : curl_easy_strerror(rc);
    } else {
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
    }
    GiveBack(c);
    return a;
  }

  std::shared_ptr<Transfer> Stream(const Request& r, const StreamTimeouts& timeouts,
                                   std::shared_ptr<StreamListener> listener) override {
    auto s = std::make_unique<StreamState>();
    s->request = r;
    s->timeouts = timeouts;
    s->listener = std::move(listener);
    uint64_t id;
    {
      std::lock_guard lock(mu_);
      id = next_id_++;
      adds_.emplace_back(id, std::move(s));
    }
    EnsureLoop();
    curl_multi_wakeup(multi_);
    return std::make_shared<StreamHandle>(weak_from_this(), id);
  }

  void After(std::chrono::milliseconds delay, std::function<void()> fn) override {
    {
      std::lock_guard lock(mu_);
      timers_.emplace(SteadyClock::now() + delay, std::move(fn));
    }
    EnsureLoop();
    curl_multi_wakeup(multi_);
  }

  void CancelStream(uint64_t id) {
    {
      std::lock_guard lock(mu_);
      cancels_.push_back(id);
    }
    if (multi_) curl_multi_wakeup(multi_);
  }

 private:
  CURL* TakeEasy() {
    {
      std::lock_guard lock(pool_mu_);
      if (!idle_.empty()) {
        CURL* c = idle_.back();
        idle_.pop_back();
        curl_easy_reset(c);  // keeps its live connections
        return c;
      }
    }
    return curl_easy_init();
  }
  void GiveBack(CURL* c) {
    std::lock_guard lock(pool_mu_);
    if (idle_.size() < 16) idle_.push_back(c);
    else curl_easy_cleanup(c);
  }

  void EnsureLoop() {
    std::call_once(loop_once_, [this] {
      multi_ = curl_multi_init();
      loop_ = std::thread([this] { Loop(); });
    });
  }

  static size_t OnStreamBody(char* data, size_t size, size_t count, void* user) {
    auto* s = static_cast<StreamState*>(user);
    const size_t n = size * count;
    if (!s->head_sent) SendHead(*s);
    s->got_body = s->got_body || n > 0;
    s->last_byte = SteadyClock::now();
    s->listener->OnData(std::string_view(data, n));
    return n;
  }
  static size_t OnStreamHeader(char* data, size_t size, size_t count, void* user) {
    auto* s = static_cast<StreamState*>(user);
    const size_t n = size * count;
    s->retry.Line(std::string_view(data, n));
    return n;
  }
  static void SendHead(StreamState& s) {
    s.head_sent = true;
    curl_easy_getinfo(s.easy, CURLINFO_RESPONSE_CODE, &s.status);
    s.listener->OnHead(s.status, s.retry.seconds);
  }

  void Start(uint64_t id, std::unique_ptr<StreamState> s) {
    s->easy = curl_easy_init();
    if (s->easy == nullptr) {
      s->listener->OnDone(0, "libcurl could not start");
      return;
    }
    s->headers = MakeHeaders(s->request);
    SetCommon(s->easy, s->request, s->headers.get(), s->error);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, &OnStreamBody);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s.get());
    curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, &OnStreamHeader);
    curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s.get());
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, reinterpret_cast<void*>(static_cast<uintptr_t>(id)));
    s->started = s->last_byte = SteadyClock::now();
    curl_multi_add_handle(multi_, s->easy);
    streams_.emplace(id, std::move(s));
  }

  // Removes a stream and tells its listener how it ended.
  void Finish(uint64_t id, long status, std::string error) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    std::unique_ptr<StreamState> s = std::move(it->second);
    streams_.erase(it);
    if (status > 0 && !s->head_sent) SendHead(*s);
    curl_multi_remove_handle(multi_, s->easy);
    curl_easy_cleanup(s->easy);  // a transfer cut short takes its connection with it
    s->listener->OnDone(status, error);
  }

  void Loop() {
    for (;;) {
      std::deque<std::pair<uint64_t, std::unique_ptr<StreamState>>> adds;
      std::vector<uint64_t> cancels;
      std::vector<std::function<void()>> due;
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        adds.swap(adds_);
        cancels.swap(cancels_);
        const auto now = SteadyClock::now();
        while (!timers_.empty() && timers_.begin()->first <= now) {
          due.push_back(std::move(timers_.begin()->second));
          timers_.erase(timers_.begin());
        }
      }
      for (auto& [id, s] : adds) Start(id, std::move(s));
      for (uint64_t id : cancels) Finish(id, 0, "cancelled");
      for (auto& fn : due) fn();

      int running = 0;
      curl_multi_perform(multi_, &running);
      while (true) {
        int left = 0;
        CURLMsg* m = curl_multi_info_read(multi_, &left);
        if (m == nullptr) break;
        if (m->msg != CURLMSG_DONE) continue;
        void* priv = nullptr;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        const auto id = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(priv));
        auto it = streams_.find(id);
        if (it == streams_.end()) continue;
        StreamState& s = *it->second;
        if (m->data.result == CURLE_OK) {
          long status = 0;
          curl_easy_getinfo(s.easy, CURLINFO_RESPONSE_CODE, &status);
          Finish(id, status, "");
        } else {
          std::string why = s.error[0] != 0 ? s.error : curl_easy_strerror(m->data.result);
          Finish(id, 0, why);
        }
      }
      // Timeouts curl does not know: the first byte of the body, and silence between pieces.
      const auto now = SteadyClock::now();
      std::vector<std::pair<uint64_t, std::string>> expired;
      for (auto& [id, s] : streams_) {
        const auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
        if (!s->got_body && s->timeouts.first_byte_ms > 0 && ms(now - s->started) > s->timeouts.first_byte_ms) {
          expired.emplace_back(id, "no answer within " + std::to_string(s->timeouts.first_byte_ms) + " ms");
        } else if (s->got_body && s->timeouts.idle_ms > 0 && ms(now - s->last_byte) > s->timeouts.idle_ms) {
          expired.emplace_back(id, "the answer stalled: nothing for " + std::to_string(s->timeouts.idle_ms) + " ms");
        }
      }
      for (auto& [id, why] : expired) Finish(id, 0, why);

      int wait_ms = streams_.empty() ? 1000 : 50;
      {
        std::lock_guard lock(mu_);
        if (!timers_.empty()) {
          const auto until = std::chrono::duration_cast<std::chrono::milliseconds>(timers_.begin()->first - SteadyClock::now()).count();
          wait_ms = static_cast<int>(std::clamp<int64_t>(until, 0, wait_ms));
        }
        if (!adds_.empty() || !cancels_.empty() || stopping_) wait_ms = 0;
      }
      curl_multi_poll(multi_, nullptr, 0, wait_ms, nullptr);
    }
  }

  std::mutex pool_mu_;
  std::vector<CURL*> idle_;  // guarded by pool_mu_

  std::once_flag loop_once_;
  CURLM* multi_ = nullptr;
  std::thread loop_;
  std::unordered_map<uint64_t, std::unique_ptr<StreamState>> streams_;  // loop thread only

  std::mutex mu_;
  bool stopping_ = false;                                               // guarded by mu_
  uint64_t next_id_ = 1;                                                // guarded by mu_
  std::deque<std::pair<uint64_t, std::unique_ptr<StreamState>>> adds_;  // guarded by mu_
  std::vector<uint64_t> cancels_;                                       // guarded by mu_
  std::multimap<SteadyClock::time_point, std::function<void()>> timers_;  // guarded by mu_
};

void StreamHandle::Cancel() {
  if (auto c = client_.lock()) c->CancelStream(id_);
}

}  // namespace

std::shared_ptr<Client> NewClient() { return std::make_shared<ClientImpl>(); }

std::chrono::milliseconds Backoff(int attempt, double retry_after_seconds, int base_ms, int max_ms) {
  const double cap = std::min<double>(max_ms, base_ms * std::pow(2.0, std::max(0, attempt - 1)));
  thread_local std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  double ms = cap * jitter(rng);
  if (retry_after_seconds >= 0) ms = std::max(ms, std::min(retry_after_seconds, kMaxRetryAfterSeconds) * 1000.0);
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

}  // namespace betterdev::httpclient
