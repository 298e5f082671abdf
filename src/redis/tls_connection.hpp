// Internal to the redis module: RESP over TLS (OpenSSL), for rediss:// URLs. Debian 12's hiredis
// (0.14) has no TLS, so this carries hiredis's own command formatting and reply parser
// (redisFormatCommandArgv, redisReader) over an OpenSSL connection instead of its socket.
// Blocking, with the timeout applied to every read and write.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/status.hpp"

struct redisReply;

namespace betterdev::redis {

class TlsConnection {
 public:
  // Connects and verifies the server's certificate (against `ca_file`, or the system's
  // authorities when empty) and its name (`host`, a DNS name or an IP address). Unavailable,
  // with the reason, when it cannot.
  static Result<std::unique_ptr<TlsConnection>> Open(const std::string& host, int port, const std::string& ca_file,
                                                     std::chrono::milliseconds timeout);
  ~TlsConnection();
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  // One command; the reply is hiredis's (the caller frees it with freeReplyObject). Unavailable
  // when the connection broke (it cannot be used again).
  Result<redisReply*> Command(const std::vector<std::string>& argv);
  void SetTimeout(std::chrono::milliseconds timeout);
  // The last failed Command failed because the server closed the connection (not a timeout).
  bool closed_by_server() const;

 private:
  struct State;
  explicit TlsConnection(std::unique_ptr<State> s);
  Status Lost(int result, const char* what);  // after a failed SSL_read/SSL_write
  std::unique_ptr<State> s_;
};

}  // namespace betterdev::redis
