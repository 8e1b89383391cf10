// Feature packing kernels: copy ragged ids into padded / varlen / binned layouts, validating every id
// in the same pass that copies it (see fastprep/pack.h for the layouts and the exact FFD rule).
#include "fastprep/pack.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>

#include "byte_tables.h"
#include "fastprep/thread_pool.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FASTPREP_PACK_HAVE_AVX2 1
#else
#define FASTPREP_PACK_HAVE_AVX2 0
#endif
#if defined(__GNUC__) || defined(__clang__)
#define FASTPREP_PACK_INLINE inline __attribute__((always_inline))
#else
#define FASTPREP_PACK_INLINE inline
#endif

namespace fastprep::pack {
namespace {

Status invalid(std::string message) { return Status(ErrorCode::kInvalidArgument, std::move(message)); }

const char* type_name(IdWidth w) { return w == IdWidth::k32 ? "int32" : "int64"; }

template <typename Out>
constexpr IdWidth width_of() {
  static_assert(std::is_same_v<Out, int32_t> || std::is_same_v<Out, int64_t>, "ids are int32 or int64");
  return sizeof(Out) == 4 ? IdWidth::k32 : IdWidth::k64;
}

// An id is valid for Out iff 0 <= id <= max_id<Out>(). OR-ing the unsigned images of all ids and
// testing these bits answers that for a whole run without a branch per element (it vectorizes).
template <typename In, typename Out>
constexpr std::make_unsigned_t<In> bad_bits() {
  using U = std::make_unsigned_t<In>;
  if constexpr (sizeof(In) == 4) {
    return U{0x80000000u};  // any non-negative int32 fits both outputs
  } else if constexpr (sizeof(Out) == 4) {
    return U{0xFFFFFFFF80000000ull};
  } else {
    return U{0x8000000000000000ull};
  }
}

// The hot loop of every layout: ids copied (converted) to dst, positions 0..n-1 written, and the
// unsigned images of all ids OR-ed for validation, in one pass over the source. __restrict lets the
// compiler vectorize it.
//
// Sequences start at arbitrary offsets of the outputs (row i of a varlen batch at cu_seqlens[i]), so
// most vector stores would straddle two cache lines, and those split stores, more than memory
// bandwidth, bound the loop (a fifth of its time for 512 rows of 64..1024 ids). A few scalar steps
// first bring dst to a kStoreAlign boundary. pos sits at the same offset of its own output, and the
// bindings allocate large outputs (256 KiB and more) 64 KiB-aligned, so there both streams are
// stored aligned. Positions count in an unsigned Out (wrapping exactly as static_cast<Out>(j)
// would) rather than in the 64-bit index, which saves the vector loop a narrowing shuffle per store.
constexpr uintptr_t kStoreAlign = 32;  // an AVX2 store; also a multiple of SSE2's 16

template <typename In, typename Out>
FASTPREP_PACK_INLINE bool copy_with_positions(const In* __restrict src, int64_t n, Out* __restrict dst,
                                              Out* __restrict pos) {
  using U = std::make_unsigned_t<In>;
  using Position = std::make_unsigned_t<Out>;
  U acc = 0;
  Position p = 0;
  const uintptr_t to_boundary = (kStoreAlign - reinterpret_cast<uintptr_t>(dst) % kStoreAlign) % kStoreAlign;
  const int64_t head = std::min<int64_t>(n, static_cast<int64_t>(to_boundary / sizeof(Out)));
  for (int64_t j = 0; j < head; ++j) {
    acc |= static_cast<U>(src[j]);
    dst[j] = static_cast<Out>(src[j]);
    pos[j] = static_cast<Out>(p++);
  }
  for (int64_t j = head; j < n; ++j) {
    acc |= static_cast<U>(src[j]);
    dst[j] = static_cast<Out>(src[j]);
    pos[j] = static_cast<Out>(p++);
  }
  return (acc & bad_bits<In, Out>()) == 0;
}

template <typename In, typename Out>
FASTPREP_PACK_INLINE bool check_run(const In* src, int64_t n) {
  using U = std::make_unsigned_t<In>;
  U acc = 0;
  for (int64_t j = 0; j < n; ++j) acc |= static_cast<U>(src[j]);
  return (acc & bad_bits<In, Out>()) == 0;
}

template <typename Out>
FASTPREP_PACK_INLINE void fill(Out* __restrict dst, int64_t n, Out value) {
  for (int64_t j = 0; j < n; ++j) dst[j] = value;
}

// Slow path, taken only once something failed: the message for the first bad id of a sequence.
template <typename In, typename Out>
Status first_bad_in(const In* src, int64_t n, int64_t seq_index) {
  for (int64_t j = 0; j < n; ++j) {
    const int64_t v = static_cast<int64_t>(src[j]);
    if (v < 0) {
      return invalid("sequence " + std::to_string(seq_index) + ", position " + std::to_string(j) + ": id " +
                     std::to_string(v) + " is negative (token ids must be >= 0)");
    }
    if (v > max_id<Out>()) {
      return invalid("sequence " + std::to_string(seq_index) + ", position " + std::to_string(j) + ": id " +
                     std::to_string(v) + " does not fit in " + type_name(width_of<Out>()));
    }
  }
  return Status::Ok();
}

template <typename Out>
Status first_bad_id(const IdSpan* seqs, int64_t batch) {
  for (int64_t i = 0; i < batch; ++i) {
    Status s = seqs[i].width == IdWidth::k32
                   ? first_bad_in<int32_t, Out>(static_cast<const int32_t*>(seqs[i].data), seqs[i].length, i)
                   : first_bad_in<int64_t, Out>(static_cast<const int64_t*>(seqs[i].data), seqs[i].length, i);
    if (!s.ok()) return s;
  }
  return Status(ErrorCode::kInternal, "pack: an id failed validation but no bad id was found");
}

// Kept length and first kept index of a sequence of length n.
struct Kept {
  int64_t lo;
  int64_t k;
};

Kept truncate(int64_t n, int64_t max_length, Side side) {
  if (max_length <= 0 || n <= max_length) return {0, n};
  return {side == Side::kLeft ? n - max_length : 0, max_length};
}

// Copies the kept ids of `s` to dst with positions 0..k-1 in pos, and checks every id of `s`
// (the dropped ones too).
template <typename In, typename Out>
FASTPREP_PACK_INLINE bool copy_sequence_as(const IdSpan& s, const Kept& kept, Out* dst, Out* pos) {
  const In* src = static_cast<const In*>(s.data);
  const bool kept_ok = copy_with_positions<In, Out>(src + kept.lo, kept.k, dst, pos);
  if (kept.k == s.length) return kept_ok;
  return kept_ok && check_run<In, Out>(src, kept.lo) &&
         check_run<In, Out>(src + kept.lo + kept.k, s.length - kept.lo - kept.k);
}

template <typename Out>
FASTPREP_PACK_INLINE bool copy_sequence(const IdSpan& s, const Kept& kept, Out* dst, Out* pos) {
  return s.width == IdWidth::k32 ? copy_sequence_as<int32_t, Out>(s, kept, dst, pos)
                                 : copy_sequence_as<int64_t, Out>(s, kept, dst, pos);
}

// Starts loading the first ids of a sequence. Bins copy sequences longest first, not in the order
// their buffers were allocated, so the hardware prefetcher cannot run ahead from one into the next.
void prefetch_head(const IdSpan& s) {
  const char* p = static_cast<const char*>(s.data);
  const int64_t bytes = s.length * (s.width == IdWidth::k32 ? 4 : 8);
  for (int64_t b = 0; b < std::min<int64_t>(bytes, 256); b += 64) byte_tables::prefetch(p + b);
}

// Each layout's row loop (the *Rows functors below: copies, pads, masks, segment ids) is compiled
// twice, portable (SSE2 on x86-64) and AVX2, with everything above inlined into it; which one runs
// is chosen once at load. So a row costs no calls, and the fills are vectorized like the copy.
// Results are identical either way.
template <typename Rows>
bool rows_portable(const Rows& rows, int64_t lo_row, int64_t hi_row) {
  return rows(lo_row, hi_row);
}

#if FASTPREP_PACK_HAVE_AVX2
template <typename Rows>
__attribute__((target("avx2"))) bool rows_avx2(const Rows& rows, int64_t lo_row, int64_t hi_row) {
  return rows(lo_row, hi_row);
}
#endif

// Chosen once, when the module loads: AVX2 where the CPU has it, unless FASTPREP_PACK_KERNEL=portable.
bool detect_avx2() {
#if FASTPREP_PACK_HAVE_AVX2
  const char* forced = std::getenv("FASTPREP_PACK_KERNEL");
  if (forced != nullptr && std::strcmp(forced, "portable") == 0) return false;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") != 0;
#else
  return false;
#endif
}

const bool kUseAvx2 = detect_avx2();

// Fills rows [lo_row, hi_row) of a layout; returns whether all their ids were valid.
template <typename Rows>
bool run_rows(const Rows& rows, int64_t lo_row, int64_t hi_row) {
#if FASTPREP_PACK_HAVE_AVX2
  if (kUseAvx2) return rows_avx2(rows, lo_row, hi_row);
#endif
  return rows_portable(rows, lo_row, hi_row);
}

Status check_batch(const IdSpan* seqs, int64_t batch) {
  if (batch <= 0) return invalid("empty batch");
  if (seqs == nullptr) return invalid("pack: null sequence array");
  return Status::Ok();
}

Status check_max_length(int64_t max_length) {
  if (max_length < 0) return invalid("max_length must be >= 1, got " + std::to_string(max_length));
  return Status::Ok();
}

template <typename Out>
Status check_pad_id(int64_t pad_id) {
  if (pad_id < 0) return invalid("pad_id must be >= 0, got " + std::to_string(pad_id));
  if (pad_id > max_id<Out>()) {
    return invalid("pad_id " + std::to_string(pad_id) + " does not fit in " + type_name(width_of<Out>()));
  }
  return Status::Ok();
}

// Runs fill(lo, hi) -> ids_ok over row ranges covering [0, rows): on this thread for small
// outputs, else in chunks on the shared pool. Returns whether every range's ids were valid.
template <typename Fill>
Status for_row_ranges(int64_t rows, int64_t output_bytes, size_t max_threads, const Fill& fill, bool* ids_ok) {
  if (max_threads == 1 || rows < 2 || output_bytes < kParallelFromBytes) {
    *ids_ok = fill(int64_t{0}, rows);
    return Status::Ok();
  }
  const int64_t chunks = std::min<int64_t>(rows, std::max<int64_t>(2, output_bytes / kParallelChunkBytes));
  std::atomic<bool> all_ok{true};
  Status status = parallel_for(static_cast<size_t>(chunks), max_threads, [&](size_t c) {
    const int64_t lo = rows * static_cast<int64_t>(c) / chunks;
    const int64_t hi = rows * static_cast<int64_t>(c + 1) / chunks;
    if (!fill(lo, hi)) all_ok.store(false, std::memory_order_relaxed);
  });
  *ids_ok = all_ok.load();
  return status;
}

}  // namespace

const char* kernel_name() { return kUseAvx2 ? "avx2" : "portable"; }

Status spans_from_offsets(const void* flat, IdWidth width, int64_t flat_length, const int64_t* offsets,
                          int64_t n_offsets, std::vector<IdSpan>* out) {
  if (n_offsets <= 0) return invalid("offsets is empty; it needs B+1 entries starting at 0");
  if (offsets[0] != 0) return invalid("offsets[0] = " + std::to_string(offsets[0]) + "; offsets must start at 0");
  for (int64_t k = 1; k < n_offsets; ++k) {
    if (offsets[k] < offsets[k - 1]) {
      return invalid("offsets must be non-decreasing: offsets[" + std::to_string(k) + "] = " +
                     std::to_string(offsets[k]) + " < offsets[" + std::to_string(k - 1) +
                     "] = " + std::to_string(offsets[k - 1]));
    }
    if (offsets[k] > flat_length) {
      return invalid("offsets[" + std::to_string(k) + "] = " + std::to_string(offsets[k]) +
                     " runs past the end of flat_ids (" + std::to_string(flat_length) + " ids)");
    }
  }
  if (offsets[n_offsets - 1] != flat_length) {
    return invalid("offsets end at " + std::to_string(offsets[n_offsets - 1]) + " but flat_ids has " +
                   std::to_string(flat_length) + " ids");
  }
  const int64_t batch = n_offsets - 1;
  if (batch == 0) return invalid("empty batch");
  const size_t item = width == IdWidth::k32 ? 4 : 8;
  out->resize(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) {
    (*out)[i] = IdSpan{static_cast<const char*>(flat) + static_cast<size_t>(offsets[i]) * item,
                       offsets[i + 1] - offsets[i], width};
  }
  return Status::Ok();
}

// ------------------------------------------------------------------------------------------- padded

Status padded_width(const IdSpan* seqs, int64_t batch, const PaddedOptions& options, int64_t* width) {
  if (Status s = check_batch(seqs, batch); !s.ok()) return s;
  if (Status s = check_max_length(options.max_length); !s.ok()) return s;
  if (options.pad_to_multiple_of < 1) {
    return invalid("pad_to_multiple_of must be >= 1, got " + std::to_string(options.pad_to_multiple_of));
  }
  if (options.min_width < 0) return invalid("min_width must be >= 0, got " + std::to_string(options.min_width));
  int64_t longest = options.min_width;
  for (int64_t i = 0; i < batch; ++i) {
    longest = std::max(longest, truncate(seqs[i].length, options.max_length, options.truncation_side).k);
  }
  const int64_t m = options.pad_to_multiple_of;
  if (const int64_t rem = longest % m; rem != 0) {
    if (longest > INT64_MAX - (m - rem)) return Status(ErrorCode::kLimitExceeded, "padded width overflows int64");
    longest += m - rem;
  }
  if (longest > 0 && batch > INT64_MAX / 8 / longest) {
    return Status(ErrorCode::kLimitExceeded, "padded batch of " + std::to_string(batch) + " x " +
                                                 std::to_string(longest) + " ids is too large");
  }
  *width = longest;
  return Status::Ok();
}

template <typename Out>
struct PaddedRows {
  const IdSpan* seqs;
  const PaddedOptions& options;
  int64_t width;
  Out* input_ids;
  Out* attention_mask;
  Out* position_ids;

