// How vectors are kept in memory and in saved graphs.
//
// float32: as given. int8 (scalar quantization): each vector as its scale s (a float, the
// largest |component| / 127) followed by one signed byte per component, round(x / s): a
// quarter of the bytes. Stored vectors are compared with each other in integers (the graph's
// links); a query stays float against them, so a score's error is only the stored side's
// rounding (at most s/2 per component; docs/benchmarks.md has the recall it costs).
// Encoding a decoded vector gives the same bytes again.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "index/distance.hpp"

namespace betterdev::index {

enum class VectorEncoding { kFloat32, kInt8 };

std::string_view EncodingName(VectorEncoding encoding);  // "float32", "int8"
std::optional<VectorEncoding> ParseEncoding(std::string_view name);

class VectorCodec {
 public:
  VectorCodec(VectorEncoding encoding, size_t dimension);
  VectorEncoding encoding() const { return encoding_; }
  size_t dimension() const { return dimension_; }
  size_t bytes() const;  // of one stored vector

  void Encode(const float* in, std::byte* out) const;
  void Decode(const std::byte* in, float* out) const;
  // A float query · a stored vector.
  float Dot(const float* query, const std::byte* stored) const;
  // hnswlib's distance (1 - a·b) of two stored vectors, called with DistanceParam().
  DistanceFn Distance() const;
  const void* DistanceParam() const { return &dimension_; }

 private:
  VectorEncoding encoding_;
  size_t dimension_;
};

}  // namespace betterdev::index
