// C++ unit tests for the packing kernels (padded, varlen, first-fit-decreasing bins); plain asserts.
#undef NDEBUG
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "fastprep/pack.h"

using namespace fastprep;
using namespace fastprep::pack;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::vector<IdSpan> spans_of(const std::vector<std::vector<int64_t>>& seqs) {
  std::vector<IdSpan> spans;
  for (const auto& s : seqs) spans.push_back(IdSpan{s.data(), static_cast<int64_t>(s.size()), IdWidth::k64});
  return spans;
}

void test_offsets_validation() {
  const int32_t flat[5] = {1, 2, 3, 4, 5};
  std::vector<IdSpan> spans;
  const int64_t good[3] = {0, 2, 5};
  assert(spans_from_offsets(flat, IdWidth::k32, 5, good, 3, &spans).ok());
  assert(spans.size() == 2 && spans[1].length == 3 && static_cast<const int32_t*>(spans[1].data)[0] == 3);

  const int64_t not_zero[2] = {1, 5};
  Status s = spans_from_offsets(flat, IdWidth::k32, 5, not_zero, 2, &spans);
  assert(!s.ok() && s.code() == ErrorCode::kInvalidArgument && contains(s.message(), "start at 0"));
  const int64_t decreasing[3] = {0, 3, 2};
  s = spans_from_offsets(flat, IdWidth::k32, 5, decreasing, 3, &spans);
  assert(!s.ok() && contains(s.message(), "non-decreasing"));
  const int64_t past[3] = {0, 6, 6};
  s = spans_from_offsets(flat, IdWidth::k32, 5, past, 3, &spans);
  assert(!s.ok() && contains(s.message(), "runs past the end"));
  const int64_t short_end[2] = {0, 4};
  s = spans_from_offsets(flat, IdWidth::k32, 5, short_end, 2, &spans);
  assert(!s.ok() && contains(s.message(), "offsets end at 4"));
  const int64_t only_zero[1] = {0};
  s = spans_from_offsets(flat, IdWidth::k32, 0, only_zero, 1, &spans);
  assert(!s.ok() && s.message() == "empty batch");
  s = spans_from_offsets(flat, IdWidth::k32, 0, only_zero, 0, &spans);
  assert(!s.ok() && contains(s.message(), "offsets is empty"));
}

void test_padded_right_and_left() {
  std::vector<std::vector<int64_t>> seqs = {{5, 6, 7}, {8}, {}};
  auto spans = spans_of(seqs);
  PaddedOptions opt;
  opt.pad_id = 9;
  int64_t width = 0;
  assert(padded_width(spans.data(), 3, opt, &width).ok() && width == 3);
  std::vector<int32_t> ids(9), mask(9), pos(9);
  assert(fill_padded<int32_t>(spans.data(), 3, opt, width, ids.data(), mask.data(), pos.data()).ok());
  assert((ids == std::vector<int32_t>{5, 6, 7, 8, 9, 9, 9, 9, 9}));
  assert((mask == std::vector<int32_t>{1, 1, 1, 1, 0, 0, 0, 0, 0}));
  assert((pos == std::vector<int32_t>{0, 1, 2, 0, 0, 0, 0, 0, 0}));

  opt.pad_side = Side::kLeft;
  opt.pad_to_multiple_of = 4;
  assert(padded_width(spans.data(), 3, opt, &width).ok() && width == 4);
  std::vector<int64_t> ids64(12), mask64(12), pos64(12);
  assert(fill_padded<int64_t>(spans.data(), 3, opt, width, ids64.data(), mask64.data(), pos64.data()).ok());
  assert((ids64 == std::vector<int64_t>{9, 5, 6, 7, 9, 9, 9, 8, 9, 9, 9, 9}));
  assert((mask64 == std::vector<int64_t>{0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0}));
  assert((pos64 == std::vector<int64_t>{0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0}));
}

