#include "app/cli.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <set>

extern char** environ;

namespace betterdev::app {
namespace {

// Registers an option with its environment variable and remembers the variable's name.
template <typename T>
CLI::Option* Opt(CLI::App* app, std::set<std::string>& envs, const std::string& flag, T& value,
                 const std::string& env, const std::string& help) {
  envs.insert(env);
  return app->add_option(flag, value, help)->envname(env)->capture_default_str();
}

void AddDataDir(CLI::App* app, std::set<std::string>& envs, Config& c) {
  Opt(app, envs, "--data-dir", c.data_dir, "BETTERDEV_DATA_DIR", "Directory for the database and files");
  Opt(app, envs, "--database-url", c.database_url, "BETTERDEV_DATABASE_URL",
      "PostgreSQL (with pgvector) for the store: postgres://user:pass@host:port/db?sslmode=…; empty: SQLite in the "
      "data directory");
  Opt(app, envs, "--database-pool-size", c.database_pool_size, "BETTERDEV_DATABASE_POOL_SIZE",
      "PostgreSQL connections per process")
      ->check(CLI::Range(1, 1000));
  envs.insert("BETTERDEV_LOG_LEVEL");
}

void AddServerOptions(CLI::App* app, std::set<std::string>& envs, Config& c, std::string& cors, bool& access_log) {
  HttpConfig& h = c.http;
  AuthConfig& a = c.auth;
  AddDataDir(app, envs, c);
  Opt(app, envs, "--host", h.host, "BETTERDEV_HOST", "IP address to listen on");
  Opt(app, envs, "--port", h.port, "BETTERDEV_PORT", "TCP port (0: any free port)")->check(CLI::Range(0, 65535));
  Opt(app, envs, "--threads", h.threads, "BETTERDEV_THREADS", "I/O threads (0: one per core)")
      ->check(CLI::Range(0, 256));
  Opt(app, envs, "--blocking-threads", h.blocking_threads, "BETTERDEV_BLOCKING_THREADS",
      "Threads for slow handlers such as password hashing")
      ->check(CLI::Range(1, 256));
  Opt(app, envs, "--max-json-body", h.max_json_body_bytes, "BETTERDEV_MAX_JSON_BODY",
      "Largest JSON request body in bytes")
      ->check(CLI::Range(uint64_t{1024}, uint64_t{1} << 30));
  Opt(app, envs, "--header-timeout", h.header_timeout_seconds, "BETTERDEV_HEADER_TIMEOUT",
      "Seconds a client has to send a request header")
      ->check(CLI::Range(1, 3600));
  Opt(app, envs, "--idle-timeout", h.idle_timeout_seconds, "BETTERDEV_IDLE_TIMEOUT",
      "Seconds an idle keep-alive connection stays open")
      ->check(CLI::Range(1, 3600));
  Opt(app, envs, "--body-timeout", h.body_timeout_seconds, "BETTERDEV_BODY_TIMEOUT",
      "Seconds a client has to send a request body (and to read a response)")
      ->check(CLI::Range(1, 86400));
  Opt(app, envs, "--shutdown-timeout", h.shutdown_timeout_seconds, "BETTERDEV_SHUTDOWN_TIMEOUT",
      "Seconds in-flight requests get to finish on SIGTERM/SIGINT")
      ->check(CLI::Range(0, 3600));
  Opt(app, envs, "--cors-origins", cors, "BETTERDEV_CORS_ORIGINS",
      "Comma-separated origins allowed by CORS ('*' for any; empty: CORS off)");
  Opt(app, envs, "--event-channels-per-user", h.event_channels_per_user, "BETTERDEV_EVENT_CHANNELS_PER_USER",
      "Open real-time event channels (SSE, WebSocket, Socket.IO) per user")
      ->check(CLI::Range(size_t{1}, size_t{100000}));
  Opt(app, envs, "--event-channels", h.event_channels, "BETTERDEV_EVENT_CHANNELS",
      "Open real-time event channels in all")
      ->check(CLI::Range(size_t{1}, size_t{1000000}));
  Opt(app, envs, "--access-log", access_log, "BETTERDEV_ACCESS_LOG", "Log one JSON line per request");
  Opt(app, envs, "--token-ttl", a.token_ttl_seconds, "BETTERDEV_TOKEN_TTL", "Access token lifetime in seconds")
      ->check(CLI::Range(int64_t{60}, int64_t{365} * 24 * 3600));
  Opt(app, envs, "--login-max-failures", a.login_max_failures, "BETTERDEV_LOGIN_MAX_FAILURES",
      "Failed logins per account before lockouts start")
      ->check(CLI::Range(1, 1000));
  Opt(app, envs, "--login-ip-max-failures", a.login_ip_max_failures, "BETTERDEV_LOGIN_IP_MAX_FAILURES",
      "Failed logins per client address before lockouts start")
      ->check(CLI::Range(1, 100000));
  Opt(app, envs, "--login-window", a.login_window_seconds, "BETTERDEV_LOGIN_WINDOW",
      "Seconds over which failed logins are counted")
      ->check(CLI::Range(1, 86400));
  Opt(app, envs, "--login-lockout-base", a.login_lockout_base_seconds, "BETTERDEV_LOGIN_LOCKOUT_BASE",
      "First lockout in seconds; doubles with each further failure")
      ->check(CLI::Range(1, 86400));
  Opt(app, envs, "--login-lockout-max", a.login_lockout_max_seconds, "BETTERDEV_LOGIN_LOCKOUT_MAX",
      "Longest lockout in seconds")
      ->check(CLI::Range(1, 7 * 86400));
  Opt(app, envs, "--argon2-memlimit-kib", a.argon2_memlimit_kib, "BETTERDEV_ARGON2_MEMLIMIT_KIB",
      "argon2id memory cost in KiB")
      ->check(CLI::Range(uint64_t{8}, uint64_t{4} * 1024 * 1024));
  Opt(app, envs, "--argon2-opslimit", a.argon2_opslimit, "BETTERDEV_ARGON2_OPSLIMIT", "argon2id passes")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100}));
}

