// The embedded store: one SQLite database file (WAL) holding every repository.
#pragma once

#include <memory>
#include <string>

#include "core/status.hpp"
#include "store/sqlite/migrations.hpp"
#include "store/store.hpp"

namespace betterdev::store {

struct SqliteOptions {
  std::string path;             // database file; its directory must exist
  int pool_size = 4;            // connections; readers run in parallel under WAL
  int busy_timeout_ms = 5000;   // how long a writer waits for another writer
};

// Opens the database and applies pending migrations.
Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

// Applies pending migrations only (the `betterdev migrate` command).
Result<sqlite::MigrationReport> MigrateSqlite(const std::string& path);

}  // namespace betterdev::store
