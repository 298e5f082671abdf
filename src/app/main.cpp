// betterdev: the executable only wires modules together.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <chrono>
#include <thread>

#include "api/api.hpp"
#include "app/cli.hpp"
#include "app/ingest_client.hpp"
#include "auth/auth_service.hpp"
#include "chat/chat_service.hpp"
#include "chat/conversations.hpp"
#include "chat/extractive_model.hpp"
#include "chat/openai_model.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/periodic.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "blob/blob_store.hpp"
#include "blob/s3/s3_blob_store.hpp"
#include "embed/embedder.hpp"
#include "extract/detect.hpp"
#include "http/server.hpp"
#include "ingest/child_process.hpp"
#include "ingest/ingest_service.hpp"
#include "ingest/job_process.hpp"
#include "ingest/job_server.hpp"
#include "ingest/metrics.hpp"
#include "ingest/reembedder.hpp"
#include "ingest/supervisor.hpp"
#include "ingest/worker.hpp"
#include "pinecone/pinecone_mirror.hpp"
#include "sandbox/sandbox.hpp"
#include "queue/redis/redis_queue.hpp"
#include "queue/sqlite/sqlite_queue.hpp"
#include "realtime/event_log.hpp"
#include "realtime/hub.hpp"
#include "realtime/redis/redis_event_log.hpp"
#include "realtime/tickets.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace betterdev::app {
namespace {

// Housekeeping, at start and this often: expired access tokens (they no longer authenticate)
// and staged uploads idle for kStaleUploadAge (cut off by a crash of this process or of another
// sharing the data directory; uploads in flight keep writing theirs).
constexpr std::chrono::minutes kHousekeepingInterval{10};
// A document queued this long without a job in the queue lost it (its process died between the
// two writes): it is enqueued again. An upload writes both within milliseconds.
constexpr int64_t kOrphanAgeMs = 60'000;
constexpr std::chrono::hours kStaleUploadAge{1};

Status PrepareDataDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::InvalidArgument("data-dir: cannot create " + dir + ": " + ec.message());
  return Status::Ok();
}

std::string DatabasePath(const Config& c) { return (std::filesystem::path(c.data_dir) / "betterdev.db").string(); }
std::string QueuePath(const Config& c) { return (std::filesystem::path(c.data_dir) / "queue.db").string(); }
std::string BlobRoot(const Config& c) { return (std::filesystem::path(c.data_dir) / "blobs").string(); }
std::string EventsPath(const Config& c) { return (std::filesystem::path(c.data_dir) / "events.db").string(); }

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

// What every process of one deployment opens: the database, the queue, the blob store and the
// event log the real-time channels read.
struct Backends {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<queue::JobQueue> queue;
  std::unique_ptr<blob::BlobStore> blobs;
  std::unique_ptr<realtime::EventLog> events;
};

Result<redis::RedisUrl> RedisUrl(const Config& c) {
  auto url = redis::ParseRedisUrl(c.queue.redis_url);
  if (url.ok()) url->tls_ca_file = c.queue.redis_ca_file;
  return url;
}

// The embedded queue, or BullMQ's layout on Redis when a Redis URL is set.
Result<std::unique_ptr<queue::JobQueue>> OpenQueue(const Config& c, const Clock& clock) {
  if (c.queue.redis_url.empty()) return queue::OpenSqliteQueue(QueuePath(c), clock);
  auto url = RedisUrl(c);
  if (!url.ok()) return url.status();
  // hiredis writes with write(): a connection Redis closed must be an error, not a SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  queue::RedisQueueOptions o;
  o.url = *url;
  o.queue_name = c.queue.name;
  o.prefix = c.queue.prefix;
  o.bullmq_dir = c.queue.bullmq_dir.empty() ? BETTERDEV_DEFAULT_BULLMQ_DIR : c.queue.bullmq_dir;
  o.max_stalled_count = c.queue.max_stalled_count;
  // A lapsed lease is found within two checks: the lease again, at most.
  o.stalled_interval_ms = int64_t{c.ingest.lease_seconds} * 1000 / 2;
  o.keep_completed = {int64_t{10000}, int64_t{7} * 24 * 3600 * 1000};
  auto opened = queue::OpenRedisQueue(o, clock);
  if (!opened.ok()) return Status(opened.status().code(), "job queue on Redis: " + opened.status().message());
  return opened;
}

