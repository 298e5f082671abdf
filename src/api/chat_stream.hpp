// What the chat endpoints share: an answer from chat::ChatService turned into a streamed
// (Server-Sent Events) or deferred (one JSON body) HTTP response. Subclasses format the events.
#pragma once

#include <memory>
#include <string>

#include "api/json_io.hpp"
#include "chat/chat_service.hpp"
#include "core/json_writer.hpp"
#include "http/message.hpp"

namespace betterdev::api {

class AnswerStream : public http::StreamProducer,
                     public chat::AnswerListener,
                     public std::enable_shared_from_this<AnswerStream> {
 public:
  explicit AnswerStream(std::shared_ptr<chat::Answer> answer) : answer_(std::move(answer)) {}

  void Start(std::shared_ptr<http::StreamSink> sink) override;
  // A client that went away (or stopped reading) cancels the answer at once; at shutdown the
  // answer ends with an error event saying so.
  void Stop(http::StreamEnd why) override;

 protected:
  void Send(std::string bytes);
  void Finish();
  void Reply(http::Response response);

 private:
  std::shared_ptr<chat::Answer> answer_;
  std::shared_ptr<http::StreamSink> sink_;
};

// Headers and options of a streamed answer (text/event-stream, no proxy buffering, a heartbeat
// comment every 15 s) or of a deferred one (JSON when the answer is done).
http::Response StreamResponse(std::shared_ptr<AnswerStream> producer, bool streamed);
bool AcceptsEventStream(const http::Request& req);

// {query, chunks: [...], skipped_documents: [...], retrieval_ms}
void WriteRetrieval(JsonWriter& w, const chat::Retrieval& r);
// The failure of an answer in words for a person.
std::string Readable(const Status& status);
// The HTTP error of a failed, non-streamed answer: 503 (provider down, rate limited, shutting
// down), 502 (the provider refused: bad key, bad request), 504 (timeout).
HttpError ModelError(const Status& status);

}  // namespace betterdev::api
