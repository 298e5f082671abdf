#include "store/postgres/pg.hpp"

#include <libpq-fe.h>

#include <poll.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace betterdev::store::pg {

Params& Params::Add(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return Add(std::string_view(buf));
}

Params& Params::AddVector(const std::vector<float>& v) {
  values_.emplace_back(VectorText(v));
  return *this;
}

namespace {
// "{a,b,...}" with each item written by `write(item, text)`.
template <typename T, typename Write>
std::string ArrayText(const std::vector<T>& items, Write write) {
  std::string text = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) text += ',';
    write(items[i], text);
  }
  text += '}';
  return text;
}
}  // namespace

Params& Params::AddArray(const std::vector<std::string>& items) {
  values_.emplace_back(ArrayText(items, [](const std::string& item, std::string& text) {
    text += '"';
    for (char ch : item) {
      if (ch == '"' || ch == '\\') text += '\\';
      text += ch;
    }
    text += '"';
  }));
  return *this;
}

Params& Params::AddArray(const std::vector<int64_t>& items) {
  values_.emplace_back(ArrayText(items, [](int64_t item, std::string& text) { text += std::to_string(item); }));
  return *this;
}

Params& Params::AddArray(const std::vector<double>& items) {
  values_.emplace_back(ArrayText(items, [](double item, std::string& text) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", item);
    text += buf;
  }));
  return *this;
}

std::string Params::VectorText(const std::vector<float>& v) {
  std::string text = "[";
  text.reserve(v.size() * 12 + 2);
  char buf[24];
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) text += ',';
    std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v[i]));  // 9 digits: exact for a float
    text += buf;
  }
  text += ']';
  return text;
}

Rows& Rows::operator=(Rows&& o) noexcept {
  if (this != &o) {
    if (r_) PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}
Rows::~Rows() {
  if (r_) PQclear(r_);
}
int Rows::size() const { return r_ ? PQntuples(r_) : 0; }
std::string Rows::Text(int row, int col) const {
  return std::string(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
}
int64_t Rows::Int(int row, int col) const {
  const char* v = PQgetvalue(r_, row, col);
  int64_t out = 0;
  std::from_chars(v, v + PQgetlength(r_, row, col), out);
  return out;
}
double Rows::Double(int row, int col) const { return std::strtod(PQgetvalue(r_, row, col), nullptr); }
bool Rows::Bool(int row, int col) const { return PQgetvalue(r_, row, col)[0] == 't'; }
bool Rows::IsNull(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
std::optional<int64_t> Rows::OptionalInt(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Int(row, col);
}
std::vector<float> Rows::Vector(int row, int col) const {
  std::vector<float> out;
  const char* p = PQgetvalue(r_, row, col);
  if (*p == '[') ++p;
  while (*p && *p != ']') {
    char* end = nullptr;
    out.push_back(std::strtof(p, &end));
    if (end == p) break;
    p = end;
    if (*p == ',') ++p;
  }
  return out;
}
std::string Rows::command() const { return r_ ? PQcmdStatus(r_) : ""; }
int64_t Rows::affected() const {
  const char* n = PQcmdTuples(r_);
  return (n && *n) ? std::strtoll(n, nullptr, 10) : 0;
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& url, int connect_timeout_seconds) {
  const std::string timeout = std::to_string(connect_timeout_seconds);
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {url.c_str(), timeout.c_str(), "betterdev", nullptr};
  PGconn* c = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (!c) return Status::Unavailable("PostgreSQL: out of memory");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string why = PQerrorMessage(c);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    PQfinish(c);
    return Status::Unavailable("PostgreSQL: cannot connect: " + why);
  }
  std::unique_ptr<Connection> conn(new Connection(c));
  // pgvector's type wherever the vector extension was created: public, or `extensions`
  // (Supabase's place for extensions). Quiet notices: they would go to stderr.
  // row_security off: a role that row-level security would filter (migration 7: one that is
  // neither the tables' owner nor exempt) gets an error, not empty tables.
  BD_RETURN_IF_ERROR(
      conn->Script("SET search_path TO public, extensions; SET client_min_messages TO warning; SET row_security = off"));
  return conn;
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::broken() const { return discarded_ || PQstatus(conn_) != CONNECTION_OK; }

bool Connection::stale() const {
  if (broken()) return true;
  pollfd p{PQsocket(conn_), POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;  // readable while idle: EOF or a FATAL goodbye (or an error)
}

bool Connection::idle() const { return PQtransactionStatus(conn_) == PQTRANS_IDLE; }

Status Connection::ErrorOf(PGresult* r, std::string_view what) {
  std::string message = r ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state ? state : "";
  if (r) PQclear(r);
  const std::string full = "PostgreSQL: " + std::string(what) + ": " + message;
  if (sqlstate == "40001" || sqlstate == "40P01") {  // rolled back: the transaction may run again
    retry_safe_ = true;
    return Status::Unavailable(full);
  }
  // The connection or the server went away (whether the statement was applied is unknown), the
  // server is read-only after a failover, out of resources, or cancelled the statement.
  if (broken() || sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("57", 0) == 0 || sqlstate.rfind("53", 0) == 0 ||
      sqlstate == "25006")
    return Status::Unavailable(full);
  if (sqlstate == "23505") return Status::Conflict(full);
  if (sqlstate == "23503") return Status::NotFound(full);
  return Status::Internal(full);
}

Result<Rows> Connection::Exec(const char* sql, const Params& params) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name(1, 's');  // (not "s" + to_string(): GCC 12's -Wrestrict misfires on it at -O3)
    name += std::to_string(prepared_.size());
    PGresult* r = PQprepare(conn_, name.c_str(), sql, 0, nullptr);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) return ErrorOf(r, "prepare");
    PQclear(r);
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> values;
  values.reserve(params.values().size());
  for (const auto& v : params.values()) values.push_back(v ? v->c_str() : nullptr);
  PGresult* r = PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(values.size()), values.data(), nullptr,
                               nullptr, 0);
  const ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return ErrorOf(r, "query");
  return Rows(r);
}

Result<Rows> Connection::ExecOnce(const std::string& sql, const Params& params) {
  std::vector<const char*> values;
  values.reserve(params.values().size());
  for (const auto& v : params.values()) values.push_back(v ? v->c_str() : nullptr);
  PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                             nullptr, 0);
  const ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return ErrorOf(r, "query");
  return Rows(r);
}

