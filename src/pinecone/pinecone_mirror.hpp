// The vector leg on Pinecone (store/vector_mirror.hpp) over its data-plane REST API: upsert with
// metadata, query with a metadata filter, delete by filter (or, where an index refuses that, as
// serverless indexes have, ids listed by prefix and deleted by id), describe_index_stats (Ping,
// CheckFits).
//
// Layout in the index: one namespace per user (Pinecone's way of keeping tenants apart: a
// query never reads another user's vectors, whatever the filter says); a vector's id is
// "<document id>#<job id>#<ordinal>#<model>/<dimension>" (a document's versions and a chunk's
// models never overwrite each other; ids share the document's prefix, which Pinecone's
// list-by-prefix can page through); its metadata holds document_id, job_id, ordinal, model and dimension, and every query filters on
// model and dimension (and on document_id with a scope).
//
// Upserts go in batches (at most `batch` vectors and about 2 MB a request). Every call is
// retried with backoff (honouring Retry-After) when Pinecone answers 429 or 5xx, times out or
// cannot be reached; any other 4xx is final at once (asking again gets the same answer).
// Queries fail fast instead (5 s, 2 attempts, no Retry-After): hybrid search then answers from
// keywords rather than keep a search thread waiting.
#pragma once

#include <memory>
#include <string>

#include "httpclient/http_client.hpp"
#include "store/vector_mirror.hpp"

namespace betterdev::pinecone {

struct PineconeOptions {
  // The index's host as Pinecone's console shows it ("my-index-abc123.svc.aped-4627-b74a.pinecone.io",
  // https assumed), or a URL ("http://127.0.0.1:5080" for a local server).
  std::string index_host;
  std::string api_key;
  std::string api_version = "2025-10";  // X-Pinecone-Api-Version
  std::shared_ptr<httpclient::Client> client;
  int batch = 100;          // vectors per upsert
  int max_attempts = 5;     // writes and deletes
  int query_attempts = 2;   // queries: someone is waiting (no Retry-After honoured either)
  int query_timeout_ms = 5000;
  int base_backoff_ms = 250;
  int max_backoff_ms = 8000;
  int connect_timeout_ms = 5000;
  int request_timeout_ms = 30000;
};

// InvalidArgument without a host or a key.
Result<std::unique_ptr<store::VectorMirror>> NewPineconeMirror(PineconeOptions options);

}  // namespace betterdev::pinecone
