// `betterdev eval --beir DIR`: retrieval quality on a BEIR dataset through the product's own
// chunking, embedding and indexing code (a benchmark command, not a test).
//
// The corpus goes into a throw-away SQLite store (one document per corpus entry: its title as
// the first paragraph, then its text; chunked with the configured size/overlap); every chunk
// is embedded with the local embedder into an exact vector index. Each query of the split runs
// in three modes (keyword: BM25 as the product ranks it; vector; hybrid: the two fused, by normalised scores or
// reciprocal ranks), a document scoring as its best chunk. Printed: nDCG@10 (linear gains, as BEIR's
// pytrec_eval) and recall@100 per mode, with timings.
#include "app/eval.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>

#include "chunk/chunker.hpp"
#include "embed/embedder.hpp"
#include "index/feedback.hpp"
#include "index/fusion.hpp"
#include "index/keyword_index.hpp"
#include "index/tokenizer.hpp"
#include "index/vector_index.hpp"
#include "search/search_service.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace betterdev::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Qrels = std::map<std::string, std::map<std::string, int>>;  // query -> document -> relevance

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

Result<Qrels> ReadQrels(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read " + path.string());
  Qrels qrels;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string query, doc;
    int rel = 0;
    if (fields >> query >> doc >> rel) qrels[query][doc] = rel;
  }
  return qrels;
}

// Ranks documents by their best chunk; at most `k` documents.
std::vector<std::string> DocumentsOf(const std::vector<index::Ranked>& chunks,
                                     const std::unordered_map<int64_t, std::string>& doc_of_chunk, size_t k) {
  std::vector<std::string> docs;
  std::set<std::string> seen;
  for (const index::Ranked& c : chunks) {
    auto it = doc_of_chunk.find(c.key);
    if (it == doc_of_chunk.end() || !seen.insert(it->second).second) continue;
    docs.push_back(it->second);
    if (docs.size() == k) break;
  }
  return docs;
}

double NdcgAt10(const std::vector<std::string>& ranked, const std::map<std::string, int>& relevant) {
  double dcg = 0;
  for (size_t i = 0; i < std::min<size_t>(10, ranked.size()); ++i) {
    auto it = relevant.find(ranked[i]);
    if (it != relevant.end() && it->second > 0) dcg += it->second / std::log2(static_cast<double>(i) + 2);
  }
  std::vector<int> gains;
  for (const auto& [doc, rel] : relevant) {
    if (rel > 0) gains.push_back(rel);
  }
  std::sort(gains.rbegin(), gains.rend());
  double ideal = 0;
  for (size_t i = 0; i < std::min<size_t>(10, gains.size()); ++i) ideal += gains[i] / std::log2(static_cast<double>(i) + 2);
  return ideal > 0 ? dcg / ideal : 0;
}

double RecallAt100(const std::vector<std::string>& ranked, const std::map<std::string, int>& relevant) {
  int total = 0, found = 0;
  std::set<std::string> top(ranked.begin(), ranked.begin() + static_cast<ptrdiff_t>(std::min<size_t>(100, ranked.size())));
  for (const auto& [doc, rel] : relevant) {
    if (rel <= 0) continue;
    ++total;
    found += top.count(doc) != 0 ? 1 : 0;
  }
  return total > 0 ? static_cast<double>(found) / total : 0;
}

struct Corpus {
  std::unordered_map<int64_t, std::string> doc_of_chunk;  // chunk key -> corpus id
  std::unordered_map<int64_t, std::vector<float>> vector_of;  // chunk key -> its vector (for feedback)
  std::unordered_map<int64_t, index::Terms> terms_of;         // chunk key -> its terms (for feedback)
  std::unordered_map<std::string, std::string> corpus_id_of;  // document id -> corpus id
  size_t documents = 0;
  size_t chunks = 0;
  double bytes = 0;
};

