// Device packing kernels: thin grid-stride loops over the per-element logic in pack_logic.cuh.
#include <cuda_runtime.h>

#include "grid.cuh"
#include "pack_launch.h"
#include "pack_logic.cuh"

namespace fastprep_cuda {
namespace {

__global__ void scan_offsets_kernel(const int64_t* offsets, int64_t n_seqs, int64_t flat_length,
                                    int64_t max_length, bool truncate_left, int64_t* kept_begin,
                                    int64_t* kept_length, unsigned long long* stats) {
  bool offsets_ok = true;
  int64_t longest = 0;
  int64_t kept_total = 0;
  for (int64_t k = thread_index(); k <= n_seqs; k += grid_stride()) {
    offsets_ok &= offset_entry_ok(offsets, k, n_seqs, flat_length);
    if (k < n_seqs) {
      const KeptSpan span = kept_span(offsets, k, flat_length, max_length, truncate_left);
      kept_begin[k] = span.begin;
      kept_length[k] = span.length;
      longest = span.length > longest ? span.length : longest;
      kept_total += span.length;
    }
  }
  if (!offsets_ok) atomicOr(&stats[0], static_cast<unsigned long long>(kBadOffsets));
  if (longest > 0) atomicMax(&stats[1], static_cast<unsigned long long>(longest));
  if (kept_total > 0) atomicAdd(&stats[2], static_cast<unsigned long long>(kept_total));
}

template <class In>
__global__ void check_ids_kernel(const In* flat_ids, int64_t flat_length, int64_t largest_id,
                                 unsigned long long* stats) {
  bool ids_ok = true;
  for (int64_t j = thread_index(); j < flat_length; j += grid_stride()) {
    ids_ok &= id_in_range(static_cast<int64_t>(flat_ids[j]), largest_id);
  }
  if (!ids_ok) atomicOr(&stats[0], static_cast<unsigned long long>(kBadIds));
}

template <class In, class Out>
__global__ void padded_kernel(const In* flat_ids, const int64_t* kept_begin,
                              const int64_t* kept_length, int64_t n_cells, int64_t width,
                              int64_t pad_id, bool pad_left, Out* input_ids, Out* attention_mask,
                              Out* position_ids) {
  for (int64_t cell = thread_index(); cell < n_cells; cell += grid_stride()) {
    padded_element<In, Out>(cell / width, cell % width, width, flat_ids, kept_begin, kept_length,
                            pad_id, pad_left, input_ids, attention_mask, position_ids);
  }
}

template <class In, class Out>
__global__ void varlen_kernel(const In* flat_ids, const int64_t* kept_begin,
                              const int32_t* cu_seqlens, int64_t n_seqs, int64_t total,
                              Out* input_ids, Out* position_ids) {
  for (int64_t t = thread_index(); t < total; t += grid_stride()) {
    varlen_element<In, Out>(t, flat_ids, kept_begin, cu_seqlens, n_seqs, input_ids, position_ids);
  }
}

template <class In, class Out>
void padded_typed(const void* flat_ids, const int64_t* kept_begin, const int64_t* kept_length,
                  int64_t n_cells, int64_t width, int64_t pad_id, bool pad_left, void* input_ids,
                  void* attention_mask, void* position_ids, cudaStream_t stream) {
  padded_kernel<In, Out><<<blocks_for(n_cells), kThreads, 0, stream>>>(
      static_cast<const In*>(flat_ids), kept_begin, kept_length, n_cells, width, pad_id, pad_left,
      static_cast<Out*>(input_ids), static_cast<Out*>(attention_mask),
      static_cast<Out*>(position_ids));
}

template <class In, class Out>
void varlen_typed(const void* flat_ids, const int64_t* kept_begin, const int32_t* cu_seqlens,
                  int64_t n_seqs, int64_t total, void* input_ids, void* position_ids,
                  cudaStream_t stream) {
  varlen_kernel<In, Out><<<blocks_for(total), kThreads, 0, stream>>>(
      static_cast<const In*>(flat_ids), kept_begin, cu_seqlens, n_seqs, total,
      static_cast<Out*>(input_ids), static_cast<Out*>(position_ids));
}

cudaStream_t as_stream(std::uintptr_t stream) { return reinterpret_cast<cudaStream_t>(stream); }

}  // namespace

int launch_scan(const void* flat_ids, bool flat_wide, int64_t flat_length, const int64_t* offsets,
                int64_t n_seqs, int64_t max_length, bool truncate_left, int64_t largest_id,
                int64_t* kept_begin, int64_t* kept_length, unsigned long long* stats,
                std::uintptr_t stream) {
  const cudaStream_t s = as_stream(stream);
  scan_offsets_kernel<<<blocks_for(n_seqs + 1), kThreads, 0, s>>>(
      offsets, n_seqs, flat_length, max_length, truncate_left, kept_begin, kept_length, stats);
  if (flat_length > 0) {
    if (flat_wide) {
      check_ids_kernel<int64_t><<<blocks_for(flat_length), kThreads, 0, s>>>(
          static_cast<const int64_t*>(flat_ids), flat_length, largest_id, stats);
    } else {
      check_ids_kernel<int32_t><<<blocks_for(flat_length), kThreads, 0, s>>>(
          static_cast<const int32_t*>(flat_ids), flat_length, largest_id, stats);
    }
  }
  return static_cast<int>(cudaGetLastError());
}

int launch_padded(const void* flat_ids, bool flat_wide, const int64_t* kept_begin,
                  const int64_t* kept_length, int64_t n_seqs, int64_t width, int64_t pad_id,
                  bool pad_left, bool out_wide, void* input_ids, void* attention_mask,
                  void* position_ids, std::uintptr_t stream) {
  const int64_t n_cells = n_seqs * width;
  if (n_cells == 0) return 0;
  const cudaStream_t s = as_stream(stream);
  if (flat_wide && out_wide) {
    padded_typed<int64_t, int64_t>(flat_ids, kept_begin, kept_length, n_cells, width, pad_id,
                                   pad_left, input_ids, attention_mask, position_ids, s);
  } else if (flat_wide) {
    padded_typed<int64_t, int32_t>(flat_ids, kept_begin, kept_length, n_cells, width, pad_id,
                                   pad_left, input_ids, attention_mask, position_ids, s);
  } else if (out_wide) {
    padded_typed<int32_t, int64_t>(flat_ids, kept_begin, kept_length, n_cells, width, pad_id,
                                   pad_left, input_ids, attention_mask, position_ids, s);
  } else {
    padded_typed<int32_t, int32_t>(flat_ids, kept_begin, kept_length, n_cells, width, pad_id,
                                   pad_left, input_ids, attention_mask, position_ids, s);
  }
  return static_cast<int>(cudaGetLastError());
}

int launch_varlen(const void* flat_ids, bool flat_wide, const int64_t* kept_begin,
                  const int32_t* cu_seqlens, int64_t n_seqs, int64_t total, bool out_wide,
                  void* input_ids, void* position_ids, std::uintptr_t stream) {
  if (total == 0) return 0;
  const cudaStream_t s = as_stream(stream);
  if (flat_wide && out_wide) {
    varlen_typed<int64_t, int64_t>(flat_ids, kept_begin, cu_seqlens, n_seqs, total, input_ids,
                                   position_ids, s);
  } else if (flat_wide) {
    varlen_typed<int64_t, int32_t>(flat_ids, kept_begin, cu_seqlens, n_seqs, total, input_ids,
                                   position_ids, s);
  } else if (out_wide) {
    varlen_typed<int32_t, int64_t>(flat_ids, kept_begin, cu_seqlens, n_seqs, total, input_ids,
                                   position_ids, s);
  } else {
    varlen_typed<int32_t, int32_t>(flat_ids, kept_begin, cu_seqlens, n_seqs, total, input_ids,
                                   position_ids, s);
  }
  return static_cast<int>(cudaGetLastError());
}

const char* error_string(int error) { return cudaGetErrorString(static_cast<cudaError_t>(error)); }

int device_count(int* count) {
  *count = 0;
  const cudaError_t error = cudaGetDeviceCount(count);
  if (error != cudaSuccess) {
    *count = 0;
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
  }
  return static_cast<int>(error);
}

int runtime_version() {
  int version = 0;
  cudaRuntimeGetVersion(&version);
  return version;
}

}  // namespace fastprep_cuda
