#include "search/question.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace betterdev::search {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool StartsWith(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

// A sentence that opens (with a capital) with an instruction on the answer's form.
bool IsInstruction(std::string_view sentence) {
  size_t at = 0;
  while (at < sentence.size() && !std::isalpha(static_cast<unsigned char>(sentence[at]))) ++at;
  if (at == sentence.size() || !std::isupper(static_cast<unsigned char>(sentence[at]))) return false;
  const std::string s = Lower(sentence.substr(at));
  for (std::string_view verb : {"please ", "round ", "answer ", "express ", "respond ", "format ", "cite "}) {
    if (StartsWith(s, verb)) return true;
  }
  for (std::string_view phrase : {"list this", "list them", "list it ", "list each", "give your answer",
                                  "provide your answer", "show your work", "be concise", "be brief", "keep it "}) {
    if (StartsWith(s, phrase)) return true;
  }
  return false;
}

// The word of `s` starting at `at` (letters), lower-cased; `at` moves past it and the spaces
// after it.
std::string NextWord(const std::string& s, size_t& at) {
  std::string word;
  while (at < s.size() && std::isalpha(static_cast<unsigned char>(s[at]))) {
    word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(s[at]))));
    ++at;
  }
  while (at < s.size() && std::isspace(static_cast<unsigned char>(s[at]))) ++at;
  return word;
}

// Where a clause "round(ed) [your|the answer(s)] to {the nearest X | X decimal place(s) | X
// significant digits/figures}" starting at `at` ends (after a closing parenthesis), or npos.
size_t RoundingClauseEnd(const std::string& s, size_t at) {
  std::string w = NextWord(s, at);
  if (w != "round" && w != "rounded") return std::string::npos;
  w = NextWord(s, at);
  if (w == "your" || w == "the") {
    const std::string answer = NextWord(s, at);
    if (answer != "answer" && answer != "answers") return std::string::npos;
    w = NextWord(s, at);
  }
  if (w != "to") return std::string::npos;
  size_t end = at;
  if (NextWord(s, at) == "the") {
    if (NextWord(s, at) != "nearest") return std::string::npos;
    // "tenth", "$1,000", "0.1": up to a space, ')', ';', '?', or ',' / '.' not before a digit.
    auto ends = [&](size_t k) {
      const char c = s[k];
      if (std::isspace(static_cast<unsigned char>(c)) || c == ')' || c == ';' || c == '?' || c == '!') return true;
      return (c == ',' || c == '.') && !(k + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[k + 1])));
    };
    while (at < s.size() && !ends(at)) ++at;
    end = at;
  } else {
    at = end;  // back to the count: "two", "2"
    while (at < s.size() && std::isalnum(static_cast<unsigned char>(s[at]))) ++at;
    while (at < s.size() && std::isspace(static_cast<unsigned char>(s[at]))) ++at;
    const std::string unit = NextWord(s, at);
    if (unit == "decimal") {
      const std::string places = NextWord(s, at);
      if (places != "place" && places != "places") return std::string::npos;
    } else if (unit == "significant") {
      const std::string digits = NextWord(s, at);
      if (digits != "digits" && digits != "figures") return std::string::npos;
    } else {
      return std::string::npos;
    }
    end = at;
    while (end > 0 && std::isspace(static_cast<unsigned char>(s[end - 1]))) --end;
  }
  if (end < s.size() && s[end] == ')') ++end;
  return end;
}

// `s` without its rounding clauses, each with the space and one ',' ';' or '(' before it.
std::string WithoutRounding(const std::string& s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const bool word_start = std::isalpha(static_cast<unsigned char>(s[i])) &&
                            (i == 0 || !std::isalnum(static_cast<unsigned char>(s[i - 1])));
    const size_t end = word_start ? RoundingClauseEnd(s, i) : std::string::npos;
    if (end == std::string::npos) {
      out.push_back(s[i++]);
      continue;
    }
    while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
    if (!out.empty() && (out.back() == ',' || out.back() == ';' || out.back() == '(')) out.pop_back();
    while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
    i = end;
  }
  return out;
}

struct LongForm {
  std::string_view abbreviation;
  std::string_view long_form;
};

// Abbreviations of accounting and finance that filings and reports spell out in their tables.
constexpr LongForm kLongForms[] = {
    {"R&D", "research and development"},
    {"SG&A", "selling, general and administrative"},
    {"G&A", "general and administrative"},
    {"D&A", "depreciation and amortization"},
    {"M&A", "mergers and acquisitions"},
    {"PP&E", "property, plant and equipment"},
    {"P&L", "profit and loss"},
    {"EPS", "earnings per share"},
    {"FX", "foreign exchange"},
    {"COGS", "cost of goods sold"},
    {"capex", "capital expenditures"},
    {"Capex", "capital expenditures"},
    {"CapEx", "capital expenditures"},
    {"FCF", "free cash flow"},
    {"EBIT", "earnings before interest and taxes"},
    {"YoY", "year over year"},
};

// A character that can belong to an abbreviation's word ("R&D", "PP&E").
bool InWord(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '&'; }

}  // namespace

std::string WithLongForms(std::string_view question) {
  std::string out;
  const std::string lower = Lower(question);
  size_t i = 0;
  while (i < question.size()) {
    if (!InWord(question[i])) {
      out.push_back(question[i++]);
      continue;
    }
    size_t end = i;
    while (end < question.size() && InWord(question[end])) ++end;
    const std::string_view word = question.substr(i, end - i);
    out.append(word);
    for (const LongForm& f : kLongForms) {
      if (word != f.abbreviation) continue;
      // Already spelt out before or after it ("research and development (R&D)")?
      const std::string long_form = Lower(f.long_form);
      if (lower.find(long_form) == std::string::npos) out.append(" (").append(f.long_form).append(")");
      break;
    }
    i = end;
  }
  return out;
}

std::string SearchableQuestion(std::string_view question) {
  // Sentences end at '.', '?' or '!' before a space or the end ("10-Q", "$1.5" stay whole), not
  // at an initial's period ("U.S. sales").
  std::vector<std::string_view> sentences;
  size_t start = 0;
  for (size_t i = 0; i < question.size(); ++i) {
    const char c = question[i];
    if (c != '.' && c != '?' && c != '!') continue;
    if (i + 1 < question.size() && !std::isspace(static_cast<unsigned char>(question[i + 1]))) continue;
    const bool initial = c == '.' && i > 0 && std::isalpha(static_cast<unsigned char>(question[i - 1])) &&
                         (i == 1 || !std::isalnum(static_cast<unsigned char>(question[i - 2])));
    if (initial) continue;
    sentences.push_back(question.substr(start, i + 1 - start));
    start = i + 1;
  }
  if (start < question.size()) sentences.push_back(question.substr(start));
  // Instructions are left out only beside a question: a request made as an instruction
  // ("Please give the total net sales.") is what to search.
  bool asks = false;
  for (std::string_view s : sentences) {
    const size_t end = s.find_last_not_of(" \t\r\n");
    asks = asks || (!IsInstruction(s) && end != std::string_view::npos && s[end] == '?');
  }
  std::string kept;
  for (std::string_view s : sentences) {
    if (!asks || !IsInstruction(s)) kept.append(s);
  }
  const std::string out = WithoutRounding(kept);
  if (std::none_of(out.begin(), out.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); })) {
    return std::string(question);
  }
  const size_t first = out.find_first_not_of(" \t\r\n");
  const size_t last = out.find_last_not_of(" \t\r\n");
  return out.substr(first, last - first + 1);
}

}  // namespace betterdev::search