void AddSearchOptions(CLI::App* app, std::set<std::string>& envs, SearchConfig& s) {
  Opt(app, envs, "--embeddings", s.embeddings, "BETTERDEV_EMBEDDINGS",
      "Embedder: local (offline, the default) or openai (any OpenAI-compatible /v1/embeddings)")
      ->check(CLI::IsMember({"local", "openai"}));
  Opt(app, envs, "--embedding-dimensions", s.embedding_dimensions, "BETTERDEV_EMBEDDING_DIMENSIONS",
      "Vector dimensions (local: 1024; openai: the model's own unless set)")
      ->check(CLI::Range(0, 8192));
  Opt(app, envs, "--embedding-model", s.embedding_model, "BETTERDEV_EMBEDDING_MODEL", "openai: the model");
  Opt(app, envs, "--openai-base-url", s.openai_base_url, "BETTERDEV_OPENAI_BASE_URL",
      "openai: base URL ({url}/embeddings is called)");
  Opt(app, envs, "--openai-api-key", s.openai_api_key, "BETTERDEV_OPENAI_API_KEY", "openai: API key");
  Opt(app, envs, "--embedding-price", s.embedding_price, "BETTERDEV_EMBEDDING_PRICE",
      "openai: USD per 1M tokens, for the estimated cost recorded per document")
      ->check(CLI::Range(0.0, 1000.0));
  Opt(app, envs, "--hybrid-keyword-weight", s.keyword_weight, "BETTERDEV_HYBRID_KEYWORD_WEIGHT",
      "Hybrid search: weight of the keyword leg")
      ->check(CLI::Range(0.0, 100.0));
  Opt(app, envs, "--hybrid-vector-weight", s.vector_weight, "BETTERDEV_HYBRID_VECTOR_WEIGHT",
      "Hybrid search: weight of the vector leg")
      ->check(CLI::Range(0.0, 100.0));
  Opt(app, envs, "--hybrid-feedback", s.hybrid_feedback, "BETTERDEV_HYBRID_FEEDBACK",
      "Hybrid search: the vector query moves toward the vectors of this many of the keyword leg's best chunks "
      "(pseudo-relevance feedback; 0: off)")
      ->check(CLI::Range(0, 100));
  Opt(app, envs, "--hybrid-expansion", s.hybrid_expansion, "BETTERDEV_HYBRID_EXPANSION",
      "Hybrid search: the keyword query gains this many terms from its own best chunks "
      "(pseudo-relevance feedback; 0: off)")
      ->check(CLI::Range(0, 100));
  Opt(app, envs, "--hybrid-rescore-depth", s.rescore_depth, "BETTERDEV_HYBRID_RESCORE_DEPTH",
      "Hybrid search: this many of the best candidates are scored again with their text (proximity of the "
      "question's words; figures for a question asking for an amount; 0: off)")
      ->check(CLI::Range(0, 1000));
  Opt(app, envs, "--search-threads", s.threads, "BETTERDEV_SEARCH_THREADS",
      "Threads searches run on (apart from password hashing and uploads)")
      ->check(CLI::Range(1, 64));
  Opt(app, envs, "--exact-search-below", s.exact_below, "BETTERDEV_EXACT_SEARCH_BELOW",
      "A user with fewer vectors is searched exactly; above, an HNSW graph is built in the background")
      ->check(CLI::Range(1, 100000000));
  Opt(app, envs, "--dense-graph-from", s.dense_graph_from, "BETTERDEV_DENSE_GRAPH_FROM",
      "Graphs of this many vectors or more are built with M 32 and searched with ef 400 (recall on large indexes)")
      ->check(CLI::Range(1, 2000000000));
  Opt(app, envs, "--search-idle-seconds", s.idle_seconds, "BETTERDEV_SEARCH_IDLE_SECONDS",
      "A user's search indexes leave memory after this long without a search (saved, reloaded at the next)")
      ->check(CLI::Range(1, 100000000));
  Opt(app, envs, "--vector-encoding", s.vector_encoding, "BETTERDEV_VECTOR_ENCODING",
      "Vectors in memory and in saved graphs: int8 (a quarter of the memory) or float32")
      ->check(CLI::IsMember({"int8", "float32"}));
  Opt(app, envs, "--search-follow-ms", s.follow_ms, "BETTERDEV_SEARCH_FOLLOW_MS",
      "How often the store is checked for new chunks, whose owners' indexes then load or catch up in the "
      "background (0: only when they search)")
      ->check(CLI::Range(0, 3600000));
  Opt(app, envs, "--mirror-retry-ms", s.mirror_retry_ms, "BETTERDEV_MIRROR_RETRY_MS",
      "Pinecone: how often deleted documents' vectors it failed to drop are asked again")
      ->check(CLI::Range(1000, 86400000));
  Opt(app, envs, "--vector-store", s.vector_store, "BETTERDEV_VECTOR_STORE",
      "Where search runs: local (indexes in each API process), pgvector (inside PostgreSQL: full-text BM25 and "
      "pgvector HNSW) or pinecone (vectors in a Pinecone index; keywords in PostgreSQL with --database-url, else "
      "in each API process); default pgvector with --database-url, else local")
      ->check(CLI::IsMember({"local", "pgvector", "pinecone"}));
  Opt(app, envs, "--hnsw-ef-search", s.ef_search, "BETTERDEV_HNSW_EF_SEARCH",
      "pgvector: hnsw.ef_search, the candidates an HNSW search looks at (recall against speed)")
      ->check(CLI::Range(1, 1000));
  Opt(app, envs, "--pinecone-api-key", s.pinecone_api_key, "BETTERDEV_PINECONE_API_KEY", "pinecone: API key");
  Opt(app, envs, "--pinecone-index-host", s.pinecone_index_host, "BETTERDEV_PINECONE_INDEX_HOST",
      "pinecone: the index's host, as Pinecone's console shows it (https assumed), or a URL");
}

