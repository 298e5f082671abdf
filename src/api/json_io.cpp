#include "api/json_io.hpp"

#include <charconv>

#include "core/random.hpp"

namespace betterdev::api {
namespace {

constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 1000;

bool IsJsonContentType(std::string_view ct) {
  std::string_view media = ct.substr(0, ct.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  return http::EqualsIgnoreCase(media, "application/json") ||
         (media.size() > 5 && http::EqualsIgnoreCase(media.substr(media.size() - 5), "+json"));
}

HttpError BadRequest(std::string message) { return {400, "invalid_request", std::move(message)}; }

bool LooksLikeId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

}  // namespace

http::Response ErrorResponse(const HttpError& e) {
  http::Response r = http::Response::Error(e.status, e.code, e.message);
  if (e.retry_after_seconds > 0) r.WithHeader("Retry-After", std::to_string(e.retry_after_seconds));
  if (e.status == 401) r.WithHeader("WWW-Authenticate", "Bearer");
  return r;
}

http::Response ErrorResponse(const Status& s, const http::Request& req, Logger& log) {
  switch (s.code()) {
    case StatusCode::kOk:
    case StatusCode::kInternal:
      break;
    case StatusCode::kInvalidArgument: return ErrorResponse(BadRequest(s.message()));
    case StatusCode::kNotFound: return ErrorResponse(HttpError{404, "not_found", s.message()});
    case StatusCode::kConflict: return ErrorResponse(HttpError{409, "conflict", s.message()});
    case StatusCode::kUnauthenticated: return ErrorResponse(HttpError{401, "unauthorized", s.message()});
    case StatusCode::kPermissionDenied: return ErrorResponse(HttpError{403, "forbidden", s.message()});
    case StatusCode::kResourceExhausted:
      return ErrorResponse(HttpError{429, "rate_limited", s.message(), std::max(1, s.retry_after_seconds())});
    case StatusCode::kUnavailable:
      log.Warn("dependency unavailable", {{"request_id", req.request_id}, {"error", s.message()}});
      return ErrorResponse(HttpError{503, "unavailable", "a dependency is unavailable; try again later", 1});
    case StatusCode::kTimeout: return ErrorResponse(HttpError{504, "timeout", s.message()});
  }
  log.Error("internal error", {{"request_id", req.request_id}, {"path", req.path}, {"error", s.message()}});
  return ErrorResponse(HttpError{500, "internal", "internal server error; see the server log for request " + req.request_id});
}

http::Response JsonResponse(int status, const Json& body) {
  return http::Response::Json(status, body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

ApiResult<JsonBody> JsonBody::Parse(const http::Request& req, std::initializer_list<std::string_view> allowed,
                                    bool required) {
  if (req.body.empty()) {
    if (required) return BadRequest("request body must be a JSON object");
    return JsonBody(Json::object());
  }
  if (const std::string* ct = req.FindHeader("Content-Type"); ct && !IsJsonContentType(*ct))
    return HttpError{415, "unsupported_media_type", "Content-Type must be application/json, not " + *ct};
  Json obj;
  try {
    obj = Json::parse(req.body);
  } catch (const Json::parse_error& e) {
    return HttpError{400, "invalid_json", std::string("malformed JSON: ") + e.what()};
  }
  if (!obj.is_object()) return BadRequest("request body must be a JSON object");
  for (const auto& [key, value] : obj.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || a == key;
    if (!known) return BadRequest("unknown field \"" + key + "\"");
  }
  return JsonBody(std::move(obj));
}

ApiResult<std::optional<std::string>> JsonBody::String(std::string_view key, bool required) const {
  auto it = obj_.find(key);
  if (it == obj_.end()) {
    if (required) return BadRequest(std::string(key) + " is required");
    return std::optional<std::string>();
  }
  if (!it->is_string()) return BadRequest(std::string(key) + " must be a string");
  return std::optional<std::string>(it->get<std::string>());
}

ApiResult<std::optional<std::vector<std::string>>> JsonBody::StringArray(std::string_view key) const {
  auto it = obj_.find(key);
  if (it == obj_.end()) return std::optional<std::vector<std::string>>();
  if (!it->is_array()) return BadRequest(std::string(key) + " must be an array of strings");
  std::vector<std::string> out;
  for (const Json& v : *it) {
    if (!v.is_string()) return BadRequest(std::string(key) + " must be an array of strings");
    out.push_back(v.get<std::string>());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

ApiResult<std::optional<int64_t>> JsonBody::Int(std::string_view key, int64_t min, int64_t max) const {
  auto it = obj_.find(key);
  if (it == obj_.end()) return std::optional<int64_t>();
  if (!it->is_number_integer() || it->get<int64_t>() < min || it->get<int64_t>() > max) {
    return BadRequest(std::string(key) + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return std::optional<int64_t>(it->get<int64_t>());
}

ApiResult<std::optional<bool>> JsonBody::Bool(std::string_view key) const {
  auto it = obj_.find(key);
  if (it == obj_.end()) return std::optional<bool>();
  if (!it->is_boolean()) return BadRequest(std::string(key) + " must be true or false");
  return std::optional<bool>(it->get<bool>());
}

ApiResult<store::PageRequest> ParsePage(const http::Request& req) {
  store::PageRequest page;
  page.limit = kDefaultLimit;
  if (auto limit = req.QueryParam("limit")) {
    int v = 0;
    auto r = std::from_chars(limit->data(), limit->data() + limit->size(), v);
    if (r.ec != std::errc() || r.ptr != limit->data() + limit->size() || v < 1 || v > kMaxLimit)
      return BadRequest("limit must be an integer from 1 to 1000");
    page.limit = v;
  }
  if (auto cursor = req.QueryParam("cursor"); cursor && !cursor->empty()) {
    auto decoded = Base64UrlDecode(*cursor);
    if (!decoded || !LooksLikeId(*decoded)) return BadRequest("cursor is not one this server issued");
    page.after_id = std::move(*decoded);
  }
  return page;
}

std::string EncodeCursor(const std::string& last_id) { return Base64UrlEncode(last_id); }

}  // namespace betterdev::api