  FASTPREP_PACK_INLINE bool operator()(int64_t lo_row, int64_t hi_row) const {
    const Out pad = static_cast<Out>(options.pad_id);
    const bool pad_left = options.pad_side == Side::kLeft;
    bool ok = true;
    for (int64_t i = lo_row; i < hi_row; ++i) {
      const Kept kept = truncate(seqs[i].length, options.max_length, options.truncation_side);
      const int64_t n_pad = width - kept.k;
      const int64_t tok = pad_left ? n_pad : 0;  // first column of the real tokens
      const int64_t pad_at = pad_left ? 0 : kept.k;
      Out* ids = input_ids + i * width;
      Out* mask = attention_mask + i * width;
      Out* pos = position_ids + i * width;
      ok &= copy_sequence<Out>(seqs[i], kept, ids + tok, pos + tok);
      fill(ids + pad_at, n_pad, pad);
      fill(mask + tok, kept.k, Out{1});
      fill(mask + pad_at, n_pad, Out{0});
      fill(pos + pad_at, n_pad, Out{0});
    }
    return ok;
  }
};

template <typename Out>
Status fill_padded(const IdSpan* seqs, int64_t batch, const PaddedOptions& options, int64_t width,
                   Out* input_ids, Out* attention_mask, Out* position_ids) {
  if (Status s = check_batch(seqs, batch); !s.ok()) return s;
  if (Status s = check_pad_id<Out>(options.pad_id); !s.ok()) return s;
  for (int64_t i = 0; i < batch; ++i) {
    if (truncate(seqs[i].length, options.max_length, options.truncation_side).k > width) {
      return Status(ErrorCode::kInternal, "fill_padded: width is smaller than a sequence");
    }
  }
  const PaddedRows<Out> rows{seqs, options, width, input_ids, attention_mask, position_ids};
  auto fill_rows = [&](int64_t lo_row, int64_t hi_row) { return run_rows(rows, lo_row, hi_row); };
  bool ids_ok = true;
  const int64_t bytes = 3 * batch * width * static_cast<int64_t>(sizeof(Out));
  if (Status s = for_row_ranges(batch, bytes, options.max_threads, fill_rows, &ids_ok); !s.ok()) return s;
  if (!ids_ok) return first_bad_id<Out>(seqs, batch);
  return Status::Ok();
}

// ------------------------------------------------------------------------------------------- varlen

Status varlen_sizes(const IdSpan* seqs, int64_t batch, const VarlenOptions& options, int64_t* total,
                    int64_t* max_seqlen) {
  if (Status s = check_batch(seqs, batch); !s.ok()) return s;
  if (Status s = check_max_length(options.max_length); !s.ok()) return s;
  int64_t sum = 0;
  int64_t longest = 0;
  for (int64_t i = 0; i < batch; ++i) {
    const int64_t k = truncate(seqs[i].length, options.max_length, options.truncation_side).k;
    sum += k;
    longest = std::max(longest, k);
    if (sum > INT32_MAX) {
      return Status(ErrorCode::kLimitExceeded,
                    "varlen batch holds more than 2**31-1 tokens, beyond the range of int32 cu_seqlens");
    }
  }
  *total = sum;
  *max_seqlen = longest;
  return Status::Ok();
}

template <typename Out>
struct VarlenRows {
  const IdSpan* seqs;
  const VarlenOptions& options;
  const int32_t* cu_seqlens;
  Out* input_ids;
  Out* position_ids;

