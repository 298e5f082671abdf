// Inner products of float vectors with the widest instructions the CPU has, chosen once at
// run time: AVX-512F, else AVX2 with FMA, else SSE (every x86-64), else plain C++ elsewhere.
// The portable build assumes no more than x86-64's baseline, so without this dispatch the
// vector search (hnswlib's distance, the exact scans) would run 128 bits wide on CPUs that
// have 256 or 512. BETTERDEV_SIMD=sse|avx2|avx512|scalar picks a narrower kernel (to measure
// one against another); a wider one than the CPU has is never taken.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace betterdev::index {

using DotFn = float (*)(const float* a, const float* b, size_t n);
// Of signed bytes in [-127, 127] (int8 vectors as vector_codec.hpp writes them; -128 is not
// one): exact in 32 bits for n < 133,000.
using DotI8Fn = int32_t (*)(const int8_t* a, const int8_t* b, size_t n);
// Of floats with signed bytes (a query against stored int8 vectors).
using DotF32I8Fn = float (*)(const float* a, const int8_t* b, size_t n);

// The kernel in use and its name ("avx512", "avx2", "sse", "scalar").
DotFn Dot();
std::string_view DotKernelName();

DotI8Fn DotI8();
DotF32I8Fn DotF32I8();

struct DotKernel {
  std::string_view name;
  DotFn dot;
  DotI8Fn dot_i8;  // the byte kernels are AVX2 at most (AVX-512 CPUs get those)
  DotF32I8Fn dot_f32_i8;
};
// Every kernel this CPU can run, narrowest first (to compare them).
std::vector<DotKernel> DotKernels();

// hnswlib's distance signature (hnswlib::DISTFUNC<float>): 1 - a·b over
// *static_cast<const size_t*>(dimension) floats, with the kernel in use.
using DistanceFn = float (*)(const void* a, const void* b, const void* dimension);
DistanceFn InnerProductDistance();

}  // namespace betterdev::index