// Events travel with the jobs: beside the embedded queue, a file every process of the machine
// shares; on Redis, a stream every process of every machine shares.
Result<std::unique_ptr<realtime::EventLog>> OpenEvents(const Config& c) {
  if (c.queue.redis_url.empty()) return realtime::OpenSqliteEventLog(EventsPath(c));
  auto url = RedisUrl(c);
  if (!url.ok()) return url.status();
  realtime::RedisEventLogOptions o;
  o.url = *url;
  o.key = "betterdev:{" + c.queue.name + "}:events";
  auto opened = realtime::OpenRedisEventLog(o);
  if (!opened.ok()) return Status(opened.status().code(), "events on Redis: " + opened.status().message());
  return opened;
}

// Uploads in files under the data directory, or in S3-compatible object storage (staged and
// downloaded copies still pass through the data directory).
Result<std::unique_ptr<blob::BlobStore>> OpenBlobs(const Config& c) {
  if (c.blob.s3_endpoint.empty()) return blob::OpenFsBlobStore(BlobRoot(c));
  blob::S3BlobStoreOptions o;
  o.s3.endpoint = c.blob.s3_endpoint;
  o.s3.bucket = c.blob.s3_bucket;
  o.s3.region = c.blob.s3_region;
  o.s3.access_key = c.blob.s3_access_key;
  o.s3.secret_key = c.blob.s3_secret_key;
  o.s3.force_path_style = c.blob.s3_force_path_style;
  o.s3.key_prefix = c.blob.s3_prefix;
  o.local_dir = BlobRoot(c);
  return blob::OpenS3BlobStore(o);
}

Result<Backends> OpenBackends(const Config& c, const Clock& clock) {
  if (Status s = PrepareDataDir(c.data_dir); !s.ok()) return s;
  Backends b;
  auto store = c.database_url.empty()
                   ? store::OpenSqliteStore({DatabasePath(c)})
                   : store::OpenPostgresStore({c.database_url, c.database_pool_size});
  if (!store.ok()) return store.status();
  b.store = std::move(*store);
  auto queue = OpenQueue(c, clock);
  if (!queue.ok()) return queue.status();
  b.queue = std::move(*queue);
  auto blobs = OpenBlobs(c);
  if (!blobs.ok()) return blobs.status();
  b.blobs = std::move(*blobs);
  auto events = OpenEvents(c);
  if (!events.ok()) return events.status();
  b.events = std::move(*events);
  return b;
}

// The vector store outside the database, when the configuration names one (Pinecone), else null.
Result<std::unique_ptr<store::VectorMirror>> OpenVectorMirror(const SearchConfig& s,
                                                              std::shared_ptr<httpclient::Client> client = nullptr) {
  if (s.vector_store != "pinecone") return std::unique_ptr<store::VectorMirror>();
  pinecone::PineconeOptions o;
  o.index_host = s.pinecone_index_host;
  o.api_key = s.pinecone_api_key;
  o.client = std::move(client);
  return pinecone::NewPineconeMirror(std::move(o));
}

// Whether the process may start with this mirror: not when it cannot hold the model's vectors
// or refuses the key (said on stderr). One that cannot be reached now is only logged: documents
// wait for it and search answers from keywords until it is back.
bool MirrorFits(store::VectorMirror* mirror, const embed::EmbeddingModel& model, Logger& log) {
  if (mirror == nullptr) return true;
  const Status s = mirror->CheckFits({model.id, model.dimension});
  if (s.ok()) return true;
  if (s.code() == StatusCode::kUnavailable) {
    log.Warn("could not check the vector store at start", {{"store", mirror->name()}, {"error", s.message()}});
    return true;
  }
  std::cerr << "error: " << s.message() << "\n";
  return false;
}

