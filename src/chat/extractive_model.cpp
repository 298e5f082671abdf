// The offline answer model: the sentences of the retrieved passages that best answer the
// question, quoted in reading order, each followed by the [n] of its passage.
//
// Scoring a sentence (or table row, or line): the share of the question's weighted terms it
// holds (stems from the keyword index's own tokenizer, weighted by rarity among the candidate
// sentences), plus a little of the local embedder's cosine (spelling-level similarity), plus a
// little for the passage's retrieval rank. Sentences holding none of the question's terms and
// little similarity are not relevant; when none is, the answer says so.
#include "chat/extractive_model.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>

#include "chat/tokens.hpp"

namespace betterdev::chat {
namespace {

constexpr size_t kMaxSentences = 4;
constexpr size_t kMaxAnswerChars = 900;
constexpr size_t kMaxUnitChars = 600;  // a "sentence" longer than this is cut (a run-on extraction)
constexpr double kMinCosineAlone = 0.35;  // relevant without a shared term only when this similar

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && IsSpace(s[b])) ++b;
  while (e > b && IsSpace(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

// Words before a period that do not end a sentence.
bool IsAbbreviation(std::string_view before) {
  size_t start = before.size();
  while (start > 0 && !IsSpace(before[start - 1]) && before[start - 1] != '(') --start;
  std::string word(before.substr(start));
  for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::set<std::string> kAbbrev = {"mr", "mrs", "ms", "dr", "prof", "inc", "ltd", "co", "corp", "no",
                                                "vs", "etc", "e.g", "i.e", "fig", "al", "st", "jan", "feb", "mar",
                                                "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s"};
  if (kAbbrev.count(word)) return true;
  return word.size() == 1 && std::isalpha(static_cast<unsigned char>(word[0]));  // an initial: "J. Smith"
}

// "[12]" in a quoted source would read as a citation: it becomes "(12)".
std::string NeutraliseMarkers(std::string s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '[') continue;
    size_t j = i + 1;
    while (j < s.size() && (IsDigit(s[j]) || s[j] == ',' || s[j] == ' ' || s[j] == '-')) ++j;
    if (j < s.size() && s[j] == ']' && j > i + 1) {
      s[i] = '(';
      s[j] = ')';
    }
  }
  return s;
}

// A line of a table as PDF text gives it ("Total net sales $ 82,959 $ 81,434"): cells joined by
// " | " (office formats), or at least two numbers and no more words than twice the numbers.
bool IsTableLine(std::string_view line) {
  if (line.find(" | ") != std::string_view::npos) return true;
  int numbers = 0, words = 0;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    const size_t start = i;
    bool digit = false, alpha = false;
    while (i < line.size() && !IsSpace(line[i])) {
      digit = digit || IsDigit(line[i]);
      alpha = alpha || std::isalpha(static_cast<unsigned char>(line[i]));
      ++i;
    }
    if (i == start) break;
    if (digit) ++numbers;
    else if (alpha) ++words;
  }
  return numbers >= 2 && words <= 2 * numbers;
}

