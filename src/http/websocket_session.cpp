#include "http/websocket_session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace betterdev::http::detail {
namespace {

namespace beast = boost::beast;
namespace bh = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

}  // namespace

// A WebSocket (see http/websocket.hpp): the handshake on the request already parsed, then a
// reader coroutine handing messages to the handler while this one writes what it queues.
awaitable<StreamEnd> RunWebSocket(beast::tcp_stream& stream, bh::request<bh::string_body> upgrade,
                                  const Request& req, Response& res, WebSocketContext ctx) {
  namespace ws = beast::websocket;
  const WebSocketOptions opts = res.websocket_options;
  std::shared_ptr<WebSocketHandler> handler = std::move(res.websocket);
  stream.expires_never();  // the WebSocket's own timeouts apply from here
  ws::stream<beast::tcp_stream&> socket(stream);
  ws::stream_base::timeout timeouts{std::chrono::seconds(ctx.handshake_timeout_seconds), opts.idle_timeout, true};
  socket.set_option(timeouts);
  socket.read_message_max(opts.max_message_bytes);
  // Messages go out as one frame each, straight from the queued string: no per-connection
  // write buffer (Beast's default 4 KiB), which matters with thousands of idle subscribers.
  socket.auto_fragment(false);
  socket.set_option(ws::stream_base::decorator([id = req.request_id](ws::response_type& r) {
    r.set(bh::field::server, "betterdev");
    r.set("X-Request-Id", id);
  }));
  beast::error_code ec;
  co_await socket.async_accept(upgrade, asio::redirect_error(use_awaitable, ec));
  upgrade = {};  // the request's headers are not needed any more
  if (ec) {
    handler->OnClose(StreamEnd::kClientGone);
    co_return StreamEnd::kClientGone;
  }
  auto state = std::make_shared<WsState>(stream.get_executor(), opts.max_queued_bytes);
  struct Guard {
    std::shared_ptr<WsState> state;
    std::shared_ptr<WebSocketHandler> handler;
    std::function<void(std::shared_ptr<WsState>)> attach;
    StreamEnd end = StreamEnd::kClientGone;
    ~Guard() {
      state->Detach();
      attach(nullptr);
      handler->OnClose(end);
    }
  } guard{state, handler, ctx.attach};
  ctx.attach(state);
  state->abort = [&stream] {
    beast::error_code aec;
    stream.socket().cancel(aec);
  };
  try {
    handler->OnOpen(state);
  } catch (const std::exception& e) {
    ctx.log.Error("websocket handler failed to open", {{"request_id", req.request_id}, {"error", e.what()}});
    state->Close(1011, "internal error");
  }

  struct Reader {
    explicit Reader(asio::any_io_executor ex) : done_timer(std::move(ex)) {}
    bool done = false;
    asio::steady_timer done_timer;
  };
  auto reader = std::make_shared<Reader>(stream.get_executor());
  asio::co_spawn(
      stream.get_executor(),
      [&socket, state, handler, reader]() -> awaitable<void> {
        beast::flat_buffer rb;
        for (;;) {
          beast::error_code rec;
          co_await socket.async_read(rb, asio::redirect_error(use_awaitable, rec));
          if (rec) {
            state->End(rec == ws::error::closed ? StreamEnd::kFinished
                       : rec == beast::error::timeout ? StreamEnd::kWriteTimeout
                                                      : StreamEnd::kClientGone);
            break;
          }
          std::string message = beast::buffers_to_string(rb.data());
          rb.consume(rb.size());
          try {
            handler->OnMessage(std::move(message), !socket.got_text());
          } catch (const std::exception&) {
            state->Close(1011, "internal error");
          }
        }
        reader->done = true;
        reader->done_timer.cancel();
      },
      asio::detached);

  StreamEnd end = StreamEnd::kFinished;
  for (;;) {
    WsState::Batch batch = state->Take();
    if (batch.end) {
      end = *batch.end;
      break;
    }
    for (auto& [message, binary] : batch.messages) {
      socket.text(!binary);
      co_await socket.async_write(asio::buffer(message), asio::redirect_error(use_awaitable, ec));
      if (ec) break;
    }
    if (ec) {
      state->End(StreamEnd::kClientGone);
      continue;
    }
    if (batch.closing) {
      co_await socket.async_close(ws::close_reason(static_cast<ws::close_code>(batch.code), batch.reason),
                                  asio::redirect_error(use_awaitable, ec));
      end = ctx.stopping.load() ? StreamEnd::kShutdown : StreamEnd::kFinished;
      break;
    }
    if (!batch.messages.empty()) continue;
    state->wake.expires_after(std::chrono::hours(24));
    beast::error_code wec;
    co_await state->wake.async_wait(asio::redirect_error(use_awaitable, wec));
  }
  state->abort = nullptr;
  if (end == StreamEnd::kOverflow) {
    // A client that stopped reading: it gets no close handshake, just the end.
    beast::error_code cec;
    stream.socket().shutdown(tcp::socket::shutdown_both, cec);
  }
  // The reader ends with the close handshake or the socket; wait for it (it uses `socket`).
  while (!reader->done) {
    beast::error_code cec;
    if (!state->Ended()) stream.socket().cancel(cec);
    reader->done_timer.expires_after(std::chrono::seconds(2));
    co_await reader->done_timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (!reader->done) stream.socket().close(cec);
  }
  guard.end = end;
  co_return end;
}

}  // namespace betterdev::http::detail