void AddChatOptions(CLI::App* app, std::set<std::string>& envs, ChatConfig& c) {
  Opt(app, envs, "--llm", c.llm, "BETTERDEV_LLM",
      "Answer model: extractive (offline, the default) or openai (any OpenAI-compatible /v1/chat/completions)")
      ->check(CLI::IsMember({"extractive", "openai"}));
  Opt(app, envs, "--llm-model", c.model, "BETTERDEV_LLM_MODEL", "openai: the chat model");
  Opt(app, envs, "--llm-base-url", c.base_url, "BETTERDEV_LLM_BASE_URL",
      "openai: base URL ({url}/chat/completions is called; default: --openai-base-url)");
  Opt(app, envs, "--llm-api-key", c.api_key, "BETTERDEV_LLM_API_KEY", "openai: API key (default: --openai-api-key)");
  Opt(app, envs, "--top-k", c.top_k, "BETTERDEV_TOP_K", "Chunks an answer is built from")->check(CLI::Range(1, 20));
  Opt(app, envs, "--llm-prompt-price", c.prompt_price, "BETTERDEV_LLM_PROMPT_PRICE",
      "openai: USD per 1M prompt tokens, for the estimated cost recorded per answer")
      ->check(CLI::Range(0.0, 10000.0));
  Opt(app, envs, "--llm-completion-price", c.completion_price, "BETTERDEV_LLM_COMPLETION_PRICE",
      "openai: USD per 1M completion tokens")
      ->check(CLI::Range(0.0, 10000.0));
  Opt(app, envs, "--llm-connect-timeout-ms", c.connect_timeout_ms, "BETTERDEV_LLM_CONNECT_TIMEOUT_MS",
      "openai: connecting to the provider")
      ->check(CLI::Range(100, 600000));
  Opt(app, envs, "--llm-first-token-timeout-ms", c.first_token_timeout_ms, "BETTERDEV_LLM_FIRST_TOKEN_TIMEOUT_MS",
      "openai: from the request to the first byte of the answer")
      ->check(CLI::Range(100, 3600000));
  Opt(app, envs, "--llm-idle-timeout-ms", c.idle_timeout_ms, "BETTERDEV_LLM_IDLE_TIMEOUT_MS",
      "openai: silence allowed between two pieces of a streamed answer")
      ->check(CLI::Range(100, 3600000));
  Opt(app, envs, "--llm-attempts", c.max_attempts, "BETTERDEV_LLM_ATTEMPTS",
      "openai: tries per answer before its first token (429, 5xx, timeouts)")
      ->check(CLI::Range(1, 10));
  Opt(app, envs, "--history-tokens", c.history_tokens, "BETTERDEV_HISTORY_TOKENS",
      "Budget for the conversation's last turns in a prompt")
      ->check(CLI::Range(0, 1000000));
  Opt(app, envs, "--context-tokens", c.context_tokens, "BETTERDEV_CONTEXT_TOKENS",
      "Budget for the retrieved chunks in a prompt")
      ->check(CLI::Range(100, 1000000));
  Opt(app, envs, "--max-answer-tokens", c.max_answer_tokens, "BETTERDEV_MAX_ANSWER_TOKENS", "openai: longest answer")
      ->check(CLI::Range(16, 1000000));
  Opt(app, envs, "--rewrite-questions", c.rewrite, "BETTERDEV_REWRITE_QUESTIONS",
      "openai: rewrite a follow-up question into a standalone one before retrieval");
  Opt(app, envs, "--chat-threads", c.threads, "BETTERDEV_CHAT_THREADS",
      "Threads for retrieval and bookkeeping of answers (never waiting on a model)")
      ->check(CLI::Range(1, 64));
}

