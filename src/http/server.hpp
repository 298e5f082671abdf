// The HTTP/1.1 server: Boost.Beast over Asio with C++20 coroutines.
//
// Keep-alive, per-route body limits (413), idle/header/body timeouts (a slow client is dropped
// without affecting others), a request id on every response (X-Request-Id, taken from the
// request when well-formed), JSON access log lines, CORS, Prometheus metrics per route and
// status, and graceful shutdown: on SIGINT/SIGTERM or Stop() it stops accepting, closes idle
// connections, lets in-flight requests finish until shutdown_timeout_seconds, then returns.
// Any exception escaping a handler becomes a 500 in the error shape and a log line.
//
// The router, metrics registry and logger must outlive the server.
#pragma once

#include <cstdint>
#include <memory>

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/status.hpp"
#include "http/router.hpp"

namespace betterdev::http {

class Server {
 public:
  Server(const HttpConfig& config, const Router& router, MetricsRegistry& metrics, Logger& log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port. Unavailable when the address cannot be used.
  Status Listen();
  // The bound port (useful with port 0), valid after Listen().
  uint16_t port() const;
  // Serves until a signal or Stop(), then shuts down gracefully and returns.
  void Run();
  // Starts a graceful shutdown. Thread-safe.
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace betterdev::http
