// Socket.IO protocol v5 packets (../shared/conformance/socket.io/socket.io-protocol-v5.md):
//   <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]
// Binary packets (5, 6) are followed by their attachments as separate binary Engine.IO messages;
// the payload refers to them with {"_placeholder":true,"num":N}. Placeholders are kept as they
// are: what arrives can be sent back as it came.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace betterdev::socketio {

using Json = nlohmann::ordered_json;  // keeps keys in the order they came

enum class PacketType { kConnect = 0, kDisconnect = 1, kEvent = 2, kAck = 3, kConnectError = 4, kBinaryEvent = 5, kBinaryAck = 6 };

struct Packet {
  PacketType type = PacketType::kEvent;
  std::string nsp = "/";
  std::optional<uint64_t> id;          // ack id
  std::optional<Json> data;            // the payload, when there is one
  size_t attachments = 0;              // binary packets: how many binary messages follow
  std::vector<std::string> buffers;    // those messages, once they arrived
};

// Parses the text part of a packet; nullopt when it is malformed or its payload is not what its
// type allows (an event must be a non-empty array whose first element is the event's name).
std::optional<Packet> DecodePacket(std::string_view text);
// The text part (attachments are sent after it by the caller).
std::string EncodePacket(const Packet& p);

}  // namespace betterdev::socketio
