#include "store/sqlite/db.hpp"

#include <stdexcept>

namespace betterdev::store::sqlite {

Status ErrorStatus(sqlite3* db, int rc, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int ext = db ? sqlite3_extended_errcode(db) : rc;
  if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) return Status::Conflict(msg);
  if ((rc & 0xFF) == SQLITE_BUSY || (rc & 0xFF) == SQLITE_LOCKED) return Status::Unavailable(msg);
  return Status::Internal(msg);
}

Statement::~Statement() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Statement& Statement::Bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::Bind(int index, std::optional<int64_t> value) {
  return value ? Bind(index, *value) : BindNull(index);
}

Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return ErrorStatus(db_, rc, "query failed");
}

Status Statement::Run() {
  for (;;) {
    Result<bool> r = Step();
    if (!r.ok()) return r.status();
    if (!*r) return Status::Ok();
  }
}

std::string Statement::Text(int column) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))) : std::string();
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

Statement& Statement::BindDouble(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}

Statement& Statement::BindBlob(int index, const void* data, size_t size) {
  sqlite3_bind_blob64(stmt_, index, data, size, SQLITE_TRANSIENT);
  return *this;
}

std::string_view Statement::Blob(int column) const {
  const void* p = sqlite3_column_blob(stmt_, column);
  const int n = sqlite3_column_bytes(stmt_, column);
  return p == nullptr ? std::string_view() : std::string_view(static_cast<const char*>(p), static_cast<size_t>(n));
}

double Statement::Double(int column) const { return sqlite3_column_double(stmt_, column); }

bool Statement::IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::optional<int64_t> Statement::OptionalInt(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Int(column);
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, int busy_timeout_ms) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    Status s = Status::Unavailable("cannot open database " + path + ": " +
                                   (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close(db);
    return s;
  }
  std::unique_ptr<Connection> conn(new Connection(db));
  sqlite3_busy_timeout(db, busy_timeout_ms);
  sqlite3_extended_result_codes(db, 1);
  Status s = conn->Exec(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
      "PRAGMA temp_store=MEMORY;");
  if (!s.ok()) return Status::Unavailable("cannot configure database " + path + ": " + s.message());
  return conn;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Statement Connection::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) throw std::runtime_error(std::string("SQL does not compile: ") + sqlite3_errmsg(db_));
    it = cache_.emplace(sql, stmt).first;
  }
  return Statement(db_, it->second);
}

Status Connection::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return ErrorStatus(nullptr, rc, msg);
}

Result<std::unique_ptr<Pool>> Pool::Open(const std::string& path, int size, int busy_timeout_ms) {
  auto pool = std::make_unique<Pool>();
  for (int i = 0; i < std::max(1, size); ++i) {
    auto c = Connection::Open(path, busy_timeout_ms);
    if (!c.ok()) return c.status();
    pool->free_.push_back(std::move(*c));
  }
  return pool;
}

Pool::Lease Pool::Acquire() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !free_.empty(); });
  auto c = std::move(free_.back());
  free_.pop_back();
  return Lease(*this, std::move(c));
}

Pool::Lease::~Lease() {
  if (!conn_) return;
  {
    std::lock_guard lock(pool_->mu_);
    pool_->free_.push_back(std::move(conn_));
  }
  pool_->cv_.notify_one();
}

Transaction::Transaction(Connection& c) : conn_(c), begin_(c.Exec("BEGIN IMMEDIATE")) {
  done_ = !begin_.ok();
}

Transaction::~Transaction() {
  if (!done_) (void)conn_.Exec("ROLLBACK");
}

Status Transaction::Commit() {
  done_ = true;
  Status s = conn_.Exec("COMMIT");
  if (!s.ok()) (void)conn_.Exec("ROLLBACK");
  return s;
}

}  // namespace betterdev::store::sqlite
