// Registers API routes together with their OpenAPI description, so /openapi.json is generated
// from the very table the router serves and cannot drift from it.
#pragma once

#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "api/json_io.hpp"
#include "auth/auth_service.hpp"
#include "core/log.hpp"
#include "http/router.hpp"

namespace betterdev::api {

struct OperationDoc {
  std::string summary;
  std::string tag;
  Json request_schema;  // null: no body
  int success_status = 200;
  Json response_schema;  // null: no body (e.g. 204)
  std::string response_content_type = "application/json";
  std::vector<int> errors;          // other statuses this operation answers with
  bool paginated = false;           // takes ?limit= and ?cursor=
  Json query_params;                // extra OpenAPI parameter objects (in: query)
  Json request_content;             // OpenAPI "content" map; overrides request_schema's application/json
  std::vector<std::pair<int, Json>> other_successes;  // further non-error statuses and their JSON schemas
};

class ApiRouter {
 public:
  using AuthedHandler = std::function<http::Response(http::Request&, const auth::Principal&)>;
  using AuthedStreamHandler = std::function<http::StreamStart(http::Request&, const auth::Principal&)>;

  ApiRouter(http::Router& router, auth::AuthService& auth, Logger& log) : router_(router), auth_(auth), log_(log) {}

  void Public(http::Method m, const std::string& pattern, OperationDoc doc, http::Handler h,
              http::RouteOptions options = {});
  // Requires `Authorization: Bearer <access token or API key>`; 401 otherwise.
  void Authed(http::Method m, const std::string& pattern, OperationDoc doc, AuthedHandler h,
              http::RouteOptions options = {});

  // An authenticated route whose body is streamed (uploads).
  void AuthedStreaming(http::Method m, const std::string& pattern, OperationDoc doc, AuthedStreamHandler h,
                       http::RouteOptions options);

  // The OpenAPI 3.1 document for every operation registered so far.
  Json OpenApi() const;
  Logger& log() { return log_; }
  // The principal for `req`'s bearer credentials, or the 401 to answer (for public routes that
  // also take other credentials, such as a ticket).
  std::variant<auth::Principal, http::Response> Authenticate(const http::Request& req);

 private:

  struct Operation {
    http::Method method;
    std::string pattern;
    OperationDoc doc;
    bool auth;
  };
  http::Router& router_;
  auth::AuthService& auth_;
  Logger& log_;
  std::vector<Operation> ops_;
};

// Schema helpers for OperationDoc.
Json Ref(const std::string& schema_name);
Json ListOf(const std::string& schema_name);

}  // namespace betterdev::api

// Unwraps an ApiResult into `var`, returning the error response from the handler otherwise.
#define API_ASSIGN(var, expr)                                                        \
  auto var##_result = (expr);                                                        \
  if (auto* var##_error = std::get_if<::betterdev::api::HttpError>(&var##_result))   \
    return ::betterdev::api::ErrorResponse(*var##_error);                            \
  auto& var = std::get<0>(var##_result)
