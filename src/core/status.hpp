// Status and Result<T>: expected failures as values.
//
// A small closed set of codes; HTTP status codes exist only in the api layer, which maps
// these once. Status is cheap to copy when ok (no allocation).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace betterdev {

enum class StatusCode {
  kOk,
  kInvalidArgument,    // the caller sent something wrong; retrying will not help
  kNotFound,           // no such thing, or not visible to this caller
  kConflict,           // clashes with existing state (duplicate e-mail, ...)
  kUnauthenticated,    // missing, bad, expired or revoked credentials
  kPermissionDenied,   // authenticated but not allowed
  kResourceExhausted,  // rate limited or over a limit; may carry retry_after_seconds
  kUnavailable,        // a dependency cannot be reached; retrying later may help
  kTimeout,
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
  static Status ResourceExhausted(std::string m, int retry_after_seconds = 0) {
    Status s{StatusCode::kResourceExhausted, std::move(m)};
    s.retry_after_seconds_ = retry_after_seconds;
    return s;
  }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Timeout(std::string m) { return {StatusCode::kTimeout, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Seconds the caller should wait before retrying; only set for kResourceExhausted.
  int retry_after_seconds() const { return retry_after_seconds_; }
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  int retry_after_seconds_ = 0;
};

// Holds either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result built from an ok Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace betterdev

// Returns early from the enclosing function when `expr` (a Status) is not ok.
#define BD_RETURN_IF_ERROR(expr)            \
  do {                                      \
    ::betterdev::Status bd_status_ = (expr); \
    if (!bd_status_.ok()) return bd_status_; \
  } while (0)
