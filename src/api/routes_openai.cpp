// The OpenAI-compatible front door: POST /v1/chat/completions in OpenAI's own wire format
// (streamed as chat.completion.chunk events ending in [DONE], or one chat.completion), so
// OpenAI SDK clients and chat front ends speaking that API can chat with their documents
// unchanged; GET /v1/models lists what it serves.
//
// The last user message is the question, earlier user/assistant messages are the history
// (system messages from the client are not used: the prompt's rules are this server's). The
// answer is retrieval-augmented over the user's ready documents, or over the extra body fields
// `document_ids` / `conversation_id` (the question and answer are then stored in that
// conversation). Citations travel in an extra `citations` field of the final chunk and of the
// message. OpenAI's sampling parameters are accepted and ignored; unknown fields are ignored,
// as OpenAI-compatible servers do, so that front ends sending extras keep working.
#include <chrono>

#include "api/chat_stream.hpp"
#include "api/routes.hpp"

namespace betterdev::api {
namespace {

int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The text of a message's `content`: a string, or an array of parts of which the text ones count.
std::optional<std::string> ContentText(const Json& content) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) return std::nullopt;
  std::string text;
  for (const Json& part : content) {
    if (!part.is_object() || !part.contains("type") || part["type"] != "text") continue;
    if (!part.contains("text") || !part["text"].is_string()) return std::nullopt;
    if (!text.empty()) text += "\n";
    text += part["text"].get<std::string>();
  }
  return text;
}

void WriteCitations(JsonWriter& w, const std::vector<store::Citation>& citations) {
  w.BeginArray();
  for (const store::Citation& c : citations) WriteCitation(w, c);
  w.EndArray();
}

void WriteUsage(JsonWriter& w, const store::Usage& u) {
  w.BeginObject().Key("prompt_tokens").Int(u.prompt_tokens).Key("completion_tokens").Int(u.completion_tokens);
  w.Key("total_tokens").Int(u.prompt_tokens + u.completion_tokens).EndObject();
}

class CompletionStream final : public AnswerStream {
 public:
  CompletionStream(std::shared_ptr<chat::Answer> answer, bool streamed, bool include_usage, std::string model)
      : AnswerStream(answer), streamed_(streamed), include_usage_(include_usage), model_(std::move(model)),
        id_("chatcmpl-" + answer->question_id()), created_(UnixSeconds()) {}

  void OnRetrieval(const chat::Retrieval&) override {
    if (!streamed_) return;
    JsonWriter w;
    Chunk(w);
    w.Key("choices").BeginArray().BeginObject().Key("index").Int(0);
    w.Key("delta").BeginObject().Key("role").String("assistant").Key("content").String("").EndObject();
    w.Key("finish_reason").Null().EndObject().EndArray().EndObject();
    Data(w.Take());
  }
  void OnToken(std::string_view text) override {
    if (!streamed_) return;
    JsonWriter w;
    Chunk(w);
    w.Key("choices").BeginArray().BeginObject().Key("index").Int(0);
    w.Key("delta").BeginObject().Key("content").String(text).EndObject();
    w.Key("finish_reason").Null().EndObject().EndArray().EndObject();
    Data(w.Take());
  }
  void OnDone(const store::Message& answer, const Status& status) override {
    if (streamed_) {
      JsonWriter w;
      if (!status.ok()) {
        // What OpenAI sends when a stream fails: an error object (clients raise it).
        w.BeginObject().Key("error").BeginObject().Key("message").String(Readable(status));
        w.Key("type").String("server_error").Key("code").String(ModelError(status).code).EndObject().EndObject();
        Data(w.Take());
        Finish();
        return;
      }
      Chunk(w);
      w.Key("choices").BeginArray().BeginObject().Key("index").Int(0).Key("delta").BeginObject().EndObject();
      w.Key("finish_reason").String("stop").EndObject().EndArray();
      w.Key("citations");
      WriteCitations(w, answer.citations);
      w.Key("message_id").String(answer.id).EndObject();
      Data(w.Take());
      if (include_usage_) {
        JsonWriter u;
        Chunk(u);
        u.Key("choices").BeginArray().EndArray().Key("usage");
        WriteUsage(u, answer.usage);
        u.EndObject();
        Data(u.Take());
      }
      Send("data: [DONE]\n\n");
      Finish();
      return;
    }
    if (!status.ok()) {
      HttpError e = ModelError(status);
      JsonWriter w;
      w.BeginObject().Key("error").BeginObject().Key("message").String(e.message).Key("type").String("server_error");
      w.Key("code").String(e.code).EndObject().EndObject();
      Reply(http::Response::Json(e.status, w.Take()));
      return;
    }
    JsonWriter w;
    w.BeginObject().Key("id").String(id_).Key("object").String("chat.completion").Key("created").Int(created_);
    w.Key("model").String(model_).Key("choices").BeginArray().BeginObject().Key("index").Int(0);
    w.Key("message").BeginObject().Key("role").String("assistant").Key("content").String(answer.content);
    w.Key("citations");
    WriteCitations(w, answer.citations);
    w.EndObject().Key("finish_reason").String("stop").EndObject().EndArray().Key("usage");
    WriteUsage(w, answer.usage);
    w.Key("citations");
    WriteCitations(w, answer.citations);
    w.Key("message_id").String(answer.id).EndObject();
    Reply(http::Response::Json(200, w.Take()));
  }

