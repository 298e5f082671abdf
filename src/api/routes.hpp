// Route groups, one file each; called by RegisterApi.
#pragma once

#include "api/api.hpp"
#include "api/api_router.hpp"

namespace betterdev::api {

void RegisterSystemRoutes(ApiRouter& r, Services& s);
void RegisterAuthRoutes(ApiRouter& r, Services& s);
void RegisterConversationRoutes(ApiRouter& r, Services& s);
void RegisterDocumentRoutes(ApiRouter& r, Services& s);
void RegisterSearchRoutes(ApiRouter& r, Services& s);
void RegisterChatRoutes(ApiRouter& r, Services& s);
void RegisterOpenAiRoutes(ApiRouter& r, Services& s);
void RegisterEventRoutes(ApiRouter& r, Services& s);
// The Socket.IO gateway at /socket.io/ (routes_socketio.cpp).
void RegisterSocketIoRoutes(ApiRouter& r, Services& s);

// What the real-time channels share (routes_events.cpp): why `user_id` may not open another
// channel now (empty: it may), and whether a browser's Origin may connect (--cors-origins or
// this server's own).
std::string ChannelLimit(Services& s, const std::string& user_id);
bool OriginAllowed(const http::Request& req, const HttpConfig& config);

// JSON forms of domain values, shared by the route files.
void WriteUser(JsonWriter& w, const store::User& u);
// `secret` is included only in the answer that creates the key.
void WriteApiKey(JsonWriter& w, const store::ApiKey& k, std::string_view secret = {});
void WriteConversation(JsonWriter& w, const store::Conversation& c);
void WriteMessage(JsonWriter& w, const store::Message& m);
void WriteCitation(JsonWriter& w, const store::Citation& c);
// A real-time event's JSON (the data of every channel).
void WriteEvent(JsonWriter& w, const realtime::Event& e);
void WriteDocument(JsonWriter& w, const store::Document& d);
// A chunk's fields, inside an object the caller opens and closes.
void WriteChunkFields(JsonWriter& w, const store::StoredChunk& c);

}  // namespace betterdev::api
