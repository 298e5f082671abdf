// Citations in an answer: every [n] (also [n, m] and [n][m]) is mapped to the passage the prompt
// numbered n; a number that names no passage is removed from the answer and counted, so a
// stored answer never points at nothing.
#pragma once

#include <string>
#include <vector>

#include "chat/model.hpp"
#include "store/store.hpp"

namespace betterdev::chat {

struct CitedAnswer {
  std::string text;                          // the answer with invalid markers removed
  std::vector<store::Citation> citations;    // one per passage cited, by n
  int invalid = 0;                           // markers removed
};

CitedAnswer ResolveCitations(const std::string& answer, const std::vector<Passage>& passages);

// The citation a passage makes.
store::Citation CitationOf(const Passage& p);

}  // namespace betterdev::chat
