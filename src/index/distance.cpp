#include "index/distance.hpp"

#include <cstdlib>
#include <string>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace betterdev::index {
namespace {

float DotScalar(const float* a, const float* b, size_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

int32_t DotI8Scalar(const int8_t* a, const int8_t* b, size_t n) {
  int32_t s = 0;
  for (size_t i = 0; i < n; ++i) s += int32_t{a[i]} * int32_t{b[i]};
  return s;
}

float DotF32I8Scalar(const float* a, const int8_t* b, size_t n) {
  float s0 = 0, s1 = 0;
  size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    s0 += a[i] * static_cast<float>(b[i]);
    s1 += a[i + 1] * static_cast<float>(b[i + 1]);
  }
  for (; i < n; ++i) s0 += a[i] * static_cast<float>(b[i]);
  return s0 + s1;
}

#if defined(__x86_64__)

// SSE2 (x86-64's baseline) has no sign extension of bytes: interleave a byte with itself and
// shift the 16-bit lane right arithmetically by 8.
inline __m128i Low8To16(__m128i v) { return _mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8); }
inline __m128i High8To16(__m128i v) { return _mm_srai_epi16(_mm_unpackhi_epi8(v, v), 8); }

inline int32_t SumLanes(__m128i v) {
  v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(v);
}

int32_t DotI8Sse(const int8_t* a, const int8_t* b, size_t n) {
  __m128i s = _mm_setzero_si128();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i));
    const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
    s = _mm_add_epi32(s, _mm_madd_epi16(Low8To16(x), Low8To16(y)));
    s = _mm_add_epi32(s, _mm_madd_epi16(High8To16(x), High8To16(y)));
  }
  return SumLanes(s) + DotI8Scalar(a + i, b + i, n - i);
}

float DotF32I8Sse(const float* a, const int8_t* b, size_t n) {
  __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i w = Low8To16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + i)));  // 8 × int16
    const __m128i lo = _mm_srai_epi32(_mm_unpacklo_epi16(w, w), 16);
    const __m128i hi = _mm_srai_epi32(_mm_unpackhi_epi16(w, w), 16);
    s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_cvtepi32_ps(lo)));
    s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_loadu_ps(a + i + 4), _mm_cvtepi32_ps(hi)));
  }
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, _mm_add_ps(s0, s1));
  return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + DotF32I8Scalar(a + i, b + i, n - i);
}

// |a| (unsigned) times b with a's sign, multiplied and added in pairs to 16 bits (at most
// 2 * 127 * 127: no saturation while no component is -128), then to 32 bits.
__attribute__((target("avx2"))) int32_t DotI8Avx2(const int8_t* a, const int8_t* b, size_t n) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
    const __m256i y0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i));
    const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i + 32));
    const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i + 32));
    const __m256i p0 = _mm256_maddubs_epi16(_mm256_sign_epi8(x0, x0), _mm256_sign_epi8(y0, x0));
    const __m256i p1 = _mm256_maddubs_epi16(_mm256_sign_epi8(x1, x1), _mm256_sign_epi8(y1, x1));
    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, ones));
    s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p1, ones));
  }
  const __m256i s = _mm256_add_epi32(s0, s1);
  return SumLanes(_mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1))) +
         DotI8Scalar(a + i, b + i, n - i);
}

__attribute__((target("avx2,fma"))) float DotF32I8Avx2(const float* a, const int8_t* b, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 y0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + i))));
    const __m256 y1 =
        _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + i + 8))));
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), y0, s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), y1, s1);
  }
  const __m256 s = _mm256_add_ps(s0, s1);
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
  return _mm_cvtss_f32(h) + DotF32I8Scalar(a + i, b + i, n - i);
}

float DotSse(const float* a, const float* b, size_t n) {
  __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
    s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4)));
  }
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, _mm_add_ps(s0, s1));
  float s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

__attribute__((target("avx2,fma"))) float DotAvx2(const float* a, const float* b, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  const __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
  float sum = _mm_cvtss_f32(h);
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

__attribute__((target("avx512f"))) float DotAvx512(const float* a, const float* b, size_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  alignas(64) float lanes[16];  // (GCC 12 warns falsely inside _mm512_reduce_add_ps)
  _mm512_store_ps(lanes, _mm512_add_ps(s0, s1));
  float sum = 0;
  for (float lane : lanes) sum += lane;
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

#endif

struct Kernel {
  DotFn dot;
  DistanceFn distance;
  const char* name;
  DotI8Fn dot_i8;
  DotF32I8Fn dot_f32_i8;
};

template <DotFn F>
float Distance(const void* a, const void* b, const void* dimension) {
  return 1.0F - F(static_cast<const float*>(a), static_cast<const float*>(b), *static_cast<const size_t*>(dimension));
}

Kernel Choose() {
  const char* env = std::getenv("BETTERDEV_SIMD");
  const std::string want = env != nullptr ? env : "";
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") != 0;
  const bool avx2 = __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0;
  if (want == "scalar") return {DotScalar, Distance<DotScalar>, "scalar", DotI8Scalar, DotF32I8Scalar};
  if (want == "sse") return {DotSse, Distance<DotSse>, "sse", DotI8Sse, DotF32I8Sse};
  if (avx512 && avx2 && (want.empty() || want == "avx512")) {
    return {DotAvx512, Distance<DotAvx512>, "avx512", DotI8Avx2, DotF32I8Avx2};
  }
  if (avx2) return {DotAvx2, Distance<DotAvx2>, "avx2", DotI8Avx2, DotF32I8Avx2};
  return {DotSse, Distance<DotSse>, "sse", DotI8Sse, DotF32I8Sse};
#else
  (void)want;
  return {DotScalar, Distance<DotScalar>, "scalar", DotI8Scalar, DotF32I8Scalar};
#endif
}

const Kernel& Chosen() {
  static const Kernel kernel = Choose();
  return kernel;
}

}  // namespace

DotFn Dot() { return Chosen().dot; }

std::vector<DotKernel> DotKernels() {
  std::vector<DotKernel> out{{"scalar", DotScalar, DotI8Scalar, DotF32I8Scalar}};
#if defined(__x86_64__)
  __builtin_cpu_init();
  out.push_back({"sse", DotSse, DotI8Sse, DotF32I8Sse});
  const bool avx2 = __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0;
  if (avx2) out.push_back({"avx2", DotAvx2, DotI8Avx2, DotF32I8Avx2});
  if (avx2 && __builtin_cpu_supports("avx512f") != 0) out.push_back({"avx512", DotAvx512, DotI8Avx2, DotF32I8Avx2});
#endif
  return out;
}
std::string_view DotKernelName() { return Chosen().name; }
DistanceFn InnerProductDistance() { return Chosen().distance; }
DotI8Fn DotI8() { return Chosen().dot_i8; }
DotF32I8Fn DotF32I8() { return Chosen().dot_f32_i8; }

}  // namespace betterdev::index
