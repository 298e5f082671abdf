#include "core/log.hpp"

#include <charconv>
#include <chrono>
#include <cmath>

#include "core/json_text.hpp"
#include "core/time.hpp"

namespace betterdev {

bool ParseLogLevel(std::string_view name, LogLevel& out) {
  if (name == "debug") out = LogLevel::kDebug;
  else if (name == "info") out = LogLevel::kInfo;
  else if (name == "warn") out = LogLevel::kWarn;
  else if (name == "error") out = LogLevel::kError;
  else return false;
  return true;
}

Logger::Logger(std::FILE* out, LogLevel min_level, int flush_interval_ms) : out_(out), min_level_(min_level) {
  if (flush_interval_ms <= 0) return;
  flusher_ = std::thread([this, flush_interval_ms] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, std::chrono::milliseconds(flush_interval_ms));
      lock.unlock();
      Flush();
      lock.lock();
    }
  });
}

Logger::~Logger() {
  if (flusher_.joinable()) {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    flusher_.join();
  }
  Flush();
}

void Logger::Flush() {
  std::lock_guard write_lock(write_mu_);
  std::string pending;
  {
    std::lock_guard lock(mu_);
    pending.swap(buffer_);
  }
  if (pending.empty()) return;
  std::fwrite(pending.data(), 1, pending.size(), out_);
  std::fflush(out_);
}

void Logger::Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (!Enabled(level)) return;
  static constexpr std::string_view kNames[] = {"debug", "info", "warn", "error"};
  std::string line;
  line.reserve(256);
  line += "{\"ts\":\"";
  line += FormatRfc3339(SystemClock().NowMillis());
  line += "\",\"level\":\"";
  line += kNames[static_cast<int>(level)];
  line += "\",\"msg\":";
  AppendJsonString(line, msg);
  for (const LogField& f : fields) {
    line.push_back(',');
    AppendJsonString(line, f.key);
    line.push_back(':');
    if (auto* s = std::get_if<std::string_view>(&f.value)) {
      AppendJsonString(line, *s);
    } else if (auto* i = std::get_if<int64_t>(&f.value)) {
      line += std::to_string(*i);
    } else if (auto* d = std::get_if<double>(&f.value)) {
      if (std::isfinite(*d)) {
        char buf[64];
        auto r = std::to_chars(buf, buf + sizeof buf, *d, std::chars_format::fixed, 3);
        line.append(buf, r.ec == std::errc() ? r.ptr : buf);
      } else {
        line += "null";
      }
    } else {
      line += std::get<bool>(f.value) ? "true" : "false";
    }
  }
  line += "}\n";
  bool now = !flusher_.joinable() || level >= LogLevel::kWarn;
  {
    std::lock_guard lock(mu_);
    buffer_ += line;
    now = now || buffer_.size() > (1 << 16);
  }
  if (now) Flush();
}

}  // namespace betterdev
