#include "api/api.hpp"

#include <memory>

#include "api/routes.hpp"

namespace betterdev::api {

void RegisterApi(http::Router& router, Services& services) {
  auto api = std::make_shared<ApiRouter>(router, services.auth, services.log);
  RegisterSystemRoutes(*api, services);
  RegisterAuthRoutes(*api, services);
  RegisterConversationRoutes(*api, services);
  RegisterDocumentRoutes(*api, services);
  RegisterSearchRoutes(*api, services);
  RegisterChatRoutes(*api, services);
  RegisterOpenAiRoutes(*api, services);
  RegisterEventRoutes(*api, services);
  RegisterSocketIoRoutes(*api, services);
  // Registered last so the document describes every route, itself included.
  OperationDoc doc{"OpenAPI 3.1 description of this API", "system", {}, 200, {{"type", "object"}}};
  api->Public(http::Method::kGet, "/openapi.json", doc, [api](http::Request&) {
    static const std::string body = api->OpenApi().dump(2);
    return http::Response::Json(200, body);
  });
}

}  // namespace betterdev::api
