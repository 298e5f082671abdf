// `betterdev eval --qa DIR`: answer quality on question/answer pairs over real documents
// (../shared/data/qa/docugami-sec-10-q: 20 SEC 10-Q filings, 195 analyst questions with reviewed
// answers), through the product's own pipeline: each PDF is read by `betterdev extract` (the
// worker's job process: poppler, OCR where needed, chunking), embedded with the local embedder,
// stored in a throw-away SQLite store, searched by the search service (keyword, vector, hybrid)
// and answered by the chat service with the extractive model.
//
// The reviewed answers are sentences, not spans, so the score is the share of the answer's
// figures ($82,959 million, 17%, 1.25) found in the retrieved chunks' text, searched within the
// question's source documents ("context recall"): at k = 3 and 10 per mode, and in the
// extractive answer itself. Questions whose answer holds no figure are left out of the scores.
#include <fnmatch.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "app/eval.hpp"
#include "chat/chat_service.hpp"
#include "chat/extractive_model.hpp"
#include "ingest/child_process.hpp"
#include "ingest/embedding.hpp"
#include "ingest/job_process.hpp"
#include "search/search_service.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace betterdev::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

struct QaRow {
  std::string question;
  std::string sources;  // a glob over the file names: "*2023 Q3 AAPL*"
  std::string type;     // "Single-Doc Single-Chunk RAG", "Multi-Doc RAG", ...
  std::string chunk_type;
  std::string answer;
};

