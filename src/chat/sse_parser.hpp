// Server-Sent Events, read side (a provider's streamed answer): bytes in, events out, however
// the bytes were cut into reads. Lines end in LF, CRLF or CR; `data:` lines of one event are
// joined with LF; comments (":...") and unknown fields are skipped; an event is dispatched at
// the blank line that ends it (Finish() dispatches a last one the stream did not end).
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace betterdev::chat {

class SseParser {
 public:
  // event: the `event:` field ("" when absent); data: the joined `data:` lines.
  using OnEvent = std::function<void(const std::string& event, const std::string& data)>;
  explicit SseParser(OnEvent on_event) : on_event_(std::move(on_event)) {}

  void Feed(std::string_view bytes);
  // The stream ended: a pending event without its blank line is still dispatched.
  void Finish();
  // Bytes of an unfinished line or event held so far.
  size_t pending() const { return line_.size() + data_.size(); }

 private:
  void Line(std::string_view line);
  void Dispatch();

  OnEvent on_event_;
  std::string line_;
  std::string event_;
  std::string data_;
  bool has_data_ = false;
  bool last_cr_ = false;
};

}  // namespace betterdev::chat
