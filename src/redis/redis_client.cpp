#include "redis/redis_client.hpp"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "core/random.hpp"
#include "redis/tls_connection.hpp"

namespace betterdev::redis {
namespace {

RedisReply Convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out.type = r->type == REDIS_REPLY_STRING   ? RedisReply::Type::kString
                 : r->type == REDIS_REPLY_STATUS ? RedisReply::Type::kStatus
                                                 : RedisReply::Type::kError;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      break;  // nil
  }
  return out;
}

std::string PercentDecoded(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    int value = 0;
    if (s[i] == '%' && i + 2 < s.size() &&
        std::from_chars(s.data() + i + 1, s.data() + i + 3, value, 16).ptr == s.data() + i + 3) {
      out.push_back(static_cast<char>(value));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

std::string Script::Sha1Of(std::string_view body) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

Script Script::Of(std::string name, int keys, std::string body) {
  Script s{std::move(name), keys, std::move(body), ""};
  s.sha1 = Sha1Of(s.body);
  return s;
}

Result<RedisUrl> ParseRedisUrl(std::string_view url) {
  RedisUrl out;
  out.tls = url.starts_with("rediss://");
  if (!out.tls && !url.starts_with("redis://"))
    return Status::InvalidArgument("a Redis URL starts with redis:// or rediss://: " + std::string(url));
  std::string_view rest = url.substr(out.tls ? 9 : 8);
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    const size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      out.user = PercentDecoded(userinfo);  // a user without a password: nothing to AUTH with
    } else {
      out.user = PercentDecoded(userinfo.substr(0, colon));
      out.password = PercentDecoded(userinfo.substr(colon + 1));
    }
  }
  // host[:port], the host possibly an [IPv6] literal.
  std::string_view host = authority, port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("bad host in Redis URL: " + std::string(authority));
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return Status::InvalidArgument("bad host in Redis URL: " + std::string(authority));
    if (!after.empty()) port = after.substr(1);
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (!port.empty() && (std::from_chars(port.data(), port.data() + port.size(), out.port).ptr != port.data() + port.size() ||
                        out.port <= 0 || out.port > 65535))
    return Status::InvalidArgument("bad port in Redis URL: " + std::string(port));
  if (!host.empty()) out.host = std::string(host);
  if (!path.empty() && (std::from_chars(path.data(), path.data() + path.size(), out.db).ptr != path.data() + path.size() ||
                        out.db < 0))
    return Status::InvalidArgument("bad database number in Redis URL: " + std::string(path));
  return out;
}

struct RedisClient::Context {
  redisContext* ctx = nullptr;         // redis://: hiredis's own connection
  std::unique_ptr<TlsConnection> tls;  // rediss://
  ~Context() {
    if (ctx != nullptr) redisFree(ctx);
  }
};

RedisClient::RedisClient(RedisUrl url, std::chrono::milliseconds timeout) : url_(std::move(url)), timeout_(timeout) {}
RedisClient::~RedisClient() = default;

Result<std::unique_ptr<RedisClient>> RedisClient::Connect(const RedisUrl& url, std::chrono::milliseconds timeout) {
  std::unique_ptr<RedisClient> client(new RedisClient(url, timeout));
  BD_RETURN_IF_ERROR(client->Reconnect());
  return client;
}

Status RedisClient::Reconnect() {
  c_.reset();
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout_.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout_.count() % 1000) * 1000);
  auto c = std::make_unique<Context>();
  if (url_.tls) {
    auto tls = TlsConnection::Open(url_.host, url_.port, url_.tls_ca_file, timeout_);
    if (!tls.ok()) return tls.status();
    c->tls = std::move(*tls);
  } else {
    c->ctx = redisConnectWithTimeout(url_.host.c_str(), url_.port, tv);
    const std::string where = url_.host + ":" + std::to_string(url_.port);
    if (c->ctx == nullptr) return Status::Unavailable("cannot connect to Redis at " + where);
    if (c->ctx->err != 0) return Status::Unavailable("cannot connect to Redis at " + where + ": " + c->ctx->errstr);
    if (redisSetTimeout(c->ctx, tv) != REDIS_OK) return Status::Unavailable("cannot set the Redis timeout");
  }
  c_ = std::move(c);
  std::vector<std::vector<std::string>> hello;
  if (!url_.password.empty()) {
    if (url_.user.empty()) hello.push_back({"AUTH", url_.password});
    else hello.push_back({"AUTH", url_.user, url_.password});
  }
  if (url_.db != 0) hello.push_back({"SELECT", std::to_string(url_.db)});
  if (!name_.empty()) hello.push_back({"CLIENT", "SETNAME", name_});
  for (const auto& argv : hello) {
    auto reply = Command(argv);
    if (!reply.ok()) return reply.status();
    if (reply->type == RedisReply::Type::kError && argv[0] != "CLIENT") {
      c_.reset();
      return Status::Unavailable("Redis refused " + argv[0] + ": " + reply->text);
    }
  }
  return Status::Ok();
}

