// Feature packing: ragged token-id sequences -> model-input arrays (padded batch, flash-attention
// varlen layout, first-fit-decreasing bins). No Python here; outputs go into caller-provided buffers.
//
// Every entry point validates every input id (including ids that truncation drops) and returns a
// Status instead of throwing. Messages name the sequence and position ("sequence 3, position 5: ...")
// so the bindings can pass them through unchanged; src/fastprep/_fallback/pack.py produces the same
// messages and the same arrays.
#pragma once
#include <cstdint>
#include <vector>

#include "fastprep/status.h"

namespace fastprep::pack {

// Width of a native-endian signed integer id buffer.
enum class IdWidth : uint8_t { k32, k64 };

// One sequence of token ids, read in place (never copied until it lands in an output array).
struct IdSpan {
  const void* data = nullptr;  // int32_t* or int64_t*, per `width`
  int64_t length = 0;
  IdWidth width = IdWidth::k64;
};

// Builds spans from a ragged pair: `flat` holds `flat_length` ids, `offsets` holds n_offsets = B+1
// entries. Offsets must start at 0, be non-decreasing, stay within the buffer and end at
// flat_length. B == 0 is an error ("empty batch"), like everywhere else in this component.
Status spans_from_offsets(const void* flat, IdWidth width, int64_t flat_length, const int64_t* offsets,
                          int64_t n_offsets, std::vector<IdSpan>* out);

// Outputs smaller than this are filled on the calling thread whatever max_threads says; larger
// ones are split into row ranges of about kParallelChunkBytes on the shared pool. Results never
// depend on the thread count.
inline constexpr int64_t kParallelFromBytes = int64_t{16} << 20;
inline constexpr int64_t kParallelChunkBytes = int64_t{2} << 20;

// Truncation keeps the first max_length ids (kRight drops from the right) or the last (kLeft).
enum class Side : uint8_t { kRight, kLeft };

// ---- padded batch: input_ids / attention_mask / position_ids, each [B, width] row-major ----
struct PaddedOptions {
  int64_t pad_id = 0;              // must be >= 0 and fit the output type
  Side pad_side = Side::kRight;    // where the pads go
  int64_t max_length = 0;          // 0: no truncation; else >= 1
  Side truncation_side = Side::kRight;
  int64_t pad_to_multiple_of = 1;  // >= 1
  int64_t min_width = 0;           // pad to at least this many columns (HF's padding="max_length")
  size_t max_threads = 1;          // see kParallelFromBytes; 0 = all cores
};

// width = max(min_width, max over sequences of min(length, max_length)), rounded up to
// pad_to_multiple_of.
Status padded_width(const IdSpan* seqs, int64_t batch, const PaddedOptions& options, int64_t* width);

// Real tokens get mask 1 and positions 0..n-1 (on either side); pads get pad_id, mask 0, position 0.
// `width` must come from padded_width. Out is int32_t or int64_t.
template <typename Out>
Status fill_padded(const IdSpan* seqs, int64_t batch, const PaddedOptions& options, int64_t width,
                   Out* input_ids, Out* attention_mask, Out* position_ids);

// ---- varlen (flash-attention): input_ids [T], cu_seqlens [B+1] int32, position_ids [T] ----
struct VarlenOptions {
  int64_t max_length = 0;  // 0: no truncation
  Side truncation_side = Side::kRight;
  size_t max_threads = 1;  // see kParallelFromBytes; 0 = all cores
};

// total = sum of truncated lengths (must fit int32, cu_seqlens' type); max_seqlen = their maximum.
Status varlen_sizes(const IdSpan* seqs, int64_t batch, const VarlenOptions& options, int64_t* total,
                    int64_t* max_seqlen);

template <typename Out>
Status fill_varlen(const IdSpan* seqs, int64_t batch, const VarlenOptions& options, Out* input_ids,
                   int32_t* cu_seqlens, Out* position_ids);

// ---- bins: whole sequences packed first-fit-decreasing into rows of exactly max_tokens ----
//
// First-fit-decreasing, precisely: let len_i = length of sequence i (min(len_i, max_tokens) when
// truncating). Visit sequences by len_i descending, ties by input index ascending. Place each in
// the lowest-numbered existing row whose free space (max_tokens - used) is >= len_i, at offset
// `used`; if no row has room, open a new row (numbered in order of opening). Zero-length sequences
// therefore go to row 0 at its end. Within a row, sequences sit in placement order, back to back.
struct BinPlan {
  int64_t rows = 0;
  std::vector<int64_t> row_of;          // [B] row of sequence i
  std::vector<int64_t> start_of;        // [B] first column of sequence i in its row
  std::vector<int64_t> length_of;       // [B] placed (possibly truncated) length
  std::vector<int64_t> members;         // [B] sequence indices grouped by row, placement order
  std::vector<int64_t> member_offsets;  // [rows+1] row r's members are members[off[r], off[r+1])
};

// O(B log B): a sort, then a max segment tree over row free space to find the first fit.
// Lengths above max_tokens are an error unless `truncate`. max_tokens must be in [1, 2^31-1].
Status plan_bins(const IdSpan* seqs, int64_t batch, int64_t max_tokens, bool truncate, BinPlan* plan);

// input_ids / segment_ids / position_ids: [rows, max_tokens]. Segment ids are 1, 2, ... in
// placement order within each row, 0 for padding; positions restart at 0 per sequence, 0 on pads.
// cu_seqlens: rows' cumulative lengths concatenated ([0, end_1, ..., end_k] per row, row-local,
// padding excluded), B + rows entries; cu_offsets [rows+1] delimits them.
// placement: [B, 2] (row, start) per input sequence.
template <typename Out>
Status fill_bins(const IdSpan* seqs, int64_t batch, const BinPlan& plan, int64_t max_tokens, int64_t pad_id,
                 Out* input_ids, Out* segment_ids, Out* position_ids, int32_t* cu_seqlens, int64_t* cu_offsets,
                 int64_t* placement, size_t max_threads = 1);

// Which build of the layouts' row loops (their copies and fills) runs, chosen once at load: "avx2"
// where the CPU has it, else "portable" (SSE2 on x86-64); FASTPREP_PACK_KERNEL=portable forces the
// latter. Results are identical either way.
const char* kernel_name();

// Largest id an output type can hold (validation bound shared with the bindings' messages).
template <typename Out>
constexpr int64_t max_id() {
  return sizeof(Out) == 4 ? int64_t{0x7FFFFFFF} : int64_t{0x7FFFFFFFFFFFFFFF};
}

}  // namespace fastprep::pack
