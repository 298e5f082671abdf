// Versioned schema migrations for the SQLite store. Each migration runs once, in its own
// transaction, in version order; applied versions are recorded in schema_migrations.
#pragma once

#include <vector>

#include "core/status.hpp"
#include "store/sqlite/db.hpp"

namespace betterdev::store::sqlite {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

const std::vector<Migration>& AllMigrations();

struct MigrationReport {
  std::vector<int> applied;  // versions applied by this call
  int current_version = 0;   // schema version afterwards
};

// Applies pending migrations. Fails (and leaves the database as it was before the failing
// migration) when one does not apply, or when the database is newer than this binary.
Result<MigrationReport> ApplyMigrations(Connection& conn, int64_t now_ms);

}  // namespace betterdev::store::sqlite
