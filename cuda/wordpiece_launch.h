// Host-side entry points of the device BERT encoder (wordpiece_kernels.cu), in the order
// fastprep/cuda.py calls them; plain C++ with no CUDA types, like pack_launch.h. `blob` is the
// device copy of the tables (wordpiece_tables.h), `header` the host copy of its header; every
// other pointer is a device pointer; stream is a cudaStream_t as an integer. Each returns a
// cudaError_t as int (0 = success) from the launches.
//
// The batch is UTF-8 bytes text[n_bytes] with text_offsets[n_texts + 1] (int64). Between the
// calls the host computes raw_inclusive = cumsum(counts) (int64) and final_offsets =
// [0, cumsum(final_length)], and reads stats and final_offsets[n_texts] (the one
// synchronization). cuda/tests/wordpiece_host_kernels.cpp implements the same functions as host
// loops for the tests.
#pragma once

#include <cstdint>

namespace fastprep_cuda {

// Segment starts: flags[n_bytes] (uint8) is written in full. When the tables hold added tokens,
// covered[n_bytes] (int32, zeroed by the caller) first gets their matches; otherwise pass null.
int launch_wordpiece_segments(const uint8_t* blob, const int64_t* header, const uint8_t* text,
                              int64_t n_bytes, const int64_t* text_offsets, int64_t n_texts,
                              int32_t* covered, uint8_t* flags, std::uintptr_t stream);

// Count pass: counts[n_bytes] (int32) = ids of the segment starting at each byte (0 elsewhere).
// stats[4] (uint64): [0] |= kErr* bits, [1] = min byte of invalid UTF-8, [2] = min
// segment start needing a missing unk ([1] and [2] start at UINT64_MAX, [0] and [3] at 0).
int launch_wordpiece_count(const uint8_t* blob, const int64_t* header, const uint8_t* text,
                           int64_t n_bytes, const uint8_t* flags, const int32_t* covered,
                           int32_t* counts, unsigned long long* stats, std::uintptr_t stream);

// Per text: keep_begin / keep_length / final_length [n_texts] (int64) from raw_inclusive
// [n_bytes] (max_length < 0: no truncation); stats[3] = the longest text before truncation.
int launch_wordpiece_plan(const int64_t* text_offsets, int64_t n_texts,
                          const int64_t* raw_inclusive, int64_t max_length, bool truncate_left,
                          int64_t n_affixes, int64_t* keep_begin, int64_t* keep_length,
                          int64_t* final_length, unsigned long long* stats,
                          std::uintptr_t stream);

// Write pass: out[final_offsets[n_texts]] (int32) gets every text's affixes[:n_prefix], its kept
// ids, then affixes[n_prefix:n_prefix + n_suffix] (affixes: int32 device array, may be null when
// both are 0).
int launch_wordpiece_write(const uint8_t* blob, const int64_t* header, const uint8_t* text,
                           int64_t n_bytes, const uint8_t* flags, const int32_t* covered,
                           const int32_t* counts, const int64_t* raw_inclusive,
                           const int64_t* text_offsets, int64_t n_texts,
                           const int64_t* keep_begin, const int64_t* keep_length,
                           const int64_t* final_offsets, const int32_t* affixes, int64_t n_prefix,
                           int64_t n_suffix, int32_t* out, std::uintptr_t stream);

}  // namespace fastprep_cuda
