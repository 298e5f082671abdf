// Typed configuration, loaded once at start (app/cli.cpp reads flags and BETTERDEV_*
// environment variables into these) and passed to constructors. Defaults are stated here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/log.hpp"

namespace betterdev {

struct HttpConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;            // 0 picks a free port (printed at start)
  int threads = 0;                 // I/O threads; 0 = number of cores
  int blocking_threads = 2;        // pool for slow handlers (password hashing)
  uint64_t max_json_body_bytes = 1 << 20;
  int header_timeout_seconds = 10; // from a request's first byte to the end of its header
  int idle_timeout_seconds = 60;   // keep-alive connection with no request
  int body_timeout_seconds = 60;   // to receive a request body
  int shutdown_timeout_seconds = 10;
  std::vector<std::string> cors_origins;  // empty: CORS off; "*": any origin
  bool access_log = true;
  size_t event_channels_per_user = 32;  // open SSE / WebSocket / Socket.IO event channels per user
  size_t event_channels = 20000;        // ... and in all
};

struct AuthConfig {
  int64_t token_ttl_seconds = 24 * 3600;
  int login_max_failures = 5;          // per account, within login_window_seconds
  int login_ip_max_failures = 20;      // per client address, within login_window_seconds
  int login_window_seconds = 15 * 60;
  int login_lockout_base_seconds = 2;  // doubles with each failure past the maximum
  int login_lockout_max_seconds = 15 * 60;
  uint64_t argon2_memlimit_kib = 64 * 1024;  // argon2id memory cost
  uint64_t argon2_opslimit = 2;              // argon2id passes
};

// Uploads, the job queue, worker processes and the limits each job runs under.
struct IngestConfig {
  int workers = 0;                          // worker processes `serve` supervises; 0 = number of cores
  int worker_nice = 10;                     // workers run this much below the API's CPU priority
  uint64_t max_upload_bytes = 100ull << 20;  // per upload request
  int job_attempts = 3;
  int job_backoff_ms = 2000;          // retry n waits backoff * 2^(n-1)
  int job_timeout_seconds = 600;      // wall clock per attempt
  uint64_t job_memory_mb = 2048;      // address space (or resident memory under sanitizers) per attempt
  int lease_seconds = 30;             // a job whose worker stops renewing returns after this
  int max_pages = 5000;
  int max_image_megapixels = 100;     // larger images (by their header) fail; PDF pages render smaller
  std::string ocr_languages = "eng";  // Tesseract languages, "+"-joined ("eng+deu")
  int ocr_dpi = 300;                  // PDF pages without text are rendered at this resolution for OCR
  int ocr_page_timeout_seconds = 180;  // OCR of one page
  int chunk_size = 500;               // characters
  int chunk_overlap = 100;            // characters
  int poll_ms = 200;                  // idle workers look for jobs this often
  // Job processes run confined (sandbox/). Off only to measure what the confinement costs.
  bool sandbox = true;
};

// Search: embeddings and the indexes.
struct SearchConfig {
  std::string embeddings = "local";  // "local" (offline default) or "openai" (any OpenAI-compatible API)
  std::string openai_base_url = "https://api.openai.com/v1";
  std::string openai_api_key;
  std::string embedding_model = "text-embedding-3-small";  // openai
  int embedding_dimensions = 0;   // 0: local 1024, openai the model's own
  double embedding_price = 0.02;  // openai: USD per 1M tokens, for the cost recorded per document
  // Hybrid, as chosen on NFCorpus's dev split with the offline embedder (docs/benchmarks.md):
  // the keyword leg's query gains `hybrid_expansion` terms from its own best chunks (RM3,
  // index/feedback.hpp; 0: off), then the legs are fused with these weights (normalised score
  // fusion). `hybrid_feedback` > 0 also moves the vector query toward the vectors of that many
  // of the keyword leg's best chunks (Rocchio; with it a vector weight of 1.0 measured best).
  // Expansion is left out when a search names its documents: within a few long documents the
  // best chunks' words drift from the question (SEC 10-Q questions, each asked within its
  // filings: hybrid figure recall@3 0.086 with it, 0.130 without; docs/benchmarks.md).
  double keyword_weight = 1.0;
  double vector_weight = 0.2;
  int hybrid_expansion = 10;
  int hybrid_feedback = 0;
  // Hybrid's second stage (search/rescore.hpp): its best `rescore_depth` candidates (0: none;
  // each leg then answers at least that many) are scored again with their text in hand: the
  // first stage's share of the best, plus these weights times the share of the question's
  // words found close together and (for a question asking for an amount) how much of the
  // chunk is figures. Chosen on the SEC 10-Q questions' development half (hybrid figure
  // recall@3 / @10 0.152 / 0.228 -> 0.290 / 0.489; docs/benchmarks.md).
  int rescore_depth = 100;
  double rescore_proximity = 0.5;
  double rescore_figures = 2.0;
  int exact_below = 20000;        // a user with fewer vectors is searched exactly; HNSW is built above
  int dense_graph_from = 250000;  // graphs of this many vectors get M 32 / ef_search 400, not 16 / 160
  int threads = 2;                // POST /v1/search runs here, apart from logins and uploads
  std::string index_dir;          // users' saved indexes (warm restarts); empty: none saved
  int idle_seconds = 900;         // a user's indexes leave memory after this long without a search
  std::string vector_encoding = "int8";  // vectors in memory and saved graphs: "int8" or "float32"
  int follow_ms = 1000;  // new chunks' owners are brought up to date this often, before they search; 0: never
  // Where search runs: "local" (per-user indexes in each API process, over any store),
  // "pgvector" (inside PostgreSQL: full-text BM25 and pgvector's HNSW) or "pinecone" (vectors
  // in a Pinecone index, keywords as with no setting). Empty: pgvector when a database URL is
  // set, else local (resolved by the app).
  std::string vector_store;
  int ef_search = 100;  // pgvector: hnsw.ef_search, the candidates an HNSW search looks at
  std::string pinecone_api_key;
  std::string pinecone_index_host;  // the index's host ("my-index-abc.svc....pinecone.io") or a URL
  int mirror_retry_ms = 60'000;  // deleted documents' vectors a vector store missed are asked again this often
};

