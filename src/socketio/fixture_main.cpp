// The fixture server of the official Engine.IO v4 and Socket.IO v5 conformance suites, as their
// README describes it: Engine.IO at /engine.io/ echoing every message; Socket.IO at /socket.io/
// with namespaces "/" and "/custom", each emitting `auth` with the CONNECT payload, answering
// `message` with `message-back` and acknowledging `message-with-ack` with its arguments; ping
// interval 300 ms, ping timeout 200 ms, max payload 1,000,000, connect timeout 1,000 ms, CORS
// open. Usage: socketio_fixture [--port N]; prints "listening on PORT" once it accepts.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "http/server.hpp"
#include "socketio/server.hpp"

namespace {

using namespace betterdev;
using namespace betterdev::socketio;

class Echo final : public EngineHandler {
 public:
  void OnOpen(const std::shared_ptr<EngineSocket>&, const http::Request&) override {}
  void OnMessage(const std::shared_ptr<EngineSocket>& socket, std::string data, bool binary) override {
    socket->Send(std::move(data), binary);
  }
  void OnClose(const std::shared_ptr<EngineSocket>&, std::string_view) override {}
};

class SuiteSocket final : public SocketHandler {
 public:
  explicit SuiteSocket(Json auth) : auth_(std::move(auth)) {}
  void OnConnect(const std::shared_ptr<Socket>& socket) override { socket->Emit("auth", Json::array({auth_})); }
  void OnEvent(const std::shared_ptr<Socket>& socket, const std::string& name, Json args,
               std::vector<std::string> attachments, Ack ack) override {
    if (name == "message") socket->Emit("message-back", std::move(args), std::move(attachments));
    else if (name == "message-with-ack" && ack) ack(std::move(args), std::move(attachments));
  }
  void OnDisconnect(const std::shared_ptr<Socket>&, std::string_view) override {}

 private:
  Json auth_;
};

class SuiteNamespace final : public Namespace {
 public:
  std::variant<Accept, Refuse> Connect(const http::Request&, const Json& auth) override {
    return Accept{std::make_shared<SuiteSocket>(auth)};
  }
};

void AddAllMethods(http::Router& router, const std::string& path, std::function<http::Response(http::Request&)> h) {
  http::RouteOptions o;
  o.body_limit = 1000000;
  for (http::Method m : {http::Method::kGet, http::Method::kPost, http::Method::kPut, http::Method::kPatch, http::Method::kDelete}) {
    router.Add(m, path, h, o);
  }
}

}  // namespace

int main(int argc, char** argv) {
  HttpConfig config;
  config.port = 0;
  config.threads = 2;
  config.cors_origins = {"*"};
  config.access_log = false;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0) config.port = static_cast<uint16_t>(std::atoi(argv[i + 1]));
  }
  TimerQueue timers;
  EngineOptions engine;
  engine.ping_interval = std::chrono::milliseconds(300);
  engine.ping_timeout = std::chrono::milliseconds(200);
  engine.max_payload = 1000000;
  Echo echo;
  EngineServer echo_server(echo, timers, engine);
  ServerOptions sio;
  sio.engine = engine;
  sio.connect_timeout = std::chrono::milliseconds(1000);
  Server socketio(timers, sio);
  socketio.AddNamespace("/", std::make_shared<SuiteNamespace>());
  socketio.AddNamespace("/custom", std::make_shared<SuiteNamespace>());

  http::Router router;
  AddAllMethods(router, "/engine.io/", [&](http::Request& req) { return echo_server.Handle(req); });
  AddAllMethods(router, "/socket.io/", [&](http::Request& req) { return socketio.Handle(req); });
  Logger log(stderr, LogLevel::kWarn);
  MetricsRegistry metrics;
  http::Server server(config, router, metrics, log);
  if (Status st = server.Listen(); !st.ok()) {
    std::fprintf(stderr, "socketio_fixture: %s\n", st.message().c_str());
    return 1;
  }
  std::printf("listening on %u\n", static_cast<unsigned>(server.port()));
  std::fflush(stdout);
  server.Run();
  echo_server.CloseAll();
  socketio.CloseAll();
  return 0;
}
