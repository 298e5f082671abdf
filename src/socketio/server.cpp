#include "socketio/server.hpp"

#include <atomic>
#include <optional>

#include "core/random.hpp"

namespace betterdev::socketio {

// One Engine.IO session and the namespaces it joined.
struct Client {
  std::shared_ptr<EngineSocket> engine;
  http::Request handshake;  // the request that opened the session, without its body

  std::mutex mu;
  std::map<std::string, std::shared_ptr<Socket>> sockets;           // nsp → socket; guarded by mu
  std::map<std::string, std::shared_ptr<SocketHandler>> handlers;   // nsp → handler; guarded by mu
  std::optional<Packet> pending;  // a binary packet waiting for its attachments; guarded by mu
  TimerQueue::Id connect_timer = 0;                                 // guarded by mu
  bool closed = false;                                              // guarded by mu

  std::mutex send_mu;  // a packet and its attachments go out together
};

namespace {

std::string NewSocketId() {
  std::string bytes(15, '\0');
  SecureRandomBytes(bytes.data(), bytes.size());
  return Base64UrlEncode(bytes);
}

std::string RoomKey(const std::string& nsp, const std::string& room) { return nsp + "\n" + room; }

}  // namespace

// --- Socket ----------------------------------------------------------------------------------

Socket::Socket(Server& server, std::shared_ptr<Client> client, std::string nsp, std::string id)
    : server_(server), client_(client), nsp_(std::move(nsp)), id_(std::move(id)) {}

bool Socket::connected() const {
  auto client = client_.lock();
  if (!client) return false;
  std::lock_guard lock(client->mu);
  auto it = client->sockets.find(nsp_);
  return !client->closed && it != client->sockets.end() && it->second.get() == this;
}

bool Socket::Emit(std::string_view name, Json args, std::vector<std::string> attachments) {
  auto client = client_.lock();
  if (!client || !connected()) return false;
  Packet p;
  p.type = attachments.empty() ? PacketType::kEvent : PacketType::kBinaryEvent;
  p.nsp = nsp_;
  Json data = Json::array({std::string(name)});
  for (Json& a : args) data.push_back(std::move(a));
  p.data = std::move(data);
  p.attachments = attachments.size();
  p.buffers = std::move(attachments);
  return Server::SendPacket(*client, p);
}

PreparedEvent PrepareEvent(std::string_view nsp, std::string_view name, const std::vector<std::string>& json_args) {
  PreparedEvent e{std::string(nsp), "2"};
  if (nsp != "/") {
    e.text.append(nsp);
    e.text.push_back(',');
  }
  e.text.push_back('[');
  e.text += Json(std::string(name)).dump();
  for (const std::string& a : json_args) {
    e.text.push_back(',');
    e.text += a;
  }
  e.text.push_back(']');
  return e;
}

bool Socket::Emit(const PreparedEvent& event) {
  auto client = client_.lock();
  if (!client || event.nsp != nsp_ || !connected()) return false;
  std::lock_guard lock(client->send_mu);
  return client->engine->Send(event.text);
}

void Socket::Disconnect() {
  if (auto client = client_.lock()) server_.RemoveSocket(client, nsp_, "server namespace disconnect", true);
}

void Socket::Join(const std::string& room) {
  if (!connected()) return;
  std::lock_guard lock(server_.mu_);
  const std::string key = RoomKey(nsp_, room);
  server_.rooms_[key][id_] = weak_from_this();
  server_.member_of_[id_].insert(key);
}

void Socket::Leave(const std::string& room) {
  const std::string key = RoomKey(nsp_, room);
  std::lock_guard lock(server_.mu_);
  server_.member_of_[id_].erase(key);
  auto it = server_.rooms_.find(key);
  if (it == server_.rooms_.end()) return;
  it->second.erase(id_);
  if (it->second.empty()) server_.rooms_.erase(it);
}

std::set<std::string> Socket::rooms() const {
  std::set<std::string> out;
  std::lock_guard lock(server_.mu_);
  auto it = server_.member_of_.find(id_);
  if (it == server_.member_of_.end()) return out;
  for (const std::string& key : it->second) out.insert(key.substr(nsp_.size() + 1));
  return out;
}

// --- Server ----------------------------------------------------------------------------------

Server::Server(TimerQueue& timers, ServerOptions options)
    : timers_(timers), options_(options), engine_(*this, timers, options.engine) {}

Server::~Server() { engine_.CloseAll(); }

void Server::AddNamespace(std::string nsp, std::shared_ptr<Namespace> ns) { namespaces_[std::move(nsp)] = std::move(ns); }

size_t Server::sockets() const {
  std::lock_guard lock(mu_);
  return socket_count_;
}

std::shared_ptr<Client> Server::FindClient(const EngineSocket& socket) const {
  std::lock_guard lock(mu_);
  auto it = clients_.find(&socket);
  return it == clients_.end() ? nullptr : it->second;
}

bool Server::SendPacket(Client& client, const Packet& p) {
  std::lock_guard lock(client.send_mu);
  if (!client.engine->Send(EncodePacket(p))) return false;
  for (const std::string& b : p.buffers)
    if (!client.engine->Send(b, true)) return false;
  return true;
}

void Server::OnOpen(const std::shared_ptr<EngineSocket>& socket, const http::Request& handshake) {
  auto client = std::make_shared<Client>();
  client->engine = socket;
  client->handshake = handshake;
  client->handshake.body.clear();
  {
    std::lock_guard lock(mu_);
    clients_[socket.get()] = client;
  }
  std::weak_ptr<Client> weak = client;
  const TimerQueue::Id timer = timers_.After(options_.connect_timeout, [weak] {
    auto c = weak.lock();
    if (!c) return;
    bool joined;
    {
      std::lock_guard lock(c->mu);
      c->connect_timer = 0;
      joined = !c->sockets.empty();
    }
    if (!joined) c->engine->Close("connect timeout");
  });
  std::lock_guard lock(client->mu);
  client->connect_timer = timer;
}

void Server::OnMessage(const std::shared_ptr<EngineSocket>& socket, std::string data, bool binary) {
  std::shared_ptr<Client> client = FindClient(*socket);
  if (!client) return;
  std::optional<Packet> ready;
  bool bad = false;
  if (binary) {
    std::lock_guard lock(client->mu);
    if (!client->pending) {
      bad = true;  // an attachment nobody announced
    } else {
      client->pending->buffers.push_back(std::move(data));
      if (client->pending->buffers.size() == client->pending->attachments) {
        ready = std::move(client->pending);
        client->pending.reset();
      }
    }
  } else {
    std::optional<Packet> p = DecodePacket(data);
    std::lock_guard lock(client->mu);
    if (!p || client->pending) {
      bad = true;  // malformed, or text where an attachment was due
    } else if (p->attachments > 0) {
      client->pending = std::move(p);
    } else {
      ready = std::move(p);
    }
  }
  if (bad) return socket->Close("parse error");
  if (ready) Dispatch(client, std::move(*ready));
}

void Server::OnClose(const std::shared_ptr<EngineSocket>& socket, std::string_view reason) {
  std::shared_ptr<Client> client;
  {
    std::lock_guard lock(mu_);
    auto it = clients_.find(socket.get());
    if (it == clients_.end()) return;
    client = std::move(it->second);
    clients_.erase(it);
  }
  std::vector<std::string> nsps;
  {
    std::lock_guard lock(client->mu);
    client->closed = true;
    timers_.Cancel(client->connect_timer);
    for (const auto& [nsp, s] : client->sockets) nsps.push_back(nsp);
  }
  for (const std::string& nsp : nsps) RemoveSocket(client, nsp, reason, false);
}

void Server::Dispatch(const std::shared_ptr<Client>& client, Packet packet) {
  if (packet.type == PacketType::kConnect) return ConnectNamespace(client, packet);
  if (packet.type == PacketType::kDisconnect) return RemoveSocket(client, packet.nsp, "client namespace disconnect", false);
  if (packet.type == PacketType::kAck || packet.type == PacketType::kBinaryAck) return;  // this server asks for none
  std::shared_ptr<Socket> socket;
  std::shared_ptr<SocketHandler> handler;
  {
    std::lock_guard lock(client->mu);
    auto it = client->sockets.find(packet.nsp);
    if (it != client->sockets.end() && packet.type != PacketType::kConnectError) {
      socket = it->second;
      handler = client->handlers[packet.nsp];
    }
  }
  if (!socket) return client->engine->Close("parse error");  // an event outside any joined namespace
  Json args = std::move(*packet.data);
  const std::string name = args[0].is_string() ? args[0].get<std::string>() : args[0].dump();
  args.erase(args.begin());
  Ack ack;
  if (packet.id) {
    std::weak_ptr<Client> weak = client;
    auto answered = std::make_shared<std::atomic<bool>>(false);
    ack = [weak, answered, nsp = packet.nsp, id = *packet.id](Json reply, std::vector<std::string> attachments) {
      auto c = weak.lock();
      if (!c || answered->exchange(true)) return;
      Packet r;
      r.type = attachments.empty() ? PacketType::kAck : PacketType::kBinaryAck;
      r.nsp = nsp;
      r.id = id;
      r.data = reply.is_array() ? std::move(reply) : Json::array({std::move(reply)});
      r.attachments = attachments.size();
      r.buffers = std::move(attachments);
      SendPacket(*c, r);
    };
  }
  handler->OnEvent(socket, name, std::move(args), std::move(packet.buffers), std::move(ack));
}

void Server::ConnectNamespace(const std::shared_ptr<Client>& client, Packet& packet) {
  auto ns = namespaces_.find(packet.nsp);
  if (ns == namespaces_.end()) {
    Packet e;
    e.type = PacketType::kConnectError;
    e.nsp = packet.nsp;
    e.data = Json{{"message", "Invalid namespace"}};
    SendPacket(*client, e);
    return;
  }
  {
    std::lock_guard lock(client->mu);
    if (client->closed || client->sockets.count(packet.nsp)) return;  // already joined
  }
  const Json auth = packet.data ? *packet.data : Json::object();
  std::variant<Accept, Refuse> decision = ns->second->Connect(client->handshake, auth);
  if (auto* refused = std::get_if<Refuse>(&decision)) {
    Packet e;
    e.type = PacketType::kConnectError;
    e.nsp = packet.nsp;
    e.data = std::move(refused->error);
    SendPacket(*client, e);
    return;
  }
  Accept& accepted = std::get<Accept>(decision);
  auto socket = std::make_shared<Socket>(*this, client, packet.nsp, NewSocketId());
  {
    std::lock_guard lock(client->mu);
    if (client->closed || client->sockets.count(packet.nsp)) return;
    client->sockets[packet.nsp] = socket;
    client->handlers[packet.nsp] = accepted.handler;
    timers_.Cancel(client->connect_timer);
    client->connect_timer = 0;
  }
  {
    std::lock_guard lock(mu_);
    ++socket_count_;
  }
  Packet reply;
  reply.type = PacketType::kConnect;
  reply.nsp = packet.nsp;
  Json data = Json{{"sid", socket->id()}};
  for (auto& [k, v] : accepted.extra.items()) data[k] = v;
  reply.data = std::move(data);
  SendPacket(*client, reply);
  accepted.handler->OnConnect(socket);
}

void Server::RemoveSocket(const std::shared_ptr<Client>& client, const std::string& nsp, std::string_view reason,
                          bool tell_client) {
  std::shared_ptr<Socket> socket;
  std::shared_ptr<SocketHandler> handler;
  {
    std::lock_guard lock(client->mu);
    auto it = client->sockets.find(nsp);
    if (it == client->sockets.end()) return;
    socket = std::move(it->second);
    client->sockets.erase(it);
    handler = std::move(client->handlers[nsp]);
    client->handlers.erase(nsp);
  }
  {
    std::lock_guard lock(mu_);
    --socket_count_;
    auto member = member_of_.find(socket->id());
    if (member != member_of_.end()) {
      for (const std::string& key : member->second) {
        auto room = rooms_.find(key);
        if (room == rooms_.end()) continue;
        room->second.erase(socket->id());
        if (room->second.empty()) rooms_.erase(room);
      }
      member_of_.erase(member);
    }
  }
  if (tell_client) {
    Packet p;
    p.type = PacketType::kDisconnect;
    p.nsp = nsp;
    SendPacket(*client, p);
  }
  handler->OnDisconnect(socket, reason);
}

size_t Server::EmitToRoom(const std::string& nsp, const std::string& room, std::string_view name, const Json& args) {
  std::vector<std::shared_ptr<Socket>> members;
  {
    std::lock_guard lock(mu_);
    auto it = rooms_.find(RoomKey(nsp, room));
    if (it == rooms_.end()) return 0;
    for (auto& [id, weak] : it->second)
      if (auto s = weak.lock()) members.push_back(std::move(s));
  }
  size_t reached = 0;
  for (auto& s : members) reached += s->Emit(name, args) ? 1 : 0;
  return reached;
}

}  // namespace betterdev::socketio
