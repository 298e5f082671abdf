// Asking a conversation: POST /v1/conversations/{id}/messages, answered as Server-Sent Events
// (retrieval, token..., done | error) or, without streaming, as one JSON message.
#include "api/chat_stream.hpp"
#include "api/routes.hpp"

namespace betterdev::api {
namespace {

// The chat service's events as SSE, or (deferred) as one JSON answer.
class MessageStream final : public AnswerStream {
 public:
  MessageStream(std::shared_ptr<chat::Answer> answer, bool streamed) : AnswerStream(std::move(answer)), streamed_(streamed) {}

  void OnRetrieval(const chat::Retrieval& r) override {
    if (!streamed_) return;
    JsonWriter w;
    WriteRetrieval(w, r);
    Send(http::SseEvent("retrieval", w.Take()));
  }
  void OnToken(std::string_view text) override {
    if (!streamed_) return;
    JsonWriter w;
    w.BeginObject().Key("text").String(text).EndObject();
    Send(http::SseEvent("token", w.Take()));
  }
  void OnDone(const store::Message& answer, const Status& status) override {
    JsonWriter w;
    if (streamed_) {
      if (status.ok()) {
        WriteMessage(w, answer);
        Send(http::SseEvent("done", w.Take()));
      } else {
        w.BeginObject().Key("message").String(Readable(status)).Key("answer");
        WriteMessage(w, answer);
        w.EndObject();
        Send(http::SseEvent("error", w.Take()));
      }
      Finish();
      return;
    }
    if (status.ok()) {
      WriteMessage(w, answer);
      Reply(http::Response::Json(200, w.Take()));
    } else {
      HttpError e = ModelError(status);
      w.BeginObject().Key("error").BeginObject().Key("code").String(e.code).Key("message").String(e.message).EndObject();
      w.Key("answer");
      WriteMessage(w, answer);
      w.EndObject();
      Reply(http::Response::Json(e.status, w.Take()));
    }
  }

 private:
  bool streamed_;
};

}  // namespace

void RegisterChatRoutes(ApiRouter& r, Services& s) {
  using http::Method;
  OperationDoc ask{"Ask a question: the answer from the conversation's documents, streamed (SSE) or as one message",
                   "chat", Ref("MessageCreate"), 200, Ref("Message")};
  ask.errors = {400, 404, 503};
  ask.response_content_type = "application/json";
  ask.other_successes = {};
  r.Authed(Method::kPost, "/v1/conversations/{id}/messages", ask,
           [&s](http::Request& req, const auth::Principal& who) {
             API_ASSIGN(body, JsonBody::Parse(req, {"content", "k", "stream", "document_ids"}));
             API_ASSIGN(content, body.String("content", true));
             API_ASSIGN(k, body.Int("k", 1, 20));
             API_ASSIGN(stream, body.Bool("stream"));
             API_ASSIGN(docs, body.StringArray("document_ids"));
             if (docs && docs->size() > 100) {
               return ErrorResponse(HttpError{400, "invalid_request", "document_ids may name at most 100 documents"});
             }
             chat::AskRequest ask_request;
             ask_request.user_id = who.user_id;
             ask_request.conversation_id = std::string(req.PathParam("id"));
             ask_request.question = std::move(*content);
             ask_request.document_ids = docs.value_or(std::vector<std::string>{});
             ask_request.k = static_cast<int>(k.value_or(0));
             auto answer = s.chat.Prepare(std::move(ask_request));
             if (!answer.ok()) return ErrorResponse(answer.status(), req, s.log);
             const bool streamed = stream.value_or(AcceptsEventStream(req));
             auto producer = std::make_shared<MessageStream>(std::move(*answer), streamed);
             return StreamResponse(producer, streamed);
           });
}

}  // namespace betterdev::api
