// Wires every HTTP endpoint to the services. The services and registry must outlive the router.
#pragma once

#include "auth/auth_service.hpp"
#include "chat/chat_service.hpp"
#include "chat/conversations.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "http/router.hpp"
#include "ingest/ingest_service.hpp"
#include "realtime/hub.hpp"
#include "realtime/tickets.hpp"
#include "search/search_service.hpp"
#include "store/store.hpp"

namespace betterdev::api {

struct Services {
  store::Store& store;
  auth::AuthService& auth;
  chat::ConversationService& conversations;
  chat::ChatService& chat;
  ingest::IngestService& ingest;
  search::SearchService& search;
  realtime::EventHub& events;
  realtime::Tickets& tickets;
  MetricsRegistry& metrics;
  Logger& log;
  const HttpConfig& http;
  const IngestConfig& ingest_config;
  const SearchConfig& search_config;
};

// Registers all routes, including GET /openapi.json describing all of them.
void RegisterApi(http::Router& router, Services& services);

}  // namespace betterdev::api
