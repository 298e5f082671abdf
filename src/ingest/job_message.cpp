// The worker's reading of a job process's output lines (the protocol in job_process.hpp): kept
// apart from the job process itself so the fuzz target (fuzz/fuzz_job_message.cpp) builds it
// alone. A job process parses strangers' files, so a compromised one may write anything: every
// field is checked for its type and range, and anything else makes the line invalid.
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

#include "ingest/job_process.hpp"

namespace betterdev::ingest {
namespace {

using Json = nlohmann::json;

struct Invalid {};  // thrown inside DecodeJobMessage only

// A JSON integer within [0, T's maximum]. A float (even an integral one), a negative number or
// one out of range is invalid: converting an out-of-range float to an integer is undefined
// behaviour (found by fuzz/fuzz_job_message.cpp), and no count or position here is negative.
template <typename T>
T Count(const Json& j, const char* key) {
  const Json& v = j.at(key);
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<T>::max())) return static_cast<T>(u);
  } else if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i >= 0 && i <= static_cast<int64_t>(std::numeric_limits<T>::max())) return static_cast<T>(i);
  }
  throw Invalid{};
}

template <typename T>
T CountOr(const Json& j, const char* key, T fallback) {
  return j.contains(key) ? Count<T>(j, key) : fallback;
}

}  // namespace

std::optional<JobMessage> DecodeJobMessage(std::string_view line) {
  Json j = Json::parse(line, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  JobMessage m;
  try {
    std::string t = j.at("t").get<std::string>();
    if (t == "page") {
      m.type = JobMessage::Type::kPage;
      m.page = Count<int>(j, "page");
      m.pages = Count<int>(j, "pages");
    } else if (t == "stage") {
      m.type = JobMessage::Type::kStage;
      m.stage = j.at("stage").get<std::string>();
    } else if (t == "chunk") {
      m.type = JobMessage::Type::kChunk;
      m.chunk.ordinal = Count<int>(j, "ordinal");
      m.chunk.page_start = Count<int>(j, "page_start");
      m.chunk.page_end = Count<int>(j, "page_end");
      m.chunk.char_start = Count<int64_t>(j, "char_start");
      m.chunk.char_end = Count<int64_t>(j, "char_end");
      m.chunk.text = j.at("text").get<std::string>();
      if (j.contains("context")) m.chunk.context = j.at("context").get<std::string>();
      if (j.contains("section")) m.chunk.section = j.at("section").get<std::string>();
    } else if (t == "done") {
      m.type = JobMessage::Type::kDone;
      m.pages = Count<int>(j, "pages");
      m.chars = Count<int64_t>(j, "chars");
      m.chunks = Count<int64_t>(j, "chunks");
      m.ocr_pages = CountOr<int>(j, "ocr_pages", 0);
      m.ocr_confidence = CountOr<int>(j, "ocr_confidence", 100);
    } else if (t == "error") {
      m.type = JobMessage::Type::kError;
      m.reason = j.at("reason").get<std::string>();
    } else {
      return std::nullopt;
    }
  } catch (const Json::exception&) {
    return std::nullopt;
  } catch (const Invalid&) {
    return std::nullopt;
  }
  return m;
}

}  // namespace betterdev::ingest