// RFC 4180 CSV: quoted fields may hold commas, newlines and doubled quotes.
std::vector<std::vector<std::string>> ReadCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  size_t i = text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;  // a byte order mark
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(std::move(field));
      field.clear();
      if (!(row.size() == 1 && row[0].empty())) rows.push_back(std::move(row));
      row.clear();
    } else {
      field.push_back(c);
    }
  }
  if (!field.empty() || !row.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

// Drops source notes: "(SOURCE: 2023 Q3 AAPL.pdf)" and "SOURCE(S): ..." to the end of the line.
std::string WithoutSources(const std::string& in) {
  std::string out;
  size_t i = 0;
  while (i < in.size()) {
    size_t at = in.find("SOURCE", i);
    if (at == std::string::npos) {
      out.append(in, i, std::string::npos);
      break;
    }
    const bool paren = at > 0 && in[at - 1] == '(';
    out.append(in, i, at - i - (paren ? 1 : 0));
    size_t end = paren ? in.find(')', at) : in.find('\n', at);
    i = end == std::string::npos ? in.size() : end + (paren ? 1 : 0);
    out.push_back(' ');
  }
  return out;
}

// The figures of a text, normalised ("$82,959" -> "82959", "17.5%" -> "17.5"): numbers with a
// thousands separator, a decimal point, a currency sign or a percent sign, or of three digits
// or more; four-digit years (1990-2039) and "Q3"-style labels are not figures. Source notes
// ("(SOURCE: 2023 Q3 AAPL.pdf)") are dropped first.
std::set<std::string> Figures(const std::string& text_in) {
  const std::string text = WithoutSources(text_in);
  auto digit = [&](size_t k) { return k < text.size() && std::isdigit(static_cast<unsigned char>(text[k])); };
  std::set<std::string> out;
  for (size_t i = 0; i < text.size();) {
    if (!digit(i)) {
      ++i;
      continue;
    }
    const bool labelled = i > 0 && (std::isalpha(static_cast<unsigned char>(text[i - 1])) || text[i - 1] == '-');  // Q3, 10-Q
    size_t back = i;
    while (back > 0 && text[back - 1] == ' ') --back;
    const bool dollar = back > 0 && text[back - 1] == '$';
    std::string n;
    bool grouped = false, decimal = false;
    size_t j = i;
    while (j < text.size()) {
      if (digit(j)) {
        n.push_back(text[j++]);
      } else if (text[j] == ',' && digit(j + 1)) {
        grouped = true;
        ++j;
      } else if (text[j] == '.' && digit(j + 1) && !decimal) {
        decimal = true;
        n.push_back('.');
        ++j;
      } else {
        break;
      }
    }
    size_t k = j;
    while (k < text.size() && text[k] == ' ') ++k;
    const bool percent = k < text.size() && text[k] == '%';
    i = j;
    if (labelled) continue;
    if (decimal) {  // 1.20 -> 1.2
      while (n.back() == '0') n.pop_back();
      if (n.back() == '.') {
        n.pop_back();
        decimal = false;
      }
    }
    const size_t digits = n.size() - (decimal ? 1 : 0);
    const bool plain = !dollar && !percent && !grouped && !decimal;
    if (plain && digits < 3) continue;
    if (plain && digits == 4 && n >= "1990" && n <= "2039") continue;
    out.insert(n);
  }
  return out;
}

// One line of a chunk for people: its first `n` characters, newlines as " / ".
std::string Head(const std::string& text, size_t n) {
  std::string out = text.substr(0, n);
  for (char& c : out)
    if (c == '\n') c = '/';
  return out;
}

// The share of `figures` that appear among the figures of `text`.
double Found(const std::set<std::string>& figures, const std::set<std::string>& in_text) {
  if (figures.empty()) return 0;
  size_t found = 0;
  for (const std::string& f : figures) found += in_text.count(f);
  return static_cast<double>(found) / static_cast<double>(figures.size());
}

// Reads one PDF as a worker would (`betterdev extract`, the job process), into chunks.
Result<std::vector<chunk::Chunk>> ExtractFile(const fs::path& file, const Config& config, int& pages) {
  std::vector<std::string> argv = {ingest::SelfExe(), "extract", file.string(), "--chunk-size",
                                   std::to_string(config.ingest.chunk_size), "--chunk-overlap",
                                   std::to_string(config.ingest.chunk_overlap)};
  ingest::ChildOptions o;
  o.extra_env = {"OMP_THREAD_LIMIT=1"};
  auto child = ingest::SpawnChild(argv, o);
  if (!child.ok()) return child.status();
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(child->stdout_read, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(child->stdout_read);
  int status = 0;
  ::waitpid(child->pid, &status, 0);
  std::vector<chunk::Chunk> chunks;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    auto m = ingest::DecodeJobMessage(line);
    if (!m) continue;
    if (m->type == ingest::JobMessage::Type::kChunk) chunks.push_back(std::move(m->chunk));
    if (m->type == ingest::JobMessage::Type::kDone) pages = m->pages;
    if (m->type == ingest::JobMessage::Type::kError) return Status::InvalidArgument(file.filename().string() + ": " + m->reason);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Internal(file.filename().string() + ": extract " + ingest::DescribeWaitStatus(status));
  }
  return chunks;
}

// Waits for one answer of the chat service.
class Waiter final : public chat::AnswerListener {
 public:
  void OnRetrieval(const chat::Retrieval&) override {}
  void OnToken(std::string_view) override {}
  void OnDone(const store::Message& answer, const Status& status) override {
    std::lock_guard lock(mu_);
    text_ = answer.content;
    status_ = status;
    done_ = true;
    cv_.notify_all();
  }
  std::string Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    return text_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::string text_;
  Status status_;
};

// For --explain: the question, the answer's figures, the hybrid top 3 (score, page, head,
// figures found) and the rank among the top 100 of the first chunk holding any of them.
void Explain(search::SearchService& search, const std::string& user, const QaRow& row,
             const std::vector<std::string>& scope, const std::set<std::string>& figures) {
  auto hits = search.Search({user, row.question, scope, 100, search::Mode::kHybrid});
  if (!hits.ok()) return;
  std::string wanted;
  for (const std::string& f : figures) wanted += " " + f;
  std::fprintf(stderr, "\nQ [%s] %s\n  figures:%s\n", row.type.c_str(), row.question.c_str(), wanted.c_str());
  int first = 0;
  for (size_t i = 0; i < hits->size(); ++i) {
    const search::Hit& h = (*hits)[i];
    const double found = Found(figures, Figures(h.chunk.section + "\n" + h.chunk.context + "\n" + h.chunk.text));
    if (found > 0 && first == 0) first = static_cast<int>(i) + 1;
    if (i < 3) {
      std::fprintf(stderr, "  %zu. %.3f p%d %.2f [%s] %s\n", i + 1, h.score, h.chunk.page_start, found,
                   Head(h.chunk.context, 60).c_str(), Head(h.chunk.text, 140).c_str());
    }
  }
  std::fprintf(stderr, "  first chunk with a figure: %d\n", first);
}

}  // namespace