// Chat: answers from the retrieved chunks.
struct ChatConfig {
  std::string llm = "extractive";  // "extractive" (offline default) or "openai" (any OpenAI-compatible API)
  std::string model = "gpt-4o-mini";  // openai
  std::string base_url;            // openai; empty: the embedding provider's (SearchConfig::openai_base_url)
  std::string api_key;             // openai; empty: the embedding provider's key
  int top_k = 3;                   // chunks an answer is built from
  double prompt_price = 0.15;      // USD per 1M prompt tokens (gpt-4o-mini's list price), for the recorded cost
  double completion_price = 0.60;  // USD per 1M completion tokens
  int connect_timeout_ms = 10000;
  int first_token_timeout_ms = 60000;
  int idle_timeout_ms = 30000;     // between two pieces of a streamed answer
  int max_attempts = 3;            // per answer, before its first token
  int history_tokens = 1000;       // budget for the conversation's last turns in a prompt
  int context_tokens = 3000;       // budget for the retrieved chunks in a prompt
  int max_answer_tokens = 1024;
  bool rewrite = true;             // openai: a follow-up is rewritten into a standalone question before retrieval
  int threads = 2;                 // retrieval and bookkeeping of answers (never waiting on a model)
  int max_question_chars = 4000;
};

// Where jobs wait. Without a Redis URL: the embedded SQLite queue in the data directory.
struct QueueConfig {
  std::string redis_url;                // redis://[user:pass@]host:port/db (rediss:// for TLS): BullMQ's layout on Redis
  std::string redis_ca_file;            // rediss://: authorities that sign the server's certificate; empty: the system's
  std::string name = "file-processing"; // the BullMQ queue
  std::string prefix = "bull";          // BullMQ's key prefix
  std::string bullmq_dir;               // the bullmq npm package whose Lua scripts run; empty: the one setup installs
  int max_stalled_count = 1;            // a job whose worker stops renewing this many times more fails (BullMQ's)
};

// Where uploads are kept: files under DATA_DIR/blobs, or S3-compatible object storage.
struct BlobConfig {
  std::string s3_endpoint;               // scheme://host[:port]; empty: local files
  std::string s3_bucket;
  std::string s3_region = "us-east-1";
  std::string s3_access_key;
  std::string s3_secret_key;
  bool s3_force_path_style = false;      // endpoint/bucket/key instead of bucket.host/key
  std::string s3_prefix = "blobs/";      // in front of every object's key
};

struct Config {
  std::string data_dir = "./data";
  std::string database_url;             // postgres://…: the store on PostgreSQL; empty: SQLite in data_dir
  int database_pool_size = 8;           // PostgreSQL connections per process
  QueueConfig queue;
  BlobConfig blob;
  LogLevel log_level = LogLevel::kInfo;
  HttpConfig http;
  AuthConfig auth;
  IngestConfig ingest;
  SearchConfig search;
  ChatConfig chat;
};

}  // namespace betterdev