void AddQueueOptions(CLI::App* app, std::set<std::string>& envs, QueueConfig& q) {
  Opt(app, envs, "--redis-url", q.redis_url, "BETTERDEV_REDIS_URL",
      "Redis for jobs and events, in BullMQ's layout (redis://[user:pass@]host:port/db, rediss:// for TLS); empty: the embedded queue");
  Opt(app, envs, "--redis-ca-file", q.redis_ca_file, "BETTERDEV_REDIS_CA_FILE",
      "rediss://: PEM file of the authorities that sign the server's certificate (empty: the system's)");
  Opt(app, envs, "--queue", q.name, "BETTERDEV_QUEUE", "The BullMQ queue's name (with --redis-url)");
  Opt(app, envs, "--queue-prefix", q.prefix, "BETTERDEV_QUEUE_PREFIX", "BullMQ's key prefix (with --redis-url)");
  Opt(app, envs, "--bullmq-dir", q.bullmq_dir, "BETTERDEV_BULLMQ_DIR",
      "The bullmq npm package whose Lua scripts the Redis queue runs (empty: the one scripts/setup.sh installs)");
  Opt(app, envs, "--max-stalled-count", q.max_stalled_count, "BETTERDEV_MAX_STALLED_COUNT",
      "Times a job may lose its worker (killed, stalled) before it fails (Redis queue)")
      ->check(CLI::Range(0, 1000));
}

