#include "socketio/packet.hpp"

#include <array>
#include <charconv>

namespace betterdev::socketio {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Event names a client may not use: the client library's own.
bool Reserved(const std::string& name) {
  static const std::array<const char*, 6> kReserved = {"connect", "connect_error", "disconnect", "disconnecting",
                                                       "newListener", "removeListener"};
  for (const char* r : kReserved)
    if (name == r) return true;
  return false;
}

bool PayloadValid(PacketType type, const std::optional<Json>& data) {
  switch (type) {
    case PacketType::kConnect: return !data || data->is_object();
    case PacketType::kDisconnect: return !data;
    case PacketType::kConnectError: return data && (data->is_object() || data->is_string());
    case PacketType::kEvent:
    case PacketType::kBinaryEvent:
      return data && data->is_array() && !data->empty() &&
             ((*data)[0].is_number() || ((*data)[0].is_string() && !Reserved((*data)[0].get<std::string>())));
    case PacketType::kAck:
    case PacketType::kBinaryAck: return data && data->is_array();
  }
  return false;
}

}  // namespace

std::optional<Packet> DecodePacket(std::string_view text) {
  if (text.empty() || text[0] < '0' || text[0] > '6') return std::nullopt;
  Packet p;
  p.type = static_cast<PacketType>(text[0] - '0');
  size_t i = 1;
  if (p.type == PacketType::kBinaryEvent || p.type == PacketType::kBinaryAck) {
    const size_t dash = text.find('-', i);
    if (dash == std::string_view::npos || dash == i) return std::nullopt;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + dash, p.attachments);
    if (ec != std::errc() || end != text.data() + dash || p.attachments > 1000) return std::nullopt;
    i = dash + 1;
  }
  if (i < text.size() && text[i] == '/') {
    const size_t comma = text.find(',', i);
    const size_t end = comma == std::string_view::npos ? text.size() : comma;
    p.nsp = std::string(text.substr(i, end - i));
    i = comma == std::string_view::npos ? text.size() : comma + 1;
  }
  if (i < text.size() && IsDigit(text[i])) {
    size_t j = i;
    while (j < text.size() && IsDigit(text[j])) ++j;
    uint64_t id = 0;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + j, id);
    if (ec != std::errc()) return std::nullopt;
    p.id = id;
    i = j;
  }
  if (i < text.size()) {
    Json data = Json::parse(text.substr(i), nullptr, false);
    if (data.is_discarded()) return std::nullopt;
    p.data = std::move(data);
  }
  if (!PayloadValid(p.type, p.data)) return std::nullopt;
  return p;
}

std::string EncodePacket(const Packet& p) {
  std::string out(1, static_cast<char>('0' + static_cast<int>(p.type)));
  if (p.type == PacketType::kBinaryEvent || p.type == PacketType::kBinaryAck) {
    out += std::to_string(p.attachments);
    out += '-';
  }
  if (p.nsp != "/") {
    out += p.nsp;
    out += ',';
  }
  if (p.id) out += std::to_string(*p.id);
  if (p.data) out += p.data->dump(-1, ' ', false, Json::error_handler_t::replace);
  return out;
}

}  // namespace betterdev::socketio