Status Ingest(const fs::path& corpus_path, const chunk::ChunkOptions& chunking, store::Store& store,
              const std::string& user_id, embed::Embedder& embedder, index::VectorIndex& vectors,
              const index::Tokenizer& tokenizer, index::KeywordIndex& keywords, Corpus& corpus,
              bool title_context, bool store_vectors, double& embed_seconds) {
  std::ifstream in(corpus_path);
  if (!in) return Status::NotFound("cannot read " + corpus_path.string());
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) return Status::InvalidArgument("not a JSON line in corpus.jsonl: " + line.substr(0, 80));
    const std::string id = j.value("_id", "");
    const std::string title = j.value("title", "");
    std::string text = j.value("text", "");
    // The title: a heading every chunk carries (its context), like a table's header row.
    if (!title_context && !title.empty()) text = title + "\n\n" + text;
    chunk::DocumentText doc_text;
    doc_text.AddPage(1, text);
    std::vector<chunk::Chunk> chunks = chunk::ChunkText(doc_text, chunking);
    if (chunks.empty()) continue;
    store::Document d;
    d.id = user_id + "_doc_" + std::to_string(corpus.documents);
    d.user_id = user_id;
    d.filename = "";  // (no title words beyond the corpus's own: the id is not one)
    corpus.corpus_id_of[d.id] = id;
    d.content_type = "text/plain";
    d.sha256 = d.id;
    d.status = store::DocumentStatus::kQueued;
    d.job_id = "job_" + std::to_string(corpus.documents);
    BD_RETURN_IF_ERROR(store.documents().Create(d));
    std::vector<store::StoredChunk> stored;
    std::vector<std::string> texts;
    for (chunk::Chunk& c : chunks) {
      if (title_context && !title.empty()) c.context = c.context.empty() ? title : title + "\n" + c.context;
      texts.push_back(c.context.empty() ? c.text : c.context + "\n" + c.text);
      stored.push_back({d.id, c.ordinal, c.page_start, c.page_end, c.char_start, c.char_end, std::move(c.text),
                        std::move(c.context), 0});
    }
    BD_RETURN_IF_ERROR(store.documents().CompleteWithChunks(d.id, d.job_id, 1, 1, static_cast<int64_t>(text.size()),
                                                            stored, {}, 0));
    Result<store::Page<store::StoredChunk>> keyed = store.documents().ListChunks(user_id, d.id, {1000, std::nullopt});
    if (!keyed.ok()) return keyed.status();
    const auto t0 = Clock::now();
    Result<embed::Embeddings> e = embedder.Embed(texts);
    if (!e.ok()) return e.status();
    embed_seconds += Seconds(t0);
    if (store_vectors) {
      std::vector<int64_t> keys;
      std::vector<std::vector<float>> rows;
      for (size_t i = 0; i < keyed->items.size(); ++i) {
        keys.push_back(keyed->items[i].key);
        rows.emplace_back(e->Row(i).begin(), e->Row(i).end());
      }
      BD_RETURN_IF_ERROR(store.search().PutVectors({embedder.model().id, embedder.model().dimension}, keys, rows));
    }
    for (size_t i = 0; i < keyed->items.size(); ++i) {
      BD_RETURN_IF_ERROR(vectors.Add(keyed->items[i].key, e->Row(i)));
      index::Terms words = tokenizer.Document(keyed->items[i].text);
      index::Terms context = tokenizer.Document(keyed->items[i].context);
      keywords.Add(keyed->items[i].key, words, context);
      words.terms.insert(words.terms.end(), context.terms.begin(), context.terms.end());
      corpus.terms_of[keyed->items[i].key] = std::move(words);
      corpus.doc_of_chunk[keyed->items[i].key] = id;
      corpus.vector_of[keyed->items[i].key].assign(e->Row(i).begin(), e->Row(i).end());
    }
    corpus.documents++;
    corpus.chunks += chunks.size();
    corpus.bytes += static_cast<double>(text.size());
  }
  return Status::Ok();
}