Result<RedisReply> RedisClient::Command(const std::vector<std::string>& argv) {
  if (!c_) BD_RETURN_IF_ERROR(Reconnect());
  closed_by_server_ = false;
  if (c_->tls) {
    auto reply = c_->tls->Command(argv);
    if (!reply.ok()) {
      closed_by_server_ = c_->tls->closed_by_server();
      c_.reset();
      return reply.status();
    }
    RedisReply out = Convert(*reply);
    freeReplyObject(*reply);
    return out;
  }
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  args.reserve(argv.size());
  lengths.reserve(argv.size());
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(redisCommandArgv(c_->ctx, static_cast<int>(argv.size()), args.data(), lengths.data()));
  if (reply == nullptr) {
    const int error = errno;
    const std::string why = c_->ctx->errstr;
    closed_by_server_ = c_->ctx->err == REDIS_ERR_EOF || error == ECONNRESET || error == EPIPE;
    c_.reset();  // a broken connection cannot be reused: hiredis's state is undefined after an error
    return Status::Unavailable("Redis connection lost: " + why);
  }
  RedisReply out = Convert(reply);
  freeReplyObject(reply);
  return out;
}

Result<RedisReply> RedisClient::Run(const Script& script, const std::vector<std::string>& keys,
                                    const std::vector<std::string>& args) {
  if (static_cast<int>(keys.size()) != script.keys)
    return Status::InvalidArgument("script " + script.name + " takes " + std::to_string(script.keys) + " keys, not " +
                                   std::to_string(keys.size()));
  std::vector<std::string> argv{"EVALSHA", script.sha1, std::to_string(keys.size())};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto reply = Command(argv);
  if (!reply.ok() || reply->type != RedisReply::Type::kError || !reply->text.starts_with("NOSCRIPT")) return reply;
  argv[0] = "EVAL";  // the server lost its script cache: send the body (which caches it again)
  argv[1] = script.body;
  return Command(argv);
}

void RedisClient::SetName(std::string name) {
  name_ = std::move(name);
  if (c_) (void)Command({"CLIENT", "SETNAME", name_});
}

void RedisClient::SetTimeout(std::chrono::milliseconds timeout) {
  timeout_ = timeout;
  if (!c_) return;
  if (c_->tls) {
    c_->tls->SetTimeout(timeout_);
    return;
  }
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout_.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout_.count() % 1000) * 1000);
  if (redisSetTimeout(c_->ctx, tv) != REDIS_OK) c_.reset();  // the next call connects with it
}

RedisPool::RedisPool(RedisUrl url, std::chrono::milliseconds timeout) : url_(std::move(url)), timeout_(timeout) {}
RedisPool::~RedisPool() = default;

template <typename F>
Result<RedisReply> RedisPool::With(F&& call) {
  std::unique_ptr<RedisClient> client;
  bool reused = false;
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      client = std::move(idle_.back());
      idle_.pop_back();
      reused = true;
    } else if (std::chrono::steady_clock::now() < retry_at_) {
      return Status::Unavailable("Redis at " + url_.host + ":" + std::to_string(url_.port) +
                                 " is unreachable; trying again shortly");
    }
  }
  if (!client) {
    auto connected = RedisClient::Connect(url_, timeout_);
    std::lock_guard lock(mu_);
    if (!connected.ok()) {
      backoff_ = std::clamp(backoff_ * 2, std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
      retry_at_ = std::chrono::steady_clock::now() + backoff_;
      return connected.status();
    }
    backoff_ = std::chrono::milliseconds(0);
    client = std::move(*connected);
  }
  Result<RedisReply> reply = call(*client);
  // An idle connection the server closed meanwhile (a restart) fails at its next call without
  // the server having seen it: once, on a connection made now. Never after a timeout: the server
  // may have run the command.
  if (!reply.ok() && reused && client->closed_by_server()) reply = call(*client);
  std::lock_guard lock(mu_);
  if (reply.ok()) idle_.push_back(std::move(client));  // a broken one is dropped: idle ones may be broken too, and
                                                       // reconnect on their next call
  return reply;
}

Result<RedisReply> RedisPool::Command(const std::vector<std::string>& argv) {
  return With([&](RedisClient& c) { return c.Command(argv); });
}

Result<RedisReply> RedisPool::Run(const Script& script, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args) {
  return With([&](RedisClient& c) { return c.Run(script, keys, args); });
}

}  // namespace betterdev::redis
