// Host-side entry points of the device packing kernels (pack_kernels.cu). Plain C++ with no CUDA
// types, so bind_cuda.cpp compiles with the host compiler. Pointers are device pointers; stream
// is a cudaStream_t as an integer (CuPy's current stream). Each returns a cudaError_t as int
// (0 = success) from the launch; kernel faults surface at the caller's next synchronization.
#pragma once

#include <cstdint>

namespace fastprep_cuda {

// Checks offsets [n_seqs + 1] int64 and every id of flat_ids (int64 if flat_wide, else int32)
// against [0, largest_id]; writes each sequence's kept span (after max_length / truncate_left) to
// kept_begin / kept_length [n_seqs]. stats [3] must start zeroed: stats[0] gets ScanError bits,
// stats[1] the longest kept length, stats[2] the sum of kept lengths.
int launch_scan(const void* flat_ids, bool flat_wide, int64_t flat_length, const int64_t* offsets,
                int64_t n_seqs, int64_t max_length, bool truncate_left, int64_t largest_id,
                int64_t* kept_begin, int64_t* kept_length, unsigned long long* stats,
                std::uintptr_t stream);

// Fills the [n_seqs, width] input_ids / attention_mask / position_ids (int64 if out_wide, else
// int32) from the spans launch_scan wrote.
int launch_padded(const void* flat_ids, bool flat_wide, const int64_t* kept_begin,
                  const int64_t* kept_length, int64_t n_seqs, int64_t width, int64_t pad_id,
                  bool pad_left, bool out_wide, void* input_ids, void* attention_mask,
                  void* position_ids, std::uintptr_t stream);

// Fills the [total] varlen input_ids / position_ids; cu_seqlens [n_seqs + 1] int32.
int launch_varlen(const void* flat_ids, bool flat_wide, const int64_t* kept_begin,
                  const int32_t* cu_seqlens, int64_t n_seqs, int64_t total, bool out_wide,
                  void* input_ids, void* position_ids, std::uintptr_t stream);

const char* error_string(int error);
// cudaGetDeviceCount; returns the cudaError_t as int and the count in *count (0 on error).
int device_count(int* count);
// Version of the CUDA runtime this module was built with (e.g. 13000).
int runtime_version();

}  // namespace fastprep_cuda