void test_padded_truncation() {
  std::vector<std::vector<int64_t>> seqs = {{1, 2, 3, 4}, {5, 6}};
  auto spans = spans_of(seqs);
  PaddedOptions opt;
  opt.max_length = 3;
  opt.truncation_side = Side::kLeft;
  int64_t width = 0;
  assert(padded_width(spans.data(), 2, opt, &width).ok() && width == 3);
  std::vector<int32_t> ids(6), mask(6), pos(6);
  assert(fill_padded<int32_t>(spans.data(), 2, opt, width, ids.data(), mask.data(), pos.data()).ok());
  assert((ids == std::vector<int32_t>{2, 3, 4, 5, 6, 0}));
  opt.truncation_side = Side::kRight;
  assert(fill_padded<int32_t>(spans.data(), 2, opt, width, ids.data(), mask.data(), pos.data()).ok());
  assert((ids == std::vector<int32_t>{1, 2, 3, 5, 6, 0}));
}

void test_id_validation() {
  std::vector<std::vector<int64_t>> seqs = {{1, 2}, {3, -4, 5}, {int64_t{1} << 40}};
  auto spans = spans_of(seqs);
  PaddedOptions opt;
  int64_t width = 0;
  assert(padded_width(spans.data(), 3, opt, &width).ok());
  std::vector<int64_t> ids(9), mask(9), pos(9);
  Status s = fill_padded<int64_t>(spans.data(), 3, opt, width, ids.data(), mask.data(), pos.data());
  assert(!s.ok() && s.message() == "sequence 1, position 1: id -4 is negative (token ids must be >= 0)");
  seqs[1][1] = 4;
  std::vector<int32_t> ids32(9), mask32(9), pos32(9);
  s = fill_padded<int32_t>(spans.data(), 3, opt, width, ids32.data(), mask32.data(), pos32.data());
  assert(!s.ok() && s.message() == "sequence 2, position 0: id 1099511627776 does not fit in int32");
  assert(fill_padded<int64_t>(spans.data(), 3, opt, width, ids.data(), mask.data(), pos.data()).ok());

  // Ids dropped by truncation are still validated.
  seqs[1][2] = -1;
  opt.max_length = 1;
  s = fill_padded<int64_t>(spans.data(), 3, opt, 1, ids.data(), mask.data(), pos.data());
  assert(!s.ok() && contains(s.message(), "sequence 1, position 2"));

  opt = PaddedOptions{};
  opt.pad_id = -1;
  s = fill_padded<int64_t>(spans.data(), 3, opt, width, ids.data(), mask.data(), pos.data());
  assert(!s.ok() && contains(s.message(), "pad_id"));
  opt.pad_id = 0;
  opt.pad_to_multiple_of = 0;
  assert(!padded_width(spans.data(), 3, opt, &width).ok());
  assert(padded_width(spans.data(), 0, PaddedOptions{}, &width).message() == "empty batch");
}

void test_varlen() {
  std::vector<int32_t> flat = {1, 2, 3, 4, 5, 6};
  const int64_t offsets[4] = {0, 3, 3, 6};
  std::vector<IdSpan> spans;
  assert(spans_from_offsets(flat.data(), IdWidth::k32, 6, offsets, 4, &spans).ok());
  VarlenOptions opt;
  opt.max_length = 2;
  int64_t total = 0, max_seqlen = 0;
  assert(varlen_sizes(spans.data(), 3, opt, &total, &max_seqlen).ok() && total == 4 && max_seqlen == 2);
  std::vector<int64_t> ids(4), pos(4);
  std::vector<int32_t> cu(4);
  assert(fill_varlen<int64_t>(spans.data(), 3, opt, ids.data(), cu.data(), pos.data()).ok());
  assert((ids == std::vector<int64_t>{1, 2, 4, 5}));
  assert((cu == std::vector<int32_t>{0, 2, 2, 4}));
  assert((pos == std::vector<int64_t>{0, 1, 0, 1}));
}

