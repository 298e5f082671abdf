// A Socket.IO v5 server over Engine.IO v4 (socketio/engine.hpp): namespaces, the CONNECT
// handshake with its auth payload (accepted, or refused with CONNECT_ERROR before anything else
// happens, so the client sees `connect_error`), events with acknowledgements and binary
// attachments, rooms, and a connect timeout for clients that never join a namespace.
//
// The application registers a Namespace per path ("/", "/custom"); a CONNECT to any other gets
// the protocol's error packet ({"message":"Invalid namespace"}). For each accepted connection
// the namespace returns a SocketHandler, which hears that socket's events and its disconnect.
// Handlers are called on I/O or timer threads without locks held; they must not block.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "socketio/engine.hpp"
#include "socketio/packet.hpp"

namespace betterdev::socketio {

class Server;
struct Client;  // server.cpp: one Engine.IO session and its namespaces

// An event encoded once, to be emitted to many sockets of one namespace (a broadcast): the
// arguments are JSON texts as they go on the wire.
struct PreparedEvent {
  std::string nsp;
  std::string text;  // the packet
};
PreparedEvent PrepareEvent(std::string_view nsp, std::string_view name, const std::vector<std::string>& json_args);

// One connection to one namespace. Thread-safe; may be kept after it disconnected (Emit then
// returns false).
class Socket : public std::enable_shared_from_this<Socket> {
 public:
  Socket(Server& server, std::shared_ptr<Client> client, std::string nsp, std::string id);
  const std::string& id() const { return id_; }
  const std::string& nsp() const { return nsp_; }
  // Emits `name` with `args` (a JSON array of the arguments after the name; binary ones as
  // placeholders numbering `attachments`). False once disconnected or when the client is too
  // slow (its connection then closes).
  bool Emit(std::string_view name, Json args = Json::array(), std::vector<std::string> attachments = {});
  // The same for an event encoded once (its namespace must be this socket's).
  bool Emit(const PreparedEvent& event);
  // Leaves the namespace (the client hears a DISCONNECT packet).
  void Disconnect();
  bool connected() const;

  // Rooms this socket joined.
  void Join(const std::string& room);
  void Leave(const std::string& room);
  std::set<std::string> rooms() const;

 private:
  friend class Server;
  Server& server_;
  std::weak_ptr<Client> client_;
  const std::string nsp_;
  const std::string id_;
};

// A client's acknowledgement callback for one event: call it once with the reply's arguments.
using Ack = std::function<void(Json args, std::vector<std::string> attachments)>;

class SocketHandler {
 public:
  virtual ~SocketHandler() = default;
  // The CONNECT was answered; events may be emitted from now on.
  virtual void OnConnect(const std::shared_ptr<Socket>& socket) = 0;
  // `args` are the arguments after the name; `ack` is empty when the client wants none.
  virtual void OnEvent(const std::shared_ptr<Socket>& socket, const std::string& name, Json args,
                       std::vector<std::string> attachments, Ack ack) = 0;
  // Once: "client namespace disconnect", "server namespace disconnect", or the Engine.IO reason
  // ("transport close", "ping timeout", "parse error", "server shutting down", ...).
  virtual void OnDisconnect(const std::shared_ptr<Socket>& socket, std::string_view reason) = 0;
};

// What a namespace says to a CONNECT.
struct Accept {
  std::shared_ptr<SocketHandler> handler;
  Json extra = Json::object();  // more fields for the CONNECT reply beside "sid" (e.g. "pid")
};
struct Refuse {
  Json error;  // the CONNECT_ERROR payload: {"message": ..., "data": ...}
};

class Namespace {
 public:
  virtual ~Namespace() = default;
  // `handshake` is the HTTP request that opened the Engine.IO session; `auth` is the CONNECT
  // packet's payload ({} when it had none).
  virtual std::variant<Accept, Refuse> Connect(const http::Request& handshake, const Json& auth) = 0;
};

struct ServerOptions {
  EngineOptions engine;
  std::chrono::milliseconds connect_timeout{45000};  // from the Engine.IO open to a namespace CONNECT
};

class Server final : public EngineHandler {
 public:
  // `timers` must outlive the server. Register namespaces before serving.
  Server(TimerQueue& timers, ServerOptions options = {});
  ~Server() override;

  void AddNamespace(std::string nsp, std::shared_ptr<Namespace> ns);
  // Answers one request to the server's path.
  http::Response Handle(http::Request& req) { return engine_.Handle(req); }
  // Closes every connection ("server shutting down").
  void CloseAll() { engine_.CloseAll(); }

  // Emits to every socket of `nsp` in `room`; returns how many it reached.
  size_t EmitToRoom(const std::string& nsp, const std::string& room, std::string_view name, const Json& args);
  size_t sockets() const;
  size_t engine_sessions() const { return engine_.sessions(); }
  const EngineOptions& engine_options() const { return engine_.options(); }

  // EngineHandler
  void OnOpen(const std::shared_ptr<EngineSocket>& socket, const http::Request& handshake) override;
  void OnMessage(const std::shared_ptr<EngineSocket>& socket, std::string data, bool binary) override;
  void OnClose(const std::shared_ptr<EngineSocket>& socket, std::string_view reason) override;

 private:
  friend class Socket;
  std::shared_ptr<Client> FindClient(const EngineSocket& socket) const;
  void Dispatch(const std::shared_ptr<Client>& client, Packet packet);
  void ConnectNamespace(const std::shared_ptr<Client>& client, Packet& packet);
  // Sends a packet and its attachments without another packet of the client in between.
  static bool SendPacket(Client& client, const Packet& p);
  void RemoveSocket(const std::shared_ptr<Client>& client, const std::string& nsp, std::string_view reason, bool tell_client);

  TimerQueue& timers_;
  const ServerOptions options_;
  EngineServer engine_;
  std::map<std::string, std::shared_ptr<Namespace>> namespaces_;  // fixed once serving

  mutable std::mutex mu_;
  std::unordered_map<const EngineSocket*, std::shared_ptr<Client>> clients_;  // guarded by mu_
  // room → sockets, per namespace: "nsp\nroom" → socket id → socket
  std::unordered_map<std::string, std::map<std::string, std::weak_ptr<Socket>>> rooms_;  // guarded by mu_
  std::unordered_map<std::string, std::set<std::string>> member_of_;  // socket id → its room keys; guarded by mu_
  size_t socket_count_ = 0;  // guarded by mu_
};

}  // namespace betterdev::socketio
