#include "http/server.hpp"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>  // is_upgrade only
#include <chrono>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "core/random.hpp"
#include "http/connection_state.hpp"
#include "http/websocket_session.hpp"

namespace betterdev::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bh = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;
using detail::StreamState;
using detail::WsState;

constexpr size_t kHeaderLimit = 16 * 1024;

// Beast 1.74 checks header_limit per read rather than in total once the start line is parsed,
// so the total is checked again here: request line plus "Name: value\r\n" per field.
size_t HeaderBytes(const bh::request<bh::string_body>& req) {
  size_t n = req.method_string().size() + req.target().size() + 12;
  for (const auto& field : req) n += field.name_string().size() + field.value().size() + 4;
  return n;
}
constexpr std::string_view kExposedHeaders = "X-Request-Id, Retry-After, Location";
constexpr std::string_view kAllowedRequestHeaders =
    "Authorization, Content-Type, X-Request-Id, X-Filename, Idempotency-Key";

bool ValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.'))
      return false;
  return true;
}

// State shared by a session coroutine and the shutdown logic; only touched on its connection's
// thread (its io_context is run by one thread).
struct Connection {
  explicit Connection(asio::any_io_executor ex) : executor(std::move(ex)) {}
  asio::any_io_executor executor;
  beast::tcp_stream* stream = nullptr;
  bool busy = false;  // a request has started arriving and has not been answered yet
  std::shared_ptr<StreamState> streaming;  // while a streamed response is being written
  std::shared_ptr<WsState> websocket;      // while the connection is a WebSocket
};

}  // namespace

