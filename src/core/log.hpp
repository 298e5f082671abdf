// Structured logging: one JSON object per line.
//
// Thread-safe. Each line is written with a single write so lines from different threads never
// interleave. Fields are typed so the call site never formats JSON itself.
#pragma once

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <mutex>
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
  explicit Logger(std::FILE* out = stdout, LogLevel min_level = LogLevel::kInfo)
      : out_(out), min_level_(min_level) {}

  void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});
  void Debug(std::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kDebug, m, f); }
  void Info(std::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kInfo, m, f); }
  void Warn(std::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kWarn, m, f); }
  void Error(std::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kError, m, f); }
  bool Enabled(LogLevel level) const { return level >= min_level_; }

 private:
  std::FILE* out_;
  LogLevel min_level_;
  std::mutex mu_;
};

}  // namespace betterdev
