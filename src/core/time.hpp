// Wall-clock time as milliseconds since the Unix epoch, and its RFC 3339 text form.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace betterdev {

// Injectable clock so tests can move time (token expiry, rate-limit windows).
// Implementations must be thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMillis() const = 0;
};

// The system's real-time clock.
class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override;
};

// "2026-11-24T20:14:01.123Z" (always UTC, always milliseconds).
std::string FormatRfc3339(int64_t unix_millis);
void AppendRfc3339(std::string& out, int64_t unix_millis);

// Parses what FormatRfc3339 writes (and whole seconds, and numeric offsets).
std::optional<int64_t> ParseRfc3339(std::string_view text);

}  // namespace betterdev
