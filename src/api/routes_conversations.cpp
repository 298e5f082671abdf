// Conversations and their messages.
#include "api/routes.hpp"

namespace betterdev::api {

namespace {

void WriteUsage(JsonWriter& w, const store::Usage& u) {
  w.BeginObject().Key("prompt_tokens").Int(u.prompt_tokens).Key("completion_tokens").Int(u.completion_tokens);
  w.Key("cost_usd").Double(u.cost_usd).EndObject();
}

void MillisOrNull(JsonWriter& w, int64_t ms) {
  if (ms < 0) w.Null();
  else w.Int(ms);
}

}  // namespace

void WriteConversation(JsonWriter& w, const store::Conversation& c) {
  w.BeginObject().Key("id").String(c.id).Key("title").String(c.title).Key("document_ids").BeginArray();
  for (const std::string& d : c.document_ids) w.String(d);
  w.EndArray().Key("created_at").Timestamp(c.created_at).Key("updated_at").Timestamp(c.updated_at);
  w.Key("usage");
  WriteUsage(w, c.usage);
  w.EndObject();
}

void WriteCitation(JsonWriter& w, const store::Citation& c) {
  w.BeginObject().Key("n").Int(c.n).Key("chunk_id").String(c.chunk_id).Key("document_id").String(c.document_id);
  w.Key("document_name").String(c.document_name).Key("page_start").Int(c.page_start).Key("page_end").Int(c.page_end);
  w.Key("char_start").Int(c.char_start).Key("char_end").Int(c.char_end).Key("section").String(c.section).EndObject();
}

void WriteMessage(JsonWriter& w, const store::Message& m) {
  const bool answer = m.role == store::MessageRole::kAssistant;
  w.BeginObject().Key("id").String(m.id).Key("conversation_id");
  if (m.conversation_id.empty()) w.Null();
  else w.String(m.conversation_id);
  w.Key("role").String(store::MessageRoleName(m.role)).Key("content").String(m.content);
  w.Key("created_at").Timestamp(m.created_at).Key("status").String(store::MessageStatusName(m.status));
  w.Key("model");
  if (answer && !m.model.empty()) w.String(m.model);
  else w.Null();
  w.Key("citations").BeginArray();
  for (const store::Citation& c : m.citations) WriteCitation(w, c);
  w.EndArray().Key("invalid_citations").Int(m.invalid_citations).Key("usage");
  WriteUsage(w, m.usage);
  w.Key("error");
  if (m.error.empty()) w.Null();
  else w.String(m.error);
  w.Key("timings").BeginObject().Key("retrieval_ms");
  MillisOrNull(w, m.retrieval_ms);
  w.Key("first_token_ms");
  MillisOrNull(w, m.first_token_ms);
  w.Key("total_ms");
  MillisOrNull(w, m.total_ms);
  w.EndObject().Key("rewritten_query");
  if (m.rewritten_query.empty()) w.Null();
  else w.String(m.rewritten_query);
  w.EndObject();
}

void RegisterConversationRoutes(ApiRouter& r, Services& s) {
  using http::Method;
  http::RouteOptions json{s.http.max_json_body_bytes, false};

  r.Authed(Method::kPost, "/v1/conversations",
           {"Create a conversation", "conversations", Ref("ConversationCreate"), 201, Ref("Conversation")},
           [&s](http::Request& req, const auth::Principal& who) {
             API_ASSIGN(body, JsonBody::Parse(req, {"title", "document_ids"}, false));
             API_ASSIGN(title, body.String("title", false));
             API_ASSIGN(docs, body.StringArray("document_ids"));
             auto c = s.conversations.Create(who.user_id, std::move(title), docs.value_or(std::vector<std::string>{}));
             if (!c.ok()) return ErrorResponse(c.status(), req, s.log);
             return ObjectResponse(201, *c, WriteConversation).WithHeader("Location", "/v1/conversations/" + c->id);
           },
           json);

  r.Authed(Method::kGet, "/v1/conversations",
           {"List conversations, newest first", "conversations", {}, 200, ListOf("Conversation"), "application/json",
            {}, true},
           [&s](http::Request& req, const auth::Principal& who) {
             API_ASSIGN(page, ParsePage(req));
             auto list = s.conversations.List(who.user_id, page);
             if (!list.ok()) return ErrorResponse(list.status(), req, s.log);
             return ListResponse(*list, WriteConversation);
           });

  r.Authed(Method::kGet, "/v1/conversations/{id}",
           {"Get a conversation", "conversations", {}, 200, Ref("Conversation"), "application/json", {404}},
           [&s](http::Request& req, const auth::Principal& who) {
             auto c = s.conversations.Get(who.user_id, std::string(req.PathParam("id")));
             if (!c.ok()) return ErrorResponse(c.status(), req, s.log);
             return ObjectResponse(200, *c, WriteConversation);
           });

  r.Authed(Method::kPatch, "/v1/conversations/{id}",
           {"Change a conversation's title or documents", "conversations", Ref("ConversationCreate"), 200,
            Ref("Conversation"), "application/json", {404}},
           [&s](http::Request& req, const auth::Principal& who) {
             API_ASSIGN(body, JsonBody::Parse(req, {"title", "document_ids"}));
             API_ASSIGN(title, body.String("title", false));
             API_ASSIGN(docs, body.StringArray("document_ids"));
             store::ConversationPatch patch{std::move(title), std::move(docs)};
             auto c = s.conversations.Update(who.user_id, std::string(req.PathParam("id")), patch);
             if (!c.ok()) return ErrorResponse(c.status(), req, s.log);
             return ObjectResponse(200, *c, WriteConversation);
           },
           json);

  r.Authed(Method::kDelete, "/v1/conversations/{id}",
           {"Delete a conversation and its messages", "conversations", {}, 204, {}, "application/json", {404}},
           [&s](http::Request& req, const auth::Principal& who) {
             Status st = s.conversations.Delete(who.user_id, std::string(req.PathParam("id")));
             if (!st.ok()) return ErrorResponse(st, req, s.log);
             return http::Response::NoContent();
           });

  r.Authed(Method::kGet, "/v1/conversations/{id}/messages",
           {"List a conversation's messages, oldest first", "conversations", {}, 200, ListOf("Message"),
            "application/json", {404}, true},
           [&s](http::Request& req, const auth::Principal& who) {
             API_ASSIGN(page, ParsePage(req));
             auto list = s.conversations.Messages(who.user_id, std::string(req.PathParam("id")), page);
             if (!list.ok()) return ErrorResponse(list.status(), req, s.log);
             return ListResponse(*list, WriteMessage);
           });
}

}  // namespace betterdev::api