void test_bins_exact_layout() {
  // Lengths 3, 5, 2, 4, 0 with max_tokens 6. Visit order: 5(i1), 4(i3), 3(i0), 2(i2), 0(i4).
  // i1 -> row 0 @0 (free 1); i3 -> row 1 @0 (free 2); i0 -> row 2 @0 (free 3);
  // i2 -> row 1 @4 (free 0); i4 -> row 0 @5.
  std::vector<std::vector<int64_t>> seqs = {{1, 1, 1}, {2, 2, 2, 2, 2}, {3, 3}, {4, 4, 4, 4}, {}};
  auto spans = spans_of(seqs);
  BinPlan plan;
  assert(plan_bins(spans.data(), 5, 6, false, &plan).ok());
  assert(plan.rows == 3);
  assert((plan.row_of == std::vector<int64_t>{2, 0, 1, 1, 0}));
  assert((plan.start_of == std::vector<int64_t>{0, 0, 4, 0, 5}));
  const int64_t cells = plan.rows * 6;
  std::vector<int32_t> ids(cells), seg(cells), pos(cells), cu(5 + 3);
  std::vector<int64_t> cu_off(4), placement(10);
  assert(fill_bins<int32_t>(spans.data(), 5, plan, 6, 7, ids.data(), seg.data(), pos.data(), cu.data(),
                            cu_off.data(), placement.data())
             .ok());
  assert((ids == std::vector<int32_t>{2, 2, 2, 2, 2, 7, 4, 4, 4, 4, 3, 3, 1, 1, 1, 7, 7, 7}));
  assert((seg == std::vector<int32_t>{1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 2, 2, 1, 1, 1, 0, 0, 0}));
  assert((pos == std::vector<int32_t>{0, 1, 2, 3, 4, 0, 0, 1, 2, 3, 0, 1, 0, 1, 2, 0, 0, 0}));
  assert((cu == std::vector<int32_t>{0, 5, 5, 0, 4, 6, 0, 3}));
  assert((cu_off == std::vector<int64_t>{0, 3, 6, 8}));
  assert((placement == std::vector<int64_t>{2, 0, 0, 0, 1, 4, 1, 0, 0, 5}));

  Status s = plan_bins(spans.data(), 5, 4, false, &plan);
  assert(!s.ok() && contains(s.message(), "sequence 1 has 5 tokens"));
  assert(plan_bins(spans.data(), 5, 4, true, &plan).ok());
  assert(!plan_bins(spans.data(), 5, 0, false, &plan).ok());
}

// Naive O(B * R) first-fit-decreasing, as the header defines it; the segment tree must agree.
void test_bins_match_naive_ffd() {
  std::mt19937_64 rng(1234);
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t max_tokens = 1 + static_cast<int64_t>(rng() % 64);
    const int64_t batch = 1 + static_cast<int64_t>(rng() % 200);
    std::vector<std::vector<int64_t>> seqs(static_cast<size_t>(batch));
    for (auto& s : seqs) s.assign(rng() % (max_tokens + 1), 1);
    auto spans = spans_of(seqs);
    BinPlan plan;
    assert(plan_bins(spans.data(), batch, max_tokens, false, &plan).ok());

    std::vector<int64_t> idx(static_cast<size_t>(batch));
    for (int64_t i = 0; i < batch; ++i) idx[i] = i;
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return seqs[a].size() > seqs[b].size(); });
    std::vector<int64_t> used;
    for (int64_t i : idx) {
      const int64_t len = static_cast<int64_t>(seqs[i].size());
      size_t row = 0;
      while (row < used.size() && max_tokens - used[row] < len) ++row;
      if (row == used.size()) used.push_back(0);
      assert(plan.row_of[i] == static_cast<int64_t>(row) && plan.start_of[i] == used[row]);
      used[row] += len;
    }
    assert(plan.rows == static_cast<int64_t>(used.size()));
  }
}