class Server::Impl {
 public:
  Impl(const HttpConfig& config, const Router& router, MetricsRegistry& metrics, Logger& log)
      : config_(config),
        router_(router),
        metrics_(metrics),
        log_(log),
        iocs_(MakeContexts(config.threads)),
        ioc_(*iocs_[0]),
        blocking_(static_cast<size_t>(std::max(1, config.blocking_threads))) {
    metrics_.DeclareCounter("betterdev_http_requests_total", "HTTP requests by method, route and status.");
    metrics_.DeclareHistogram("betterdev_http_request_duration_seconds",
                              "HTTP request latency by method, route and status.",
                              {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
    metrics_.DeclareGauge("betterdev_http_open_connections", "Open HTTP connections.");
    metrics_.AddCollector([this](MetricsRegistry& r) {
      std::lock_guard lock(conns_mu_);
      r.Set("betterdev_http_open_connections", "", static_cast<double>(conns_.size()));
    });
    uint8_t r[4];
    SecureRandomBytes(r, sizeof r);
    id_prefix_ = HexEncode(std::string_view(reinterpret_cast<char*>(r), sizeof r));
  }

  Status Listen() {
    beast::error_code ec;
    auto addr = asio::ip::make_address(config_.host, ec);
    if (ec) return Status::InvalidArgument("host: not an IP address: " + config_.host);
    tcp::endpoint ep(addr, config_.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Status::Unavailable("cannot listen on " + config_.host + ":" + std::to_string(config_.port) +
                                 ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    return Status::Ok();
  }

  uint16_t port() const { return port_; }

  void Run() {
    asio::co_spawn(ioc_, Accept(), asio::detached);
    signals_.async_wait([this](const beast::error_code& ec, int sig) {
      if (!ec) {
        log_.Info("signal received, shutting down", {{"signal", sig}});
        BeginShutdown();
      }
    });
    std::vector<std::thread> threads;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> idle_guards;
    for (size_t i = 1; i < iocs_.size(); ++i) {
      idle_guards.push_back(asio::make_work_guard(*iocs_[i]));  // a context without connections waits
      threads.emplace_back([this, i] { iocs_[i]->run(); });
    }
    ioc_.run();
    for (auto& t : threads) t.join();
    blocking_.join();
    // Streams cut off at the shutdown deadline: their producers may still Send; from now on that
    // must not reach the stopped io_context.
    std::lock_guard lock(conns_mu_);
    for (auto& [id, c] : conns_) {
      if (c->streaming) c->streaming->Detach();
      if (c->websocket) c->websocket->Detach();
    }
  }

  void Stop() {
    asio::post(ioc_, [this] { BeginShutdown(); });
  }

 private:
  awaitable<void> Accept() {
    for (;;) {
      beast::error_code ec;
      asio::io_context& home = *iocs_[next_context_++ % iocs_.size()];
      tcp::socket socket = co_await acceptor_.async_accept(home, asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (stopping_ || ec == asio::error::operation_aborted) co_return;
        log_.Warn("accept failed", {{"error", ec.message()}});
        asio::steady_timer t(ioc_, std::chrono::milliseconds(50));  // e.g. out of file descriptors
        co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      auto conn = std::make_shared<Connection>(socket.get_executor());
      uint64_t id;
      {
        std::lock_guard lock(conns_mu_);
        id = next_conn_id_++;
        conns_.emplace(id, conn);
      }
      asio::co_spawn(socket.get_executor(), Session(std::move(socket), conn, id), asio::detached);
    }
  }

  // "<8 hex digits of this process>-<12 hex digits of a counter>".
  std::string NewRequestId() {
    static constexpr char kHex[] = "0123456789abcdef";
    uint64_t n = request_counter_.fetch_add(1, std::memory_order_relaxed);
    std::string id = id_prefix_;
    id.resize(id_prefix_.size() + 13);
    id[id_prefix_.size()] = '-';
    for (size_t i = id.size(); i > id_prefix_.size() + 1; --i, n >>= 4) id[i - 1] = kHex[n & 15];
    return id;
  }

  bool OriginAllowed(std::string_view origin) const {
    for (const std::string& o : config_.cors_origins)
      if (o == "*" || o == origin) return true;
    return false;
  }

  Response CallHandler(const Route& route, Request& req) {
    return Guarded(route, req, [&] { return route.handler(req); });
  }

  // Runs `fn`; an escaped exception becomes a logged 500 in the one error shape.
  template <typename Fn>
  Response Guarded(const Route& route, Request& req, Fn&& fn) {
    try {
      return fn();
    } catch (const std::exception& e) {
      log_.Error("unhandled exception in handler",
                 {{"request_id", req.request_id}, {"route", route.pattern}, {"error", e.what()}});
    } catch (...) {
      log_.Error("unhandled exception in handler", {{"request_id", req.request_id}, {"route", route.pattern}});
    }
    return Response::Error(500, "internal", "internal server error; see the server log for request " + req.request_id);
  }

  awaitable<Response> Invoke(const Route& route, Request& req) {
    if (!route.options.blocking) co_return CallHandler(route, req);
    co_return co_await asio::co_spawn(
        blocking_, [&]() -> awaitable<Response> { co_return CallHandler(route, req); }, use_awaitable);
  }

  // Fills `req` from the parsed header; returns false when the target is not origin-form.
  static bool ReadHeader(const bh::request<bh::string_body>& in, Request& req) {
    req.method = ParseMethod(std::string_view(in.method_string().data(), in.method_string().size()));
    std::string_view target(in.target().data(), in.target().size());
    if (target.empty() || target[0] != '/') return false;
    size_t q = target.find('?');
    req.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
    for (const auto& f : in)
      req.headers.push_back({std::string(f.name_string()), std::string(f.value())});
    return true;
  }

  // Decides the response for a request whose header has been read; reads the body when a
  // route accepts it. Sets `body_pending` when the body was left unread (so the connection
  // cannot be reused).
  awaitable<Response> Dispatch(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                               bh::request_parser<bh::string_body>& parser, Request& req,
                               std::string& route_label, bool& body_pending) {
    const auto& in = parser.get();
    body_pending = !parser.is_done();
    if (!ReadHeader(in, req)) co_return Response::Error(400, "bad_request", "request target must be a path");
    RouteMatch m = router_.Find(req.method, req.path);
    const std::string* origin = req.FindHeader("Origin");

    if (req.method == Method::kOptions) {
      if (m.allowed.empty()) co_return Response::Error(404, "not_found", "no such route: " + req.path);
      route_label = std::string(m.pattern);
      Response res = Response::NoContent();
      res.WithHeader("Allow", AllowHeader(m.allowed));
      if (origin && OriginAllowed(*origin) && req.FindHeader("Access-Control-Request-Method")) {
        res.WithHeader("Access-Control-Allow-Methods", AllowHeader(m.allowed));
        res.WithHeader("Access-Control-Allow-Headers", std::string(kAllowedRequestHeaders));
        res.WithHeader("Access-Control-Max-Age", "600");
      }
      co_return res;
    }
    if (m.kind == RouteMatch::Kind::kNotFound)
      co_return Response::Error(404, "not_found", "no such route: " + req.path);
    if (m.kind == RouteMatch::Kind::kMethodNotAllowed) {
      route_label = std::string(m.pattern);
      Response res = Response::Error(405, "method_not_allowed",
                                     std::string(MethodName(req.method)) + " is not allowed on " + req.path);
      res.WithHeader("Allow", AllowHeader(m.allowed));
      co_return res;
    }

    const Route& route = *m.route;
    route_label = route.pattern;
    req.path_params = std::move(m.params);
    if (route.stream) co_return co_await StreamBody(stream, buffer, parser, route, req, body_pending);
    if (!parser.is_done()) {
      uint64_t limit = route.options.body_limit;
      if (auto cl = parser.content_length(); cl && *cl > limit)
        co_return Response::Error(413, "payload_too_large",
                                  "request body exceeds the limit of " + std::to_string(limit) + " bytes");
      beast::error_code ec;
      if (!co_await MaybeContinue(stream, in)) co_return Response::Error(400, "bad_request", "connection failed");
      parser.body_limit(limit);
      stream.expires_after(std::chrono::seconds(config_.body_timeout_seconds));
      co_await bh::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      if (ec == bh::error::body_limit)
        co_return Response::Error(413, "payload_too_large",
                                  "request body exceeds the limit of " + std::to_string(limit) + " bytes");
      if (ec == beast::error::timeout)
        co_return Response::Error(408, "request_timeout", "request body not received in time");
      if (ec) co_return Response::Error(400, "bad_request", "malformed request body: " + ec.message());
    }
    body_pending = false;
    req.body = std::move(parser.get().body());
    co_return co_await Invoke(route, req);
  }

  // Sends `100 Continue` when the client asked for it; false when the connection failed.
  static awaitable<bool> MaybeContinue(beast::tcp_stream& stream, const bh::request<bh::string_body>& in) {
    auto expect = in.find(bh::field::expect);
    if (expect == in.end() ||
        !EqualsIgnoreCase(std::string_view(expect->value().data(), expect->value().size()), "100-continue"))
      co_return true;
    beast::error_code ec;
    bh::response<bh::empty_body> cont{bh::status::continue_, in.version()};
    co_await bh::async_write(stream, cont, asio::redirect_error(use_awaitable, ec));
    co_return !ec;
  }

  // Streams the body of a streaming route into its BodyReader piece by piece. The body
  // timeout is an inactivity timeout here: it restarts with every piece, so a large upload on
  // a slow but steady link is not cut off.
  awaitable<Response> StreamBody(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                 bh::request_parser<bh::string_body>& header_parser, const Route& route,
                                 Request& req, bool& body_pending) {
    StreamStart start = CallStreamHandler(route, req);
    if (auto* res = std::get_if<Response>(&start)) co_return std::move(*res);
    std::unique_ptr<BodyReader> reader = std::move(std::get<std::unique_ptr<BodyReader>>(start));
    const uint64_t limit = route.options.body_limit;
    auto too_large = [limit] {
      return Response::Error(413, "payload_too_large", "request body exceeds the limit of " + std::to_string(limit) + " bytes");
    };
    if (auto cl = header_parser.content_length(); cl && *cl > limit) co_return too_large();
    if (!header_parser.is_done()) {
      if (!co_await MaybeContinue(stream, header_parser.get()))
        co_return Response::Error(400, "bad_request", "connection failed");
      bh::request_parser<bh::buffer_body> parser{std::move(header_parser)};
      parser.body_limit(limit);
      std::vector<char> piece(64 * 1024);
      while (!parser.is_done()) {
        parser.get().body().data = piece.data();
        parser.get().body().size = piece.size();
        beast::error_code ec;
        stream.expires_after(std::chrono::seconds(config_.body_timeout_seconds));
        co_await bh::async_read_some(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
        if (ec == bh::error::need_buffer) ec = {};
        if (ec == bh::error::body_limit) co_return too_large();
        if (ec == beast::error::timeout) co_return Response::Error(408, "request_timeout", "request body not received in time");
        if (ec) co_return Response::Error(400, "bad_request", "malformed request body: " + ec.message());
        size_t n = piece.size() - parser.get().body().size;
        if (n == 0) continue;
        req.streamed_bytes += n;
        if (std::optional<Response> stop = reader->Write(std::string_view(piece.data(), n))) co_return std::move(*stop);
      }
    }
    body_pending = false;
    co_return co_await asio::co_spawn(
        blocking_, [&]() -> awaitable<Response> { co_return Guarded(route, req, [&] { return reader->Finish(); }); },
        use_awaitable);
  }

  StreamStart CallStreamHandler(const Route& route, Request& req) {
    std::unique_ptr<BodyReader> reader;
    Response res = Guarded(route, req, [&] {
      StreamStart start = route.stream(req);
      if (auto* r = std::get_if<Response>(&start)) return std::move(*r);
      reader = std::move(std::get<std::unique_ptr<BodyReader>>(start));
      return Response{};
    });
    if (reader) return reader;
    return res;
  }

  // After answering a request whose body was left unread (401, 413, 415 ...), reads and drops
  // what the client is still sending for a while before closing. Closing a socket with unread
  // data makes the kernel send a reset, and the client, still writing, would lose the answer.
  awaitable<void> Linger(beast::tcp_stream& stream, const std::shared_ptr<Connection>& conn) {
    constexpr uint64_t kMaxBytes = 64ull << 20;
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    conn->busy = false;  // shutdown may cut it short
    stream.expires_after(std::chrono::seconds(3));
    std::vector<char> sink(64 * 1024);
    for (uint64_t dropped = 0; dropped < kMaxBytes && !stopping_;) {
      size_t n = co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(use_awaitable, ec));
      if (ec) break;
      dropped += n;
    }
  }

  // The headers every response carries: server, content type, the handler's, request id, CORS.
  template <typename Body>
  void SetHeaders(bh::response<Body>& out, const Request& req, const Response& res) const {
    out.set(bh::field::server, "betterdev");
    if (!res.content_type.empty()) out.set(bh::field::content_type, res.content_type);
    for (const Header& h : res.headers) out.insert(h.name, h.value);
    out.set("X-Request-Id", req.request_id);
    if (const std::string* origin = req.FindHeader("Origin"); origin && OriginAllowed(*origin)) {
      out.set(bh::field::access_control_allow_origin, *origin);
      out.set(bh::field::vary, "Origin");
      out.set(bh::field::access_control_expose_headers, beast::string_view(kExposedHeaders.data(), kExposedHeaders.size()));
    }
  }

  // A whole response as it goes on the wire, in one buffer: one write, no serializer state
  // (measured: Beast's serializer and its buffer views were ~6% of a /healthz request's CPU).
  // Connection semantics as Beast's keep_alive(): HTTP/1.1 says "close" when closing, HTTP/1.0
  // says "keep-alive" when keeping.
  std::string Serialize(const Response& res, const Request& req, unsigned version, bool keep_alive, bool head) const {
    std::string out;
    out.reserve(256 + res.body.size());
    const auto reason = bh::obsolete_reason(static_cast<bh::status>(res.status));
    out.append(version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ").append(std::to_string(res.status)).push_back(' ');
    out.append(reason.data(), reason.size()).append("\r\nServer: betterdev\r\n");
    auto field = [&out](std::string_view name, std::string_view value) {
      out.append(name).append(": ").append(value).append("\r\n");
    };
    if (!res.content_type.empty()) field("Content-Type", res.content_type);
    for (const Header& h : res.headers) field(h.name, h.value);
    field("X-Request-Id", req.request_id);
    if (const std::string* origin = req.FindHeader("Origin"); origin && OriginAllowed(*origin)) {
      field("Access-Control-Allow-Origin", *origin);
      field("Vary", "Origin");
      field("Access-Control-Expose-Headers", kExposedHeaders);
    }
    if (version >= 11 && !keep_alive) field("Connection", "close");
    if (version < 11 && keep_alive) field("Connection", "keep-alive");
    // RFC 9110 8.6: no Content-Length on 204; a 304 would repeat the representation's.
    const bool bodiless = res.status == 204 || res.status == 304 || (res.status >= 100 && res.status < 200);
    if (!bodiless) field("Content-Length", std::to_string(res.body.size()));
    out.append("\r\n");
    if (!bodiless && !head) out.append(res.body);
    return out;
  }

  struct StreamResult {
    int status = 0;  // as recorded: the streamed status, a deferred reply's, or 499 (none sent)
    size_t bytes_out = 0;
    StreamEnd end = StreamEnd::kFinished;
    bool reusable = false;  // the connection can take another request
  };

  // While a streamed or deferred response is under way, a coroutine on the connection's thread
  // reads the socket, so a client that closes the connection is noticed at once (bytes it
  // sends, say a pipelined request, stay in `buffer`, up to 64 KiB).
  struct Watch {
    explicit Watch(asio::any_io_executor ex) : done_timer(std::move(ex)) {}
    bool stopping = false, done = false;
    asio::steady_timer done_timer;
  };
  std::shared_ptr<Watch> StartWatch(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                    const std::shared_ptr<StreamState>& state) {
    // A long stream usually hears nothing from its client: the request buffer is given back
    // (the watcher takes small pieces as they come).
    if (buffer.size() == 0) buffer.shrink_to_fit();
    auto watch = std::make_shared<Watch>(stream.get_executor());
    asio::co_spawn(
        stream.get_executor(),
        [&stream, &buffer, state, watch]() -> awaitable<void> {
          beast::error_code ec;
          // `stopping` is checked before every read: a read that completed just as StopWatch
          // cancelled must not be followed by another, which nothing would cancel.
          while (!watch->stopping && buffer.size() < 64 * 1024) {
            size_t n = co_await stream.socket().async_read_some(buffer.prepare(512), asio::redirect_error(use_awaitable, ec));
            if (ec) {
              // operation_aborted: this server closed or cancelled the socket (a write deadline
              // passed, or the watch is being stopped); the writer reports why.
              if (!watch->stopping && ec != asio::error::operation_aborted) state->End(StreamEnd::kClientGone);
              break;
            }
            buffer.commit(n);
          }
          watch->done = true;
          watch->done_timer.cancel();
        },
        asio::detached);
    return watch;
  }
  // Stops the watcher before `buffer` and `stream` are used again.
  static awaitable<void> StopWatch(beast::tcp_stream& stream, Watch& watch) {
    beast::error_code ec;
    if (watch.done) co_return;
    watch.stopping = true;
    while (!watch.done) {
      stream.socket().cancel(ec);
      watch.done_timer.expires_after(std::chrono::seconds(5));
      co_await watch.done_timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
  }

  // Starts a streamed or deferred response's producer (a throw ends the stream); during a
  // shutdown it hears so at once.
  void StartProducer(StreamState& state, const Request& req) {
    try {
      state.StartProducer();
    } catch (const std::exception& e) {
      log_.Error("stream producer failed to start", {{"request_id", req.request_id}, {"error", e.what()}});
      state.End(StreamEnd::kClientGone);
    }
    if (stopping_) state.StopProducer(StreamEnd::kShutdown);
  }

  // A deferred response: waits (holding no thread) for the producer's Reply, then writes it.
  awaitable<StreamResult> RunDeferred(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                      const std::shared_ptr<StreamState>& state, const Request& req, unsigned version,
                                      bool keep_alive) {
    StreamResult result;
    result.status = 499;
    StartProducer(*state, req);
    auto watch = StartWatch(stream, buffer, state);
    std::optional<Response> reply;
    for (;;) {
      StreamState::Batch batch = state->Take();
      if (batch.end) {
        result.end = *batch.end;
        break;
      }
      if (batch.finished) {
        reply = state->TakeReply();
        break;
      }
      state->wake.expires_after(std::chrono::hours(24));
      beast::error_code wec;
      co_await state->wake.async_wait(asio::redirect_error(use_awaitable, wec));
    }
    co_await StopWatch(stream, *watch);
    if (!reply) {
      if (result.end == StreamEnd::kFinished) result.end = StreamEnd::kClientGone;  // finished without a reply
      state->StopProducer(result.end);
      co_return result;
    }
    result.status = reply->status;
    result.bytes_out = reply->body.size();
    const std::string wire = Serialize(*reply, req, version, keep_alive && !stopping_, false);
    beast::error_code ec;
    stream.expires_after(std::chrono::seconds(config_.body_timeout_seconds));
    co_await asio::async_write(stream, asio::buffer(wire), asio::redirect_error(use_awaitable, ec));
    result.end = ec ? StreamEnd::kClientGone : StreamEnd::kFinished;
    state->Completed();  // the producer gave its reply: nothing of it is left to stop
    result.reusable = !ec && keep_alive && !stopping_ && buffer.size() < 64 * 1024;
    co_return result;
  }

  // Writes a streamed response (see http/stream.hpp): the header at once, then whatever the
  // producer queues, until it finishes, the client goes away or the server shuts down. While it
  // runs, a second coroutine on the same thread reads the socket, so a client that closes the
  // connection is noticed at once (bytes it sends, a pipelined request, stay in `buffer`).
  awaitable<StreamResult> RunStream(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                    const std::shared_ptr<Connection>& conn, const Request& req, Response& res,
                                    unsigned version, bool keep_alive) {
    const StreamOptions opts = res.stream_options;
    StreamResult result;
    result.status = res.status;
    auto state = std::make_shared<StreamState>(stream.get_executor(), std::move(res.stream), opts.max_queued_bytes);
    // However this coroutine ends (even destroyed with the io_context), the producer is told
    // and the sink stops reaching this connection.
    struct Guard {
      std::shared_ptr<StreamState> state;
      std::shared_ptr<Connection> conn;
      ~Guard() {
        state->Detach();
        state->StopProducer(StreamEnd::kClientGone);
        state->ReleaseProducer();
        conn->streaming.reset();
      }
    } guard{state, conn};
    conn->streaming = state;

    if (opts.deferred) co_return co_await RunDeferred(stream, buffer, state, req, version, keep_alive);
    const bool chunked = version >= 11;
    bh::response<bh::empty_body> head{static_cast<bh::status>(res.status), version};
    SetHeaders(head, req, res);
    head.keep_alive(keep_alive && chunked && !stopping_);
    if (chunked) head.chunked(true);
    bh::response_serializer<bh::empty_body> serializer{head};
    beast::error_code ec;
    stream.expires_after(opts.write_timeout);
    co_await bh::async_write_header(stream, serializer, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      result.end = ec == beast::error::timeout ? StreamEnd::kWriteTimeout : StreamEnd::kClientGone;
      state->StopProducer(result.end);
      co_return result;
    }
    StartProducer(*state, req);

    auto watch = StartWatch(stream, buffer, state);
    state->abort = [&stream] {
      beast::error_code aec;
      stream.socket().cancel(aec);
    };

    auto last_write = Clock::now();
    for (;;) {
      StreamState::Batch batch = state->Take();
      if (batch.end) {
        result.end = *batch.end;
        break;
      }
      if (!batch.bytes.empty()) {
        stream.expires_after(opts.write_timeout);
        if (chunked) {
          co_await asio::async_write(stream, bh::make_chunk(asio::buffer(batch.bytes)), asio::redirect_error(use_awaitable, ec));
        } else {
          co_await asio::async_write(stream, asio::buffer(batch.bytes), asio::redirect_error(use_awaitable, ec));
        }
        if (ec) {
          state->End(ec == beast::error::timeout ? StreamEnd::kWriteTimeout : StreamEnd::kClientGone);
          continue;
        }
        result.bytes_out += batch.bytes.size();
        last_write = Clock::now();
        continue;
      }
      if (batch.finished) {
        if (chunked) {
          stream.expires_after(opts.write_timeout);
          co_await asio::async_write(stream, bh::make_chunk_last(), asio::redirect_error(use_awaitable, ec));
        }
        result.end = ec ? StreamEnd::kClientGone : StreamEnd::kFinished;
        break;
      }
      // Nothing to write: wait for the producer, or until a heartbeat is due.
      const bool beats = opts.heartbeat_interval.count() > 0 && !opts.heartbeat.empty();
      if (beats) state->wake.expires_at(last_write + opts.heartbeat_interval);
      else state->wake.expires_after(std::chrono::hours(24));
      beast::error_code wec;
      co_await state->wake.async_wait(asio::redirect_error(use_awaitable, wec));
      if (!wec && beats && Clock::now() - last_write >= opts.heartbeat_interval && !state->Ended()) {
        stream.expires_after(opts.write_timeout);
        if (chunked) {
          co_await asio::async_write(stream, bh::make_chunk(asio::buffer(opts.heartbeat)), asio::redirect_error(use_awaitable, ec));
        } else {
          co_await asio::async_write(stream, asio::buffer(opts.heartbeat), asio::redirect_error(use_awaitable, ec));
        }
        if (ec) state->End(ec == beast::error::timeout ? StreamEnd::kWriteTimeout : StreamEnd::kClientGone);
        else last_write = Clock::now();
      }
    }
    state->abort = nullptr;
    if (result.end != StreamEnd::kFinished) state->StopProducer(result.end);
    else state->Completed();
    co_await StopWatch(stream, *watch);
    result.reusable = result.end == StreamEnd::kFinished && chunked && keep_alive && !stopping_ && !state->Ended() &&
                      buffer.size() < 64 * 1024;
    co_return result;
  }

  awaitable<void> Session(tcp::socket socket, std::shared_ptr<Connection> conn, uint64_t conn_id) {
    beast::tcp_stream stream(std::move(socket));
    conn->stream = &stream;
    beast::error_code ec;
    std::string remote = stream.socket().remote_endpoint(ec).address().to_string();
    beast::flat_buffer buffer;
    try {
      for (;;) {
        conn->busy = false;
        if (stopping_) break;
        if (buffer.size() == 0) {
          stream.expires_after(std::chrono::seconds(config_.idle_timeout_seconds));
          size_t n = co_await stream.async_read_some(buffer.prepare(8192), asio::redirect_error(use_awaitable, ec));
          if (ec) break;
          buffer.commit(n);
        }
        conn->busy = true;
        auto start = Clock::now();
        bh::request_parser<bh::string_body> parser;
        parser.header_limit(kHeaderLimit);
        // Each route sets its own limit before reading the body. (Not boost::none: Beast 1.74
        // compares a Content-Length against an empty optional as "greater".)
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        stream.expires_after(std::chrono::seconds(config_.header_timeout_seconds));
        co_await bh::async_read_header(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));

        Request req;
        req.remote_address = remote;
        Response res;
        std::string route_label = "unmatched";
        bool keep_alive = false;
        bool body_pending = true;
        unsigned version = 11;
        if (ec == beast::error::timeout || ec == bh::error::end_of_stream || ec == asio::error::eof ||
            ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
          break;  // slow, vanished or cancelled client: nothing to answer
        } else if (ec == bh::error::header_limit || (!ec && HeaderBytes(parser.get()) > kHeaderLimit)) {
          res = Response::Error(431, "header_too_large", "request header exceeds 16 KiB");
        } else if (ec) {
          res = Response::Error(400, "bad_request", "malformed HTTP request: " + ec.message());
        } else {
          version = parser.get().version();
          keep_alive = parser.get().keep_alive();
          if (auto it = parser.get().find("X-Request-Id"); it != parser.get().end())
            if (std::string_view incoming(it->value().data(), it->value().size()); ValidRequestId(incoming))
              req.request_id = std::string(incoming);
          if (req.request_id.empty()) req.request_id = NewRequestId();
          res = co_await Dispatch(stream, buffer, parser, req, route_label, body_pending);
        }
        if (req.request_id.empty()) req.request_id = NewRequestId();
        if (body_pending) keep_alive = false;
        if (stopping_) keep_alive = false;

        bool head = req.method == Method::kHead;
        if (res.websocket) {
          if (beast::websocket::is_upgrade(parser.get())) {
            // The request buffer is not used by the WebSocket (a client sends frames only after
            // the 101): with nothing left in it, its memory goes back now, not at the close.
            if (buffer.size() == 0) buffer.shrink_to_fit();
            detail::WebSocketContext ctx{config_.header_timeout_seconds, stopping_, log_,
                                         [conn](std::shared_ptr<WsState> state) { conn->websocket = std::move(state); }};
            req.headers = {};  // the handler has seen them; only the id and path are logged
            StreamEnd end = co_await detail::RunWebSocket(stream, parser.release(), req, res, std::move(ctx));
            Record(req, route_label, 101, std::chrono::duration<double>(Clock::now() - start).count(), 0, &end);
            break;  // the connection was the WebSocket's
          }
          res.websocket->OnClose(StreamEnd::kClientGone);
          res = Response::Error(426, "upgrade_required", "this route takes a WebSocket upgrade");
          res.WithHeader("Upgrade", "websocket");
        }
        if (res.stream && !head) {
          StreamResult sr = co_await RunStream(stream, buffer, conn, req, res, version, keep_alive);
          Record(req, route_label, sr.status, std::chrono::duration<double>(Clock::now() - start).count(),
                 sr.bytes_out, &sr.end);
          if (!sr.reusable) break;
          continue;
        }
        if (res.stream) {  // HEAD of a streamed route: the header alone; the producer never starts
          res.stream->Stop(StreamEnd::kClientGone);
          res.stream.reset();
        }
        size_t body_bytes = res.body.size();
        const std::string wire = Serialize(res, req, version, keep_alive, head);
        stream.expires_after(std::chrono::seconds(config_.body_timeout_seconds));
        co_await asio::async_write(stream, asio::buffer(wire), asio::redirect_error(use_awaitable, ec));

        double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        Record(req, route_label, res.status, seconds, body_bytes);
        if (!ec && body_pending) co_await Linger(stream, conn);
        if (ec || !keep_alive) break;
      }
    } catch (const std::exception& e) {
      log_.Error("connection failed", {{"error", e.what()}, {"remote", remote}});
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.close();
    conn->stream = nullptr;
    std::lock_guard lock(conns_mu_);
    conns_.erase(conn_id);
  }

  void Record(const Request& req, const std::string& route, int status, double seconds, size_t bytes_out,
              const StreamEnd* stream_end = nullptr) {
    std::string method(MethodName(req.method));
    std::string status_text = std::to_string(status);
    std::string labels = PromLabels({{"method", method}, {"route", route}, {"status", status_text}});
    metrics_.Add("betterdev_http_requests_total", labels);
    metrics_.Observe("betterdev_http_request_duration_seconds", labels, seconds);
    if (!config_.access_log) return;
    if (stream_end == nullptr) {
      log_.Info("request", {{"request_id", req.request_id},
                            {"method", method},
                            {"path", req.path},
                            {"route", route},
                            {"status", status},
                            {"duration_ms", seconds * 1000},
                            {"bytes_in", req.body.size() + req.streamed_bytes},
                            {"bytes_out", bytes_out},
                            {"remote", req.remote_address}});
    } else {
      log_.Info("request", {{"request_id", req.request_id},
                            {"method", method},
                            {"path", req.path},
                            {"route", route},
                            {"status", status},
                            {"duration_ms", seconds * 1000},
                            {"bytes_in", req.body.size() + req.streamed_bytes},
                            {"bytes_out", bytes_out},
                            {"remote", req.remote_address},
                            {"stream_end", StreamEndName(*stream_end)}});
    }
  }

  void BeginShutdown() {
    if (stopping_.exchange(true)) return;
    beast::error_code ec;
    acceptor_.close(ec);
    std::vector<std::shared_ptr<Connection>> conns;
    {
      std::lock_guard lock(conns_mu_);
      for (auto& [id, c] : conns_) conns.push_back(c);
    }
    log_.Info("shutting down", {{"open_connections", conns.size()}});
    for (auto& c : conns)
      asio::post(c->executor, [c] {
        if (c->websocket) c->websocket->Close(1001, "the server is shutting down");
        else if (c->streaming) c->streaming->StopProducer(StreamEnd::kShutdown);  // it sends a last event and finishes
        else if (!c->busy && c->stream) c->stream->cancel();  // idle: wake its read so it closes
      });
    asio::co_spawn(ioc_, DrainThenStop(), asio::detached);
  }

  awaitable<void> DrainThenStop() {
    auto deadline = Clock::now() + std::chrono::seconds(config_.shutdown_timeout_seconds);
    asio::steady_timer timer(ioc_);
    for (;;) {
      size_t open;
      {
        std::lock_guard lock(conns_mu_);
        open = conns_.size();
      }
      if (open == 0) break;
      if (Clock::now() >= deadline) {
        log_.Warn("shutdown deadline reached; closing open connections", {{"open_connections", open}});
        break;
      }
      timer.expires_after(std::chrono::milliseconds(10));
      beast::error_code ec;
      co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    beast::error_code ec;
    signals_.cancel(ec);
    for (auto& ioc : iocs_) ioc->stop();
  }

  // One io_context per I/O thread, each run by that thread alone: a connection lives on one of
  // them (round-robin at accept), so its handlers never hop threads and the contexts share no
  // queue or lock (measured: ~1.5x /healthz throughput over one context run by every thread,
  // docs/benchmarks.md). The first also accepts, watches signals and drives shutdown.
  static std::vector<std::unique_ptr<asio::io_context>> MakeContexts(int threads) {
    const int n = std::max(1, threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency()));
    std::vector<std::unique_ptr<asio::io_context>> out;
    for (int i = 0; i < n; ++i) out.push_back(std::make_unique<asio::io_context>(1));
    return out;
  }

  HttpConfig config_;
  const Router& router_;
  MetricsRegistry& metrics_;
  Logger& log_;
  std::vector<std::unique_ptr<asio::io_context>> iocs_;
  asio::io_context& ioc_;  // iocs_[0]
  size_t next_context_ = 0;  // Accept's round-robin (iocs_[0]'s thread only)
  asio::thread_pool blocking_;
  tcp::acceptor acceptor_{ioc_};
  asio::signal_set signals_{ioc_, SIGINT, SIGTERM};
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::string id_prefix_;
  std::atomic<uint64_t> request_counter_{0};
  std::mutex conns_mu_;
  uint64_t next_conn_id_ = 0;                                          // guarded by conns_mu_
  std::unordered_map<uint64_t, std::shared_ptr<Connection>> conns_;  // guarded by conns_mu_
};

Server::Server(const HttpConfig& config, const Router& router, MetricsRegistry& metrics, Logger& log)
    : impl_(std::make_unique<Impl>(config, router, metrics, log)) {}
Server::~Server() = default;
Status Server::Listen() { return impl_->Listen(); }
uint16_t Server::port() const { return impl_->port(); }
void Server::Run() { impl_->Run(); }
void Server::Stop() { impl_->Stop(); }

}  // namespace betterdev::http
