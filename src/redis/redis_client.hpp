// A Redis connection (hiredis inside redis_client.cpp only), for the job queue and the event
// transport: commands as argument vectors, replies as typed values, Lua scripts by EVALSHA with a fallback to EVAL when the
// server does not have them (NOSCRIPT: a restart or SCRIPT FLUSH), and a reconnect on the next
// call after the connection broke. Not thread-safe: one per thread, or guarded by the caller.
// The process must ignore SIGPIPE (betterdev does): hiredis writes to the socket with write().
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace betterdev::redis {

// redis://[[user]:password@]host[:port][/db] (user and password percent-decoded; an [IPv6]
// host); rediss:// is the same over TLS (the server's certificate verified, and its name).
struct RedisUrl {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;      // empty: the default user
  std::string password;  // empty: no AUTH
  int db = 0;
  bool tls = false;         // rediss://
  std::string tls_ca_file;  // authorities that sign the server's certificate; empty: the system's
};
Result<RedisUrl> ParseRedisUrl(std::string_view url);

// A Lua script, run by the SHA-1 of its body.
struct Script {
  std::string name;  // for messages
  int keys = 0;      // the number of KEYS it takes (EVALSHA's numkeys)
  std::string body;
  std::string sha1;  // of body, lower-case hex

  static std::string Sha1Of(std::string_view body);
  static Script Of(std::string name, int keys, std::string body);
};

struct RedisReply {
  enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string text;  // kString, kStatus, kError
  std::vector<RedisReply> elements;

  bool is_nil() const { return type == Type::kNil; }
};

class RedisClient {
 public:
  // Connects (AUTH and SELECT as the URL says). Unavailable when the server cannot be reached.
  static Result<std::unique_ptr<RedisClient>> Connect(const RedisUrl& url, std::chrono::milliseconds timeout);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // One command. An error reply is a reply (type kError), not a failed Status; a failed Status
  // (Unavailable) means the connection broke: the next call connects again.
  Result<RedisReply> Command(const std::vector<std::string>& argv);

  // Runs `script` with its keys and arguments: EVALSHA, and EVAL when the server answers NOSCRIPT.
  // InvalidArgument when keys.size() differs from the script's key count.
  Result<RedisReply> Run(const Script& script, const std::vector<std::string>& keys,
                         const std::vector<std::string>& args);

  // The last failed call failed because the server had closed the connection (not a timeout):
  // on a connection that sat idle, the server cannot have run the command.
  bool closed_by_server() const { return closed_by_server_; }

  // The name CLIENT LIST shows (BullMQ's getWorkers reads it), set now and after every
  // reconnect. Best effort: a server that refuses names still serves.
  void SetName(std::string name);
  // How long a reply may take; a blocking command needs more than it blocks for.
  void SetTimeout(std::chrono::milliseconds timeout);

 private:
  struct Context;
  RedisClient(RedisUrl url, std::chrono::milliseconds timeout);
  Status Reconnect();

  RedisUrl url_;
  std::chrono::milliseconds timeout_;
  std::string name_;
  bool closed_by_server_ = false;
  std::unique_ptr<Context> c_;
};

// Connections to one server, shared by threads: each call takes an idle connection (opening
// one when none is idle) and gives it back. After a failed connect, calls fail at once with
// Unavailable for a back-off that doubles from 100 ms to 5 s, instead of each waiting for a
// connect that will fail: a Redis that went away costs nothing but the queue, and the first
// call after the back-off reconnects.
class RedisPool {
 public:
  RedisPool(RedisUrl url, std::chrono::milliseconds timeout);
  ~RedisPool();
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;

  Result<RedisReply> Command(const std::vector<std::string>& argv);
  Result<RedisReply> Run(const Script& script, const std::vector<std::string>& keys,
                         const std::vector<std::string>& args);
  const RedisUrl& url() const { return url_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  template <typename F>
  Result<RedisReply> With(F&& call);

  const RedisUrl url_;
  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::vector<std::unique_ptr<RedisClient>> idle_;  // guarded by mu_
  std::chrono::steady_clock::time_point retry_at_;  // guarded by mu_: no connect before this
  std::chrono::milliseconds backoff_{0};            // guarded by mu_
};

}  // namespace betterdev::redis