void AddBlobOptions(CLI::App* app, std::set<std::string>& envs, BlobConfig& b) {
  Opt(app, envs, "--s3-endpoint", b.s3_endpoint, "BETTERDEV_S3_ENDPOINT",
      "S3-compatible object storage for uploads (scheme://host[:port]); empty: files under the data directory");
  Opt(app, envs, "--s3-bucket", b.s3_bucket, "BETTERDEV_S3_BUCKET", "S3: the bucket");
  Opt(app, envs, "--s3-region", b.s3_region, "BETTERDEV_S3_REGION", "S3: the region requests are signed for");
  Opt(app, envs, "--s3-access-key", b.s3_access_key, "BETTERDEV_S3_ACCESS_KEY", "S3: access key id");
  Opt(app, envs, "--s3-secret-key", b.s3_secret_key, "BETTERDEV_S3_SECRET_KEY",
      "S3: secret access key (better in the environment than on a command line)");
  Opt(app, envs, "--s3-force-path-style", b.s3_force_path_style, "BETTERDEV_S3_FORCE_PATH_STYLE",
      "S3: endpoint/bucket/key URLs (MinIO and most self-hosted servers) instead of bucket.host/key");
  Opt(app, envs, "--s3-prefix", b.s3_prefix, "BETTERDEV_S3_PREFIX", "S3: in front of every object's key");
}

void AddIngestOptions(CLI::App* app, std::set<std::string>& envs, IngestConfig& g) {
  Opt(app, envs, "--workers", g.workers, "BETTERDEV_WORKERS", "Worker processes serve starts (0: one per core)")
      ->check(CLI::Range(0, 256));
  Opt(app, envs, "--worker-nice", g.worker_nice, "BETTERDEV_WORKER_NICE",
      "How much lower the workers' CPU priority is than the API's (0-19)")
      ->check(CLI::Range(0, 19));
  Opt(app, envs, "--max-upload-bytes", g.max_upload_bytes, "BETTERDEV_MAX_UPLOAD_BYTES",
      "Largest upload (all files of one request) in bytes")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  Opt(app, envs, "--job-attempts", g.job_attempts, "BETTERDEV_JOB_ATTEMPTS", "Tries per document before it fails")
      ->check(CLI::Range(1, 100));
  Opt(app, envs, "--job-backoff-ms", g.job_backoff_ms, "BETTERDEV_JOB_BACKOFF_MS",
      "Wait before the first retry; doubles with each further retry")
      ->check(CLI::Range(0, 3600000));
  Opt(app, envs, "--job-timeout", g.job_timeout_seconds, "BETTERDEV_JOB_TIMEOUT",
      "Seconds one processing attempt may take")
      ->check(CLI::Range(1, 86400));
  Opt(app, envs, "--job-memory-mb", g.job_memory_mb, "BETTERDEV_JOB_MEMORY_MB",
      "Memory limit of the process that reads one file, in MB")
      ->check(CLI::Range(uint64_t{64}, uint64_t{1} << 20));
  Opt(app, envs, "--sandbox", g.sandbox, "BETTERDEV_SANDBOX",
      "Run parsers confined (no data directory, network or programs); false only to measure its cost");
  Opt(app, envs, "--lease-seconds", g.lease_seconds, "BETTERDEV_LEASE_SECONDS",
      "A job whose worker stops renewing its lease returns to the queue after this")
      ->check(CLI::Range(3, 3600));
  Opt(app, envs, "--max-pages", g.max_pages, "BETTERDEV_MAX_PAGES", "Longest document in pages")
      ->check(CLI::Range(1, 1000000));
  Opt(app, envs, "--max-image-megapixels", g.max_image_megapixels, "BETTERDEV_MAX_IMAGE_MEGAPIXELS",
      "Largest image in megapixels (decompression bombs fail before decoding)")
      ->check(CLI::Range(1, 10000));
  Opt(app, envs, "--ocr-languages", g.ocr_languages, "BETTERDEV_OCR_LANGUAGES",
      "Tesseract languages for OCR, joined by '+' (each needs tesseract-ocr-<lang> installed)");
  Opt(app, envs, "--ocr-dpi", g.ocr_dpi, "BETTERDEV_OCR_DPI", "Resolution PDF pages are rendered at for OCR")
      ->check(CLI::Range(72, 1200));
  Opt(app, envs, "--ocr-page-timeout", g.ocr_page_timeout_seconds, "BETTERDEV_OCR_PAGE_TIMEOUT",
      "Seconds OCR of one page may take")
      ->check(CLI::Range(1, 86400));
  Opt(app, envs, "--chunk-size", g.chunk_size, "BETTERDEV_CHUNK_SIZE", "Characters per chunk")
      ->check(CLI::Range(50, 100000));
  Opt(app, envs, "--chunk-overlap", g.chunk_overlap, "BETTERDEV_CHUNK_OVERLAP",
      "Characters a chunk repeats from the previous one")
      ->check(CLI::Range(0, 99999));
  Opt(app, envs, "--poll-ms", g.poll_ms, "BETTERDEV_POLL_MS", "How often idle workers look for jobs")
      ->check(CLI::Range(10, 60000));
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    std::string item = s.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

// Settings bound to one subcommand's options. Every subcommand gets its own copy: CLI11 reads the
// environment for subcommands that were not invoked too, and a shared variable would let that
// environment value overwrite the invoked subcommand's flag.
struct Bound {
  Config config;
  std::string cors;
  bool access_log = true;
};

Invocation Fail(Invocation inv, const std::string& message) {
  std::cerr << "error: " << message << "\n";
  inv.exit_code = 2;
  inv.done = true;
  return inv;
}

}  // namespace

