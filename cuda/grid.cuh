// Launch geometry shared by the device kernels: fixed-size blocks, a capped grid, and the
// grid-stride loop indices (a kernel covers any n with at most kMaxBlocks blocks).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace fastprep_cuda {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 1 << 16;  // grid-stride beyond this

inline int blocks_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<int>(blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks));
}

__device__ __forceinline__ int64_t thread_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

}  // namespace fastprep_cuda
