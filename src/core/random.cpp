#include "core/random.hpp"

#include <sodium.h>

#include <stdexcept>

namespace betterdev {
namespace {

struct SodiumInit {
  SodiumInit() {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  }
};

void EnsureSodium() { static SodiumInit init; }

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

}  // namespace

void SecureRandomBytes(void* out, size_t n) {
  EnsureSodium();
  randombytes_buf(out, n);
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return HexEncode(std::string_view(reinterpret_cast<char*>(digest), sizeof digest));
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kB64Url[(acc >> bits) & 0x3F]);
    }
  }
  if (bits > 0) out.push_back(kB64Url[(acc << (6 - bits)) & 0x3F]);
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone trailing character carries no whole byte
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                        &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

std::string IdGenerator::New(std::string_view prefix) {
  int64_t ms = clock_.NowMillis();
  uint64_t hi, lo;
  {
    std::lock_guard lock(mu_);
    if (ms <= last_ms_) {
      // Same (or an earlier, if the clock stepped back) millisecond: stay monotonic.
      ms = last_ms_;
      if (++lo_ == 0) hi_ = (hi_ + 1) & 0xFFFF;
    } else {
      last_ms_ = ms;
      uint8_t r[10];
      SecureRandomBytes(r, sizeof r);
      hi_ = (uint64_t{r[0]} << 8) | r[1];
      lo_ = 0;
      for (int i = 2; i < 10; ++i) lo_ = (lo_ << 8) | r[i];
      lo_ &= ~uint64_t{0} >> 1;  // leave headroom so increments rarely carry
    }
    hi = hi_;
    lo = lo_;
  }
  std::string out;
  out.reserve(prefix.size() + 27);
  out.append(prefix);
  out.push_back('_');
  auto t = static_cast<uint64_t>(ms);
  for (int i = 9; i >= 0; --i) out.push_back(kCrockford[(t >> (i * 5)) & 0x1F]);
  // 80 random bits = 16 base32 characters: the first 16 bits of `hi` then 64 of `lo`.
  for (int i = 15; i >= 0; --i) {
    int shift = i * 5;
    uint64_t v;
    if (shift >= 64) v = hi >> (shift - 64);
    else if (shift + 5 > 64) v = (lo >> shift) | (hi << (64 - shift));
    else v = lo >> shift;
    out.push_back(kCrockford[v & 0x1F]);
  }
  return out;
}

}  // namespace betterdev
