// The JSON edge: request bodies parsed into typed values with clear 4xx errors, Status
// mapped to HTTP once, list pagination and cursors. Only the api module uses nlohmann::json.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_writer.hpp"
#include "core/log.hpp"
#include "core/status.hpp"
#include "http/message.hpp"
#include "store/store.hpp"

namespace betterdev::api {

using Json = nlohmann::json;

// An HTTP error to answer with; handlers return it through ApiResult.
struct HttpError {
  int status;
  std::string code;
  std::string message;
  int retry_after_seconds = 0;
};

template <typename T>
using ApiResult = std::variant<T, HttpError>;

// Maps a domain Status to the one HTTP error for its code. Internal errors are logged with the
// request id and answered with a generic message.
http::Response ErrorResponse(const Status& status, const http::Request& req, Logger& log);
http::Response ErrorResponse(const HttpError& e);

http::Response JsonResponse(int status, const Json& body);

// A request body that must be a JSON object with only the `allowed` fields.
class JsonBody {
 public:
  // 415 when the Content-Type is not JSON, 400 invalid_json when it does not parse, 400
  // invalid_request when it is not an object or holds a field not in `allowed`. An empty body
  // counts as {} when `required` is false.
  static ApiResult<JsonBody> Parse(const http::Request& req, std::initializer_list<std::string_view> allowed,
                                   bool required = true);

  bool Has(std::string_view key) const { return obj_.contains(key); }
  // Errors name the field: "email must be a string", "email is required".
  ApiResult<std::optional<std::string>> String(std::string_view key, bool required) const;
  ApiResult<std::optional<std::vector<std::string>>> StringArray(std::string_view key) const;
  // An integer in [min, max]: "k must be an integer from 1 to 100".
  ApiResult<std::optional<int64_t>> Int(std::string_view key, int64_t min, int64_t max) const;
  ApiResult<std::optional<bool>> Bool(std::string_view key) const;

 private:
  explicit JsonBody(Json obj) : obj_(std::move(obj)) {}
  Json obj_;
};

// ?limit= (1..1000, default 50) and ?cursor= (opaque, from next_cursor).
ApiResult<store::PageRequest> ParsePage(const http::Request& req);
std::string EncodeCursor(const std::string& last_id);

// {"data":[...], "next_cursor": "..."|null}; write(JsonWriter&, const T&) renders one item.
template <typename T, typename Write>
http::Response ListResponse(const store::Page<T>& page, Write write) {
  JsonWriter w;
  w.BeginObject().Key("data").BeginArray();
  for (const T& item : page.items) write(w, item);
  w.EndArray().Key("next_cursor");
  if (page.has_more && !page.items.empty()) w.String(EncodeCursor(page.items.back().id));
  else w.Null();
  w.EndObject();
  return http::Response::Json(200, w.Take());
}

// One object as the whole body.
template <typename T, typename Write>
http::Response ObjectResponse(int status, const T& value, Write write) {
  JsonWriter w;
  write(w, value);
  return http::Response::Json(status, w.Take());
}

}  // namespace betterdev::api