// Outputs above kParallelFromBytes are filled on the pool; they must equal the serial fill.
void test_parallel_fill_matches_serial() {
  std::mt19937_64 rng(99);
  const int64_t batch = 1000;
  std::vector<std::vector<int64_t>> seqs(batch);
  for (auto& s : seqs) {
    s.resize(rng() % 5000);
    for (auto& x : s) x = static_cast<int64_t>(rng() % 100000);
  }
  seqs[650].push_back(-7);  // a bad id late in the batch, found whichever thread copies it
  auto spans = spans_of(seqs);
  for (size_t threads : {size_t{1}, size_t{0}}) {
    PaddedOptions opt;
    opt.max_threads = threads;
    int64_t width = 0;
    assert(padded_width(spans.data(), batch, opt, &width).ok());
    std::vector<int32_t> ids(batch * width), mask(batch * width), pos(batch * width);
    Status s = fill_padded<int32_t>(spans.data(), batch, opt, width, ids.data(), mask.data(), pos.data());
    assert(!s.ok() && contains(s.message(), "sequence 650, position"));
  }
  seqs[650].pop_back();
  spans = spans_of(seqs);
  std::vector<std::vector<int32_t>> results[2];
  for (size_t threads : {size_t{1}, size_t{0}}) {
    auto& out = results[threads == 0];
    PaddedOptions opt;
    opt.max_threads = threads;
    opt.pad_side = Side::kLeft;
    int64_t width = 0;
    assert(padded_width(spans.data(), batch, opt, &width).ok());
    assert(3 * batch * width * 4 > kParallelFromBytes);
    std::vector<int32_t> ids(batch * width), mask(batch * width), pos(batch * width);
    assert(fill_padded<int32_t>(spans.data(), batch, opt, width, ids.data(), mask.data(), pos.data()).ok());
    out.push_back(ids), out.push_back(mask), out.push_back(pos);

    VarlenOptions vopt;
    vopt.max_threads = threads;
    int64_t total = 0, max_seqlen = 0;
    assert(varlen_sizes(spans.data(), batch, vopt, &total, &max_seqlen).ok());
    assert(2 * total * 4 > kParallelFromBytes);
    std::vector<int32_t> vids(total), vpos(total), cu(batch + 1);
    assert(fill_varlen<int32_t>(spans.data(), batch, vopt, vids.data(), cu.data(), vpos.data()).ok());
    out.push_back(vids), out.push_back(vpos), out.push_back(cu);

    BinPlan plan;
    assert(plan_bins(spans.data(), batch, 8192, false, &plan).ok());
    const int64_t cells = plan.rows * 8192;
    assert(3 * cells * 4 > kParallelFromBytes);
    std::vector<int32_t> bids(cells), seg(cells), bpos(cells), bcu(batch + plan.rows);
    std::vector<int64_t> cu_off(plan.rows + 1), placement(2 * batch);
    assert(fill_bins<int32_t>(spans.data(), batch, plan, 8192, 0, bids.data(), seg.data(), bpos.data(), bcu.data(),
                              cu_off.data(), placement.data(), threads)
               .ok());
    out.push_back(bids), out.push_back(seg), out.push_back(bpos), out.push_back(bcu);
  }
  assert(results[0] == results[1]);
}