int RunQaEval(const EvalOptions& options, const Config& config_in) {
  const fs::path dir = options.qa_dir;
  std::ifstream csv_in(dir / "qna_data.csv", std::ios::binary);
  if (!csv_in) {
    std::cerr << "error: cannot read " << (dir / "qna_data.csv") << "\n";
    return 2;
  }
  std::stringstream csv_text;
  csv_text << csv_in.rdbuf();
  std::vector<std::vector<std::string>> csv = ReadCsv(csv_text.str());
  std::vector<QaRow> rows;
  for (size_t i = 1; i < csv.size(); ++i) {
    if (csv[i].size() < 5) continue;
    rows.push_back({csv[i][0], csv[i][1], csv[i][2], csv[i][3], csv[i][4]});
  }
  // Splits for choosing settings without fitting the report: the first half of the questions in
  // file order ("dev") and the second ("test").
  if (options.split == "dev") rows.resize(rows.size() / 2);
  else if (options.split == "test") rows.erase(rows.begin(), rows.begin() + static_cast<ptrdiff_t>(rows.size() / 2));
  if (options.limit > 0 && rows.size() > static_cast<size_t>(options.limit)) rows.resize(static_cast<size_t>(options.limit));

  char tmpl[] = "/tmp/betterdev-eval-qa-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    std::cerr << "error: cannot make a temporary directory\n";
    return 1;
  }
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{tmpl};
  Config config = config_in;
  auto store = store::OpenSqliteStore({(cleanup.p / "eval.db").string()});
  if (!store.ok()) {
    std::cerr << "error: " << store.status().message() << "\n";
    return 1;
  }
  const std::string user = "eval-user";
  (void)(*store)->users().Create({user, "eval@example.com", "-", 0});
  std::shared_ptr<embed::Embedder> embedder(embed::NewLocalEmbedder(options.dimension));
  const embed::EmbeddingModel& model = embedder->model();

  // Ingest every filing through the worker's job process.
  std::vector<fs::path> pdfs;
  for (const auto& e : fs::directory_iterator(dir / "docs"))
    if (e.path().extension() == ".pdf") pdfs.push_back(e.path());
  std::sort(pdfs.begin(), pdfs.end());
  std::map<std::string, std::string> doc_of_file;  // file name -> document id
  std::map<std::string, std::set<std::string>> figures_of_doc;  // all figures of a document's chunks
  size_t total_chunks = 0, total_pages = 0;
  const auto t_ingest = Clock::now();
  for (size_t i = 0; i < pdfs.size(); ++i) {
    int pages = 0;
    auto chunks = ExtractFile(pdfs[i], config, pages);
    if (!chunks.ok()) {
      std::cerr << "error: " << chunks.status().message() << "\n";
      return 1;
    }
    store::Document d;
    d.id = "doc_" + std::to_string(i);
    d.user_id = user;
    d.filename = pdfs[i].filename().string();
    d.content_type = "application/pdf";
    d.sha256 = d.id;
    d.job_id = "job_" + d.id;
    if (Status s = (*store)->documents().Create(d); !s.ok()) {
      std::cerr << "error: " << s.message() << "\n";
      return 1;
    }
    std::vector<std::string> texts;
    for (const chunk::Chunk& c : *chunks) {
      texts.push_back(ingest::EmbeddingText(c.text, store::TitledContext(d.filename, c.section, c.context)));
    }
    auto vectors = embedder->Embed(texts);
    if (!vectors.ok()) {
      std::cerr << "error: " << vectors.status().message() << "\n";
      return 1;
    }
    std::vector<store::StoredChunk> stored;
    std::set<std::string>& all = figures_of_doc[d.id];
    for (size_t c = 0; c < chunks->size(); ++c) {
      chunk::Chunk& ch = (*chunks)[c];
      for (const std::string& f : Figures(ch.section + "\n" + ch.context + "\n" + ch.text)) all.insert(f);
      store::StoredChunk sc{d.id, ch.ordinal, ch.page_start, ch.page_end, ch.char_start, ch.char_end, ch.text, ch.context};
      sc.section = ch.section;
      sc.vector.assign(vectors->Row(c).begin(), vectors->Row(c).end());
      stored.push_back(std::move(sc));
    }
    if (Status s = (*store)->documents().CompleteWithChunks(d.id, d.job_id, 1, pages, 0, stored, {model.id, model.dimension}, 0);
        !s.ok()) {
      std::cerr << "error: " << s.message() << "\n";
      return 1;
    }
    doc_of_file[d.filename] = d.id;
    total_chunks += stored.size();
    total_pages += static_cast<size_t>(pages);
  }
  const double ingest_seconds = Seconds(t_ingest);

  // The hybrid settings of the command line (their defaults are the server's).
  search::SearchService search(**store, *embedder, EvalSearchConfig(options, config));
  auto tokenizer = index::Tokenizer::Open();
  if (!tokenizer.ok()) {
    std::cerr << "error: " << tokenizer.status().message() << "\n";
    return 1;
  }
  SystemClock clock;
  IdGenerator ids(clock);
  Logger log(stderr, LogLevel::kError);
  chat::ChatService chat(**store, search, chat::NewExtractiveModel(std::move(*tokenizer), embedder), {}, config.chat,
                         clock, ids, log);

  struct Score {
    double at3 = 0, at10 = 0, answer = 0, ceiling = 0, ms = 0;
    int n = 0;
  };
  const search::Mode kModes[] = {search::Mode::kKeyword, search::Mode::kVector, search::Mode::kHybrid};
  std::map<std::string, Score> by_mode;             // mode -> scores over all questions
  std::map<std::string, std::map<std::string, Score>> by_type;  // question type -> mode -> scores
  Score answer_all;
  std::map<std::string, Score> answer_by_type;
  int with_figures = 0;
  double answer_ms = 0;
  for (const QaRow& row : rows) {
    const std::set<std::string> figures = Figures(row.answer);
    if (figures.empty()) continue;
    ++with_figures;
    std::vector<std::string> scope;
    std::set<std::string> reachable;
    for (const auto& [file, id] : doc_of_file) {
      if (fnmatch(row.sources.c_str(), file.c_str(), 0) != 0) continue;
      scope.push_back(id);
      for (const std::string& f : figures_of_doc[id]) reachable.insert(f);
    }
    if (scope.empty()) continue;
    const double ceiling = Found(figures, reachable);
    if (options.explain) Explain(search, user, row, scope, figures);
    for (search::Mode mode : kModes) {
      const auto t0 = Clock::now();
      auto hits = search.Search({user, row.question, scope, 10, mode});
      const double ms = Seconds(t0) * 1000;
      if (!hits.ok()) {
        std::cerr << "error: " << hits.status().message() << "\n";
        return 1;
      }
      std::set<std::string> top3, top10;
      for (size_t i = 0; i < hits->size(); ++i) {
        const store::StoredChunk& hit = (*hits)[i].chunk;
        for (const std::string& f : Figures(hit.section + "\n" + hit.context + "\n" + hit.text)) {
          top10.insert(f);
          if (i < 3) top3.insert(f);
        }
      }
      for (Score* s : {&by_mode[std::string(search::ModeName(mode))], &by_type[row.type][std::string(search::ModeName(mode))]}) {
        s->at3 += Found(figures, top3);
        s->at10 += Found(figures, top10);
        s->ceiling += ceiling;
        s->ms += ms;
        s->n += 1;
      }
    }
    // The extractive answer over the hybrid top 3, scoped the same way.
    const auto t0 = Clock::now();
    auto answer = chat.Prepare({user, "", row.question, false, {}, scope, 3});
    if (!answer.ok()) {
      std::cerr << "error: " << answer.status().message() << "\n";
      return 1;
    }
    auto waiter = std::make_shared<Waiter>();
    (*answer)->Start(waiter);
    const std::string text = waiter->Wait();
    answer_ms += Seconds(t0) * 1000;
    const double share = Found(figures, Figures(text));
    answer_all.answer += share;
    answer_all.n += 1;
    answer_by_type[row.type].answer += share;
    answer_by_type[row.type].n += 1;
  }
  if (with_figures == 0) {
    std::cerr << "error: no question's answer holds a figure\n";
    return 2;
  }
  std::printf("QA %s (%s): %zu filings, %zu pages -> %zu chunks (%d/%d characters); %zu questions, %d with figures\n",
              dir.filename().string().c_str(), options.split.c_str(), pdfs.size(), total_pages, total_chunks,
              config.ingest.chunk_size, config.ingest.chunk_overlap, rows.size(), with_figures);
  std::printf("ingest (extract + chunk + embed + store): %.1f s\n\n", ingest_seconds);
  std::printf("Share of the reviewed answers' figures found, searching each question's source documents:\n\n");
  std::printf("| mode | top 3 | top 10 | ms/query |\n|---|---|---|---|\n");
  double ceiling = 0;
  for (search::Mode mode : kModes) {
    const Score& s = by_mode[std::string(search::ModeName(mode))];
    std::printf("| %s | %.3f | %.3f | %.2f |\n", std::string(search::ModeName(mode)).c_str(), s.at3 / s.n, s.at10 / s.n,
                s.ms / s.n);
    ceiling = s.ceiling / s.n;
  }
  std::printf("| extractive answer (hybrid top 3) | %.3f | | %.2f |\n", answer_all.answer / answer_all.n,
              answer_ms / answer_all.n);
  std::printf("| all chunks of the source documents (ceiling) | %.3f | | |\n\n", ceiling);
  std::printf("By question type (hybrid top 3 / top 10 / extractive answer):\n\n| type | questions | top 3 | top 10 | answer |\n|---|---|---|---|---|\n");
  for (const auto& [type, modes] : by_type) {
    const Score& h = modes.at("hybrid");
    const Score& a = answer_by_type[type];
    std::printf("| %s | %d | %.3f | %.3f | %.3f |\n", type.c_str(), h.n, h.at3 / h.n, h.at10 / h.n, a.answer / a.n);
  }
  return 0;
}

}  // namespace betterdev::app
