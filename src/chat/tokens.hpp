// Token counts estimated without a tokenizer: for budgets (how much history and context fit in
// a prompt) and for usage when a provider reports none (the extractive model, a stream cut off
// before its usage chunk).
//
// The estimate: English averages about 4 characters per token in OpenAI's BPE vocabularies
// (cl100k, o200k), so each run of ASCII counts as ceil(bytes / 4); every code point outside
// ASCII counts as one token (CJK text is about one token per character; accented letters in
// Latin scripts are over-counted, which errs on the safe side of a budget). It is a budget, not
// a bill: a provider's own counts are used whenever it reports usage.
#pragma once

#include <cstdint>
#include <string_view>

namespace betterdev::chat {

int64_t EstimateTokens(std::string_view text);

}  // namespace betterdev::chat
