// Thin RAII layer over libpq: connections with prepared statements, a pool that reconnects,
// transactions, and SQLSTATEs mapped to Status. Used only inside store/postgres/; libpq's
// header stays in pg.cpp.
#pragma once

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

struct pg_conn;
struct pg_result;

namespace betterdev::store::pg {

// A statement's parameters in libpq's text format; nullopt is SQL NULL.
class Params {
 public:
  Params& Add(std::string_view text) {
    values_.emplace_back(std::string(text));
    return *this;
  }
  Params& Add(const char* text) { return Add(std::string_view(text)); }
  Params& Add(const std::string& text) { return Add(std::string_view(text)); }
  Params& Add(int64_t v) { return Add(std::to_string(v)); }
  Params& Add(int v) { return Add(int64_t{v}); }
  Params& Add(bool v) { return Add(v ? "true" : "false"); }
  Params& Add(double v);
  Params& Add(std::optional<int64_t> v) { return v ? Add(*v) : AddNull(); }
  Params& Add(std::optional<std::string> v) { return v ? Add(*v) : AddNull(); }
  Params& AddNull() {
    values_.emplace_back(std::nullopt);
    return *this;
  }
  // A float vector as pgvector's text form "[x,y,...]", every float exact.
  Params& AddVector(const std::vector<float>& v);
  // Arrays in PostgreSQL's text form ("{...}"): text[] (also for `$n::vector[]` from
  // VectorText), bigint[] / int[], float8[].
  Params& AddArray(const std::vector<std::string>& items);
  Params& AddArray(const std::vector<int64_t>& items);
  Params& AddArray(const std::vector<double>& items);
  static std::string VectorText(const std::vector<float>& v);
  const std::vector<std::optional<std::string>>& values() const { return values_; }

 private:
  std::vector<std::optional<std::string>> values_;
};

// A query's answer (owns the PGresult).
class Rows {
 public:
  explicit Rows(pg_result* r) : r_(r) {}
  Rows(Rows&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  Rows& operator=(Rows&& o) noexcept;
  ~Rows();
  int size() const;
  bool empty() const { return size() == 0; }
  std::string Text(int row, int col) const;
  int64_t Int(int row, int col) const;
  double Double(int row, int col) const;
  bool Bool(int row, int col) const;  // 't'
  bool IsNull(int row, int col) const;
  std::optional<int64_t> OptionalInt(int row, int col) const;
  std::vector<float> Vector(int row, int col) const;  // pgvector's text form
  int64_t affected() const;  // rows an INSERT/UPDATE/DELETE touched
  std::string command() const;  // the command tag ("COMMIT", "ROLLBACK", "UPDATE 1", ...)

 private:
  pg_result* r_;
};

class Connection {
 public:
  // `url`: postgres://user:pass@host:port/db?sslmode=... (or a key=value conninfo).
  static Result<std::unique_ptr<Connection>> Open(const std::string& url, int connect_timeout_seconds);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql` (a string literal: prepared once per connection, keyed by its address).
  // Conflict on a unique violation, NotFound on a foreign-key violation, Unavailable when the
  // connection is lost or the server asks for a retry (serialization failure, deadlock).
  Result<Rows> Exec(const char* sql, const Params& params = {});
  // Runs `sql` built at run time (not prepared: planned with these parameters' values, which
  // lets the planner match them against a partial index's predicate).
  Result<Rows> ExecOnce(const std::string& sql, const Params& params = {});
  // Runs a script (one or more statements, no parameters), not prepared.
  Status Script(const std::string& sql);
  // The connection can no longer be used (the pool replaces it), or Discard was called.
  bool broken() const;
  // Not to be lent again: the pool closes it when it comes back (a session may hold what a
  // failed statement left behind).
  void Discard() { discarded_ = true; }
  // Idle, and the server has closed it or said something (it was restarted, or ended the
  // session): not worth sending a statement on. Checked without a round trip.
  bool stale() const;
  // Not between BEGIN and COMMIT/ROLLBACK (a connection the pool may lend again).
  bool idle() const;
  // Since the last ClearRetrySafe, an error said the server applied nothing and a retry may
  // succeed (a serialization failure or a deadlock: the transaction was rolled back).
  bool retry_safe() const { return retry_safe_; }
  void ClearRetrySafe() { retry_safe_ = false; }

 private:
  explicit Connection(pg_conn* c) : conn_(c) {}
  Status ErrorOf(pg_result* r, std::string_view what);
  pg_conn* conn_;
  std::unordered_map<const char*, std::string> prepared_;
  bool retry_safe_ = false;
  bool discarded_ = false;
};

// Up to `size` connections; Acquire blocks while all are lent, and opens a connection when
// one is needed (Unavailable when the server cannot be reached). An idle connection the server
// has closed (a restart) is dropped before it is lent; a returned connection that broke or is
// still in a transaction is dropped too. Thread-safe.
class Pool {
 public:
  Pool(std::string url, int size, int connect_timeout_seconds)
      : url_(std::move(url)), size_(size), connect_timeout_seconds_(connect_timeout_seconds) {}

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
  Result<Lease> Acquire();

 private:
  void Return(std::unique_ptr<Connection> c);
  const std::string url_;
  const int size_;
  const int connect_timeout_seconds_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> free_;  // guarded by mu_
  int open_ = 0;                                   // connections lent or free; guarded by mu_
};

// BEGIN on construction; ROLLBACK on destruction unless committed.
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

}  // namespace betterdev::store::pg
