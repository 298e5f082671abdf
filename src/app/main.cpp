// betterdev: the executable only wires modules together.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "api/api.hpp"
#include "app/cli.hpp"
#include "auth/auth_service.hpp"
#include "chat/conversations.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "http/server.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace betterdev::app {
namespace {

Status PrepareDataDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::InvalidArgument("data-dir: cannot create " + dir + ": " + ec.message());
  return Status::Ok();
}

std::string DatabasePath(const Config& c) { return (std::filesystem::path(c.data_dir) / "betterdev.db").string(); }

int Migrate(const Config& c) {
  if (Status s = PrepareDataDir(c.data_dir); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 2;
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

int Serve(const Config& c, bool with_workers) {
  Logger log(stdout, c.log_level, /*flush_interval_ms=*/20);
  if (Status s = PrepareDataDir(c.data_dir); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 2;
  }
  auto store = store::OpenSqliteStore({DatabasePath(c)});
  if (!store.ok()) {
    std::cerr << "error: " << store.status().message() << "\n";
    return 1;
  }
  SystemClock clock;
  IdGenerator ids(clock);
  if (auto removed = (*store)->tokens().DeleteExpired(clock.NowMillis()); removed.ok() && *removed > 0)
    log.Info("removed expired access tokens", {{"count", *removed}});

  auth::AuthService auth(**store, clock, ids, c.auth);
  chat::ConversationService conversations(**store, clock, ids);
  MetricsRegistry metrics;
  http::Router router;
  api::Services services{**store, auth, conversations, metrics, log, c.http};
  api::RegisterApi(router, services);

  http::Server server(c.http, router, metrics, log);
  if (Status s = server.Listen(); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::string url = "http://" + (c.http.host.find(':') != std::string::npos ? "[" + c.http.host + "]" : c.http.host) +
                    ":" + std::to_string(server.port());
  std::printf("betterdev %s on %s (data dir: %s)\n", with_workers ? "serving" : "API serving", url.c_str(),
              c.data_dir.c_str());
  std::fflush(stdout);
  log.Info("listening", {{"url", url}, {"data_dir", c.data_dir}});
  server.Run();
  log.Info("stopped");
  return 0;
}

}  // namespace
}  // namespace betterdev::app

int main(int argc, char** argv) {
  using namespace betterdev::app;
  Invocation inv = ParseCommandLine(argc, argv);
  if (inv.done) return inv.exit_code;
  try {
    switch (inv.command) {
      case Command::kServe: return Serve(inv.config, true);
      case Command::kApi: return Serve(inv.config, false);
      case Command::kMigrate: return Migrate(inv.config);
      case Command::kNone: break;
    }
  } catch (const std::exception& e) {
    std::cerr << "fatal: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
