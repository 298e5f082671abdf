// Structured logging: one JSON object per line.
//
// Thread-safe. Lines from different threads never interleave. Fields are typed so the call site
// never formats JSON itself. With a flush interval, info/debug lines are buffered and written by
// a background thread at that interval (one write for many lines, no lock held across I/O);
// warnings and errors are written at once, and the buffer is flushed on destruction.
#pragma once

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <string>
#include <string_view>
#include <variant>

namespace betterdev {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Returns false when `name` is not one of debug, info, warn, error.
bool ParseLogLevel(std::string_view name, LogLevel& out);

struct LogField {
  std::string_view key;
  std::variant<std::string_view, int64_t, double, bool> value;
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, int64_t v) : key(k), value(v) {}
  LogField(std::string_view k, int v) : key(k), value(int64_t{v}) {}
  LogField(std::string_view k, unsigned v) : key(k), value(int64_t{v}) {}
  LogField(std::string_view k, size_t v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(std::string_view k, double v) : key(k), value(v) {}
  LogField(std::string_view k, bool v) : key(k), value(v) {}
};

class Logger {
 public:
  // Does not take ownership of `out`.
  explicit Logger(std::FILE* out = stdout, LogLevel min_level = LogLevel::kInfo, int flush_interval_ms = 0);
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});
  void Debug(std::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kDebug, m, f); }
  void Info(std::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kInfo, m, f); }
  void Warn(std::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kWarn, m, f); }
  void Error(std::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kError, m, f); }
  bool Enabled(LogLevel level) const { return level >= min_level_; }
  // Writes buffered lines now.
  void Flush();

 private:
  std::FILE* out_;
  LogLevel min_level_;
  std::mutex mu_;
  std::string buffer_;          // guarded by mu_
  std::mutex write_mu_;         // serialises writes to out_
  std::condition_variable cv_;  // wakes the flusher early on shutdown
  bool stopping_ = false;       // guarded by mu_
  std::thread flusher_;
};

}  // namespace betterdev
