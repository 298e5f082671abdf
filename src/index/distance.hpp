// Inner products of float vectors with the widest instructions the CPU has, chosen once at
// run time: AVX-512F, else AVX2 with FMA, else SSE (every x86-64), else plain C++ elsewhere.
// The portable build assumes no more than x86-64's baseline, so without this dispatch the
// vector search (hnswlib's distance, the exact scans) would run 128 bits wide on CPUs that
// have 256 or 512. BETTERDEV_SIMD=sse|avx2|avx512|scalar picks a narrower kernel (to measure
// one against another); a wider one than the CPU has is never taken.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace betterdev::index {

using DotFn = float (*)(const float* a, const float* b, size_t n);

// The kernel in use and its name ("avx512", "avx2", "sse", "scalar").
DotFn Dot();
std::string_view DotKernelName();

struct DotKernel {
  std::string_view name;
  DotFn dot;
};
// Every kernel this CPU can run, narrowest first (to compare them).
std::vector<DotKernel> DotKernels();

// hnswlib's distance signature (hnswlib::DISTFUNC<float>): 1 - a·b over
// *static_cast<const size_t*>(dimension) floats, with the kernel in use.
using DistanceFn = float (*)(const void* a, const void* b, const void* dimension);
DistanceFn InnerProductDistance();

}  // namespace betterdev::index
