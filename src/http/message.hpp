// Transport-neutral HTTP request and response values that handlers see.
// Boost.Beast stays inside server.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/stream.hpp"
#include "http/websocket.hpp"

namespace betterdev::http {

enum class Method { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };

std::string_view MethodName(Method m);
Method ParseMethod(std::string_view name);

struct Header {
  std::string name;
  std::string value;
};

struct Request {
  Method method = Method::kGet;
  std::string path;   // as sent, without the query
  std::string query;  // raw, without '?'
  std::vector<Header> headers;
  std::string body;
  uint64_t streamed_bytes = 0;  // body bytes a streaming route consumed (body itself stays empty)
  std::vector<std::pair<std::string, std::string>> path_params;  // filled by the router, decoded
  std::string request_id;
  std::string remote_address;

  // Case-insensitive; nullptr when absent.
  const std::string* FindHeader(std::string_view name) const;
  // Percent-decoded value of the first `name=` in the query; nullopt when absent.
  std::optional<std::string> QueryParam(std::string_view name) const;
  // All query parameter names, for rejecting unknown ones.
  std::vector<std::string> QueryParamNames() const;
  // Empty when absent.
  std::string_view PathParam(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<Header> headers;
  std::string body;
  // Set for a streamed body (see http/stream.hpp): `body` is then ignored, the header goes out
  // at once with chunked encoding and the producer writes the rest.
  std::shared_ptr<StreamProducer> stream;
  StreamOptions stream_options;
  // Set to accept a WebSocket upgrade (see http/websocket.hpp): the server does the handshake
  // (101) and hands the connection to the handler; a request that is not an upgrade gets 426.
  std::shared_ptr<WebSocketHandler> websocket;
  WebSocketOptions websocket_options;

  static Response Json(int status, std::string body);
  static Response Stream(int status, std::string content_type, std::shared_ptr<StreamProducer> producer,
                         StreamOptions options = {});
  static Response WebSocket(std::shared_ptr<WebSocketHandler> handler, WebSocketOptions options = {});
  static Response Text(int status, std::string content_type, std::string body);
  static Response NoContent();
  // The one error shape: {"error":{"code":"...","message":"..."}}.
  static Response Error(int status, std::string_view code, std::string_view message);
  Response& WithHeader(std::string name, std::string value);
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Decodes %XX (and '+' as space when `plus_as_space`); nullopt on a malformed escape.
std::optional<std::string> PercentDecode(std::string_view s, bool plus_as_space);

}  // namespace betterdev::http
