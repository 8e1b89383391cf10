// The device BERT encoder's launch functions (cuda/wordpiece_launch.h) as host loops over the
// same kernel bodies (cuda/wordpiece_logic.cuh), one loop iteration per CUDA thread, and the
// same table builder (cuda/wordpiece_tables.h). tests/test_cuda_wordpiece_logic.py compiles this
// into a shared library with the system C++ compiler and loads it, through ctypes, as the
// "kernels" of the NumPy stand-in for CuPy (tests/cuda_stand_in.py), so fastprep.cuda's
// wordpiece_encode_batch runs end to end without a GPU and is compared with the CPU tokenizer.
// "Device pointers" are host pointers here; stream arguments are ignored.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../wordpiece_launch.h"
#include "../wordpiece_logic.cuh"
#include "../wordpiece_tables.h"

namespace fastprep_cuda {

int launch_wordpiece_segments(const uint8_t* blob, const int64_t* header, const uint8_t* text,
                              int64_t n_bytes, const int64_t* text_offsets, int64_t n_texts,
                              int32_t* covered, uint8_t* flags, std::uintptr_t) {
  if (n_bytes == 0) return 0;
  const BertTables t = bert_tables(blob, header);
  if (covered != nullptr) {
    for (int64_t k = 0; k < n_texts; ++k) {
      mark_added_tokens(t, text, text_offsets[k], text_offsets[k + 1], covered);
    }
  }
  for (int64_t i = 0; i < n_bytes; ++i) flags[i] = segment_flag(t, text, n_bytes, i, covered);
  for (int64_t k = 0; k < n_texts; ++k) mark_text_start(text_offsets, k, flags);
  return 0;
}

int launch_wordpiece_count(const uint8_t* blob, const int64_t* header, const uint8_t* text,
                           int64_t n_bytes, const uint8_t* flags, const int32_t* covered,
                           int32_t* counts, unsigned long long* stats, std::uintptr_t) {
  const BertTables t = bert_tables(blob, header);
  for (int64_t i = 0; i < n_bytes; ++i) {
    int64_t error_pos = 0;
    const unsigned long long errors =
        count_element(t, text, n_bytes, flags, covered, i, counts, &error_pos);
    if (errors != 0) {
      stats[0] |= errors;
      unsigned long long& slot = stats[errors == kErrInvalidUtf8 ? 1 : 2];
      const unsigned long long pos = static_cast<unsigned long long>(error_pos);
      if (pos < slot) slot = pos;
    }
  }
  return 0;
}

int launch_wordpiece_plan(const int64_t* text_offsets, int64_t n_texts,
                          const int64_t* raw_inclusive, int64_t max_length, bool truncate_left,
                          int64_t n_affixes, int64_t* keep_begin, int64_t* keep_length,
                          int64_t* final_length, unsigned long long* stats, std::uintptr_t) {
  for (int64_t k = 0; k < n_texts; ++k) {
    const TextPlan plan = plan_element(text_offsets, raw_inclusive, k, max_length, truncate_left,
                                       n_affixes, keep_begin, keep_length, final_length);
    const unsigned long long raw = static_cast<unsigned long long>(plan.raw_count);
    if (raw > stats[3]) stats[3] = raw;
  }
  return 0;
}

int launch_wordpiece_write(const uint8_t* blob, const int64_t* header, const uint8_t* text,
                           int64_t n_bytes, const uint8_t* flags, const int32_t* covered,
                           const int32_t* counts, const int64_t* raw_inclusive,
                           const int64_t* text_offsets, int64_t n_texts,
                           const int64_t* keep_begin, const int64_t* keep_length,
                           const int64_t* final_offsets, const int32_t* affixes, int64_t n_prefix,
                           int64_t n_suffix, int32_t* out, std::uintptr_t) {
  const BertTables t = bert_tables(blob, header);
  // The device runs these iterations concurrently; running them in reverse here makes a write
  // that strays outside its segment visible (a later segment would not overwrite it).
  for (int64_t i = n_bytes - 1; i >= 0; --i) {
    write_element(t, text, n_bytes, flags, covered, counts, raw_inclusive, text_offsets, n_texts,
                  keep_begin, keep_length, final_offsets, n_prefix, i, out);
  }
  if (n_prefix + n_suffix > 0) {
    for (int64_t k = 0; k < n_texts; ++k) {
      affix_element(affixes, n_prefix, n_suffix, keep_length, final_offsets, k, out);
    }
  }
  return 0;
}

}  // namespace fastprep_cuda

namespace {
std::vector<uint8_t> last_blob;
std::string last_error;
}  // namespace

using namespace fastprep_cuda;

// C entry points for ctypes; pointers travel as integers, as with fastprep._cuda.
extern "C" {

// Builds the tables of a serialized spec: returns the blob size (then fetch it with
// wp_copy_tables), or -1 (then wp_error says why).
int64_t wp_build_tables(const uint8_t* spec_bytes, int64_t size) {
  WordPieceSpec spec;
  last_error = parse_wordpiece_spec(spec_bytes, static_cast<size_t>(size), &spec);
  if (last_error.empty()) last_error = build_wordpiece_tables(spec, &last_blob);
  return last_error.empty() ? static_cast<int64_t>(last_blob.size()) : -1;
}

void wp_copy_tables(uint8_t* out) { std::memcpy(out, last_blob.data(), last_blob.size()); }

const char* wp_error() { return last_error.c_str(); }

int wp_segments(const uint8_t* blob, const int64_t* header, const uint8_t* text, int64_t n_bytes,
                const int64_t* text_offsets, int64_t n_texts, int32_t* covered, uint8_t* flags) {
  return launch_wordpiece_segments(blob, header, text, n_bytes, text_offsets, n_texts, covered,
                                   flags, 0);
}

int wp_count(const uint8_t* blob, const int64_t* header, const uint8_t* text, int64_t n_bytes,
             const uint8_t* flags, const int32_t* covered, int32_t* counts,
             unsigned long long* stats) {
  return launch_wordpiece_count(blob, header, text, n_bytes, flags, covered, counts, stats, 0);
}

int wp_plan(const int64_t* text_offsets, int64_t n_texts, const int64_t* raw_inclusive,
            int64_t max_length, int truncate_left, int64_t n_affixes, int64_t* keep_begin,
            int64_t* keep_length, int64_t* final_length, unsigned long long* stats) {
  return launch_wordpiece_plan(text_offsets, n_texts, raw_inclusive, max_length,
                               truncate_left != 0, n_affixes, keep_begin, keep_length,
                               final_length, stats, 0);
}

int wp_write(const uint8_t* blob, const int64_t* header, const uint8_t* text, int64_t n_bytes,
             const uint8_t* flags, const int32_t* covered, const int32_t* counts,
             const int64_t* raw_inclusive, const int64_t* text_offsets, int64_t n_texts,
             const int64_t* keep_begin, const int64_t* keep_length, const int64_t* final_offsets,
             const int32_t* affixes, int64_t n_prefix, int64_t n_suffix, int32_t* out) {
  return launch_wordpiece_write(blob, header, text, n_bytes, flags, covered, counts,
                                raw_inclusive, text_offsets, n_texts, keep_begin, keep_length,
                                final_offsets, affixes, n_prefix, n_suffix, out, 0);
}

}  // extern "C"
