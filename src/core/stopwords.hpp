// English stopwords: the words too common to tell texts apart, left out of query words for
// keyword search and out of the local embedder's features.
#pragma once

#include <string_view>

namespace betterdev {

// `word` must be lower-case ASCII to match ("the", "of", "which", ...).
bool IsEnglishStopword(std::string_view word);

}  // namespace betterdev
