// The embedded event transport: one SQLite table (WAL) that every process of one machine
// appends to and the API tails by seq. SQLite commits one writer at a time, so seq order is
// commit order and a reader that asks for "seq > the last I saw" never skips an event.
#include <mutex>

#include "core/time.hpp"
#include "realtime/event_log.hpp"
#include "store/sqlite/db.hpp"

namespace betterdev::realtime {
namespace {

namespace db = store::sqlite;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS events (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  type        TEXT NOT NULL,
  user_id     TEXT NOT NULL,
  document_id TEXT NOT NULL,
  at          INTEGER NOT NULL,
  stage       TEXT NOT NULL DEFAULT '',
  progress    INTEGER NOT NULL DEFAULT 0,
  page        INTEGER NOT NULL DEFAULT 0,
  pages       INTEGER NOT NULL DEFAULT 0,
  chunks      INTEGER NOT NULL DEFAULT 0,
  reason      TEXT NOT NULL DEFAULT '',
  attempts    INTEGER NOT NULL DEFAULT 0,
  next_at     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_at ON events(at);
)sql";

class SqliteEventLog final : public EventLog {
 public:
  SqliteEventLog(std::unique_ptr<db::Connection> writer, std::unique_ptr<db::Connection> reader,
                 const SqliteEventLogOptions& o)
      : writer_(std::move(writer)), reader_(std::move(reader)), options_(o) {}

  Status Append(const Event& e) override {
    std::lock_guard lock(write_mu_);
    return writer_
        ->Prepare("INSERT INTO events(type, user_id, document_id, at, stage, progress, page, pages, chunks, reason, "
                  "attempts, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .Bind(1, EventTypeName(e.type))
        .Bind(2, e.user_id)
        .Bind(3, e.document_id)
        .Bind(4, e.at_ms)
        .Bind(5, e.stage)
        .Bind(6, int64_t{e.progress})
        .Bind(7, int64_t{e.page})
        .Bind(8, int64_t{e.pages})
        .Bind(9, e.chunks)
        .Bind(10, e.reason)
        .Bind(11, int64_t{e.attempts})
        .Bind(12, e.next_attempt_at_ms)
        .Run();
  }

  Result<std::vector<Event>> ReadAfter(uint64_t after, int limit) override {
    std::lock_guard lock(read_mu_);
    MaybePrune();
    db::Statement q = reader_->Prepare(
        "SELECT seq, type, user_id, document_id, at, stage, progress, page, pages, chunks, reason, attempts, next_at "
        "FROM events WHERE seq > ? ORDER BY seq LIMIT ?");
    q.Bind(1, static_cast<int64_t>(after)).Bind(2, int64_t{limit});
    std::vector<Event> out;
    for (;;) {
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      auto type = ParseEventType(q.Text(1));
      if (!type) continue;
      Event e;
      e.seq = static_cast<uint64_t>(q.Int(0));
      e.type = *type;
      e.user_id = q.Text(2);
      e.document_id = q.Text(3);
      e.at_ms = q.Int(4);
      e.stage = q.Text(5);
      e.progress = static_cast<int>(q.Int(6));
      e.page = static_cast<int>(q.Int(7));
      e.pages = static_cast<int>(q.Int(8));
      e.chunks = q.Int(9);
      e.reason = q.Text(10);
      e.attempts = static_cast<int>(q.Int(11));
      e.next_attempt_at_ms = q.Int(12);
      out.push_back(std::move(e));
    }
    return out;
  }

  Result<uint64_t> LastSeq() override {
    std::lock_guard lock(read_mu_);
    db::Statement q = reader_->Prepare("SELECT coalesce(max(seq), 0) FROM events");
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    return static_cast<uint64_t>(*row ? q.Int(0) : 0);
  }

 private:
  // Old events go once a minute (the reader's connection; read_mu_ held).
  void MaybePrune() {
    const int64_t now = SystemClock().NowMillis();
    if (now - last_prune_ < 60000) return;
    last_prune_ = now;
    (void)reader_->Prepare("DELETE FROM events WHERE at < ?").Bind(1, now - options_.keep_ms).Run();
  }

  std::mutex write_mu_;
  std::unique_ptr<db::Connection> writer_;  // guarded by write_mu_
  std::mutex read_mu_;
  std::unique_ptr<db::Connection> reader_;  // guarded by read_mu_
  int64_t last_prune_ = 0;                  // guarded by read_mu_
  SqliteEventLogOptions options_;
};

}  // namespace

Result<std::unique_ptr<EventLog>> OpenSqliteEventLog(const std::string& path, const SqliteEventLogOptions& options) {
  // Several processes may create the table at once: that waits its turn; appends do not.
  auto writer = db::Connection::Open(path, 5000);
  if (!writer.ok()) return writer.status();
  BD_RETURN_IF_ERROR((*writer)->Exec(kSchema));
  // A log made before next_at existed gets the column (a second process adding it too fails
  // harmlessly: "duplicate column").
  {
    db::Statement cols = (*writer)->Prepare("SELECT count(*) FROM pragma_table_info('events') WHERE name = 'next_at'");
    Result<bool> row = cols.Step();
    if (row.ok() && *row && cols.Int(0) == 0) (void)(*writer)->Exec("ALTER TABLE events ADD COLUMN next_at INTEGER NOT NULL DEFAULT 0");
  }
  const std::string busy = "PRAGMA busy_timeout=" + std::to_string(options.busy_timeout_ms);
  BD_RETURN_IF_ERROR((*writer)->Exec(busy.c_str()));
  auto reader = db::Connection::Open(path, 2000);
  if (!reader.ok()) return reader.status();
  return std::unique_ptr<EventLog>(std::make_unique<SqliteEventLog>(std::move(*writer), std::move(*reader), options));
}

}  // namespace betterdev::realtime
