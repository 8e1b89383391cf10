// Host driver for cuda/pack_logic.cuh: runs the device kernels' per-element functions in plain
// loops (one iteration per CUDA thread) so tests/test_cuda_logic.py can compare them with
// fastprep.pack_padded / pack_varlen without a GPU. The scan's reductions (error bits, longest,
// total) and the cumulative sum are done here as the kernels / CuPy do them on the device.
//
// stdin: cases until EOF, each
//   mode(padded|varlen) in_wide out_wide pad_id pad_left max_length truncate_left multiple
//   n_flat id...   n_offsets offset...
// stdout per case: "errors <bits>" and, when bits == 0, "<key> <values...>" lines, then "end".
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "../pack_logic.cuh"

using namespace fastprep_cuda;

namespace {

template <class T>
void print(const char* key, const std::vector<T>& values) {
  std::cout << key;
  for (const T& v : values) std::cout << ' ' << static_cast<long long>(v);
  std::cout << '\n';
}

template <class In, class Out>
void run_case(const std::string& mode, const std::vector<In>& flat,
              const std::vector<int64_t>& offsets, int64_t pad_id, bool pad_left,
              int64_t max_length, bool truncate_left, int64_t multiple, int64_t largest_id) {
  const int64_t n_seqs = static_cast<int64_t>(offsets.size()) - 1;
  const int64_t flat_length = static_cast<int64_t>(flat.size());
  // scan_offsets_kernel + check_ids_kernel
  unsigned long long errors = 0;
  int64_t longest = 0, total = 0;
  std::vector<int64_t> kept_begin(n_seqs), kept_length(n_seqs);
  for (int64_t k = 0; k <= n_seqs; ++k) {
    if (!offset_entry_ok(offsets.data(), k, n_seqs, flat_length)) errors |= kBadOffsets;
    if (k < n_seqs) {
      const KeptSpan span = kept_span(offsets.data(), k, flat_length, max_length, truncate_left);
      kept_begin[k] = span.begin;
      kept_length[k] = span.length;
      longest = span.length > longest ? span.length : longest;
      total += span.length;
    }
  }
  for (int64_t j = 0; j < flat_length; ++j) {
    if (!id_in_range(static_cast<int64_t>(flat[j]), largest_id)) errors |= kBadIds;
  }
  std::cout << "errors " << errors << '\n';
  if (errors == 0 && n_seqs > 0) {
    if (mode == "padded") {
      const int64_t width = padded_width(longest, multiple);
      std::vector<Out> ids(n_seqs * width), mask(n_seqs * width), pos(n_seqs * width);
      for (int64_t cell = 0; cell < n_seqs * width; ++cell) {  // padded_kernel
        padded_element<In, Out>(cell / width, cell % width, width, flat.data(), kept_begin.data(),
                                kept_length.data(), pad_id, pad_left, ids.data(), mask.data(),
                                pos.data());
      }
      std::cout << "width " << width << '\n';
      print("input_ids", ids);
      print("attention_mask", mask);
      print("position_ids", pos);
    } else {
      std::vector<int32_t> cu(n_seqs + 1, 0);  // cupy.cumsum of kept_length
      for (int64_t i = 0; i < n_seqs; ++i) cu[i + 1] = static_cast<int32_t>(cu[i] + kept_length[i]);
      std::vector<Out> ids(total), pos(total);
      for (int64_t t = 0; t < total; ++t) {  // varlen_kernel
        varlen_element<In, Out>(t, flat.data(), kept_begin.data(), cu.data(), n_seqs, ids.data(),
                                pos.data());
      }
      print("input_ids", ids);
      print("cu_seqlens", cu);
      print("position_ids", pos);
      std::cout << "max_seqlen " << longest << '\n';
    }
  }
  std::cout << "end\n";
}

template <class In>
void dispatch(const std::string& mode, const std::vector<int64_t>& flat64,
              const std::vector<int64_t>& offsets, bool out_wide, int64_t pad_id, bool pad_left,
              int64_t max_length, bool truncate_left, int64_t multiple) {
  const std::vector<In> flat(flat64.begin(), flat64.end());
  const int64_t largest = out_wide ? INT64_MAX : INT32_MAX;
  if (out_wide) {
    run_case<In, int64_t>(mode, flat, offsets, pad_id, pad_left, max_length, truncate_left,
                          multiple, largest);
  } else {
    run_case<In, int32_t>(mode, flat, offsets, pad_id, pad_left, max_length, truncate_left,
                          multiple, largest);
  }
}

}  // namespace

int main() {
  std::string mode;
  int in_wide, out_wide, pad_left, truncate_left;
  long long pad_id, max_length, multiple, n;
  while (std::cin >> mode >> in_wide >> out_wide >> pad_id >> pad_left >> max_length >>
         truncate_left >> multiple) {
    std::vector<int64_t> flat, offsets;
    std::cin >> n;
    flat.resize(n);
    for (auto& v : flat) { long long x; std::cin >> x; v = x; }
    std::cin >> n;
    offsets.resize(n);
    for (auto& v : offsets) { long long x; std::cin >> x; v = x; }
    if (!std::cin) return 2;
    if (in_wide) {
      dispatch<int64_t>(mode, flat, offsets, out_wide, pad_id, pad_left, max_length,
                        truncate_left, multiple);
    } else {
      dispatch<int32_t>(mode, flat, offsets, out_wide, pad_id, pad_left, max_length,
                        truncate_left, multiple);
    }
  }
  return 0;
}
