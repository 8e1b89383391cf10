// Device BERT encoder: thin grid-stride loops over the kernel bodies in wordpiece_logic.cuh.
// Segments are found per byte, encoded one per thread (count pass, then write pass), and placed
// after the post-processor's prefix with the truncation plan applied.
#include <cuda_runtime.h>

#include "grid.cuh"
#include "wordpiece_launch.h"
#include "wordpiece_logic.cuh"

namespace fastprep_cuda {
namespace {

cudaStream_t as_stream(std::uintptr_t stream) { return reinterpret_cast<cudaStream_t>(stream); }

// One thread per text: the added-token scan is sequential by definition (a match hides what
// it covers), and matches are rare.
__global__ void added_tokens_kernel(BertTables t, const uint8_t* text,
                                    const int64_t* text_offsets, int64_t n_texts,
                                    int32_t* covered) {
  for (int64_t k = thread_index(); k < n_texts; k += grid_stride()) {
    mark_added_tokens(t, text, text_offsets[k], text_offsets[k + 1], covered);
  }
}

__global__ void segment_flags_kernel(BertTables t, const uint8_t* text, int64_t n_bytes,
                                     const int32_t* covered, uint8_t* flags) {
  for (int64_t i = thread_index(); i < n_bytes; i += grid_stride()) {
    flags[i] = segment_flag(t, text, n_bytes, i, covered);
  }
}

__global__ void text_starts_kernel(const int64_t* text_offsets, int64_t n_texts, uint8_t* flags) {
  for (int64_t k = thread_index(); k < n_texts; k += grid_stride()) {
    mark_text_start(text_offsets, k, flags);
  }
}

__global__ void count_kernel(BertTables t, const uint8_t* text, int64_t n_bytes,
                             const uint8_t* flags, const int32_t* covered, int32_t* counts,
                             unsigned long long* stats) {
  for (int64_t i = thread_index(); i < n_bytes; i += grid_stride()) {
    int64_t error_pos = 0;
    const unsigned long long errors =
        count_element(t, text, n_bytes, flags, covered, i, counts, &error_pos);
    if (errors != 0) {
      atomicOr(&stats[0], errors);
      const unsigned long long pos = static_cast<unsigned long long>(error_pos);
      atomicMin(&stats[errors == kErrInvalidUtf8 ? 1 : 2], pos);
    }
  }
}

__global__ void plan_kernel(const int64_t* text_offsets, int64_t n_texts,
                            const int64_t* raw_inclusive, int64_t max_length, bool truncate_left,
                            int64_t n_affixes, int64_t* keep_begin, int64_t* keep_length,
                            int64_t* final_length, unsigned long long* stats) {
  int64_t longest = 0;
  for (int64_t k = thread_index(); k < n_texts; k += grid_stride()) {
    const TextPlan plan = plan_element(text_offsets, raw_inclusive, k, max_length, truncate_left,
                                       n_affixes, keep_begin, keep_length, final_length);
    longest = plan.raw_count > longest ? plan.raw_count : longest;
  }
  if (longest > 0) atomicMax(&stats[3], static_cast<unsigned long long>(longest));
}

__global__ void write_kernel(BertTables t, const uint8_t* text, int64_t n_bytes,
                             const uint8_t* flags, const int32_t* covered, const int32_t* counts,
                             const int64_t* raw_inclusive, const int64_t* text_offsets,
                             int64_t n_texts, const int64_t* keep_begin,
                             const int64_t* keep_length, const int64_t* final_offsets,
                             int64_t n_prefix, int32_t* out) {
  for (int64_t i = thread_index(); i < n_bytes; i += grid_stride()) {
    write_element(t, text, n_bytes, flags, covered, counts, raw_inclusive, text_offsets, n_texts,
                  keep_begin, keep_length, final_offsets, n_prefix, i, out);
  }
}

__global__ void affix_kernel(const int32_t* affixes, int64_t n_prefix, int64_t n_suffix,
                             const int64_t* keep_length, const int64_t* final_offsets,
                             int64_t n_texts, int32_t* out) {
  for (int64_t k = thread_index(); k < n_texts; k += grid_stride()) {
    affix_element(affixes, n_prefix, n_suffix, keep_length, final_offsets, k, out);
  }
}

}  // namespace

int launch_wordpiece_segments(const uint8_t* blob, const int64_t* header, const uint8_t* text,
                              int64_t n_bytes, const int64_t* text_offsets, int64_t n_texts,
                              int32_t* covered, uint8_t* flags, std::uintptr_t stream) {
  if (n_bytes == 0) return 0;
  const BertTables t = bert_tables(blob, header);
  const cudaStream_t s = as_stream(stream);
  if (covered != nullptr) {
    added_tokens_kernel<<<blocks_for(n_texts), kThreads, 0, s>>>(t, text, text_offsets, n_texts,
                                                                  covered);
  }
  segment_flags_kernel<<<blocks_for(n_bytes), kThreads, 0, s>>>(t, text, n_bytes, covered, flags);
  text_starts_kernel<<<blocks_for(n_texts), kThreads, 0, s>>>(text_offsets, n_texts, flags);
  return static_cast<int>(cudaGetLastError());
}

int launch_wordpiece_count(const uint8_t* blob, const int64_t* header, const uint8_t* text,
                           int64_t n_bytes, const uint8_t* flags, const int32_t* covered,
                           int32_t* counts, unsigned long long* stats, std::uintptr_t stream) {
  if (n_bytes == 0) return 0;
  count_kernel<<<blocks_for(n_bytes), kThreads, 0, as_stream(stream)>>>(
      bert_tables(blob, header), text, n_bytes, flags, covered, counts, stats);
  return static_cast<int>(cudaGetLastError());
}

int launch_wordpiece_plan(const int64_t* text_offsets, int64_t n_texts,
                          const int64_t* raw_inclusive, int64_t max_length, bool truncate_left,
                          int64_t n_affixes, int64_t* keep_begin, int64_t* keep_length,
                          int64_t* final_length, unsigned long long* stats,
                          std::uintptr_t stream) {
  if (n_texts == 0) return 0;
  plan_kernel<<<blocks_for(n_texts), kThreads, 0, as_stream(stream)>>>(
      text_offsets, n_texts, raw_inclusive, max_length, truncate_left, n_affixes, keep_begin,
      keep_length, final_length, stats);
  return static_cast<int>(cudaGetLastError());
}

int launch_wordpiece_write(const uint8_t* blob, const int64_t* header, const uint8_t* text,
                           int64_t n_bytes, const uint8_t* flags, const int32_t* covered,
                           const int32_t* counts, const int64_t* raw_inclusive,
                           const int64_t* text_offsets, int64_t n_texts,
                           const int64_t* keep_begin, const int64_t* keep_length,
                           const int64_t* final_offsets, const int32_t* affixes, int64_t n_prefix,
                           int64_t n_suffix, int32_t* out, std::uintptr_t stream) {
  const cudaStream_t s = as_stream(stream);
  if (n_bytes > 0) {
    write_kernel<<<blocks_for(n_bytes), kThreads, 0, s>>>(
        bert_tables(blob, header), text, n_bytes, flags, covered, counts, raw_inclusive,
        text_offsets, n_texts, keep_begin, keep_length, final_offsets, n_prefix, out);
  }
  if (n_texts > 0 && n_prefix + n_suffix > 0) {
    affix_kernel<<<blocks_for(n_texts), kThreads, 0, s>>>(affixes, n_prefix, n_suffix,
                                                          keep_length, final_offsets, n_texts,
                                                          out);
  }
  return static_cast<int>(cudaGetLastError());
}

}  // namespace fastprep_cuda