// The same queries through the search service (the product's path: its retriever, fusion and
// checks), k 100 documents per query in each mode.
Status ServiceEval(const EvalOptions& options, const Config& config, store::Store& store, embed::Embedder& embedder,
                   const std::string& user_id, const std::vector<std::pair<std::string, std::string>>& queries,
                   const Qrels& qrels, const Corpus& corpus) {
  BD_RETURN_IF_ERROR(store.search().SetActiveModel({embedder.model().id, embedder.model().dimension}, 0));
  SearchConfig sc = EvalSearchConfig(options, config);
  sc.vector_store = options.service;
  sc.vector_encoding = options.vector_encoding;
  sc.follow_ms = 0;
  search::SearchService service(store, embedder, sc);
  BD_RETURN_IF_ERROR(service.Preload());
  service.WaitForBackgroundWork();  // (pgvector: the HNSW index built)
  const search::Mode kModes[] = {search::Mode::kKeyword, search::Mode::kVector, search::Mode::kHybrid};
  std::printf("\nthrough the search service, retriever %s (k 100 documents%s):\n\n", std::string(service.retriever()).c_str(),
              options.service == "pgvector" ? (", hnsw.ef_search " + std::to_string(sc.ef_search)).c_str() : "");
  std::printf("| mode | nDCG@10 | recall@100 | ms/query |\n|---|---|---|---|\n");
  for (search::Mode mode : kModes) {
    double ndcg = 0, recall = 0, seconds = 0;
    for (const auto& [qid, text] : queries) {
      const auto t0 = Clock::now();
      Result<std::vector<search::Hit>> hits = service.Search({user_id, text, {}, 100, mode, true});
      seconds += Seconds(t0);
      if (!hits.ok()) return hits.status();
      std::vector<std::string> docs;
      for (const search::Hit& h : *hits) docs.push_back(corpus.corpus_id_of.at(h.chunk.document_id));
      ndcg += NdcgAt10(docs, qrels.at(qid));
      recall += RecallAt100(docs, qrels.at(qid));
    }
    const double n = static_cast<double>(queries.size());
    std::printf("| %s | %.4f | %.4f | %.2f |\n", std::string(search::ModeName(mode)).c_str(), ndcg / n, recall / n,
                seconds * 1000 / n);
  }
  return Status::Ok();
}

}  // namespace

SearchConfig EvalSearchConfig(const EvalOptions& options, const Config& config) {
  SearchConfig sc = config.search;
  sc.keyword_weight = options.keyword_weight;
  sc.vector_weight = options.vector_weight;
  sc.hybrid_expansion = options.expansion_terms;
  sc.hybrid_feedback = options.feedback;
  if (options.rescore_depth >= 0) sc.rescore_depth = options.rescore_depth;
  if (options.rescore_weights.size() == 2) {
    sc.rescore_proximity = options.rescore_weights[0];
    sc.rescore_figures = options.rescore_weights[1];
  }
  return sc;
}