  FASTPREP_PACK_INLINE bool operator()(int64_t lo_row, int64_t hi_row) const {
    bool ok = true;
    for (int64_t i = lo_row; i < hi_row; ++i) {
      const Kept kept = truncate(seqs[i].length, options.max_length, options.truncation_side);
      ok &= copy_sequence<Out>(seqs[i], kept, input_ids + cu_seqlens[i], position_ids + cu_seqlens[i]);
    }
    return ok;
  }
};

template <typename Out>
Status fill_varlen(const IdSpan* seqs, int64_t batch, const VarlenOptions& options, Out* input_ids,
                   int32_t* cu_seqlens, Out* position_ids) {
  if (Status s = check_batch(seqs, batch); !s.ok()) return s;
  cu_seqlens[0] = 0;
  int64_t total = 0;
  for (int64_t i = 0; i < batch; ++i) {
    total += truncate(seqs[i].length, options.max_length, options.truncation_side).k;
    if (total > INT32_MAX) return Status(ErrorCode::kInternal, "fill_varlen: call varlen_sizes first");
    cu_seqlens[i + 1] = static_cast<int32_t>(total);
  }
  const VarlenRows<Out> rows{seqs, options, cu_seqlens, input_ids, position_ids};
  auto fill_rows = [&](int64_t lo_row, int64_t hi_row) { return run_rows(rows, lo_row, hi_row); };
  bool ids_ok = true;
  const int64_t bytes = 2 * total * static_cast<int64_t>(sizeof(Out));
  if (Status s = for_row_ranges(batch, bytes, options.max_threads, fill_rows, &ids_ok); !s.ok()) return s;
  if (!ids_ok) return first_bad_id<Out>(seqs, batch);
  return Status::Ok();
}

// --------------------------------------------------------------------------------------------- bins

Status plan_bins(const IdSpan* seqs, int64_t batch, int64_t max_tokens, bool truncate, BinPlan* plan) {
  if (Status s = check_batch(seqs, batch); !s.ok()) return s;
  if (max_tokens < 1 || max_tokens > INT32_MAX) {
    return invalid("max_tokens must be in [1, 2**31-1], got " + std::to_string(max_tokens));
  }
  if (batch > INT32_MAX) return Status(ErrorCode::kLimitExceeded, "pack_bins: more than 2**31-1 sequences");
  const size_t b = static_cast<size_t>(batch);
  plan->length_of.resize(b);
  for (int64_t i = 0; i < batch; ++i) {
    int64_t n = seqs[i].length;
    if (n > max_tokens) {
      if (!truncate) {
        return invalid("sequence " + std::to_string(i) + " has " + std::to_string(n) +
                       " tokens, more than max_tokens = " + std::to_string(max_tokens) +
                       " (pass truncate=True to cut it)");
      }
      n = max_tokens;
    }
    plan->length_of[i] = n;
  }

  // Visit order: length descending, index ascending. One sort of packed 64-bit keys does both:
  // high half = max_tokens - length (smaller first = longer first), low half = index.
  std::vector<uint64_t> order(b);
  for (size_t i = 0; i < b; ++i) {
    order[i] = (static_cast<uint64_t>(max_tokens - plan->length_of[i]) << 32) | static_cast<uint64_t>(i);
  }
  std::sort(order.begin(), order.end());

  // Max segment tree over the free space of rows 0..B-1 (never more rows than sequences). Unopened
  // rows have the full max_tokens free and come after all opened ones, so "leftmost leaf with
  // free >= len" is exactly first fit, opening a new row when no open one has room.
  size_t leaves = 1;
  while (leaves < b) leaves <<= 1;
  std::vector<int32_t> tree(2 * leaves, -1);
  for (size_t r = 0; r < b; ++r) tree[leaves + r] = static_cast<int32_t>(max_tokens);
  for (size_t node = leaves - 1; node >= 1; --node) tree[node] = std::max(tree[2 * node], tree[2 * node + 1]);

  plan->row_of.resize(b);
  plan->start_of.resize(b);
  int64_t rows = 0;
  for (uint64_t key : order) {
    const size_t i = static_cast<size_t>(key & 0xFFFFFFFFu);
    const int32_t len = static_cast<int32_t>(plan->length_of[i]);
    size_t node = 1;
    while (node < leaves) node = tree[2 * node] >= len ? 2 * node : 2 * node + 1;
    const int64_t row = static_cast<int64_t>(node - leaves);
    plan->row_of[i] = row;
    plan->start_of[i] = max_tokens - tree[node];
    tree[node] -= len;
    for (node >>= 1; node >= 1; node >>= 1) tree[node] = std::max(tree[2 * node], tree[2 * node + 1]);
    rows = std::max(rows, row + 1);
  }
  plan->rows = rows;

  // Group by row, keeping placement (visit) order inside each row.
  plan->member_offsets.assign(static_cast<size_t>(rows) + 1, 0);
  for (size_t i = 0; i < b; ++i) ++plan->member_offsets[static_cast<size_t>(plan->row_of[i]) + 1];
  for (int64_t r = 0; r < rows; ++r) plan->member_offsets[r + 1] += plan->member_offsets[r];
  std::vector<int64_t> cursor(plan->member_offsets.begin(), plan->member_offsets.end() - 1);
  plan->members.resize(b);
  for (uint64_t key : order) {
    const size_t i = static_cast<size_t>(key & 0xFFFFFFFFu);
    plan->members[static_cast<size_t>(cursor[static_cast<size_t>(plan->row_of[i])]++)] = static_cast<int64_t>(i);
  }
  return Status::Ok();
}

template <typename Out>
struct BinRows {
  const IdSpan* seqs;
  int64_t batch;
  const BinPlan& plan;
  int64_t max_tokens;
  Out pad;
  Out* input_ids;
  Out* segment_ids;
  Out* position_ids;
  int32_t* cu_seqlens;
  int64_t* cu_offsets;

