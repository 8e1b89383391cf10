// From token ids to HF-style model inputs: the single-sequence post-processor template (special
// ids around each sequence and their token type ids) and HF's truncation, which counts those
// specials, applied to tokenized rows before the kernels of fastprep/pack.h lay them out. The
// reference is src/fastprep/hf.py (HfEngine._finish) and src/fastprep/features.py. No Python here.
#pragma once
#include <cstdint>
#include <vector>

#include "fastprep/pack.h"
#include "fastprep/status.h"

namespace fastprep::features {

// What a post-processor adds to one sequence (TemplateProcessing's "single", BertProcessing,
// RobertaProcessing, ...): ids before and after it, and the token type id of every position.
struct SingleTemplate {
  std::vector<uint32_t> prefix;
  std::vector<uint32_t> suffix;
  std::vector<uint32_t> prefix_type_ids;  // same length as prefix
  std::vector<uint32_t> suffix_type_ids;  // same length as suffix
  uint32_t sequence_type_id = 0;
};

// HF truncation of a single sequence: the sequence is cut to max_length minus the template's ids
// (keeping its first ids for kRight, its last for kLeft) before the template is added.
struct Truncation {
  int64_t max_length = 0;  // 0: none
  pack::Side side = pack::Side::kRight;
};

// kInvalidArgument when the type id vectors do not match the ids, or when max_length leaves no
// room for the template (HF's error).
Status check_single(const SingleTemplate& tmpl, const Truncation& truncation);

// Truncates `ids` (the model's ids of one text) and adds the template, in place. Call
// check_single first.
void finish_single(const SingleTemplate& tmpl, const Truncation& truncation, std::vector<uint32_t>* ids);

// Token type ids of finished rows, laid out as fill_padded / fill_varlen lay out their ids: per
// row, the prefix's type ids, sequence_type_id for the sequence, the suffix's; pad_type_id on
// pads. `rows` are the finished rows (each at least prefix + suffix long).
template <typename Out>
void fill_type_ids_padded(const SingleTemplate& tmpl, const pack::IdSpan* rows, int64_t batch, int64_t width,
                          pack::Side pad_side, int64_t pad_type_id, Out* type_ids);
template <typename Out>
void fill_type_ids_varlen(const SingleTemplate& tmpl, const pack::IdSpan* rows, int64_t batch,
                          const int32_t* cu_seqlens, Out* type_ids);

}  // namespace fastprep::features
