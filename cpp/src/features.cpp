// HF post-processing of single sequences for packing: truncation that counts the template's
// specials, the template itself, and token type ids in the packed layouts (see fastprep/features.h).
#include "fastprep/features.h"

#include <algorithm>
#include <cstddef>
#include <string>

namespace fastprep::features {
namespace {

int64_t added_by(const SingleTemplate& tmpl) {
  return static_cast<int64_t>(tmpl.prefix.size() + tmpl.suffix.size());
}

// One finished row's type ids: prefix types, the sequence's type, suffix types.
template <typename Out>
void type_row(const SingleTemplate& tmpl, int64_t n, Out* out) {
  const int64_t p = static_cast<int64_t>(tmpl.prefix_type_ids.size());
  const int64_t s = static_cast<int64_t>(tmpl.suffix_type_ids.size());
  std::copy(tmpl.prefix_type_ids.begin(), tmpl.prefix_type_ids.end(), out);
  std::fill(out + p, out + (n - s), static_cast<Out>(tmpl.sequence_type_id));
  std::copy(tmpl.suffix_type_ids.begin(), tmpl.suffix_type_ids.end(), out + (n - s));
}

}  // namespace

Status check_single(const SingleTemplate& tmpl, const Truncation& truncation) {
  if (tmpl.prefix_type_ids.size() != tmpl.prefix.size() || tmpl.suffix_type_ids.size() != tmpl.suffix.size()) {
    return Status(ErrorCode::kInvalidArgument, "template: one type id is needed per special id");
  }
  if (truncation.max_length < 0) {
    return Status(ErrorCode::kInvalidArgument,
                  "max_length must be >= 1, got " + std::to_string(truncation.max_length));
  }
  if (truncation.max_length > 0 && truncation.max_length < added_by(tmpl)) {
    return Status(ErrorCode::kInvalidArgument,
                  "truncation max_length is smaller than the number of special tokens");
  }
  return Status::Ok();
}

void finish_single(const SingleTemplate& tmpl, const Truncation& truncation, std::vector<uint32_t>* ids) {
  if (truncation.max_length > 0) {
    const size_t room = static_cast<size_t>(truncation.max_length - added_by(tmpl));
    if (ids->size() > room) {
      if (truncation.side == pack::Side::kLeft) ids->erase(ids->begin(), ids->end() - static_cast<std::ptrdiff_t>(room));
      else ids->resize(room);
    }
  }
  if (!tmpl.prefix.empty()) ids->insert(ids->begin(), tmpl.prefix.begin(), tmpl.prefix.end());
  ids->insert(ids->end(), tmpl.suffix.begin(), tmpl.suffix.end());
}

template <typename Out>
void fill_type_ids_padded(const SingleTemplate& tmpl, const pack::IdSpan* rows, int64_t batch, int64_t width,
                          pack::Side pad_side, int64_t pad_type_id, Out* type_ids) {
  const Out pad = static_cast<Out>(pad_type_id);
  for (int64_t i = 0; i < batch; ++i) {
    const int64_t n = rows[i].length;
    Out* row = type_ids + i * width;
    const int64_t tok = pad_side == pack::Side::kLeft ? width - n : 0;
    std::fill(row, row + tok, pad);
    type_row(tmpl, n, row + tok);
    std::fill(row + tok + n, row + width, pad);
  }
}

template <typename Out>
void fill_type_ids_varlen(const SingleTemplate& tmpl, const pack::IdSpan* rows, int64_t batch,
                          const int32_t* cu_seqlens, Out* type_ids) {
  for (int64_t i = 0; i < batch; ++i) type_row(tmpl, rows[i].length, type_ids + cu_seqlens[i]);
}

template void fill_type_ids_padded<int32_t>(const SingleTemplate&, const pack::IdSpan*, int64_t, int64_t, pack::Side,
                                            int64_t, int32_t*);
template void fill_type_ids_padded<int64_t>(const SingleTemplate&, const pack::IdSpan*, int64_t, int64_t, pack::Side,
                                            int64_t, int64_t*);
template void fill_type_ids_varlen<int32_t>(const SingleTemplate&, const pack::IdSpan*, int64_t, const int32_t*,
                                            int32_t*);
template void fill_type_ids_varlen<int64_t>(const SingleTemplate&, const pack::IdSpan*, int64_t, const int32_t*,
                                            int64_t*);

}  // namespace fastprep::features