Status Connection::Script(const std::string& sql) {
  PGresult* r = PQexec(conn_, sql.c_str());
  const ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return ErrorOf(r, "script");
  PQclear(r);
  return Status::Ok();
}

Pool::Lease::~Lease() {
  if (conn_) pool_->Return(std::move(conn_));
}

Result<Pool::Lease> Pool::Acquire() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty() || open_ < size_; });
    while (!free_.empty()) {
      auto c = std::move(free_.back());
      free_.pop_back();
      if (!c->stale()) return Lease(*this, std::move(c));
      --open_;  // closed by the server (a restart): dropped, never sent a statement
    }
    ++open_;  // reserve a slot, connect outside the lock
  }
  auto c = Connection::Open(url_, connect_timeout_seconds_);
  if (!c.ok()) {
    std::lock_guard lock(mu_);
    --open_;
    cv_.notify_one();
    return c.status();
  }
  return Lease(*this, std::move(*c));
}

void Pool::Return(std::unique_ptr<Connection> c) {
  std::lock_guard lock(mu_);
  if (c->broken() || !c->idle()) {
    --open_;  // dropped: the next Acquire opens a new one
  } else {
    free_.push_back(std::move(c));
  }
  cv_.notify_one();
}

Transaction::Transaction(Connection& c) : conn_(c) {
  auto r = conn_.Exec("BEGIN");
  begin_ = r.ok() ? Status::Ok() : r.status();
  done_ = !begin_.ok();
}

Transaction::~Transaction() {
  if (!done_) (void)conn_.Exec("ROLLBACK");
}

Status Transaction::Commit() {
  done_ = true;
  auto r = conn_.Exec("COMMIT");
  if (!r.ok()) return r.status();
  // COMMIT of a transaction an error aborted answers ROLLBACK, not an error.
  if (r->command() == "ROLLBACK") return Status::Internal("PostgreSQL: the transaction was rolled back");
  return Status::Ok();
}

}  // namespace betterdev::store::pg
