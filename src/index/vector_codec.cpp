#include "index/vector_codec.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace betterdev::index {
namespace {

constexpr float kInt8Max = 127.0F;

float ScaleOf(const std::byte* stored) {
  float scale = 0;
  std::memcpy(&scale, stored, sizeof scale);  // a vector's bytes need not be aligned
  return scale;
}

const int8_t* ValuesOf(const std::byte* stored) { return reinterpret_cast<const int8_t*>(stored + sizeof(float)); }

float Int8Distance(const void* a, const void* b, const void* dimension) {
  const auto* x = static_cast<const std::byte*>(a);
  const auto* y = static_cast<const std::byte*>(b);
  const auto dot = static_cast<float>(DotI8()(ValuesOf(x), ValuesOf(y), *static_cast<const size_t*>(dimension)));
  return 1.0F - ScaleOf(x) * ScaleOf(y) * dot;
}

}  // namespace

std::string_view EncodingName(VectorEncoding encoding) {
  return encoding == VectorEncoding::kInt8 ? "int8" : "float32";
}

std::optional<VectorEncoding> ParseEncoding(std::string_view name) {
  if (name == "float32") return VectorEncoding::kFloat32;
  if (name == "int8") return VectorEncoding::kInt8;
  return std::nullopt;
}

VectorCodec::VectorCodec(VectorEncoding encoding, size_t dimension) : encoding_(encoding), dimension_(dimension) {}

size_t VectorCodec::bytes() const {
  return encoding_ == VectorEncoding::kInt8 ? sizeof(float) + dimension_ : dimension_ * sizeof(float);
}

void VectorCodec::Encode(const float* in, std::byte* out) const {
  if (encoding_ == VectorEncoding::kFloat32) {
    std::memcpy(out, in, dimension_ * sizeof(float));
    return;
  }
  float largest = 0;
  for (size_t i = 0; i < dimension_; ++i) largest = std::max(largest, std::fabs(in[i]));
  const float scale = largest / kInt8Max;
  std::memcpy(out, &scale, sizeof scale);
  auto* values = reinterpret_cast<int8_t*>(out + sizeof(float));
  for (size_t i = 0; i < dimension_; ++i) {
    const float q = scale > 0 ? std::nearbyint(in[i] / scale) : 0.0F;
    values[i] = static_cast<int8_t>(std::clamp(q, -kInt8Max, kInt8Max));
  }
}

void VectorCodec::Decode(const std::byte* in, float* out) const {
  if (encoding_ == VectorEncoding::kFloat32) {
    std::memcpy(out, in, dimension_ * sizeof(float));
    return;
  }
  const float scale = ScaleOf(in);
  const int8_t* values = ValuesOf(in);
  for (size_t i = 0; i < dimension_; ++i) out[i] = scale * static_cast<float>(values[i]);
}

float VectorCodec::Dot(const float* query, const std::byte* stored) const {
  if (encoding_ == VectorEncoding::kFloat32) {
    return index::Dot()(query, reinterpret_cast<const float*>(stored), dimension_);
  }
  return ScaleOf(stored) * DotF32I8()(query, ValuesOf(stored), dimension_);
}

DistanceFn VectorCodec::Distance() const {
  return encoding_ == VectorEncoding::kInt8 ? Int8Distance : InnerProductDistance();
}

}  // namespace betterdev::index