// The copy loop steps dst to a 32-byte boundary one id at a time, then runs its vector loop, then
// a tail; rows start at any offset. Every offset and length must give the same arrays, and a bad
// id must be caught in each of the three parts, and in the parts truncation drops.
template <typename In, typename Out>
void check_copy_at_every_offset() {
  constexpr IdWidth in_width = sizeof(In) == 4 ? IdWidth::k32 : IdWidth::k64;
  const std::string out_name = sizeof(Out) == 4 ? "int32" : "int64";
  for (int64_t shift = 0; shift <= 8; ++shift) {
    for (int64_t n = 0; n <= 70; ++n) {
      std::vector<In> lead(static_cast<size_t>(shift), 1), ids(static_cast<size_t>(n));
      for (int64_t j = 0; j < n; ++j) ids[j] = static_cast<In>(1000 + 7 * j);
      const IdSpan spans[2] = {{lead.data(), shift, in_width}, {ids.data(), n, in_width}};
      for (int64_t max_length : {int64_t{0}, n / 2 + 1}) {
        for (Side side : {Side::kRight, Side::kLeft}) {
          VarlenOptions opt;
          opt.max_length = max_length;
          opt.truncation_side = side;
          int64_t total = 0, longest = 0;
          assert(varlen_sizes(spans, 2, opt, &total, &longest).ok());
          const int64_t k = total - std::min(shift, max_length > 0 ? max_length : shift);
          const int64_t lo = side == Side::kLeft ? n - k : 0;
          std::vector<Out> out_ids(static_cast<size_t>(total)), out_pos(static_cast<size_t>(total));
          std::vector<int32_t> cu(3);
          assert(fill_varlen<Out>(spans, 2, opt, out_ids.data(), cu.data(), out_pos.data()).ok());
          assert(cu[2] == total && cu[2] - cu[1] == k);
          for (int64_t j = 0; j < k; ++j) {
            assert(out_ids[cu[1] + j] == static_cast<Out>(ids[lo + j]));
            assert(out_pos[cu[1] + j] == static_cast<Out>(j));
          }
          for (int64_t bad = 0; bad < n; ++bad) {  // kept or dropped, head, body or tail
            const In saved = ids[bad];
            ids[bad] = -1;
            Status s = fill_varlen<Out>(spans, 2, opt, out_ids.data(), cu.data(), out_pos.data());
            assert(!s.ok() && s.message() == "sequence 1, position " + std::to_string(bad) +
                                                 ": id -1 is negative (token ids must be >= 0)");
            if (sizeof(In) > sizeof(Out)) {
              ids[bad] = static_cast<In>(int64_t{1} << 31);
              s = fill_varlen<Out>(spans, 2, opt, out_ids.data(), cu.data(), out_pos.data());
              assert(!s.ok() && s.message() == "sequence 1, position " + std::to_string(bad) + ": id 2147483648 " +
                                                   "does not fit in " + out_name);
            }
            ids[bad] = saved;
          }
        }
      }
      // The same row at the same offsets in the other layouts, which share the copy loop: padded on
      // the left (the row starts `shift` columns in) and a bin behind a longer sequence.
      PaddedOptions padded;
      padded.pad_side = Side::kLeft;
      padded.min_width = n + shift;
      int64_t width = 0;
      assert(padded_width(&spans[1], 1, padded, &width).ok() && width == n + shift);
      std::vector<Out> p_ids(static_cast<size_t>(width)), p_mask(p_ids.size()), p_pos(p_ids.size());
      assert(fill_padded<Out>(&spans[1], 1, padded, width, p_ids.data(), p_mask.data(), p_pos.data()).ok());
      for (int64_t j = 0; j < n; ++j) {
        assert(p_ids[shift + j] == static_cast<Out>(ids[j]) && p_pos[shift + j] == static_cast<Out>(j));
      }
      const int64_t start = n + shift + 1;  // the longer sequence goes first
      std::vector<In> longer(static_cast<size_t>(start), 2);
      const IdSpan bin_spans[2] = {{ids.data(), n, in_width}, {longer.data(), start, in_width}};
      BinPlan plan;
      const int64_t max_tokens = start + n;
      assert(plan_bins(bin_spans, 2, max_tokens, false, &plan).ok() && plan.rows == 1 && plan.start_of[0] == start);
      std::vector<Out> b_ids(static_cast<size_t>(max_tokens)), b_seg(b_ids.size()), b_pos(b_ids.size());
      std::vector<int32_t> b_cu(3);
      std::vector<int64_t> b_off(2), placement(4);
      assert(fill_bins<Out>(bin_spans, 2, plan, max_tokens, 0, b_ids.data(), b_seg.data(), b_pos.data(), b_cu.data(),
                            b_off.data(), placement.data())
                 .ok());
      for (int64_t j = 0; j < n; ++j) {
        assert(b_ids[start + j] == static_cast<Out>(ids[j]) && b_pos[start + j] == static_cast<Out>(j));
      }
    }
  }
}

void test_copy_at_every_offset() {
  check_copy_at_every_offset<int32_t, int32_t>();
  check_copy_at_every_offset<int32_t, int64_t>();
  check_copy_at_every_offset<int64_t, int32_t>();
  check_copy_at_every_offset<int64_t, int64_t>();
}

}  // namespace

int main() {
  test_offsets_validation();
  test_padded_right_and_left();
  test_padded_truncation();
  test_id_validation();
  test_varlen();
  test_copy_at_every_offset();
  test_bins_exact_layout();
  test_bins_match_naive_ffd();
  test_parallel_fill_matches_serial();
  std::puts("test_pack: all passed");
  return 0;
}
