// Route groups, one file each; called by RegisterApi.
#pragma once

#include "api/api.hpp"
#include "api/api_router.hpp"

namespace betterdev::api {

void RegisterSystemRoutes(ApiRouter& r, Services& s);
void RegisterAuthRoutes(ApiRouter& r, Services& s);
void RegisterConversationRoutes(ApiRouter& r, Services& s);

// JSON forms of domain values, shared by the route files.
Json UserJson(const store::User& u);
Json ApiKeyJson(const store::ApiKey& k);
Json ConversationJson(const store::Conversation& c);
Json MessageJson(const store::Message& m);

}  // namespace betterdev::api
