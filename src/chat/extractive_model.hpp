// The offline default answer model (see extractive_model.cpp for how it chooses sentences).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chat/model.hpp"
#include "embed/embedder.hpp"
#include "index/tokenizer.hpp"

namespace betterdev::chat {

inline constexpr std::string_view kExtractiveModelName = "extractive-v1";
inline constexpr std::string_view kNotFoundAnswer = "I could not find the answer in the documents.";

// `embedder` (the local one) adds spelling-level similarity; may be null. Thread-safe.
std::shared_ptr<ChatModel> NewExtractiveModel(std::shared_ptr<const index::Tokenizer> tokenizer,
                                              std::shared_ptr<embed::Embedder> embedder);

// A passage's units: sentences, table rows and list items (exposed for tests).
std::vector<std::string> SplitSentences(std::string_view text);

}  // namespace betterdev::chat
