// The multipart/form-data parser every upload goes through, fed in pieces as a network would:
// whatever the bytes and however they are cut, it never crashes, keeps its memory bounded, and
// answers the same parts and the same verdict as when fed the whole body at once.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_util.hpp"
#include "http/multipart.hpp"

namespace betterdev::fuzz {
namespace {

// Everything the handler saw, as one transcript.
class Recorder final : public http::PartHandler {
 public:
  Status OnPartBegin(const http::PartHeader& h) override {
    log += "[begin " + h.name + "|" + h.filename.value_or("<none>") + "|" + h.content_type + "]";
    return Status::Ok();
  }
  Status OnPartData(std::string_view bytes) override {
    log.append(bytes);
    return Status::Ok();
  }
  Status OnPartEnd() override {
    log += "[end]";
    return Status::Ok();
  }
  std::string log;
};

std::string Run(std::string_view body, const std::vector<size_t>& cuts, bool& ok) {
  Recorder recorder;
  http::MultipartParser parser("XyZzY-boundary", recorder, 512);
  size_t at = 0;
  Status status;
  for (size_t cut : cuts) {
    cut = std::min(cut, body.size() - at);
    status = parser.Feed(body.substr(at, cut));
    at += cut;
    if (!status.ok()) break;
  }
  if (status.ok()) status = parser.Feed(body.substr(at));
  if (status.ok()) status = parser.Finish();
  ok = status.ok();
  return recorder.log;
}

}  // namespace
}  // namespace betterdev::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace betterdev;
  if (size < 1) return 0;
  // The first byte chooses how the body is cut into pieces.
  const unsigned seed = data[0];
  const std::string_view body = fuzz::Bytes(data + 1, size - 1);
  std::vector<size_t> cuts;
  for (size_t total = 0, i = 0; total < body.size(); ++i) {
    const size_t piece = 1 + ((seed * 31 + i * 17) % 97);
    cuts.push_back(piece);
    total += piece;
  }
  bool whole_ok = false, pieces_ok = false;
  const std::string whole = fuzz::Run(body, {}, whole_ok);
  const std::string pieces = fuzz::Run(body, cuts, pieces_ok);
  BD_FUZZ_CHECK(whole_ok == pieces_ok);
  // Parts already delivered before an error may differ in where the error was noticed; with
  // no error the transcripts must match byte for byte.
  if (whole_ok) BD_FUZZ_CHECK(whole == pieces);
  (void)http::MultipartBoundary(body.substr(0, std::min<size_t>(body.size(), 200)));
  return 0;
}