// The embedder the configuration names; the API (for queries) and the workers (for chunks)
// make the same model. A query waits for it, so the API's gives up sooner (2 attempts, 10 s).
// `client`: the process's shared outbound HTTP client (null: the embedder makes its own).
std::unique_ptr<embed::Embedder> MakeEmbedder(const SearchConfig& s, bool for_queries,
                                              std::shared_ptr<httpclient::Client> client = nullptr) {
  if (s.embeddings == "openai") {
    embed::OpenAiOptions o;
    o.client = std::move(client);
    if (for_queries) {
      o.max_attempts = 2;
      o.request_timeout_ms = 10000;
    }
    o.base_url = s.openai_base_url;
    o.api_key = s.openai_api_key;
    o.model = s.embedding_model;
    o.dimensions = s.embedding_dimensions;
    return embed::NewOpenAiEmbedder(o);
  }
  return embed::NewLocalEmbedder(s.embedding_dimensions > 0 ? s.embedding_dimensions : 1024);
}

// Embedders for a model other than the configured one, with the same provider settings.
embed::EmbedderFactory OtherModels(const SearchConfig& s, bool for_queries,
                                   std::shared_ptr<httpclient::Client> client = nullptr) {
  return [s, for_queries, client](const embed::EmbeddingModel& m) -> Result<std::unique_ptr<embed::Embedder>> {
    SearchConfig other = s;
    other.embeddings = m.id == embed::kLocalModelId ? "local" : "openai";
    other.embedding_model = m.id;
    other.embedding_dimensions =
        other.embeddings == "openai" && m.dimension == embed::OpenAiDefaultDimension(m.id) ? 0 : m.dimension;
    if (other.embeddings == "openai" && other.openai_api_key.empty() && s.embeddings != "openai") {
      return Status::InvalidArgument("no OpenAI API key is configured");
    }
    return MakeEmbedder(other, for_queries, client);
  };
}

// The answer model the configuration names.
Result<std::shared_ptr<chat::ChatModel>> MakeChatModel(const ChatConfig& c, std::shared_ptr<httpclient::Client> client) {
  if (c.llm == "openai") {
    chat::OpenAiChatOptions o;
    o.base_url = c.base_url;
    o.api_key = c.api_key;
    o.model = c.model;
    o.max_tokens = c.max_answer_tokens;
    o.connect_timeout_ms = c.connect_timeout_ms;
    o.first_token_timeout_ms = c.first_token_timeout_ms;
    o.idle_timeout_ms = c.idle_timeout_ms;
    o.max_attempts = c.max_attempts;
    return chat::NewOpenAiChatModel(o, std::move(client));
  }
  auto tokenizer = index::Tokenizer::Open();
  if (!tokenizer.ok()) return tokenizer.status();
  return chat::NewExtractiveModel(std::move(*tokenizer), std::shared_ptr<embed::Embedder>(embed::NewLocalEmbedder(1024)));
}

