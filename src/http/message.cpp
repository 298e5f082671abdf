#include "http/message.hpp"

#include "core/json_text.hpp"

namespace betterdev::http {

std::string_view MethodName(Method m) {
  switch (m) {
    case Method::kGet: return "GET";
    case Method::kHead: return "HEAD";
    case Method::kPost: return "POST";
    case Method::kPut: return "PUT";
    case Method::kPatch: return "PATCH";
    case Method::kDelete: return "DELETE";
    case Method::kOptions: return "OPTIONS";
    case Method::kOther: return "OTHER";
  }
  return "OTHER";
}

Method ParseMethod(std::string_view n) {
  if (n == "GET") return Method::kGet;
  if (n == "HEAD") return Method::kHead;
  if (n == "POST") return Method::kPost;
  if (n == "PUT") return Method::kPut;
  if (n == "PATCH") return Method::kPatch;
  if (n == "DELETE") return Method::kDelete;
  if (n == "OPTIONS") return Method::kOptions;
  return Method::kOther;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::optional<std::string> PercentDecode(std::string_view s, bool plus_as_space) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int h = hex(s[i + 1]), l = hex(s[i + 2]);
      if (h < 0 || l < 0) return std::nullopt;
      out.push_back(static_cast<char>(h * 16 + l));
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

const std::string* Request::FindHeader(std::string_view name) const {
  for (const Header& h : headers)
    if (EqualsIgnoreCase(h.name, name)) return &h.value;
  return nullptr;
}

std::optional<std::string> Request::QueryParam(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    size_t eq = part.find('=');
    std::string_view key = part.substr(0, eq);
    if (key != name) continue;
    std::string_view value = eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1);
    auto decoded = PercentDecode(value, true);
    return decoded ? *decoded : std::string(value);
  }
  return std::nullopt;
}

std::vector<std::string> Request::QueryParamNames() const {
  std::vector<std::string> names;
  std::string_view q = query;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty()) continue;
    names.emplace_back(part.substr(0, part.find('=')));
  }
  return names;
}

std::string_view Request::PathParam(std::string_view name) const {
  for (const auto& [k, v] : path_params)
    if (k == name) return v;
  return {};
}

Response Response::Stream(int status, std::string content_type, std::shared_ptr<StreamProducer> producer,
                          StreamOptions options) {
  Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.stream = std::move(producer);
  r.stream_options = std::move(options);
  return r;
}

Response Response::WebSocket(std::shared_ptr<WebSocketHandler> handler, WebSocketOptions options) {
  Response r;
  r.status = 101;
  r.content_type.clear();
  r.websocket = std::move(handler);
  r.websocket_options = options;
  return r;
}

std::string_view StreamEndName(StreamEnd end) {
  switch (end) {
    case StreamEnd::kFinished: return "finished";
    case StreamEnd::kClientGone: return "client_gone";
    case StreamEnd::kWriteTimeout: return "write_timeout";
    case StreamEnd::kOverflow: return "overflow";
    case StreamEnd::kShutdown: return "shutdown";
  }
  return "finished";
}

std::string SseEvent(std::string_view name, std::string_view data, std::string_view id) {
  std::string out;
  out.reserve(name.size() + data.size() + id.size() + 24);
  if (!id.empty()) out.append("id: ").append(id).push_back('\n');
  if (!name.empty()) out.append("event: ").append(name).push_back('\n');
  // Each line of data is its own field; CR, LF and CRLF all end a line in SSE.
  size_t start = 0;
  for (;;) {
    size_t end = data.find_first_of("\r\n", start);
    out.append("data: ").append(data.substr(start, end == std::string_view::npos ? end : end - start)).push_back('\n');
    if (end == std::string_view::npos) break;
    start = end + ((data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n') ? 2 : 1);
  }
  out.push_back('\n');
  return out;
}

Response Response::Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::Text(int status, std::string content_type, std::string body) {
  Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

Response Response::NoContent() {
  Response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

Response Response::Error(int status, std::string_view code, std::string_view message) {
  return Json(status, ErrorJson(code, message));
}

Response& Response::WithHeader(std::string name, std::string value) {
  headers.push_back({std::move(name), std::move(value)});
  return *this;
}

}  // namespace betterdev::http
