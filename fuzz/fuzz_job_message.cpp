// The worker's reading of its job process's output lines (job_process.hpp): the job process
// parses strangers' files, so a compromised one may write anything. Any line decodes to a
// message or to nullopt ("a broken job process"), never to a crash.
#include <cstdint>

#include "fuzz_util.hpp"
#include "ingest/job_process.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace betterdev;
  const auto message = ingest::DecodeJobMessage(fuzz::Bytes(data, size));
  if (message && message->type == ingest::JobMessage::Type::kChunk) {
    volatile size_t n = message->chunk.text.size() + message->chunk.context.size();
    (void)n;
  }
  return 0;
}
