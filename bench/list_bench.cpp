// The pieces of an authenticated GET /v1/conversations: token check, SQLite page query and
// JSON rendering, each timed alone.
#include <benchmark/benchmark.h>

#include "api/json_io.hpp"
#include "api/routes.hpp"
#include "auth/auth_service.hpp"
#include "core/random.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "testutil/testutil.hpp"

namespace betterdev {
namespace {

struct Fixture {
  Fixture() {
    store = std::move(store::OpenSqliteStore({dir.File("bench.db")}).value());
    AuthConfig ac;
    ac.argon2_memlimit_kib = 1024;
    ac.argon2_opslimit = 1;
    auth = std::make_unique<auth::AuthService>(*store, clock, ids, ac);
    user = auth->Register("bench@example.com", "benchmark-password")->id;
    token = auth->Login("bench@example.com", "benchmark-password", "127.0.0.1")->access_token;
    for (int i = 0; i < 100; ++i) {
      int64_t now = clock.NowMillis();
      (void)store->conversations().Create(
          {ids.New("conv"), user, "Conversation " + std::to_string(i), {"doc_" + std::to_string(i)}, now, now});
    }
  }
  testutil::TempDir dir;
  SystemClock clock;
  IdGenerator ids{clock};
  std::unique_ptr<store::Store> store;
  std::unique_ptr<auth::AuthService> auth;
  std::string user, token;
};

Fixture& F() {
  static Fixture f;
  return f;
}

void BM_Authenticate(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(F().auth->Authenticate(F().token));
}
BENCHMARK(BM_Authenticate);

void BM_ListQuery(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(F().store->conversations().List(F().user, {50, {}}));
}
BENCHMARK(BM_ListQuery);

void BM_ListJson(benchmark::State& state) {
  auto page = *F().store->conversations().List(F().user, {50, {}});
  for (auto _ : state) benchmark::DoNotOptimize(api::ListResponse(page, api::WriteConversation));
}
BENCHMARK(BM_ListJson);

}  // namespace
}  // namespace betterdev


namespace betterdev {
namespace {
void BM_Ping(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(F().store->Ping());
}
BENCHMARK(BM_Ping);
void BM_GetOne(benchmark::State& state) {
  auto page = *F().store->conversations().List(F().user, {1, {}});
  for (auto _ : state) benchmark::DoNotOptimize(F().store->conversations().Get(F().user, page.items[0].id));
}
BENCHMARK(BM_GetOne);
}  // namespace
}  // namespace betterdev

BENCHMARK_MAIN();
