// Thin RAII layer over the SQLite C API: connections with a prepared-statement cache, a
// connection pool, and transactions. Used only inside store/sqlite/.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.hpp"

namespace betterdev::store::sqlite {

// Maps an SQLite result code to a Status (UNIQUE/PRIMARY KEY constraint → Conflict,
// BUSY/LOCKED → Unavailable, everything else → Internal).
Status ErrorStatus(sqlite3* db, int rc, std::string_view what);

// A cached prepared statement borrowed for one use. Resets itself and clears its bindings
// when destroyed, so the connection can hand it out again.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameter indexes start at 1.
  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::optional<int64_t> value);
  Statement& BindNull(int index);
  Statement& BindBlob(int index, const void* data, size_t size);
  Statement& BindDouble(int index, double value);

  // true when a row is available, false when done.
  Result<bool> Step();
  // Steps to completion, ignoring rows.
  Status Run();

  std::string Text(int column) const;
  int64_t Int(int column) const;
  double Double(int column) const;
  // The column's bytes (a BLOB), valid until the next Step.
  std::string_view Blob(int column) const;
  bool IsNull(int column) const;
  std::optional<int64_t> OptionalInt(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Connection {
 public:
  // Opens (creating if needed) the database at `path` with WAL, foreign keys and a busy timeout.
  static Result<std::unique_ptr<Connection>> Open(const std::string& path, int busy_timeout_ms);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // `sql` must be a string literal (the cache is keyed by its address).
  // Throws std::runtime_error when the SQL does not compile (a programming error).
  Statement Prepare(const char* sql);
  // Runs one or more statements without results.
  Status Exec(const char* sql);
  int64_t Changes() const { return sqlite3_changes64(db_); }
  sqlite3* raw() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

// A fixed set of connections; Acquire blocks until one is free. Thread-safe.
class Pool {
 public:
  static Result<std::unique_ptr<Pool>> Open(const std::string& path, int size, int busy_timeout_ms);

  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Connection> c) : pool_(&pool), conn_(std::move(c)) {}
    Lease(Lease&& o) noexcept = default;
    ~Lease();
    Connection* operator->() { return conn_.get(); }
    Connection& operator*() { return *conn_; }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };
  Lease Acquire();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> free_;  // guarded by mu_
};

// BEGIN IMMEDIATE on construction (so writers queue on the busy timeout instead of failing
// mid-transaction); rolls back on destruction unless committed.
class Transaction {
 public:
  explicit Transaction(Connection& c);
  ~Transaction();
  const Status& begin_status() const { return begin_; }
  Status Commit();

 private:
  Connection& conn_;
  Status begin_;
  bool done_ = false;
};

}  // namespace betterdev::store::sqlite
