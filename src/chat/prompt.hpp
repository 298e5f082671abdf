// The prompt: the design's "super prompt" (numbered context passages, the question, and the
// rules: answer only from the context, say so plainly when it does not hold the answer, cite
// [n] after each claim), with the conversation's last turns before it, each part within its own
// token budget (chat/tokens.hpp estimates). Also the prompt that rewrites a follow-up question
// into a standalone one before retrieval.
#pragma once

#include <string>
#include <vector>

#include "chat/model.hpp"

namespace betterdev::chat {

struct PromptBudget {
  int history_tokens = 1000;  // the last turns of the conversation, newest kept first
  int context_tokens = 3000;  // the passages, best first; the best one always goes in (cut if it must)
};

struct Prompt {
  std::vector<Turn> messages;     // system, history (oldest first), then the user turn with the context
  std::vector<Passage> passages;  // those that fit, renumbered [1]..[n] in rank order
  int history_turns = 0;          // how many earlier turns went in
  int64_t estimated_tokens = 0;
};

// `history` is oldest first; `passages` best first.
Prompt BuildPrompt(const std::string& question, const std::vector<Turn>& history, std::vector<Passage> passages,
                   const PromptBudget& budget);

// How a passage is introduced in the context: "[2] report.pdf, pages 3-4".
std::string PassageLabel(const Passage& p);

// Messages asking a model to restate `question` so it stands alone, given the turns before it.
std::vector<Turn> RewritePrompt(const std::string& question, const std::vector<Turn>& history, int history_tokens);

// The model's rewrite cleaned up (quotes, a "Standalone question:" prefix, whitespace); empty
// when it is unusable (empty, or far longer than a question), in which case the question is kept.
std::string CleanRewrite(const std::string& rewrite, const std::string& question);

}  // namespace betterdev::chat