int RunEval(const EvalOptions& options_in, const Config& config) {
  if (!options_in.qa_dir.empty()) {
    EvalOptions qa = options_in;
    if (qa.split.empty()) qa.split = "all";
    return RunQaEval(qa, config);
  }
  if (options_in.beir_dir.empty()) {
    std::cerr << "error: give --beir DIR or --qa DIR\n";
    return 2;
  }
  EvalOptions options = options_in;
  if (options.split.empty()) options.split = "test";
  const fs::path dir = options.beir_dir;
  Result<Qrels> qrels = ReadQrels(dir / "qrels" / (options.split + ".tsv"));
  if (!qrels.ok()) {
    std::cerr << "error: " << qrels.status().message() << "\n";
    return 2;
  }
  char tmpl[] = "/tmp/betterdev-eval-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    std::cerr << "error: cannot make a temporary directory\n";
    return 1;
  }
  const fs::path work = tmpl;
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{work};

  auto store = options.service == "pgvector" ? store::OpenPostgresStore({options.database_url})
                                              : store::OpenSqliteStore({(work / "eval.db").string()});
  if (!store.ok()) {
    std::cerr << "error: " << store.status().message() << "\n";
    return 1;
  }
  const std::string user_id = "eval-" + std::to_string(::getpid()) + "-" + std::to_string(std::time(nullptr));
  if (Status s = (*store)->users().Create({user_id, "eval@example.com", "-", 0}); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  std::unique_ptr<embed::Embedder> embedder = embed::NewLocalEmbedder(options.dimension);
  std::unique_ptr<index::VectorIndex> vectors = index::NewExactIndex(
      options.dimension, index::ParseEncoding(options.vector_encoding).value_or(index::VectorEncoding::kInt8));
  Result<std::unique_ptr<index::Tokenizer>> tokenizer = index::Tokenizer::Open();
  if (!tokenizer.ok()) {
    std::cerr << "error: " << tokenizer.status().message() << "\n";
    return 1;
  }
  index::KeywordIndex keywords;
  chunk::ChunkOptions chunking{static_cast<size_t>(config.ingest.chunk_size),
                               static_cast<size_t>(config.ingest.chunk_overlap)};
  Corpus corpus;
  double embed_seconds = 0;
  const auto t_ingest = Clock::now();
  if (Status s = Ingest(dir / "corpus.jsonl", chunking, **store, user_id, *embedder, *vectors, **tokenizer, keywords, corpus,
                        options.title_context, !options.service.empty(), embed_seconds);
      !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  const double ingest_seconds = Seconds(t_ingest);

  // The queries that have judgements in this split.
  std::ifstream qin(dir / "queries.jsonl");
  std::vector<std::pair<std::string, std::string>> queries;
  std::string line;
  while (std::getline(qin, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) continue;
    const std::string id = j.value("_id", "");
    if (qrels->count(id) != 0) queries.emplace_back(id, j.value("text", ""));
  }
  if (queries.empty()) {
    std::cerr << "error: no query of queries.jsonl has judgements in qrels/" << options.split << ".tsv\n";
    return 2;
  }

  struct Mode {
    const char* name;
    double ndcg = 0, recall = 0, seconds = 0;
  };
  Mode modes[] = {{"keyword (BM25)"},
                  {"(keyword, its query expanded from its own best chunks)"},
                  {"vector (local embedder, exact)"},
                  {options.fusion == "score" ? "hybrid (normalised score fusion)" : "hybrid (reciprocal rank fusion)"},
                  {"(vector, its query moved toward the keyword leg's best chunks)"}};
  constexpr int kDepth = 1000;  // chunks taken from each leg
  for (const auto& [qid, text] : queries) {
    const std::map<std::string, int>& relevant = qrels->at(qid);
    auto t0 = Clock::now();
    const std::vector<std::string> terms = (*tokenizer)->Query(text);
    const std::vector<index::Ranked> plain = keywords.Search(terms, kDepth);
    modes[0].seconds += Seconds(t0);
    // Hybrid's keyword leg: the query expanded from the first answer's best chunks.
    std::vector<index::Ranked> keyword = plain;
    if (options.expansion_terms > 0) {
      const size_t m = std::min(plain.size(), static_cast<size_t>(index::kFeedbackChunks));
      std::vector<index::Terms> seeds;
      std::vector<double> scores;
      for (size_t i = 0; i < m; ++i) {
        seeds.push_back(corpus.terms_of.at(plain[i].key));
        scores.push_back(plain[i].score);
      }
      keyword = keywords.SearchWeighted(
          keywords.Expand(terms, seeds, scores, options.expansion_terms, options.original_weight), kDepth);
    }
    const double keyword_seconds = Seconds(t0);
    modes[1].seconds += keyword_seconds;
    t0 = Clock::now();
    std::vector<std::string> one{text};
    Result<embed::Embeddings> q = embedder->Embed(one);
    const std::vector<index::Ranked> vector = vectors->Search(q->Row(0), kDepth);
    const double vector_seconds = Seconds(t0);
    modes[2].seconds += vector_seconds;
    // Hybrid as the search service does it: with feedback, the vector leg's query moves toward
    // the keyword leg's best chunks (index/feedback.hpp) before it searches.
    t0 = Clock::now();
    std::vector<index::Ranked> seeded = vector;
    if (options.feedback > 0) {
      const size_t m = std::min(plain.size(), static_cast<size_t>(options.feedback));
      std::vector<float> seeds;
      std::vector<double> scores;
      for (size_t i = 0; i < m; ++i) {
        const std::vector<float>& v = corpus.vector_of.at(plain[i].key);
        seeds.insert(seeds.end(), v.begin(), v.end());
        scores.push_back(plain[i].score);
      }
      seeded = vectors->Search(index::MoveQueryToward(q->Row(0), seeds, scores), kDepth);
    }
    const std::vector<index::Ranked> hybrid =
        options.fusion == "score"
            ? index::NormalizedScoreFusion({keyword, seeded}, {options.keyword_weight, options.vector_weight})
            : index::ReciprocalRankFusion({keyword, seeded}, {options.keyword_weight, options.vector_weight},
                                          options.rrf_k);
    const double hybrid_seconds = keyword_seconds + vector_seconds + Seconds(t0);
    modes[3].seconds += hybrid_seconds;
    modes[4].seconds += hybrid_seconds - keyword_seconds;
    const std::vector<index::Ranked>* lists[] = {&plain, &keyword, &vector, &hybrid, &seeded};
    for (int m = 0; m < 5; ++m) {
      const std::vector<std::string> docs = DocumentsOf(*lists[m], corpus.doc_of_chunk, 100);
      modes[m].ndcg += NdcgAt10(docs, relevant);
      modes[m].recall += RecallAt100(docs, relevant);
    }
  }
  const double n = static_cast<double>(queries.size());
  std::printf("BEIR %s, split %s: %zu documents -> %zu chunks (%zu/%zu characters), %zu queries\n",
              dir.filename().string().c_str(), options.split.c_str(), corpus.documents, corpus.chunks,
              chunking.size, chunking.overlap, queries.size());
  std::printf("ingest (chunk + store + keyword index + embed): %.1f s; local embedder: %.1f MB/s\n\n", ingest_seconds,
              corpus.bytes / 1e6 / std::max(embed_seconds, 1e-9));
  std::printf("| mode | nDCG@10 | recall@100 | ms/query |\n|---|---|---|---|\n");
  for (const Mode& m : modes) {
    if (&m == &modes[4] && options.feedback == 0) continue;
    if (&m == &modes[1] && options.expansion_terms == 0) continue;
    std::printf("| %s | %.4f | %.4f | %.2f |\n", m.name, m.ndcg / n, m.recall / n, m.seconds * 1000 / n);
  }
  if (!options.service.empty()) {
    if (Status st = ServiceEval(options, config, **store, *embedder, user_id, queries, *qrels, corpus); !st.ok()) {
      std::cerr << "error: " << st.message() << "\n";
      return 1;
    }
  }
  std::printf("\nhybrid: %s fusion, keyword weight %.2f, vector weight %.2f%s, feedback from %d chunks, "
              "%d expansion terms (query weight %.2f); vectors: %s, %d dimensions, %s\n",
              options.fusion.c_str(), options.keyword_weight, options.vector_weight,
              options.fusion == "rrf" ? (", k " + std::to_string(static_cast<int>(options.rrf_k))).c_str() : "",
              options.feedback, options.expansion_terms, options.original_weight, embedder->model().id.c_str(),
              options.dimension, options.vector_encoding.c_str());
  return 0;
}

}  // namespace betterdev::app
