// The job process: the only place a user's file is parsed.
//
// A worker runs every extraction in a fresh, sandboxed child process (job_server.hpp), under a
// memory limit and a wall-clock timeout, so a parser that crashes, hangs or eats memory costs
// one attempt of one job and nothing else (`betterdev extract` runs the same code by hand). The
// child writes one JSON object per line on its output:
//   {"t":"page","page":7,"pages":120}        a page was read (progress)
//   {"t":"stage","stage":"chunking"}
//   {"t":"chunk","ordinal":0,"page_start":1,"page_end":1,"char_start":0,"char_end":498,"text":"..."}
//                                        (and "context":"...", "section":"..." when the chunk has them)
//   {"t":"done","pages":120,"chars":250000,"chunks":640,"ocr_pages":3,"ocr_confidence":91}
//                                        (OCR'd pages and their mean confidence, 0..100)
//   {"t":"error","reason":"the PDF is encrypted and needs a password"}
// and exits with one of the codes below.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "chunk/chunker.hpp"
#include "core/config.hpp"
#include "extract/extractor.hpp"

namespace betterdev::ingest {

inline constexpr int kJobExitOk = 0;
inline constexpr int kJobExitRejected = 3;     // the file cannot be read; retrying will not help
inline constexpr int kJobExitOutOfMemory = 4;  // allocation failed under the memory limit

struct ExtractJobSpec {
  std::string content_type;
  extract::ExtractLimits limits;
  extract::OcrOptions ocr;
  chunk::ChunkOptions chunking;
};

// The spec for one file under a deployment's settings (limits, OCR, chunking).
ExtractJobSpec MakeExtractJobSpec(const IngestConfig& config, std::string content_type);

// Runs in the job process: extracts `input`, chunks, and writes the protocol to `out_fd`.
// Returns the exit code.
int RunExtractJob(const ExtractJobSpec& spec, const extract::InputFile& input, int out_fd);

struct JobMessage {
  enum class Type { kPage, kStage, kChunk, kDone, kError };
  Type type = Type::kPage;
  int page = 0;
  int pages = 0;
  std::string stage;
  chunk::Chunk chunk;
  int64_t chars = 0;
  int64_t chunks = 0;
  int ocr_pages = 0;
  int ocr_confidence = 100;
  std::string reason;
};

// nullopt for a line that is not a valid message (the worker treats that as a broken job process).
std::optional<JobMessage> DecodeJobMessage(std::string_view line);

}  // namespace betterdev::ingest