 private:
  // The fields every chunk starts with (the object is left open).
  void Chunk(JsonWriter& w) const {
    w.BeginObject().Key("id").String(id_).Key("object").String("chat.completion.chunk").Key("created").Int(created_);
    w.Key("model").String(model_);
  }
  void Data(std::string json) { Send("data: " + json + "\n\n"); }

  bool streamed_;
  bool include_usage_;
  std::string model_;
  std::string id_;
  int64_t created_;
};

HttpError Invalid(std::string message) { return {400, "invalid_request", std::move(message)}; }

}  // namespace

void RegisterOpenAiRoutes(ApiRouter& r, Services& s) {
  using http::Method;
  OperationDoc models{"The models /v1/chat/completions serves (OpenAI's format)", "openai", {}, 200, {{"type", "object"}}};
  r.Authed(Method::kGet, "/v1/models", models, [&s](http::Request&, const auth::Principal&) {
    JsonWriter w;
    w.BeginObject().Key("object").String("list").Key("data").BeginArray();
    w.BeginObject().Key("id").String(s.chat.model().name()).Key("object").String("model").Key("created").Int(0);
    w.Key("owned_by").String("betterdev").EndObject();
    w.EndArray().EndObject();
    return http::Response::Json(200, w.Take());
  });

  OperationDoc completions{"Chat with your documents in OpenAI's wire format (streamed or not); extra fields: "
                           "document_ids, conversation_id, k; the answer carries citations",
                           "openai", {{"type", "object"}}, 200, {{"type", "object"}}};
  completions.errors = {400, 404, 503};
  r.Authed(Method::kPost, "/v1/chat/completions", completions, [&s](http::Request& req, const auth::Principal& who) {
    Json body = Json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return ErrorResponse(HttpError{400, "invalid_json", "the body must be a JSON object"});
    if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty()) {
      return ErrorResponse(Invalid("messages must be a non-empty array"));
    }
    chat::AskRequest ask;
    ask.user_id = who.user_id;
    ask.load_history = false;
    const Json& messages = body["messages"];
    for (size_t i = 0; i < messages.size(); ++i) {
      const Json& m = messages[i];
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content")) {
        return ErrorResponse(Invalid("messages[" + std::to_string(i) + "] must have a role and content"));
      }
      const std::string role = m["role"].get<std::string>();
      std::optional<std::string> text = m["content"].is_null() ? std::optional<std::string>("") : ContentText(m["content"]);
      if (!text) return ErrorResponse(Invalid("messages[" + std::to_string(i) + "].content must be text"));
      if (i + 1 == messages.size()) {
        if (role != "user") return ErrorResponse(Invalid("the last message must be the user's question"));
        ask.question = std::move(*text);
      } else if (role == "user") {
        ask.history.push_back({chat::Role::kUser, std::move(*text)});
      } else if (role == "assistant") {
        ask.history.push_back({chat::Role::kAssistant, std::move(*text)});
      }  // system, developer, tool: the prompt's rules are this server's
    }
    const std::string served = s.chat.model().name();
    if (body.contains("model") && !body["model"].is_null()) {
      if (!body["model"].is_string()) return ErrorResponse(Invalid("model must be a string"));
      if (body["model"].get<std::string>() != served) {
        return ErrorResponse(HttpError{404, "not_found", "no such model: " + body["model"].get<std::string>() +
                                                             " (GET /v1/models lists what this server serves)"});
      }
    }
    if (body.contains("n") && !(body["n"].is_number_integer() && body["n"].get<int64_t>() == 1)) {
      return ErrorResponse(Invalid("n must be 1"));
    }
    if (body.contains("document_ids")) {
      const Json& d = body["document_ids"];
      if (!d.is_array() || d.size() > 100) return ErrorResponse(Invalid("document_ids must be an array of at most 100 ids"));
      for (const Json& id : d) {
        if (!id.is_string()) return ErrorResponse(Invalid("document_ids must be an array of strings"));
        ask.document_ids.push_back(id.get<std::string>());
      }
    }
    if (body.contains("conversation_id") && !body["conversation_id"].is_null()) {
      if (!body["conversation_id"].is_string()) return ErrorResponse(Invalid("conversation_id must be a string"));
      ask.conversation_id = body["conversation_id"].get<std::string>();
    }
    if (body.contains("k")) {
      if (!body["k"].is_number_integer() || body["k"].get<int64_t>() < 1 || body["k"].get<int64_t>() > 20)
        return ErrorResponse(Invalid("k must be an integer from 1 to 20"));
      ask.k = static_cast<int>(body["k"].get<int64_t>());
    }
    bool streamed = false;
    if (body.contains("stream") && !body["stream"].is_null()) {
      if (!body["stream"].is_boolean()) return ErrorResponse(Invalid("stream must be true or false"));
      streamed = body["stream"].get<bool>();
    }
    bool include_usage = false;
    if (body.contains("stream_options") && body["stream_options"].is_object()) {
      const Json& so = body["stream_options"];
      include_usage = so.contains("include_usage") && so["include_usage"].is_boolean() && so["include_usage"].get<bool>();
    }
    auto answer = s.chat.Prepare(std::move(ask));
    if (!answer.ok()) return ErrorResponse(answer.status(), req, s.log);
    auto producer = std::make_shared<CompletionStream>(std::move(*answer), streamed, include_usage, served);
    return StreamResponse(producer, streamed);
  }, http::RouteOptions{s.http.max_json_body_bytes, false});
}

}  // namespace betterdev::api
