#include "chat/prompt.hpp"

#include <algorithm>

#include "chat/tokens.hpp"

namespace betterdev::chat {
namespace {

constexpr std::string_view kSystem =
    "You answer questions about the user's documents. Use only the numbered context passages "
    "given with the question, never outside knowledge. After each claim, cite the passage it "
    "comes from as [n] (several as [1][3]). If the passages do not contain the answer, say plainly "
    "that the documents do not say, and do not guess. Keep figures, names and dates exactly as "
    "the passages give them. Answer in the language of the question.";

constexpr std::string_view kRewriteSystem =
    "Rewrite the user's last question so that it can be understood without the conversation: "
    "replace pronouns and references with what they refer to and keep every detail of the "
    "question. Do not answer it. Reply with the rewritten question only.";

// Cuts `text` to about `tokens` tokens at a character boundary, preferring a word end.
std::string CutToTokens(const std::string& text, int64_t tokens) {
  if (EstimateTokens(text) <= tokens) return text;
  size_t lo = 0, hi = text.size();
  while (lo < hi) {  // the longest prefix within the budget
    size_t mid = (lo + hi + 1) / 2;
    if (EstimateTokens(std::string_view(text).substr(0, mid)) <= tokens) lo = mid;
    else hi = mid - 1;
  }
  while (lo > 0 && (static_cast<unsigned char>(text[lo]) & 0xC0) == 0x80) --lo;
  size_t space = text.rfind(' ', lo);
  if (space != std::string::npos && space > lo * 3 / 4) lo = space;
  return text.substr(0, lo) + " …";
}

std::string PassageBlock(const Passage& p) {
  std::string block = PassageLabel(p) + "\n";
  if (!p.section.empty()) block += "(section: " + p.section + ")\n";
  if (!p.context.empty()) block += "(table columns: " + p.context + ")\n";
  block += p.text;
  return block;
}

// The newest turns that fit in `budget`, oldest first.
std::vector<Turn> RecentTurns(const std::vector<Turn>& history, int64_t budget) {
  std::vector<Turn> kept;
  int64_t used = 0;
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    const int64_t t = EstimateTokens(it->content) + 4;  // ~4 tokens of per-message framing
    if (used + t > budget) break;
    used += t;
    kept.push_back(*it);
  }
  std::reverse(kept.begin(), kept.end());
  return kept;
}

}  // namespace

std::string PassageLabel(const Passage& p) {
  // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, a false positive) on "[" + string.
  std::string label("[");
  label.append(std::to_string(p.n)).append("] ").append(p.document_name);
  if (p.page_start > 0) {
    label.append(p.page_end > p.page_start ? ", pages " : ", page ").append(std::to_string(p.page_start));
    if (p.page_end > p.page_start) label.append("-").append(std::to_string(p.page_end));
  }
  return label;
}

Prompt BuildPrompt(const std::string& question, const std::vector<Turn>& history, std::vector<Passage> passages,
                   const PromptBudget& budget) {
  Prompt out;
  int64_t context_used = 0;
  for (Passage& p : passages) {
    p.n = static_cast<int>(out.passages.size()) + 1;
    const int64_t t = EstimateTokens(PassageBlock(p)) + 2;
    if (context_used + t > budget.context_tokens) {
      if (!out.passages.empty()) break;
      p.text = CutToTokens(p.text, std::max<int64_t>(budget.context_tokens - 40, 32));  // the best one goes in
    }
    context_used += t;
    out.passages.push_back(std::move(p));
  }

  out.messages.push_back({Role::kSystem, std::string(kSystem)});
  std::vector<Turn> recent = RecentTurns(history, budget.history_tokens);
  out.history_turns = static_cast<int>(recent.size());
  for (Turn& t : recent) out.messages.push_back(std::move(t));

  std::string user = "Use the following context to answer the question.\n\nContext:\n";
  if (out.passages.empty()) user += "(no passages were found in the documents)\n";
  for (const Passage& p : out.passages) user += PassageBlock(p) + "\n\n";
  user += "Question: " + question;
  out.messages.push_back({Role::kUser, std::move(user)});
  for (const Turn& t : out.messages) out.estimated_tokens += EstimateTokens(t.content) + 4;
  return out;
}

std::vector<Turn> RewritePrompt(const std::string& question, const std::vector<Turn>& history, int history_tokens) {
  std::vector<Turn> messages{{Role::kSystem, std::string(kRewriteSystem)}};
  std::string convo;
  for (const Turn& t : RecentTurns(history, history_tokens)) convo += std::string(RoleName(t.role)) + ": " + t.content + "\n";
  messages.push_back({Role::kUser, "Conversation:\n" + convo + "\nLast question: " + question +
                                       "\n\nThe last question, rewritten to stand alone:"});
  return messages;
}

std::string CleanRewrite(const std::string& rewrite, const std::string& question) {
  std::string s = rewrite;
  auto trim = [](std::string& x) {
    const size_t b = x.find_first_not_of(" \t\r\n");
    const size_t e = x.find_last_not_of(" \t\r\n");
    x = b == std::string::npos ? std::string() : x.substr(b, e - b + 1);
  };
  trim(s);
  for (std::string_view prefix : {"Standalone question:", "Rewritten question:", "Question:"}) {
    if (s.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      s = s.substr(prefix.size());
      trim(s);
    }
  }
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) s = s.substr(1, s.size() - 2);
  trim(s);
  if (s.empty() || s.size() > std::max<size_t>(question.size() * 4, 400)) return {};
  return s;
}

}  // namespace betterdev::chat
