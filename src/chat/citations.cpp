#include "chat/citations.hpp"

#include <algorithm>
#include <set>

namespace betterdev::chat {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Parses "[1]", "[1, 3]", "[1,2]" at `at`; the numbers and the length, or 0 when it is not one.
size_t ParseMarker(const std::string& s, size_t at, std::vector<long>& numbers) {
  numbers.clear();
  if (at >= s.size() || s[at] != '[') return 0;
  size_t i = at + 1;
  for (;;) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t start = i;
    while (i < s.size() && IsDigit(s[i]) && i - start < 6) ++i;
    if (i == start) return 0;
    numbers.push_back(std::stol(s.substr(start, i - start)));
    while (i < s.size() && s[i] == ' ') ++i;
    if (i < s.size() && s[i] == ']') return i + 1 - at;
    if (i < s.size() && s[i] == ',') {
      ++i;
      continue;
    }
    return 0;
  }
}

}  // namespace

store::Citation CitationOf(const Passage& p) {
  return store::Citation{p.n,          p.chunk_id,   p.document_id, p.document_name, p.page_start,
                         p.page_end,   p.char_start, p.char_end,    p.section};
}

CitedAnswer ResolveCitations(const std::string& answer, const std::vector<Passage>& passages) {
  CitedAnswer out;
  std::set<int> cited;
  std::vector<long> numbers;
  auto passage = [&](long n) -> const Passage* {
    for (const Passage& p : passages)
      if (p.n == n) return &p;
    return nullptr;
  };
  for (size_t i = 0; i < answer.size();) {
    const size_t len = ParseMarker(answer, i, numbers);
    if (len == 0) {
      out.text.push_back(answer[i++]);
      continue;
    }
    std::string kept;
    for (long n : numbers) {
      const Passage* p = passage(n);
      if (p == nullptr) {
        ++out.invalid;
        continue;
      }
      kept.append(kept.empty() ? "[" : ", ").append(std::to_string(n));
      if (cited.insert(p->n).second) out.citations.push_back(CitationOf(*p));
    }
    if (!kept.empty()) {
      out.text += kept + "]";
    } else {
      while (!out.text.empty() && out.text.back() == ' ') out.text.pop_back();  // "claim [9]." -> "claim."
    }
    i += len;
  }
  std::sort(out.citations.begin(), out.citations.end(), [](const auto& a, const auto& b) { return a.n < b.n; });
  return out;
}

}  // namespace betterdev::chat
