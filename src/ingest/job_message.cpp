// The worker's reading of a job process's output lines (the protocol in job_process.hpp): kept
// apart from the job process itself so the fuzz target (fuzz/fuzz_job_message.cpp) builds it
// alone.
#include <nlohmann/json.hpp>

#include "ingest/job_process.hpp"

namespace betterdev::ingest {

std::optional<JobMessage> DecodeJobMessage(std::string_view line) {
  using Json = nlohmann::json;
  Json j = Json::parse(line, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  JobMessage m;
  try {
    std::string t = j.at("t").get<std::string>();
    if (t == "page") {
      m.type = JobMessage::Type::kPage;
      m.page = j.at("page").get<int>();
      m.pages = j.at("pages").get<int>();
    } else if (t == "stage") {
      m.type = JobMessage::Type::kStage;
      m.stage = j.at("stage").get<std::string>();
    } else if (t == "chunk") {
      m.type = JobMessage::Type::kChunk;
      m.chunk.ordinal = j.at("ordinal").get<int>();
      m.chunk.page_start = j.at("page_start").get<int>();
      m.chunk.page_end = j.at("page_end").get<int>();
      m.chunk.char_start = j.at("char_start").get<int64_t>();
      m.chunk.char_end = j.at("char_end").get<int64_t>();
      m.chunk.text = j.at("text").get<std::string>();
      if (j.contains("context")) m.chunk.context = j.at("context").get<std::string>();
    } else if (t == "done") {
      m.type = JobMessage::Type::kDone;
      m.pages = j.at("pages").get<int>();
      m.chars = j.at("chars").get<int64_t>();
      m.chunks = j.at("chunks").get<int64_t>();
      m.ocr_pages = j.value("ocr_pages", 0);
      m.ocr_confidence = j.value("ocr_confidence", 100);
    } else if (t == "error") {
      m.type = JobMessage::Type::kError;
      m.reason = j.at("reason").get<std::string>();
    } else {
      return std::nullopt;
    }
  } catch (const Json::exception&) {
    return std::nullopt;
  }
  return m;
}

}  // namespace betterdev::ingest