  FASTPREP_PACK_INLINE bool operator()(int64_t lo_row, int64_t hi_row) const {
    bool ok = true;
    for (int64_t r = lo_row; r < hi_row; ++r) {
      Out* ids = input_ids + r * max_tokens;
      Out* seg = segment_ids + r * max_tokens;
      Out* pos = position_ids + r * max_tokens;
      const int64_t first = plan.member_offsets[r];
      const int64_t count = plan.member_offsets[r + 1] - first;
      int32_t* cu = cu_seqlens + first + r;  // each earlier row contributed members + 1 entries
      cu_offsets[r] = first + r;
      cu[0] = 0;
      int64_t used = 0;
      for (int64_t k = 0; k < count; ++k) {
        const int64_t i = plan.members[first + k];
        if (first + k + 1 < batch) prefetch_head(seqs[plan.members[first + k + 1]]);
        const int64_t start = plan.start_of[i];
        const int64_t len = plan.length_of[i];
        ok &= copy_sequence<Out>(seqs[i], Kept{0, len}, ids + start, pos + start);
        fill(seg + start, len, static_cast<Out>(k + 1));
        used = start + len;
        cu[k + 1] = static_cast<int32_t>(used);
      }
      fill(ids + used, max_tokens - used, pad);
      fill(seg + used, max_tokens - used, Out{0});
      fill(pos + used, max_tokens - used, Out{0});
    }
    return ok;
  }
};

template <typename Out>
Status fill_bins(const IdSpan* seqs, int64_t batch, const BinPlan& plan, int64_t max_tokens, int64_t pad_id,
                 Out* input_ids, Out* segment_ids, Out* position_ids, int32_t* cu_seqlens, int64_t* cu_offsets,
                 int64_t* placement, size_t max_threads) {
  if (Status s = check_batch(seqs, batch); !s.ok()) return s;
  if (Status s = check_pad_id<Out>(pad_id); !s.ok()) return s;
  if (static_cast<int64_t>(plan.members.size()) != batch) {
    return Status(ErrorCode::kInternal, "fill_bins: plan was made for another batch");
  }
  const BinRows<Out> rows{seqs, batch, plan, max_tokens, static_cast<Out>(pad_id), input_ids, segment_ids,
                          position_ids, cu_seqlens, cu_offsets};
  auto fill_rows = [&](int64_t lo_row, int64_t hi_row) { return run_rows(rows, lo_row, hi_row); };
  bool ids_ok = true;
  const int64_t bytes = 3 * plan.rows * max_tokens * static_cast<int64_t>(sizeof(Out));
  if (Status s = for_row_ranges(plan.rows, bytes, max_threads, fill_rows, &ids_ok); !s.ok()) return s;
  cu_offsets[plan.rows] = batch + plan.rows;
  for (int64_t i = 0; i < batch; ++i) {
    placement[2 * i] = plan.row_of[i];
    placement[2 * i + 1] = plan.start_of[i];
  }
  // Report the first bad id in input order, whatever order the rows were filled in.
  if (!ids_ok) return first_bad_id<Out>(seqs, batch);
  return Status::Ok();
}

template Status fill_padded<int32_t>(const IdSpan*, int64_t, const PaddedOptions&, int64_t, int32_t*, int32_t*,
                                     int32_t*);
template Status fill_padded<int64_t>(const IdSpan*, int64_t, const PaddedOptions&, int64_t, int64_t*, int64_t*,
                                     int64_t*);
template Status fill_varlen<int32_t>(const IdSpan*, int64_t, const VarlenOptions&, int32_t*, int32_t*, int32_t*);
template Status fill_varlen<int64_t>(const IdSpan*, int64_t, const VarlenOptions&, int64_t*, int32_t*, int64_t*);
template Status fill_bins<int32_t>(const IdSpan*, int64_t, const BinPlan&, int64_t, int64_t, int32_t*, int32_t*,
                                   int32_t*, int32_t*, int64_t*, int64_t*, size_t);
template Status fill_bins<int64_t>(const IdSpan*, int64_t, const BinPlan&, int64_t, int64_t, int64_t*, int64_t*,
                                   int64_t*, int32_t*, int64_t*, int64_t*, size_t);

}  // namespace fastprep::pack
