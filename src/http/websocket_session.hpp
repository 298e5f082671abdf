// The life of one WebSocket connection after the upgrade was accepted by a route (see
// http/websocket.hpp). Internal to the http module: server.cpp runs it on the connection's
// thread; Beast's WebSocket headers stay in websocket_session.cpp.
#pragma once

#include <atomic>
#include <utility>  // before Boost's awaitable.hpp, which uses std::exchange without it
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>
#include <memory>

#include "core/log.hpp"
#include "http/connection_state.hpp"
#include "http/message.hpp"

namespace betterdev::http::detail {

struct WebSocketContext {
  int handshake_timeout_seconds = 10;
  const std::atomic<bool>& stopping;  // the server is shutting down
  Logger& log;
  // Told the session's state once the handshake is done (so shutdown can close it) and nullptr
  // when it ends.
  std::function<void(std::shared_ptr<WsState>)> attach;
};

// The handshake on the request already parsed, then a reader coroutine handing messages to
// the handler while this one writes what the handler queues. Returns how it ended.
boost::asio::awaitable<StreamEnd> RunWebSocket(boost::beast::tcp_stream& stream,
                                               boost::beast::http::request<boost::beast::http::string_body> upgrade,
                                               const Request& req, Response& res, WebSocketContext ctx);

}  // namespace betterdev::http::detail