// The command line a supervised worker runs: this executable with this process's settings.
std::vector<std::string> WorkerArgv(const Config& c) {
  const IngestConfig& g = c.ingest;
  return {ingest::SelfExe(), "worker",
          "--data-dir", c.data_dir,
          "--log-level", std::string(LevelName(c.log_level)),
          "--job-timeout", std::to_string(g.job_timeout_seconds),
          "--job-memory-mb", std::to_string(g.job_memory_mb),
          "--lease-seconds", std::to_string(g.lease_seconds),
          "--max-pages", std::to_string(g.max_pages),
          "--max-image-megapixels", std::to_string(g.max_image_megapixels),
          "--ocr-languages", g.ocr_languages,
          "--ocr-dpi", std::to_string(g.ocr_dpi),
          "--ocr-page-timeout", std::to_string(g.ocr_page_timeout_seconds),
          "--chunk-size", std::to_string(g.chunk_size),
          "--chunk-overlap", std::to_string(g.chunk_overlap),
          "--poll-ms", std::to_string(g.poll_ms),
          "--worker-nice", std::to_string(g.worker_nice),
          "--sandbox", g.sandbox ? "true" : "false",
          "--embeddings", c.search.embeddings,
          "--embedding-dimensions", std::to_string(c.search.embedding_dimensions),
          "--embedding-model", c.search.embedding_model,
          "--openai-base-url", c.search.openai_base_url,
          "--embedding-price", std::to_string(c.search.embedding_price),
          "--queue", c.queue.name,
          "--redis-ca-file", c.queue.redis_ca_file,
          "--queue-prefix", c.queue.prefix,
          "--bullmq-dir", c.queue.bullmq_dir,
          "--max-stalled-count", std::to_string(c.queue.max_stalled_count),
          "--s3-endpoint", c.blob.s3_endpoint,
          "--s3-bucket", c.blob.s3_bucket,
          "--s3-region", c.blob.s3_region,
          "--s3-access-key", c.blob.s3_access_key,
          "--s3-force-path-style", c.blob.s3_force_path_style ? "true" : "false",
          "--s3-prefix", c.blob.s3_prefix,
          "--database-pool-size", std::to_string(c.database_pool_size),
          "--vector-store", c.search.vector_store,
          "--pinecone-index-host", c.search.pinecone_index_host};
  // The API key, the Redis and database URLs (they may hold passwords) and the S3 secret key
  // travel in the environment, not in argv.
}

std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int) { g_stop = true; }

// The job server's whole environment: nothing secret (no API key, no database URL), only what
// OCR and the sanitizers read.
std::vector<std::string> JobServerEnvironment() {
  std::vector<std::string> env;
  for (const char* name : {"OMP_THREAD_LIMIT", "TESSDATA_PREFIX", "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS",
                           "TSAN_OPTIONS"}) {
    if (const char* value = std::getenv(name)) env.push_back(std::string(name) + "=" + value);
  }
  return env;
}

