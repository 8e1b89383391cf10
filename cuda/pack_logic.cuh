// Per-element logic of the device packing kernels (pack_kernels.cu), as __host__ __device__
// functions. The kernels are thin loops over these; tests/test_cuda_logic.py compiles the same
// functions with the host C++ compiler (cuda/tests/pack_logic_check.cpp) and compares them with
// fastprep.pack_padded / pack_varlen, so the logic is checked on machines without a GPU.
#pragma once

#include <cstdint>

#ifdef __CUDACC__
#define FASTPREP_HD __host__ __device__ __forceinline__
#else
#define FASTPREP_HD inline
#endif

namespace fastprep_cuda {

// Bits of the error word the scan kernels raise; the host then reproduces the exact error.
enum ScanError : unsigned long long {
  kBadOffsets = 1ull,  // offsets do not start at 0, decrease, or run past / stop short of flat_ids
  kBadIds = 2ull,      // an id is negative or above the output dtype's range
};

// Sequence i after truncation: flat_ids[begin, begin + length).
struct KeptSpan {
  int64_t begin;
  int64_t length;
};

// Is offsets[k] consistent with its neighbours? offsets has n_seqs + 1 entries. The same rules
// as fastprep._fallback.pack._check_offsets: start at 0, non-decreasing, end at flat_length.
FASTPREP_HD bool offset_entry_ok(const int64_t* offsets, int64_t k, int64_t n_seqs,
                                 int64_t flat_length) {
  const int64_t value = offsets[k];
  if (k == 0) return value == 0 && (n_seqs != 0 || value == flat_length);
  if (value < offsets[k - 1] || value > flat_length) return false;
  return k != n_seqs || value == flat_length;
}

// What truncation keeps of sequence i (max_length 0: no truncation; truncate_left keeps the
// last max_length ids). With bad offsets the span is empty, so no kernel reads out of range.
FASTPREP_HD KeptSpan kept_span(const int64_t* offsets, int64_t i, int64_t flat_length,
                               int64_t max_length, bool truncate_left) {
  const int64_t begin = offsets[i];
  const int64_t end = offsets[i + 1];
  if (begin < 0 || end < begin || end > flat_length) return KeptSpan{0, 0};
  int64_t length = end - begin;
  if (max_length > 0 && length > max_length) {
    if (truncate_left) {
      return KeptSpan{end - max_length, max_length};
    }
    length = max_length;
  }
  return KeptSpan{begin, length};
}

// Token ids must satisfy 0 <= id <= the largest value of the output dtype.
FASTPREP_HD bool id_in_range(int64_t id, int64_t largest) { return id >= 0 && id <= largest; }

// Rounds the longest kept length up to a multiple of pad_to_multiple_of (>= 1).
FASTPREP_HD int64_t padded_width(int64_t longest, int64_t pad_to_multiple_of) {
  return (longest + pad_to_multiple_of - 1) / pad_to_multiple_of * pad_to_multiple_of;
}

// One cell (row, col) of the [B, width] padded outputs. Real tokens: their id, mask 1, position
// counted from the row's first real token; pads: pad_id, mask 0, position 0.
template <class In, class Out>
FASTPREP_HD void padded_element(int64_t row, int64_t col, int64_t width, const In* flat_ids,
                                const int64_t* kept_begin, const int64_t* kept_length,
                                int64_t pad_id, bool pad_left, Out* input_ids,
                                Out* attention_mask, Out* position_ids) {
  const int64_t length = kept_length[row];
  const int64_t lead = pad_left ? width - length : 0;  // first column holding a real token
  const int64_t position = col - lead;
  const int64_t cell = row * width + col;
  if (position >= 0 && position < length) {
    input_ids[cell] = static_cast<Out>(flat_ids[kept_begin[row] + position]);
    attention_mask[cell] = 1;
    position_ids[cell] = static_cast<Out>(position);
  } else {
    input_ids[cell] = static_cast<Out>(pad_id);
    attention_mask[cell] = 0;
    position_ids[cell] = 0;
  }
}

// The sequence that holds varlen token t: the largest i < n_seqs with cu_seqlens[i] <= t
// (empty sequences repeat an entry, so the largest is the one that owns t). Binary search.
FASTPREP_HD int64_t sequence_of_token(const int32_t* cu_seqlens, int64_t n_seqs, int64_t t) {
  int64_t lo = 0, hi = n_seqs;  // answer in [lo, hi)
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (cu_seqlens[mid] <= t) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// Token t of the [T] varlen outputs: its id and its position within its sequence.
template <class In, class Out>
FASTPREP_HD void varlen_element(int64_t t, const In* flat_ids, const int64_t* kept_begin,
                                const int32_t* cu_seqlens, int64_t n_seqs, Out* input_ids,
                                Out* position_ids) {
  const int64_t i = sequence_of_token(cu_seqlens, n_seqs, t);
  const int64_t position = t - cu_seqlens[i];
  input_ids[t] = static_cast<Out>(flat_ids[kept_begin[i] + position]);
  position_ids[t] = static_cast<Out>(position);
}

}  // namespace fastprep_cuda
