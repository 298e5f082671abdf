// Routes requests by method and path pattern ("/v1/conversations/{id}").
//
// Built once at start, then read concurrently without locks (Find is const).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "http/message.hpp"

namespace betterdev::http {

using Handler = std::function<Response(Request&)>;

// Consumes a request body as it arrives (uploads), so it is never held whole in memory.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // Consecutive pieces of the body, called on an I/O thread: keep the work per call small and
  // bounded (a file write, a hash update). A response returned here ends the request: the rest
  // of the body is not read and the connection is closed after the response.
  virtual std::optional<Response> Write(std::string_view piece) = 0;
  // Called once the whole body has arrived, on the blocking pool. Not called when the body
  // never completes (client gone, timeout, limit): the destructor must clean up then.
  virtual Response Finish() = 0;
};

// Sees the request header (body empty) and answers at once (401, 415, ...) or returns the
// reader for the body.
using StreamStart = std::variant<Response, std::unique_ptr<BodyReader>>;
using StreamHandler = std::function<StreamStart(Request&)>;

struct RouteOptions {
  uint64_t body_limit = 1 << 20;  // bytes; a larger body gets 413
  // Run the handler on the blocking pool instead of an I/O thread (CPU-heavy work such as
  // password hashing), so one slow request never stalls others on the same thread.
  bool blocking = false;
};

struct Route {
  Method method;
  std::string pattern;  // also the metrics/log label
  std::vector<std::string> segments;  // "{name}" marks a parameter
  Handler handler;       // set for ordinary routes
  StreamHandler stream;  // set for streaming routes instead
  RouteOptions options;
};

struct RouteMatch {
  enum class Kind { kFound, kNotFound, kMethodNotAllowed };
  Kind kind = Kind::kNotFound;
  const Route* route = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<Method> allowed;  // for kMethodNotAllowed (and OPTIONS): methods on this path
  std::string_view pattern;     // the pattern that matched the path, if any (for metrics labels)
};

class Router {
 public:
  // Patterns start with '/'; "{name}" segments match one non-empty segment.
  // Throws std::invalid_argument on a duplicate (method, pattern) or a malformed pattern.
  void Add(Method method, std::string pattern, Handler handler, RouteOptions options = {});
  // A route whose body is streamed to a BodyReader; options.body_limit bounds the whole body.
  void AddStreaming(Method method, std::string pattern, StreamHandler handler, RouteOptions options = {});

  // HEAD is answered by GET routes. A path parameter that is not valid percent-encoding
  // makes the path not match.
  RouteMatch Find(Method method, std::string_view path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  void AddRoute(Route route);
  std::vector<Route> routes_;
};

// "GET, HEAD, POST, OPTIONS" for an Allow header.
std::string AllowHeader(const std::vector<Method>& methods);

}  // namespace betterdev::http