Invocation ParseCommandLine(int argc, char** argv) {
  Invocation inv;
  std::set<std::string> envs;
  std::string log_level = "info";

  CLI::App app{"betterdev: chat with your own documents"};
  app.set_version_flag("--version", "betterdev 0.1.0");
  app.require_subcommand(1);
  app.add_option("--log-level", log_level, "debug, info, warn or error")
      ->envname("BETTERDEV_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));

  struct Sub {
    CLI::App* app;
    Command command;
    Bound bound;
  };
  std::vector<std::unique_ptr<Sub>> subs;
  enum class Kind { kServer, kWorker, kDataOnly, kOther };
  auto add = [&](const char* name, const char* help, Command command, Kind kind) {
    auto sub = std::make_unique<Sub>(Sub{app.add_subcommand(name, help), command, {}});
    sub->app->fallthrough();
    Config& c = sub->bound.config;
    if (kind == Kind::kServer) AddServerOptions(sub->app, envs, c, sub->bound.cors, sub->bound.access_log);
    if (kind == Kind::kServer) AddChatOptions(sub->app, envs, c.chat);
    if (kind == Kind::kWorker || kind == Kind::kDataOnly) AddDataDir(sub->app, envs, c);
    if (kind == Kind::kServer || kind == Kind::kWorker) AddIngestOptions(sub->app, envs, c.ingest);
    if (kind == Kind::kServer || kind == Kind::kWorker) AddQueueOptions(sub->app, envs, c.queue);
    if (kind == Kind::kServer || kind == Kind::kWorker) AddBlobOptions(sub->app, envs, c.blob);
    if (kind == Kind::kServer || kind == Kind::kWorker) AddSearchOptions(sub->app, envs, c.search);
    subs.push_back(std::move(sub));
    return subs.back()->app;
  };
  add("serve", "Run the API and its workers on the embedded default (SQLite, local files)", Command::kServe,
      Kind::kServer);
  add("api", "Run the API process only (scale-out: workers run separately)", Command::kApi, Kind::kServer);
  CLI::App* worker = add("worker", "Run one worker process: take jobs from the queue and process documents",
                         Command::kWorker, Kind::kWorker);
  worker->add_option("--events-fd", inv.events_fd, "Write progress events to this file descriptor")->group("");
  worker->add_option("--wake-fd", inv.wake_fd, "Wait on this file descriptor for new jobs")->group("");
  worker->add_option("--worker-index", inv.worker_index, "This worker's slot under its supervisor")->group("");
  CLI::App* job_server = add("job-server", "Fork a worker's job processes (the worker starts it)",
                             Command::kJobServer, Kind::kOther);
  job_server->group("");
  job_server->add_option("--socket-fd", inv.socket_fd, "The worker's socket")->required();
  add("migrate", "Apply pending database migrations and exit", Command::kMigrate, Kind::kDataOnly);
  CLI::App* extract = add("extract", "Extract and chunk one file; print the chunks as JSON lines (what a worker stores)",
                          Command::kExtract, Kind::kOther);
  IngestConfig& xc = subs.back()->bound.config.ingest;
  extract->add_option("file", inv.paths, "The file")->required()->expected(1);
  extract->add_option("--type", inv.content_type, "MIME type (default: detected from the bytes)");
  extract->add_option("--max-pages", xc.max_pages, "Longest document in pages")->check(CLI::Range(1, 1000000));
  extract->add_option("--ocr-languages", xc.ocr_languages, "Tesseract languages for OCR, joined by '+'");
  extract->add_option("--ocr-dpi", xc.ocr_dpi, "Resolution PDF pages are rendered at for OCR")->check(CLI::Range(72, 1200));
  extract->add_option("--chunk-size", xc.chunk_size, "Characters per chunk")->check(CLI::Range(50, 100000));
  extract->add_option("--chunk-overlap", xc.chunk_overlap, "Characters of overlap")->check(CLI::Range(0, 99999));
  CLI::App* eval = add("eval",
                       "Measure retrieval quality (nDCG@10, recall@100) on a BEIR dataset, or answer quality "
                       "(figures of reviewed answers found) on a QA set of PDFs; prints Markdown",
                       Command::kEval, Kind::kOther);
  IngestConfig& ec = subs.back()->bound.config.ingest;
  eval->add_option("--beir", inv.eval.beir_dir, "Folder with corpus.jsonl, queries.jsonl, qrels/");
  eval->add_option("--qa", inv.eval.qa_dir, "Folder with docs/*.pdf and qna_data.csv (e.g. ../shared/data/qa/docugami-sec-10-q)");
  eval->add_option("--split", inv.eval.split, "BEIR: which qrels file (test, dev, train); QA: all, dev (first half), test (second half)");
  eval->add_option("--limit", inv.eval.limit, "QA: at most this many questions")->check(CLI::Range(0, 100000));
  eval->add_flag("--explain", inv.eval.explain, "QA: per question, the hybrid top 3 and the rank of the first chunk holding an answer's figure (stderr)");
  eval->add_option("--dimension", inv.eval.dimension, "Local embedder dimension")->check(CLI::Range(8, 8192));
  eval->add_option("--vector-encoding", inv.eval.vector_encoding, "Vectors searched: int8 (the default) or float32")
      ->check(CLI::IsMember({"int8", "float32"}));
  eval->add_option("--keyword-weight", inv.eval.keyword_weight, "Hybrid: weight of the keyword leg");
  eval->add_option("--vector-weight", inv.eval.vector_weight, "Hybrid: weight of the vector leg");
  eval->add_option("--expansion-terms", inv.eval.expansion_terms,
                   "Hybrid: terms the keyword query gains from its own best hits (0: off)");
  eval->add_option("--original-weight", inv.eval.original_weight, "Hybrid: the query's own terms' share after expansion");
  eval->add_option("--feedback", inv.eval.feedback, "Hybrid: keyword hits the vector query moves toward (0: off)")
      ->check(CLI::Range(0, 100));
  eval->add_option("--rescore-depth", inv.eval.rescore_depth,
                   "Hybrid (search service): candidates scored again with their text (0: off; default: the server's)")
      ->check(CLI::Range(0, 1000));
  eval->add_option("--rescore-weights", inv.eval.rescore_weights,
                   "Hybrid (search service): weights of proximity and figures (default: the server's)")
      ->expected(2)
      ->delimiter(',')
      ->check(CLI::NonNegativeNumber);
  eval->add_option("--rrf-k", inv.eval.rrf_k, "Hybrid: reciprocal rank fusion constant");
  eval->add_option("--fusion", inv.eval.fusion, "Hybrid: rrf (reciprocal rank fusion) or score (normalised scores)")
      ->check(CLI::IsMember({"rrf", "score"}));
  eval->add_option("--title-context", inv.eval.title_context,
                   "Every chunk carries its document's title as context (else the title opens the text)");
  eval->add_option("--service", inv.eval.service,
                   "BEIR: also search through the search service with this retriever: local (SQLite) or pgvector "
                   "(PostgreSQL at --database-url)")
      ->check(CLI::IsMember({"local", "pgvector"}));
  eval->add_option("--database-url", inv.eval.database_url, "BEIR with --service pgvector: the PostgreSQL to use");
  eval->add_option("--hnsw-ef-search", subs.back()->bound.config.search.ef_search, "pgvector: hnsw.ef_search")
      ->check(CLI::Range(1, 1000));
  eval->add_option("--chunk-size", ec.chunk_size, "Characters per chunk")->check(CLI::Range(50, 100000));
  eval->add_option("--chunk-overlap", ec.chunk_overlap, "Characters of overlap")->check(CLI::Range(0, 99999));
  CLI::App* ingest = add("ingest", "Upload files and folders to a running server and wait until they are processed",
                         Command::kIngest, Kind::kOther);
  ingest->add_option("paths", inv.paths, "Files and folders")->required();
  Opt(ingest, envs, "--server", inv.server_url, "BETTERDEV_SERVER", "The server's URL");
  Opt(ingest, envs, "--token", inv.token, "BETTERDEV_TOKEN", "An access token or API key");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);  // prints help, version or the error naming the setting
    inv.exit_code = code == 0 ? 0 : 2;
    inv.done = true;
    return inv;
  }

  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    std::string name(kv.substr(0, kv.find('=')));
    if (name.starts_with("BETTERDEV_") && !envs.count(name))
      return Fail(std::move(inv), "unknown setting " + name + " in the environment (see betterdev --help)");
  }

  Sub* chosen = nullptr;
  for (auto& sub : subs)
    if (sub->app->parsed()) chosen = sub.get();
  if (chosen == nullptr) return Fail(std::move(inv), "no command given (see betterdev --help)");
  inv.command = chosen->command;
  Config& c = inv.config;
  c = std::move(chosen->bound.config);
  ParseLogLevel(log_level, c.log_level);
  c.http.cors_origins = SplitComma(chosen->bound.cors);
  c.http.access_log = chosen->bound.access_log;
  if (c.ingest.chunk_overlap >= c.ingest.chunk_size)
    return Fail(std::move(inv), "--chunk-overlap (BETTERDEV_CHUNK_OVERLAP) must be smaller than --chunk-size");
  if (c.auth.login_lockout_base_seconds > c.auth.login_lockout_max_seconds)
    return Fail(std::move(inv), "--login-lockout-base (BETTERDEV_LOGIN_LOCKOUT_BASE) must not exceed --login-lockout-max");
  if (c.data_dir.empty()) return Fail(std::move(inv), "--data-dir (BETTERDEV_DATA_DIR) must not be empty");
  if (c.search.vector_store.empty()) c.search.vector_store = c.database_url.empty() ? "local" : "pgvector";
  if (c.search.vector_store == "pgvector" && c.database_url.empty())
    return Fail(std::move(inv), "--vector-store pgvector (BETTERDEV_VECTOR_STORE) needs --database-url (BETTERDEV_DATABASE_URL)");
  if (c.search.vector_store == "pinecone" && (c.search.pinecone_api_key.empty() || c.search.pinecone_index_host.empty()))
    return Fail(std::move(inv), "--vector-store pinecone (BETTERDEV_VECTOR_STORE) needs --pinecone-api-key "
                                "(BETTERDEV_PINECONE_API_KEY) and --pinecone-index-host (BETTERDEV_PINECONE_INDEX_HOST)");
  if (c.chat.llm == "openai") {
    if (c.chat.base_url.empty()) c.chat.base_url = c.search.openai_base_url;
    if (c.chat.api_key.empty()) c.chat.api_key = c.search.openai_api_key;
    if (!c.chat.base_url.starts_with("http://") && !c.chat.base_url.starts_with("https://"))
      return Fail(std::move(inv), "--llm-base-url (BETTERDEV_LLM_BASE_URL) must be an http:// or https:// URL");
    if (c.chat.model.empty()) return Fail(std::move(inv), "--llm-model (BETTERDEV_LLM_MODEL) must not be empty");
  }
  return inv;
}

}  // namespace betterdev::app
