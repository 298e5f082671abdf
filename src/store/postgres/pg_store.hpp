// The store on PostgreSQL (with pgvector): every repository, shared by any number of API and
// worker processes on any number of machines. Runs unchanged on Supabase (the vector extension
// where Supabase keeps extensions, nothing that needs a superuser once migrated).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "store/store.hpp"

namespace betterdev::store {

struct PostgresOptions {
  std::string url;               // postgres://user:pass@host:port/db?sslmode=require ...
  int pool_size = 8;             // connections per process
  int connect_timeout_seconds = 5;
};

struct PostgresMigrationReport {
  int current_version = 0;
  std::vector<int> applied;
};

// Opens a pool (connecting lazily: a database that is down makes calls answer Unavailable
// until it is back) after applying pending migrations (which needs the database).
Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options);

// Applies pending migrations (the `betterdev migrate` command): safe when several processes
// start at once (one applies, the others wait for it, then find nothing to do).
Result<PostgresMigrationReport> MigratePostgres(const std::string& url);

}  // namespace betterdev::store