int Worker(const Invocation& inv) {
  const Config& c = inv.config;
  // Synchronous logging: a line is out before a crash.
  Logger log(stdout, c.log_level, /*flush_interval_ms=*/0);
  SystemClock clock;
  auto backends = OpenBackends(c, clock);
  if (!backends.ok()) {
    std::cerr << "error: " << backends.status().message() << "\n";
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  // Events go to the real-time channels (the event log every API process reads) and, under
  // `serve`, to the supervisor for metrics.
  ingest::RealtimeEventSink realtime_events(*backends->events);
  std::unique_ptr<ingest::EventSink> to_supervisor;
  std::vector<ingest::EventSink*> sinks{&realtime_events};
  if (inv.events_fd >= 0) {
    to_supervisor = std::make_unique<ingest::FdEventSink>(inv.events_fd);
    sinks.push_back(to_supervisor.get());
  }
  auto events = std::make_unique<ingest::TeeEventSink>(std::move(sinks));
  char id_buf[48];
  std::snprintf(id_buf, sizeof id_buf, "w%d-%d", inv.worker_index, static_cast<int>(::getpid()));
  const std::string id = id_buf;  // (string concatenation here trips GCC 12's -Wrestrict false positive)
  std::unique_ptr<embed::Embedder> embedder = MakeEmbedder(c.search, false);
  auto mirror = OpenVectorMirror(c.search);
  if (!mirror.ok()) {
    std::cerr << "error: " << mirror.status().message() << "\n";
    return 1;
  }
  if (!MirrorFits(mirror->get(), embedder->model(), log)) return 1;
  const ingest::WorkerDeps deps{*backends->store, *backends->blobs, *backends->queue, *events, clock, log, *embedder,
                                c.search.embedding_price,
                                [] { return ingest::JobServer::Start({ingest::SelfExe(), "job-server"}, JobServerEnvironment()); },
                                mirror->get()};
  // The main lane takes any job and is woken when one is enqueued; the spare lane takes only
  // jobs of users with nothing running, looking at least once a second.
  ingest::Worker worker(deps, c.ingest, id);
  IngestConfig spare_config = c.ingest;
  spare_config.poll_ms = std::max(spare_config.poll_ms, 1000);
  ingest::Worker spare(deps, spare_config, id + "-spare", queue::LeaseFilter::kIdleGroups);
  auto sandbox = worker.Start();
  if (sandbox.ok() && c.queue.redis_url.empty()) sandbox = spare.Start();
  if (!sandbox.ok()) {
    log.Error("cannot start the job server", {{"error", sandbox.status().message()}});
    return 1;
  }
  if (!c.ingest.sandbox) log.Warn("job processes run without a sandbox (--sandbox false)", {});
  else if (sandbox::Readable(sandbox::ParserPolicy(), c.data_dir))
    log.Warn("the data directory lies where job processes may read (under /usr, /etc, ...): move it", {{"data_dir", c.data_dir}});
  log.Info("worker ready", {{"worker_id", id}, {"sandbox", c.ingest.sandbox ? *sandbox : "off"},
                            {"queue", c.queue.redis_url.empty() ? "embedded" : "redis"}});
  // BullMQ has no groups to take turns between: on Redis the spare lane would idle.
  std::thread spare_lane;
  if (c.queue.redis_url.empty()) spare_lane = std::thread([&] { spare.Run(g_stop); });
  worker.Run(g_stop, inv.wake_fd);
  if (spare_lane.joinable()) spare_lane.join();
  log.Info("worker stopped", {{"worker_id", id}});
  return 0;
}

int Extract(const Invocation& inv) {
  std::string content_type = inv.content_type;
  if (content_type.empty()) {
    auto type = extract::DetectFileType(inv.paths.at(0), inv.paths.at(0));
    if (!type.ok()) {
      std::cerr << "error: " << type.status().message() << "\n";
      return 2;
    }
    content_type = type->mime_type;
  }
  auto input = extract::InputFile::Open(inv.paths.at(0));
  if (!input.ok()) {
    std::cerr << "error: " << input.status().message() << "\n";
    return 2;
  }
  const ingest::ExtractJobSpec spec = ingest::MakeExtractJobSpec(inv.config.ingest, content_type);
  return ingest::RunExtractJob(spec, *input, STDOUT_FILENO);
}

int Migrate(const Config& c) {
  if (Status s = PrepareDataDir(c.data_dir); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 2;
  }
  if (!c.database_url.empty()) {
    auto report = store::MigratePostgres(c.database_url);
    if (!report.ok()) {
      std::cerr << "error: " << report.status().message() << "\n";
      return 1;
    }
    std::cout << "PostgreSQL database at schema version " << report->current_version;
    if (report->applied.empty()) std::cout << " (up to date)\n";
    else std::cout << " (applied " << report->applied.size() << " migration(s))\n";
    return 0;
  }
  auto report = store::MigrateSqlite(DatabasePath(c));
  if (!report.ok()) {
    std::cerr << "error: " << report.status().message() << "\n";
    return 1;
  }
  std::cout << "database " << DatabasePath(c) << " at schema version " << report->current_version;
  if (report->applied.empty()) std::cout << " (up to date)\n";
  else std::cout << " (applied " << report->applied.size() << " migration(s))\n";
  return 0;
}

// Every open connection, stream and provider connection is a descriptor: the soft limit
// (often 1,024) would cap concurrent answers long before memory does, so take the hard one.
void RaiseDescriptorLimit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int Serve(const Config& c, bool with_workers) {
  RaiseDescriptorLimit();
  Logger log(stdout, c.log_level, /*flush_interval_ms=*/20);
  SystemClock clock;
  auto backends = OpenBackends(c, clock);
  if (!backends.ok()) {
    std::cerr << "error: " << backends.status().message() << "\n";
    return backends.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  store::Store& store = *backends->store;
  IdGenerator ids(clock);
  auth::AuthService auth(store, clock, ids, c.auth);
  blob::BlobStore& blobs = *backends->blobs;
  chat::ConversationService conversations(store, clock, ids);
  ingest::IngestService ingest(store, *backends->blobs, *backends->queue, clock, ids, c.ingest, log);
  ingest.SetEventLog(backends->events.get());
  ingest.SetVectorMirror(c.search.vector_store == "pinecone");
  auto housekeeping = [&auth, &blobs, &ingest, &log] {
    if (auto removed = auth.PurgeExpiredTokens(); !removed.ok())
      log.Warn("cannot remove expired access tokens", {{"error", removed.status().message()}});
    else if (*removed > 0)
      log.Info("removed expired access tokens", {{"count", *removed}});
    if (Status s = blobs.RemoveStale(kStaleUploadAge); !s.ok())
      log.Warn("cannot remove stale staged uploads", {{"error", s.message()}});
    if (auto orphans = ingest.EnqueueOrphans(kOrphanAgeMs); !orphans.ok())
      log.Warn("cannot check queued documents for their jobs", {{"error", orphans.status().message()}});
    if (auto collected = ingest.CollectBlobs(); !collected.ok())
      log.Warn("cannot remove unused blobs", {{"error", collected.status().message()}});
    else if (*collected > 0)
      log.Info("removed unused blobs", {{"count", *collected}});
  };
  housekeeping();
  Periodic periodic_housekeeping(kHousekeepingInterval, housekeeping);
  realtime::EventHub hub(*backends->events, log);
  if (Status s = hub.Start(); !s.ok()) {
    std::cerr << "error: cannot read the event log: " << s.message() << "\n";
    return 1;
  }
  realtime::Tickets tickets(clock);
  MetricsRegistry metrics;
  std::unique_ptr<ingest::Supervisor> supervisor;
  if (with_workers) {
    int n = c.ingest.workers > 0 ? c.ingest.workers : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    // Workers inherit the environment: the API key reaches them there, never on a command line.
    if (!c.search.openai_api_key.empty()) ::setenv("BETTERDEV_OPENAI_API_KEY", c.search.openai_api_key.c_str(), 1);
    if (!c.queue.redis_url.empty()) ::setenv("BETTERDEV_REDIS_URL", c.queue.redis_url.c_str(), 1);
    if (!c.blob.s3_secret_key.empty()) ::setenv("BETTERDEV_S3_SECRET_KEY", c.blob.s3_secret_key.c_str(), 1);
    if (!c.database_url.empty()) ::setenv("BETTERDEV_DATABASE_URL", c.database_url.c_str(), 1);
    if (!c.search.pinecone_api_key.empty()) ::setenv("BETTERDEV_PINECONE_API_KEY", c.search.pinecone_api_key.c_str(), 1);
    supervisor = std::make_unique<ingest::Supervisor>(
        WorkerArgv(c), n, c.ingest.worker_nice,
        [&metrics, &hub](const ingest::IngestEvent& e) {
          ingest::ObserveEvent(metrics, e);
          hub.Wake();  // the worker appended the event to the log before telling the supervisor
        },
        log);
  }
  ingest::RegisterIngestMetrics(metrics, *backends->queue, supervisor.get());
  if (supervisor) ingest.OnEnqueued([s = supervisor.get()] { s->Wake(); });
  http::Router router;
  // One outbound client for the process: embeddings and answers share its kept-alive connections.
  std::shared_ptr<httpclient::Client> outbound = httpclient::NewClient();
  std::unique_ptr<embed::Embedder> embedder = MakeEmbedder(c.search, true, outbound);
  SearchConfig search_config = c.search;
  search_config.index_dir = (std::filesystem::path(c.data_dir) / "search").string();
  auto mirror = OpenVectorMirror(c.search, outbound);
  if (!mirror.ok()) {
    std::cerr << "error: " << mirror.status().message() << "\n";
    return 1;
  }
  if (!MirrorFits(mirror->get(), embedder->model(), log)) return 1;
  search::SearchService search(store, *embedder, search_config, OtherModels(c.search, true, outbound), &log,
                               mirror->get());
  // After a change of embedding model: every chunk re-embedded in the background (with the
  // workers' settings), search switching when done.
  std::unique_ptr<embed::Embedder> reembed_target = MakeEmbedder(c.search, false, outbound);
  ingest::Reembedder reembedder(store, *reembed_target, OtherModels(c.search, false, outbound), clock, log,
                                {64, c.search.embedding_price, 5}, mirror->get());
  auto chat_model = MakeChatModel(c.chat, outbound);
  if (!chat_model.ok()) {
    std::cerr << "error: " << chat_model.status().message() << "\n";
    return 1;
  }
  chat::ModelPrices prices;
  if (c.chat.llm == "openai") prices = {c.chat.prompt_price, c.chat.completion_price};
  chat::ChatService chat(store, search, std::move(*chat_model), prices, c.chat, clock, ids, log, &metrics);
  metrics.DeclareGauge("betterdev_event_subscribers", "Open real-time event subscriptions.");
  metrics.AddCollector([&hub](MetricsRegistry& r) {
    r.Set("betterdev_event_subscribers", "", static_cast<double>(hub.subscribers()));
  });
  api::Services services{store, auth, conversations, chat, ingest, search, hub, tickets, metrics, log, c.http, c.ingest, c.search};
  api::RegisterApi(router, services);

  http::Server server(c.http, router, metrics, log);
  if (Status s = server.Listen(); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  if (supervisor) {
    if (Status s = supervisor->Start(); !s.ok()) {
      std::cerr << "error: cannot start workers: " << s.message() << "\n";
      return 1;
    }
  }
  std::string url = "http://" + (c.http.host.find(':') != std::string::npos ? "[" + c.http.host + "]" : c.http.host) +
                    ":" + std::to_string(server.port());
  std::printf("betterdev %s on %s (data dir: %s)\n", with_workers ? "serving" : "API serving", url.c_str(),
              c.data_dir.c_str());
  std::fflush(stdout);
  log.Info("listening", {{"url", url}, {"data_dir", c.data_dir}});
  reembedder.Start();  // only once this process is serving (a second instance that cannot bind does nothing)
  if (Status s = search.Preload(); !s.ok()) {
    log.Warn("search cannot read the store yet; the first search tries again", {{"error", s.message()}});
  }
  server.Run();
  search.Flush();  // the keyword indexes of this run, for a warm start next time
  reembedder.Stop();
  if (supervisor) supervisor->Stop(c.http.shutdown_timeout_seconds);
  log.Info("stopped");
  return 0;
}

}  // namespace
}  // namespace betterdev::app

int main(int argc, char** argv) {
  using namespace betterdev::app;
  Invocation inv = ParseCommandLine(argc, argv);
  if (inv.done) return inv.exit_code;
  // Tesseract parallelises with OpenMP, whose runtime reads OMP_THREAD_LIMIT once, when it is
  // loaded (before main). Processes that read files run OCR single-threaded, so that
  // parallelism comes from workers (measured: 3.6x the CPU time for the same page with two
  // OpenMP threads on two busy cores); without the variable they set it and start again.
  if ((inv.command == Command::kWorker || inv.command == Command::kExtract || inv.command == Command::kJobServer) &&
      std::getenv("OMP_THREAD_LIMIT") == nullptr) {
    ::setenv("OMP_THREAD_LIMIT", "1", 1);
    ::execv("/proc/self/exe", argv);
    std::cerr << "warning: could not restart with OMP_THREAD_LIMIT=1; OCR may use several threads\n";
  }
  try {
    switch (inv.command) {
      case Command::kServe: return Serve(inv.config, true);
      case Command::kApi: return Serve(inv.config, false);
      case Command::kWorker: return Worker(inv);
      case Command::kMigrate: return Migrate(inv.config);
      case Command::kExtract: return Extract(inv);
      case Command::kIngest: return RunIngestClient(inv);
      case Command::kEval: return RunEval(inv.eval, inv.config);
      case Command::kJobServer: return betterdev::ingest::RunJobServer(inv.socket_fd);
      case Command::kNone: break;
    }
  } catch (const std::exception& e) {
    std::cerr << "fatal: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
