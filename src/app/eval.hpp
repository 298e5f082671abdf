// `betterdev eval`: retrieval quality on a BEIR-format dataset (see eval.cpp).
#pragma once

#include <string>
#include <vector>

#include "core/config.hpp"

namespace betterdev::app {

struct EvalOptions {
  std::string beir_dir;          // holds corpus.jsonl, queries.jsonl, qrels/<split>.tsv
  std::string qa_dir;            // holds docs/*.pdf and qna_data.csv (eval_qa.cpp)
  std::string split;             // BEIR: the qrels file (default test); QA: all (default), dev, test
  int limit = 0;                 // QA: at most this many questions (0: all)
  bool explain = false;          // QA: per question, what hybrid search found, on stderr
  int dimension = 1024;          // of the local embedder
  // Hybrid: the legs' weights and the feedback, chosen on NFCorpus's dev split (docs/benchmarks.md).
  double keyword_weight = 1.0;
  double vector_weight = 0.2;
  int feedback = 0;              // keyword hits the hybrid vector query moves toward (0: off)
  int expansion_terms = 10;      // terms the hybrid keyword query gains from its best hits (0: off)
  double original_weight = 0.3;  // the query's own terms' share of the expanded query
  // Hybrid's second stage (through the search service): depth and the weights of proximity
  // and figures (SearchConfig::rescore_*); -1 / empty: the server's.
  int rescore_depth = -1;
  std::vector<double> rescore_weights;
  double rrf_k = 60;
  std::string fusion = "score";  // "score" (normalised score fusion) or "rrf"
  bool title_context = true;     // each chunk carries the document's title as its context
  std::string vector_encoding = "int8";  // of the vectors searched ("int8" or "float32", as the server's)
  // BEIR: also run every query through the product's search service (k 100 documents, each
  // mode) with this retriever: "local" (over a SQLite store) or "pgvector" (over the
  // PostgreSQL at database_url, which gets a user and documents of its own). Empty: not.
  std::string service;
  std::string database_url;
};

// Prints a Markdown table; returns the exit code (2 for unusable input). With qa_dir set, runs
// RunQaEval instead.
int RunEval(const EvalOptions& options, const Config& config);
int RunQaEval(const EvalOptions& options, const Config& config);
// The search settings of `config` with the eval's hybrid options over them.
SearchConfig EvalSearchConfig(const EvalOptions& options, const Config& config);

}  // namespace betterdev::app
