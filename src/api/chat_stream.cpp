#include "api/chat_stream.hpp"

namespace betterdev::api {

void AnswerStream::Start(std::shared_ptr<http::StreamSink> sink) {
  sink_ = std::move(sink);
  answer_->Start(std::static_pointer_cast<AnswerStream>(shared_from_this()));
}

void AnswerStream::Stop(http::StreamEnd why) {
  switch (why) {
    case http::StreamEnd::kShutdown: answer_->Cancel("the server is shutting down"); break;
    case http::StreamEnd::kOverflow:
    case http::StreamEnd::kWriteTimeout: answer_->Cancel("the client stopped reading the answer"); break;
    default: answer_->Cancel("the client went away"); break;
  }
}

void AnswerStream::Send(std::string bytes) {
  if (sink_) sink_->Send(std::move(bytes));
}
void AnswerStream::Finish() {
  if (sink_) sink_->Finish();
}
void AnswerStream::Reply(http::Response response) {
  if (sink_) sink_->Reply(std::move(response));
}

http::Response StreamResponse(std::shared_ptr<AnswerStream> producer, bool streamed) {
  http::StreamOptions o;
  if (!streamed) {
    o.deferred = true;
    return http::Response::Stream(200, "application/json", std::move(producer), o);
  }
  o.heartbeat_interval = std::chrono::seconds(15);
  o.heartbeat = ": heartbeat\n\n";
  http::Response r = http::Response::Stream(200, "text/event-stream; charset=utf-8", std::move(producer), o);
  r.WithHeader("Cache-Control", "no-cache").WithHeader("X-Accel-Buffering", "no");
  return r;
}

bool AcceptsEventStream(const http::Request& req) {
  const std::string* accept = req.FindHeader("Accept");
  return accept && accept->find("text/event-stream") != std::string::npos;
}

void WriteRetrieval(JsonWriter& w, const chat::Retrieval& r) {
  w.BeginObject().Key("query").String(r.query).Key("chunks").BeginArray();
  for (const chat::Passage& p : r.passages) {
    w.BeginObject().Key("n").Int(p.n).Key("chunk_id").String(p.chunk_id).Key("document_id").String(p.document_id);
    w.Key("document_name").String(p.document_name).Key("page_start").Int(p.page_start).Key("page_end").Int(p.page_end);
    w.Key("char_start").Int(p.char_start).Key("char_end").Int(p.char_end).Key("section").String(p.section);
    w.Key("score").Double(p.score).EndObject();
  }
  w.EndArray().Key("skipped_documents").BeginArray();
  for (const chat::SkippedDocument& d : r.skipped) {
    w.BeginObject().Key("id").String(d.id).Key("name").String(d.name).Key("status").String(d.status).EndObject();
  }
  w.EndArray().Key("retrieval_ms").Int(r.ms).EndObject();
}

std::string Readable(const Status& status) {
  if (status.code() == StatusCode::kInternal) return "the answer failed because of an internal error";
  return status.message();
}

HttpError ModelError(const Status& status) {
  switch (status.code()) {
    case StatusCode::kPermissionDenied:
    case StatusCode::kInvalidArgument: return {502, "bad_gateway", Readable(status)};
    case StatusCode::kTimeout: return {504, "timeout", Readable(status)};
    case StatusCode::kInternal: return {500, "internal", Readable(status)};
    default: return {503, "unavailable", Readable(status), 1};
  }
}

}  // namespace betterdev::api
