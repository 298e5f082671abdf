// Schema of the queue database and its migrations, versioned by PRAGMA user_version.
#pragma once

#include "core/status.hpp"
#include "store/sqlite/db.hpp"

namespace betterdev::queue::sqlite {

inline constexpr int kQueueSchemaVersion = 2;

// Brings the database up to kQueueSchemaVersion inside one BEGIN IMMEDIATE transaction, so two
// processes opening a fresh file at once migrate it once. Internal when the file's version is
// newer than this binary knows.
Status MigrateQueue(store::sqlite::Connection& conn);

}  // namespace betterdev::queue::sqlite
