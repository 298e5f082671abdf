// `betterdev eval`: retrieval quality on a BEIR-format dataset (see eval.cpp).
#pragma once

#include <string>

#include "core/config.hpp"

namespace betterdev::app {

struct EvalOptions {
  std::string beir_dir;          // holds corpus.jsonl, queries.jsonl, qrels/<split>.tsv
  std::string split = "test";
  int dimension = 384;           // of the local embedder
  double keyword_weight = 1.0;   // hybrid: reciprocal rank fusion weights
  double vector_weight = 1.0;
  double rrf_k = 60;
};

// Prints a Markdown table; returns the exit code (2 for unusable input).
int RunEval(const EvalOptions& options, const Config& config);

}  // namespace betterdev::app
