// Embedding chunks, shared by the workers (new documents) and the re-embedder (a model change).
#pragma once

#include <string>
#include <vector>

#include "core/status.hpp"
#include "embed/embedder.hpp"
#include "store/store.hpp"

namespace betterdev::ingest {

// What is embedded for a chunk is what a reader sees: its context (a table's header row), a
// newline, and its text.
std::string EmbeddingText(const std::string& text, const std::string& context);

// One vector per text, in order. A remote embedder's vectors are cached by (model, SHA-256 of
// the text): only texts never embedded before cost a call, and `tokens` grows by what the
// calls used. A cache that cannot be read or written is skipped, not fatal.
Result<std::vector<std::vector<float>>> EmbedWithCache(embed::Embedder& embedder, store::SearchRepository& store,
                                                       const std::vector<std::string>& texts, int64_t now,
                                                       int64_t& tokens);

}  // namespace betterdev::ingest