// A chunk's first unit may be the tail of a sentence the overlap carried over ("accidents,
// determine the ..."), its last the head of one the cut split; neither reads as a sentence.
// Table rows and list items are whole whatever their punctuation.
bool IsFragment(const std::string& unit, bool first, bool last) {
  if (first && last) return false;  // the whole passage
  if (IsTableLine(unit) || unit.rfind("- ", 0) == 0 || unit.rfind("* ", 0) == 0) return false;
  const auto c0 = static_cast<unsigned char>(unit.front());
  if (first && std::islower(c0)) return true;
  if (last) {
    size_t e = unit.size();
    while (e > 0 && (unit[e - 1] == '"' || unit[e - 1] == '\'' || unit[e - 1] == ')')) --e;
    const char end = e > 0 ? unit[e - 1] : '.';
    if (end != '.' && end != '!' && end != '?' && end != ':' && end != ';') return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> SplitSentences(std::string_view text) {
  std::vector<std::string> out;
  auto emit = [&](std::string_view piece) {
    std::string t = Trim(piece);
    bool meaningful = false;
    for (char c : t) meaningful = meaningful || std::isalnum(static_cast<unsigned char>(c));
    if (!meaningful) return;
    while (t.size() > kMaxUnitChars) {  // a run-on piece: cut at a word end
      size_t cut = t.rfind(' ', kMaxUnitChars);
      if (cut == std::string::npos || cut < kMaxUnitChars / 2) cut = kMaxUnitChars;
      while (cut > 0 && (static_cast<unsigned char>(t[cut]) & 0xC0) == 0x80) --cut;
      out.push_back(Trim(std::string_view(t).substr(0, cut)));
      t = Trim(std::string_view(t).substr(cut));
    }
    if (!t.empty()) out.push_back(std::move(t));
  };
  // Lines first: table rows ("a | b | c") and list items are units of their own; lines that
  // merely wrap prose are joined back.
  std::vector<std::string> blocks;
  std::string current;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    std::string_view line = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    const std::string trimmed = Trim(line);
    const bool row = IsTableLine(trimmed);
    const bool item = !trimmed.empty() && (trimmed[0] == '-' || trimmed[0] == '*' || trimmed.rfind("• ", 0) == 0);
    if (trimmed.empty() || row || item) {
      if (!current.empty()) blocks.push_back(std::move(current));
      current.clear();
      if (!trimmed.empty()) blocks.push_back(trimmed);
    } else {
      if (!current.empty()) current.push_back(' ');
      current += trimmed;
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (!current.empty()) blocks.push_back(std::move(current));

  for (const std::string& b : blocks) {
    size_t from = 0;
    for (size_t i = 0; i < b.size(); ++i) {
      const char c = b[i];
      if (c != '.' && c != '!' && c != '?') continue;
      size_t j = i + 1;
      while (j < b.size() && (b[j] == '"' || b[j] == '\'' || b[j] == ')')) ++j;
      if (j >= b.size() || !IsSpace(b[j])) continue;
      size_t k = j;
      while (k < b.size() && IsSpace(b[k])) ++k;
      if (k >= b.size()) continue;
      const char next = b[k];
      if (!(IsUpper(next) || IsDigit(next) || next == '"' || next == '(' || next == '[' ||
            (static_cast<unsigned char>(next) & 0x80) != 0))
        continue;
      if (c == '.' && IsAbbreviation(std::string_view(b).substr(from, i - from))) continue;
      if (c == '.' && i > 0 && IsDigit(b[i - 1]) && IsDigit(next)) continue;  // "3. 5" in a list of figures
      emit(std::string_view(b).substr(from, j - from));
      from = k;
    }
    emit(std::string_view(b).substr(from));
  }
  return out;
}

namespace {

struct Unit {
  size_t passage = 0;  // index into the request's passages
  size_t position = 0;  // order within the passage
  std::string text;
  std::set<std::string> terms;
  double score = 0;
};

class ExtractiveGeneration final : public Generation {
 public:
  void Cancel() override {}  // the answer is written before Generate returns
};

class ExtractiveModel final : public ChatModel {
 public:
  ExtractiveModel(std::shared_ptr<const index::Tokenizer> tokenizer, std::shared_ptr<embed::Embedder> embedder)
      : tokenizer_(std::move(tokenizer)), embedder_(std::move(embedder)) {}

  std::string name() const override { return std::string(kExtractiveModelName); }
  bool generative() const override { return false; }

  std::shared_ptr<Generation> Generate(ModelRequest request, std::shared_ptr<ModelListener> listener) override {
    Usage usage;
    usage.estimated = true;
    for (const Passage& p : request.passages) usage.prompt_tokens += EstimateTokens(p.text);
    usage.prompt_tokens += EstimateTokens(request.question);
    std::vector<std::string> sentences = Answer(request);
    if (sentences.empty()) sentences.push_back(std::string(kNotFoundAnswer));
    for (size_t i = 0; i < sentences.size(); ++i) {
      const std::string delta = (i == 0 ? "" : " ") + sentences[i];
      usage.completion_tokens += EstimateTokens(delta);
      listener->OnDelta(delta);
    }
    listener->OnDone(Status::Ok(), usage);
    return std::make_shared<ExtractiveGeneration>();
  }

 private:
  // The answer's sentences, each ending with its citation; empty when nothing is relevant.
  std::vector<std::string> Answer(const ModelRequest& request) const {
    const std::vector<std::string> query = tokenizer_->Query(request.question);
    std::vector<Unit> units;
    std::set<std::string> seen;  // overlapping chunks repeat sentences
    for (size_t p = 0; p < request.passages.size(); ++p) {
      std::vector<std::string> sentences = SplitSentences(request.passages[p].text);
      for (size_t i = 0; i < sentences.size(); ++i) {
        if (IsFragment(sentences[i], i == 0, i + 1 == sentences.size())) continue;
        if (!seen.insert(sentences[i]).second) continue;
        Unit u{p, i, std::move(sentences[i]), {}, 0};
        index::Terms t = tokenizer_->Document(u.text);
        u.terms.insert(t.terms.begin(), t.terms.end());
        units.push_back(std::move(u));
      }
    }
    if (units.empty()) return {};

    // Rarity of each query term among the candidates: a term in every sentence tells nothing.
    std::unordered_map<std::string, double> weight;
    double total_weight = 0;
    for (const std::string& q : query) {
      size_t df = 0;
      for (const Unit& u : units) df += u.terms.count(q);
      const double w = std::log(1.0 + static_cast<double>(units.size() + 1) / static_cast<double>(df + 1));
      weight[q] = w;
      total_weight += w;
    }
    // Spelling-level similarity from the local embedder (question and every unit in one call).
    std::vector<std::string> texts{request.question};
    for (const Unit& u : units) texts.push_back(u.text);
    std::vector<double> cosine(units.size(), 0.0);
    if (embedder_) {
      if (auto e = embedder_->Embed(texts); e.ok()) {
        for (size_t i = 0; i < units.size(); ++i) cosine[i] = embed::Dot(e->Row(0), e->Row(i + 1));
      }
    }
    const double passages = static_cast<double>(request.passages.size());
    std::vector<size_t> relevant;
    for (size_t i = 0; i < units.size(); ++i) {
      Unit& u = units[i];
      double coverage = 0;
      for (const std::string& q : query)
        if (u.terms.count(q)) coverage += weight[q];
      coverage = total_weight > 0 ? coverage / total_weight : 0;
      const double rank = (passages - static_cast<double>(u.passage)) / passages;
      u.score = 0.7 * coverage + 0.3 * std::max(0.0, cosine[i]) + 0.05 * rank;
      if (coverage > 0 || cosine[i] >= kMinCosineAlone) relevant.push_back(i);
    }
    if (relevant.empty()) return {};
    std::sort(relevant.begin(), relevant.end(), [&](size_t a, size_t b) { return units[a].score > units[b].score; });
    const double best = units[relevant.front()].score;
    std::vector<size_t> chosen;
    size_t chars = 0;
    for (size_t i : relevant) {
      if (chosen.size() >= kMaxSentences || units[i].score < 0.6 * best) break;
      if (!chosen.empty() && chars + units[i].text.size() > kMaxAnswerChars) continue;
      chosen.push_back(i);
      chars += units[i].text.size();
    }
    // Reading order: by passage rank, then as written.
    std::sort(chosen.begin(), chosen.end(), [&](size_t a, size_t b) {
      return std::tie(units[a].passage, units[a].position) < std::tie(units[b].passage, units[b].position);
    });
    std::vector<std::string> out;
    for (size_t i : chosen) {
      out.push_back(NeutraliseMarkers(units[i].text) + " [" + std::to_string(request.passages[units[i].passage].n) + "]");
    }
    return out;
  }

  std::shared_ptr<const index::Tokenizer> tokenizer_;
  std::shared_ptr<embed::Embedder> embedder_;
};

}  // namespace

std::shared_ptr<ChatModel> NewExtractiveModel(std::shared_ptr<const index::Tokenizer> tokenizer,
                                              std::shared_ptr<embed::Embedder> embedder) {
  return std::make_shared<ExtractiveModel>(std::move(tokenizer), std::move(embedder));
}

}  // namespace betterdev::chat
