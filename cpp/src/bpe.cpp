// Byte-level BPE core: rank-file parsing, the token hash table, tiktoken-exact pair merging, and
// the encoder that drives a pre-tokenizer plus special tokens (serial, parallel and batch paths).
#include "fastprep/bpe.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <new>
#include <string>
#include <unordered_map>

#include "fastprep/thread_pool.h"
#include "byte_tables.h"
#include "char3.h"

namespace fastprep {

// ---------------------------------------------------------------------------------------------
// Token table: open addressing, linear probing, keyed by the token bytes.
// Most tokens are <= 8 bytes, so a slot stores the first 8 bytes packed little-endian in a
// uint64 plus the length: a short key is found with one load, one multiply and one 16-byte slot
// compare. Longer tokens store their first 8 bytes too and are confirmed with memcmp against the
// token arena. Load factor <= 0.5.
// ---------------------------------------------------------------------------------------------
namespace {

constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
constexpr size_t kFail = ~size_t{0};

using byte_tables::HugeArray;
using byte_tables::load_prefix;
using byte_tables::hash_prefixed;
using byte_tables::prefetch;

struct Slot {
  uint64_t prefix;
  uint32_t len;  // 0 = empty slot
  uint32_t rank;
};

struct TokenRef {
  uint32_t offset;  // into the arena
  uint32_t len;     // 0 = no token has this rank
};

}  // namespace

struct BpeRanks::Impl {
  std::vector<uint8_t> arena;   // all token bytes back to back (+ slack for wide copies)
  std::vector<TokenRef> tokens;  // indexed by rank, size max_rank + 1
  HugeArray<Slot> slots;        // power-of-two size
  uint64_t slot_mask = 0;
  int slot_shift = 64;
  uint32_t byte_rank[256];
  bool all_bytes = false;        // every single byte has a rank
  size_t count = 0;
  uint32_t max_rank = 0;
  size_t max_token_len = 0;

  // Merging over token ids (used when every byte has a rank and ranks fit in 21 bits, i.e. all
  // real vocabularies). Every part of a piece under merging is a token, and the rank of joining
  // parts a and b is the rank of bytes(a) + bytes(b); so a table holding every (a, b) whose
  // concatenation is a token (all split points of every token, not one canonical split)
  // answers each merge-candidate lookup with 8-byte probes and no byte compare.
  // Slot: left << 42 | right << 21 | joined; kEmptyPair when free. Load factor <= 0.5.
  //
  // Merging is bound by cache misses on that table (4-8 MiB). About half of all lookups are
  // misses (every piece ends with non-joinable neighbours; more in Japanese), so a blocked Bloom
  // filter (256-512 KiB, 3 bits in one 64-bit word per pair, ~3% false positives) answers most
  // of them without touching the table. (A small "hot" table of the lowest-ranked pairs in front
  // of it was tried and was slower: one more dependent probe on every lookup.)
  bool merge_by_id = false;
  HugeArray<uint64_t> pair_slots;
  uint64_t pair_mask = 0;
  int pair_shift = 64;
  HugeArray<uint64_t> pair_bloom;
  int bloom_shift = 64;
  // Rank of the two-byte token (b0 << 8 | b1), kNoRank if none: the first round of every merge
  // without hashing, from a 256 KiB table that stays in L2.
  HugeArray<uint32_t> byte_pair_rank;

  // Three-byte UTF-8 characters pre-merged, keyed by token rank (see char3.h). Built from the
  // ranks at load (BuildCharTable).
  char3::Table char3;
  void BuildCharTable();

  static constexpr uint64_t kEmptyPair = ~uint64_t{0};
  static constexpr int kIdBits = 21;
  static constexpr uint64_t kIdMask = (uint64_t{1} << kIdBits) - 1;
  static constexpr uint64_t kBloomMul = 0xD6E8FEB86659FD93ull;


  uint32_t PairRank(uint32_t a, uint32_t b) const {
    const uint64_t key = (uint64_t{a} << kIdBits) | b;
    const uint64_t h2 = key * kBloomMul;
    return PairRankAfterBloom(key, pair_bloom[static_cast<size_t>(h2 >> bloom_shift)], h2);
  }

  // Two independent lookups (a merge's left and right neighbours): both filter words are loaded
  // before either result is branched on, so their cache misses overlap.
  void PairRank2(uint32_t a1, uint32_t b1, uint32_t a2, uint32_t b2, uint32_t* r1,
                 uint32_t* r2) const {
    const uint64_t key1 = (uint64_t{a1} << kIdBits) | b1;
    const uint64_t key2 = (uint64_t{a2} << kIdBits) | b2;
    const uint64_t h1 = key1 * kBloomMul, h2 = key2 * kBloomMul;
    const uint64_t w1 = pair_bloom[static_cast<size_t>(h1 >> bloom_shift)];
    const uint64_t w2 = pair_bloom[static_cast<size_t>(h2 >> bloom_shift)];
    *r1 = PairRankAfterBloom(key1, w1, h1);
    *r2 = PairRankAfterBloom(key2, w2, h2);
  }

  uint32_t PairRankAfterBloom(uint64_t key, uint64_t word, uint64_t h2) const {
    const uint64_t bits = byte_tables::bloom_bits(h2);
    if ((word & bits) != bits) return kNoRank;
    const uint64_t* slots_p = pair_slots.data();
    for (size_t i = static_cast<size_t>((key * kMul) >> pair_shift);; i = (i + 1) & pair_mask) {
      uint64_t s = slots_p[i];
      if ((s >> kIdBits) == key) return static_cast<uint32_t>(s & kIdMask);
      if (s == kEmptyPair) return kNoRank;
    }
  }

  uint32_t Find(const uint8_t* p, size_t len) const {
    if (len > max_token_len || len == 0) return kNoRank;
    uint64_t prefix = load_prefix(p, len);
    return FindAt(p, len, prefix, static_cast<size_t>(hash_prefixed(p, len, prefix) >> slot_shift));
  }
  // Find that also returns the piece's hash (for the piece cache); len <= max_token_len.
  uint32_t FindHashed(const uint8_t* p, size_t len, uint64_t* hash) const {
    uint64_t prefix = load_prefix(p, len);
    *hash = hash_prefixed(p, len, prefix);
    return FindAt(p, len, prefix, static_cast<size_t>(*hash >> slot_shift));
  }

  // Starts loading the token-table slot (and the piece cache's index entry) that
  // EncodePieceRaw will probe first for this piece: the probe of a piece that is not a token
  // is a cache miss on a table of several MiB, and a piece is known one lexer step before it
  // is encoded, so the miss overlaps the previous piece's merging.
  void PrefetchPiece(const uint8_t* p, size_t len) const {
    if (len < 3 || len > max_token_len) return;  // answered without the table
    const uint64_t hash = hash_prefixed(p, len, load_prefix(p, len));
    prefetch(&slots[static_cast<size_t>(hash >> slot_shift)]);
  }

  // Find, given the key's first slot (so callers can prefetch it first).
  uint32_t FindAt(const uint8_t* p, size_t len, uint64_t prefix, size_t i) const {
    if (len <= 8) {
      for (;;) {
        const Slot& s = slots[i];
        if (s.prefix == prefix && s.len == len) return s.rank;
        if (s.len == 0) return kNoRank;
        i = (i + 1) & slot_mask;
      }
    }
    for (;;) {
      const Slot& s = slots[i];
      if (s.prefix == prefix && s.len == len &&
          std::memcmp(arena.data() + tokens[s.rank].offset + 8, p + 8, len - 8) == 0) {
        return s.rank;
      }
      if (s.len == 0) return kNoRank;
      i = (i + 1) & slot_mask;
    }
  }

  // False if these bytes are already present.
  bool Insert(const uint8_t* p, size_t len, uint32_t rank) {
    uint64_t prefix = load_prefix(p, len);
    size_t i = static_cast<size_t>(hash_prefixed(p, len, prefix) >> slot_shift);
    for (;;) {
      Slot& s = slots[i];
      if (s.len == 0) {
        s.prefix = prefix;
        s.len = static_cast<uint32_t>(len);
        s.rank = rank;
        return true;
      }
      if (s.prefix == prefix && s.len == len &&
          (len <= 8 || std::memcmp(arena.data() + tokens[s.rank].offset, p, len) == 0)) {
        return false;
      }
      i = (i + 1) & slot_mask;
    }
  }

  // Builds pair_slots and byte_pair_rank; leaves merge_by_id false if the vocabulary can't use
  // them.
  void BuildPairTable();

  size_t EncodePieceRaw(const uint8_t* p, size_t len, uint32_t* out) const;
  size_t MergeCached(const uint8_t* p, size_t len, uint64_t hash, uint32_t* out) const;
  // Distinguishes vocabularies in the per-thread piece cache (never reused, unlike addresses).
  uint64_t instance_id = 0;
  size_t MergeSmall(const uint8_t* p, size_t len, uint32_t* out) const;
  size_t MergeSmallIds(const uint8_t* p, size_t len, uint32_t* out) const;
  template <bool kById>
  size_t MergeLong(const uint8_t* p, size_t len, uint32_t* out) const;
};

namespace {

// Pieces up to this length merge with an O(n^2) scan over stack arrays (fast: few merges, no
// allocation); longer ones use the heap + linked list, O(n log n).
constexpr size_t kSmallPiece = 48;
// The same for MergeSmallIds, whose steps are cheaper (no byte hashing, no position arrays).
// The scan's cost is the vectorized min over up to this many keys per merge; beyond it, the
// rank-bucket queue of MergeLong wins.
constexpr size_t kSmallPieceIds = 128;

}  // namespace

// tiktoken's byte_pair_merge over small stack arrays. part_rank[i] is the rank of part i (known
// when it was formed, so parts are never looked up again); pair_rank[i] is the rank of
// part i + part i+1, kNoRank if not a token.
size_t BpeRanks::Impl::MergeSmall(const uint8_t* p, size_t len, uint32_t* out) const {
  uint32_t start[kSmallPiece + 1];
  uint32_t part_rank[kSmallPiece];
  uint32_t pair_rank[kSmallPiece];
  size_t m = len;
  for (size_t i = 0; i < len; ++i) {
    start[i] = static_cast<uint32_t>(i);
    part_rank[i] = byte_rank[p[i]];
  }
  start[len] = static_cast<uint32_t>(len);
  for (size_t i = 0; i + 1 < len; ++i) pair_rank[i] = Find(p + i, 2);
  pair_rank[len - 1] = kNoRank;

  for (;;) {
    uint32_t best = kNoRank;
    size_t bi = 0;
    for (size_t i = 0; i + 1 < m; ++i) {
      if (pair_rank[i] < best) {
        best = pair_rank[i];
        bi = i;
      }
    }
    if (best == kNoRank) break;
    // Part bi absorbs part bi+1.
    part_rank[bi] = best;
    size_t tail = m - (bi + 2);  // parts after bi+1
    std::memmove(start + bi + 1, start + bi + 2, (tail + 1) * sizeof(uint32_t));
    std::memmove(part_rank + bi + 1, part_rank + bi + 2, tail * sizeof(uint32_t));
    std::memmove(pair_rank + bi + 1, pair_rank + bi + 2, tail * sizeof(uint32_t));
    --m;
    pair_rank[bi] = bi + 1 < m ? Find(p + start[bi], start[bi + 2] - start[bi]) : kNoRank;
    if (bi > 0) pair_rank[bi - 1] = Find(p + start[bi - 1], start[bi + 1] - start[bi - 1]);
  }
  for (size_t i = 0; i < m; ++i) {
    if (part_rank[i] == kNoRank) return kFail;  // a lone byte with no rank
    out[i] = part_rank[i];
  }
  return m;
}

// The same merge over token ids (merge_by_id). Parts stay where their first byte is; each
// position i holds key[i] = (rank of the pair starting there) << 8 | i, or at least
// kNoPairKey when there is none (a pair rank of kNoRank shifts to 0xFFFFFFxx, above every real
// key since ids are < 2^21), so one unsigned min over the fixed-length array gives both the
// lowest rank and, on ties, the leftmost position: no index search, no shifting, and the min
// loop vectorizes (with AVX2 where the CPU has it: chosen once at load by the dynamic linker,
// since the portable build targets baseline x86-64). Each new candidate costs one PairRank.
// Positions index parts, not bytes: a piece of whole UTF-8 units starts with its three-byte
// characters already merged alone (premerged_parts), which in CJK text removes most merges.
namespace {
constexpr uint32_t kNoPairKey = uint32_t{1} << 29;
constexpr size_t kMinLanes = 8;  // key array padded to a multiple of this with 0xFFFFFFFF

// target_clones needs ifunc support: glibc on ELF (not musl, not macOS/Windows).
#if defined(__x86_64__) && defined(__ELF__) && defined(__GLIBC__) && \
    !defined(__SANITIZE_ADDRESS__) && (defined(__GNUC__) || defined(__clang__))
#define FASTPREP_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define FASTPREP_MULTIVERSION
#endif

// Builds the starting parts of a piece with three-byte characters pre-merged (see
// BpeRanks::Impl::char3) and their pair keys. Returns the part count, or 0 when the piece
// is not whole UTF-8 units (then the byte path applies).
inline uint32_t premerged_parts(const BpeRanks::Impl& R, const uint8_t* p, uint32_t n,
                                uint32_t* part, uint32_t* key) {
  // tag[k]: the byte of a raw one-byte part (for the two-byte table), kTagSame for a character
  // part followed by another part of the same character (a finished character: no pair there),
  // kTagChar for other character parts.
  constexpr uint16_t kTagSame = 256, kTagChar = 257;
  uint16_t tag[kSmallPieceIds];
  uint32_t m = 0;
  for (uint32_t i = 0; i < n;) {
    const uint8_t b = p[i];
    if ((b & 0xF0) == 0xE0) {  // the common case here: a three-byte character
      if (n - i < 3 || ((p[i + 1] & 0xC0) ^ 0x80) | ((p[i + 2] & 0xC0) ^ 0x80)) return 0;
      const char3::Entry& entry = R.char3.entry(p + i);
      const uint64_t e = entry.parts;
      if (char3::part(e, 0) != char3::kIdMask && (entry.guard == 0 || R.char3.safe(entry.guard, p, i, n))) {
        const uint32_t id1 = char3::part(e, 1);
        part[m] = char3::part(e, 0);
        if (id1 == char3::kIdMask) {
          tag[m++] = kTagChar;
        } else {
          tag[m++] = kTagSame;
          const uint32_t id2 = char3::part(e, 2);
          part[m] = id1;
          tag[m++] = id2 != char3::kIdMask ? kTagSame : kTagChar;
          if (id2 != char3::kIdMask) {
            part[m] = id2;
            tag[m++] = kTagChar;
          }
        }
        i += 3;
        continue;
      }
    }
    if (b < 0x80) {
      part[m] = R.byte_rank[b];
      tag[m++] = b;
      ++i;
      continue;
    }
    const uint32_t ulen = b >= 0xF8 ? 0 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
    if (ulen == 0 || ulen > n - i) return 0;
    for (uint32_t k = 1; k < ulen; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return 0;
    }
    for (uint32_t k = 0; k < ulen; ++k, ++i) {
      part[m] = R.byte_rank[p[i]];
      tag[m++] = p[i];
    }
  }
  const uint32_t* bpr = R.byte_pair_rank.data();
  for (uint32_t k = 0; k + 1 < m; ++k) {
    uint32_t r;
    if ((tag[k] | tag[k + 1]) < 256) {
      r = bpr[(uint32_t{tag[k]} << 8) | tag[k + 1]];
    } else if (tag[k] == kTagSame) {
      r = kNoRank;
    } else {
      r = R.PairRank(part[k], part[k + 1]);
    }
    key[k] = (r << 8) | k;
  }
  return m;
}

FASTPREP_MULTIVERSION
size_t merge_small_ids(const BpeRanks::Impl& R, const uint8_t* p, size_t len, uint32_t* out) {
  static_assert(kSmallPieceIds <= 256, "positions are packed in 8 bits of a key");
  uint32_t key[kSmallPieceIds + kMinLanes];
  uint32_t part[kSmallPieceIds + 1];  // part[n]: a harmless id for the lookup past the end
  uint16_t next[kSmallPieceIds], prev[kSmallPieceIds];
  uint32_t n = R.char3.ready() ? premerged_parts(R, p, static_cast<uint32_t>(len), part, key) : 0;
  if (n == 0) {  // byte path: one part per byte
    const uint32_t* bpr = R.byte_pair_rank.data();
    n = static_cast<uint32_t>(len);
    for (uint32_t i = 0; i < n; ++i) part[i] = R.byte_rank[p[i]];
    for (uint32_t i = 0; i + 1 < n; ++i) key[i] = (bpr[(uint32_t{p[i]} << 8) | p[i + 1]] << 8) | i;
  }
  const uint32_t padded = (n + kMinLanes - 1) & ~uint32_t{kMinLanes - 1};
  for (uint32_t i = 0; i < n; ++i) {
    next[i] = static_cast<uint16_t>(i + 1);
    prev[i] = static_cast<uint16_t>(i - 1);
  }
  part[n] = 0;
  prev[0] = 0;
  for (uint32_t i = n - 1; i < padded; ++i) key[i] = ~uint32_t{0};
  for (;;) {
    uint32_t best = ~uint32_t{0};
    for (uint32_t i = 0; i < padded; ++i) best = std::min(best, key[i]);
    if (best >= kNoPairKey) break;
    const uint32_t x = best & 0xFF, r = best >> 8;
    const uint32_t j = next[x];  // part x absorbs part j
    const uint32_t after = next[j];
    part[x] = r;
    key[j] = ~uint32_t{0};
    next[x] = static_cast<uint16_t>(after);
    // Both neighbours' lookups at once, branch-free; the one past either end is discarded.
    const uint32_t k = prev[x];  // 0 when x == 0
    uint32_t right_rank, left_rank;
    R.PairRank2(r, part[after], part[k], r, &right_rank, &left_rank);
    if (after < n) prev[after] = static_cast<uint16_t>(x);
    key[x] = after < n ? (right_rank << 8) | x : ~uint32_t{0};
    if (x > 0) key[k] = (left_rank << 8) | k;
  }
  size_t m = 0;
  for (uint32_t i = 0; i < n; i = next[i]) out[m++] = part[i];
  return m;
}

}  // namespace

size_t BpeRanks::Impl::MergeSmallIds(const uint8_t* p, size_t len, uint32_t* out) const {
  return merge_small_ids(*this, p, len, out);
}

// Long pieces: parts form a doubly linked list indexed by the offset of their first byte; part x
// owns the pair (x, next[x]) and pair_rank[x] is its rank. Pending pairs are bucketed by rank:
// a small min-heap orders the distinct ranks, and each bucket yields its positions in ascending
// order (an append-only sorted run plus a little heap for the rare out-of-order insert). So the
// next merge is tiktoken's lowest rank, leftmost, and most merges cost O(1) instead of a
// log(n) sift through a large heap. Entries go stale when their pair changes; they are skipped
// on pop: (x, r) is live iff pair_rank[x] == r, exact because a pair's bytes only ever grow, so
// a position never gets the same rank twice.
namespace {

struct RankBucket {
  std::vector<uint32_t> run;    // ascending positions, consumed from `head`
  size_t head = 0;
  std::vector<uint32_t> extra;  // min-heap of positions that arrived out of order
  bool in_heap = false;

  bool empty() const { return head == run.size() && extra.empty(); }
  void push(uint32_t x) {
    if (head == run.size()) {
      run.clear();
      head = 0;
      run.push_back(x);
    } else if (x >= run.back()) {
      run.push_back(x);
    } else {
      extra.push_back(x);
      std::push_heap(extra.begin(), extra.end(), std::greater<uint32_t>());
    }
  }
  uint32_t pop() {
    if (!extra.empty() && (head == run.size() || extra.front() < run[head])) {
      std::pop_heap(extra.begin(), extra.end(), std::greater<uint32_t>());
      uint32_t x = extra.back();
      extra.pop_back();
      return x;
    }
    return run[head++];
  }
  void reset() {
    run.clear();
    head = 0;
    extra.clear();
    in_heap = false;
    constexpr size_t kKeep = size_t{1} << 16;  // don't pin memory after a huge piece
    if (run.capacity() > kKeep) std::vector<uint32_t>().swap(run);
    if (extra.capacity() > kKeep) std::vector<uint32_t>().swap(extra);
  }
};

// True if p[0, n) is a sequence of whole UTF-8 units by structure (a lead byte and as many
// continuation bytes as it announces), the precondition of pre-merging characters.
bool whole_utf8_units(const uint8_t* p, uint32_t n) {
  for (uint32_t i = 0; i < n;) {
    const uint8_t b = p[i];
    const uint32_t ulen = b < 0x80 ? 1 : b >= 0xF8 ? 0 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
    if (ulen == 0 || ulen > n - i) return false;
    for (uint32_t k = 1; k < ulen; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
    }
    i += ulen;
  }
  return true;
}

// Per-thread scratch for MergeLong, so long pieces don't allocate every time.
// One part of a long piece, indexed by the offset of its first byte; kept together so a merge
// touches one cache line per part instead of four arrays.
struct PartNode {
  uint32_t next, prev;  // offsets of the neighbouring parts (next == n: last part)
  uint32_t part_rank;   // rank of this part (kNoRank: a lone byte without a rank)
  uint32_t pair_rank;   // rank of this part + the next one; kNoRank if none or part is dead
};

struct LongScratch {
  std::vector<PartNode> nodes;
  std::vector<uint32_t> bucket_of_rank;  // rank -> index into buckets, kNoRank if none
  std::vector<uint32_t> touched;         // ranks with a bucket in this call
  std::vector<RankBucket> buckets;
  std::vector<uint32_t> rank_heap;  // min-heap of ranks whose bucket may be non-empty

  // Restores bucket_of_rank to all-kNoRank and trims memory, also when unwinding.
  struct Cleanup {
    LongScratch* s;
    ~Cleanup() {
      for (uint32_t r : s->touched) {
        s->buckets[s->bucket_of_rank[r]].reset();
        s->bucket_of_rank[r] = kNoRank;
      }
      s->touched.clear();
      s->rank_heap.clear();
      constexpr size_t kKeep = size_t{1} << 20;
      if (s->nodes.capacity() > kKeep) std::vector<PartNode>().swap(s->nodes);
    }
  };
};

thread_local LongScratch t_long;

}  // namespace

// kById: candidate ranks come from PairRank on the parts' ids instead of hashing their bytes.
template <bool kById>
size_t BpeRanks::Impl::MergeLong(const uint8_t* p, size_t len, uint32_t* out) const {
  if (len >= 0xFFFFFFFFu) throw std::bad_alloc();  // part offsets are 32-bit
  LongScratch& s = t_long;
  LongScratch::Cleanup cleanup{&s};
  const uint32_t n = static_cast<uint32_t>(len);
  s.nodes.resize(len + 1);
  if (s.bucket_of_rank.size() < tokens.size()) s.bucket_of_rank.resize(tokens.size(), kNoRank);
  PartNode* node = s.nodes.data();
  uint32_t* bucket_of_rank = s.bucket_of_rank.data();
  std::vector<uint32_t>& heap = s.rank_heap;
  auto insert = [&](uint32_t x, uint32_t r) {
    uint32_t b = bucket_of_rank[r];
    if (b == kNoRank) {
      b = static_cast<uint32_t>(s.touched.size());
      if (b == s.buckets.size()) s.buckets.emplace_back();
      s.touched.push_back(r);  // before anything else can throw: Cleanup must see it
      bucket_of_rank[r] = b;
    }
    RankBucket& bucket = s.buckets[b];
    bucket.push(x);
    if (!bucket.in_heap) {
      heap.push_back(r);
      std::push_heap(heap.begin(), heap.end(), std::greater<uint32_t>());
      bucket.in_heap = true;
    }
  };

  bool any_lead3 = false;  // worth trying to pre-merge characters
  for (uint32_t i = 0; i < n; ++i) {
    node[i].next = i + 1;
    node[i].prev = i - 1;  // wraps for i == 0; never read there
    node[i].part_rank = byte_rank[p[i]];
    any_lead3 |= (p[i] & 0xF0) == 0xE0;
  }
  node[n].next = n;
  node[n].pair_rank = kNoRank;
  node[n - 1].pair_rank = kNoRank;
  if (kById && any_lead3 && char3.ready() && whole_utf8_units(p, n)) {
    // Three-byte characters start as their own merge's result (see char3), as in
    // merge_small_ids; interior bytes of a part are dead nodes, never linked or queued.
    for (uint32_t i = 0; i < n;) {
      const uint8_t b = p[i];
      if ((b & 0xF0) != 0xE0) {
        i += b < 0x80 ? 1 : b >= 0xF0 ? 4 : 2;
        continue;
      }
      const char3::Entry& entry = char3.entry(p + i);
      const uint32_t id0 = char3::part(entry.parts, 0);
      const uint32_t id1 = char3::part(entry.parts, 1);
      const uint32_t id2 = char3::part(entry.parts, 2);
      if (id0 != kIdMask && id2 == kIdMask && (entry.guard == 0 || char3.safe(entry.guard, p, i, n))) {
        const uint32_t len0 = id1 == kIdMask ? 3 : tokens[id0].len;
        node[i].part_rank = id0;
        node[i].next = i + len0;
        node[i + len0].prev = i;
        if (id1 != kIdMask) {
          node[i + len0].part_rank = id1;
          node[i + len0].next = i + 3;
          node[i + 3].prev = i + len0;
        }
        for (uint32_t k = i; k < i + 3; ++k) node[k].pair_rank = kNoRank;
      }
      i += 3;
    }
    for (uint32_t x = 0; x < n; x = node[x].next) {
      const uint32_t j = node[x].next;
      uint32_t r = kNoRank;
      if (j < n) {
        r = j - x == 1 && node[j].next - j == 1 ? byte_pair_rank[(uint32_t{p[x]} << 8) | p[j]]
                                                : PairRank(node[x].part_rank, node[j].part_rank);
      }
      node[x].pair_rank = r;
      if (r != kNoRank) insert(x, r);
    }
  } else {
    for (uint32_t i = 0; i + 1 < n; ++i) {
      uint32_t r = kById ? byte_pair_rank[(uint32_t{p[i]} << 8) | p[i + 1]] : Find(p + i, 2);
      node[i].pair_rank = r;
      if (r != kNoRank) insert(i, r);
    }
  }

  while (!heap.empty()) {
    uint32_t r = heap.front();
    RankBucket& bucket = s.buckets[bucket_of_rank[r]];
    if (bucket.empty()) {
      std::pop_heap(heap.begin(), heap.end(), std::greater<uint32_t>());
      heap.pop_back();
      bucket.in_heap = false;
      continue;
    }
    uint32_t x = bucket.pop();
    PartNode& nx = node[x];
    if (nx.pair_rank != r) continue;  // stale
    // Part x absorbs part j.
    uint32_t j = nx.next;
    uint32_t after = node[j].next;
    node[j].pair_rank = kNoRank;
    nx.part_rank = r;
    nx.next = after;
    uint32_t after_end = n;
    if (after < n) {
      node[after].prev = x;
      after_end = node[after].next;
    }
    if (x > 0) {
      uint32_t k = nx.prev;
      uint32_t rk = kById ? PairRank(node[k].part_rank, r) : Find(p + k, after - k);
      node[k].pair_rank = rk;
      if (rk != kNoRank) insert(k, rk);
    }
    uint32_t rx = after >= n ? kNoRank
                  : kById    ? PairRank(r, node[after].part_rank)
                             : Find(p + x, after_end - x);
    nx.pair_rank = rx;
    if (rx != kNoRank) insert(x, rx);
  }
  size_t m = 0;
  for (uint32_t i = 0; i < n; i = node[i].next) {
    if (node[i].part_rank == kNoRank) return kFail;
    out[m++] = node[i].part_rank;
  }
  return m;
}

// Per-thread cache of piece -> ids for merged pieces (not single tokens), HF's word cache in
// small: in running text the same multi-token words recur within and across documents (about
// 65% of merged bytes in German prose, 30% in Japanese, on documents never seen before), and a
// hit replaces the whole merge (tens of dependent pair-table probes) with one index probe and a
// byte compare. Bounded: a direct-mapped index over a ring arena holding each piece's bytes and
// ids; an entry is live while the arena has not wrapped past it. A hit requires the same
// vocabulary (instance id) and identical bytes, so output is exactly what merging gives.
namespace {

struct PieceCache {
  static constexpr size_t kIndexBits = 12;                // 4096 entries, 128 KiB
  static constexpr size_t kArenaBytes = size_t{1} << 17;  // 128 KiB of bytes + ids
  static constexpr size_t kMinLen = 3, kMaxLen = kSmallPieceIds;  // worth caching
  struct Entry {
    uint64_t hash;
    uint64_t pos;    // arena write position of the entry's data (absolute, never wraps)
    uint64_t owner;  // BpeRanks::Impl::instance_id; 0 = empty
    uint32_t len, n_ids;
  };
  Entry index[size_t{1} << kIndexBits] = {};
  alignas(64) uint8_t arena[kArenaBytes];
  uint64_t head = 0;  // bytes ever written

  static size_t DataSize(size_t len, size_t n_ids) { return (len + 3 + 4 * n_ids) & ~size_t{3}; }

  // Ids for piece p (written to out) or 0 on a miss.
  size_t Lookup(uint64_t owner, const uint8_t* p, size_t len, uint64_t hash, uint32_t* out) const {
    const Entry& e = index[static_cast<size_t>(hash >> (64 - kIndexBits))];
    if (e.hash != hash || e.owner != owner || e.len != len) return 0;
    if (head - e.pos > kArenaBytes - DataSize(len, e.n_ids)) return 0;  // overwritten
    const uint8_t* d = arena + (e.pos & (kArenaBytes - 1));
    if (std::memcmp(d, p, len) != 0) return 0;
    std::memcpy(out, d + ((len + 3) & ~size_t{3}), 4 * size_t{e.n_ids});
    return e.n_ids;
  }
  void Insert(uint64_t owner, const uint8_t* p, size_t len, uint64_t hash, const uint32_t* ids,
              size_t n_ids) {
    const size_t size = DataSize(len, n_ids);
    size_t at = static_cast<size_t>(head & (kArenaBytes - 1));
    if (at + size > kArenaBytes) {  // keep each entry contiguous: skip to the arena start
      head += kArenaBytes - at;
      at = 0;
    }
    uint8_t* d = arena + at;
    std::memcpy(d, p, len);
    std::memcpy(d + ((len + 3) & ~size_t{3}), ids, 4 * n_ids);
    index[static_cast<size_t>(hash >> (64 - kIndexBits))] =
        Entry{hash, head, owner, static_cast<uint32_t>(len), static_cast<uint32_t>(n_ids)};
    head += size;
  }
};

// Heap-allocated on a thread's first merge (a static thread_local of this size would be
// zero-filled in every thread, also those that never encode).
thread_local std::unique_ptr<PieceCache> t_piece_cache;

}  // namespace

size_t BpeRanks::Impl::MergeCached(const uint8_t* p, size_t len, uint64_t hash,
                                   uint32_t* out) const {
  PieceCache* c = t_piece_cache.get();
  if (c == nullptr) {
    t_piece_cache.reset(new PieceCache());
    c = t_piece_cache.get();
  }
  size_t k = c->Lookup(instance_id, p, len, hash, out);
  if (k != 0) return k;
  k = MergeSmallIds(p, len, out);
  c->Insert(instance_id, p, len, hash, out, k);
  return k;
}

// Writes the ids of one piece to out (room for len ids required); kFail if a lone byte has no
// rank. May throw std::bad_alloc (long pieces).
inline size_t BpeRanks::Impl::EncodePieceRaw(const uint8_t* p, size_t len, uint32_t* out) const {
  if (len == 1) {
    uint32_t r = byte_rank[p[0]];
    if (r == kNoRank) return kFail;
    out[0] = r;
    return 1;
  }
  if (len == 0) return 0;
  if (merge_by_id) {
    if (len == 2) {
      out[0] = byte_pair_rank[(uint32_t{p[0]} << 8) | p[1]];
      if (out[0] != kNoRank) return 1;
      return MergeSmallIds(p, len, out);
    }
    if (len <= PieceCache::kMaxLen) {
      uint64_t hash = 0;
      uint32_t r = len <= max_token_len ? FindHashed(p, len, &hash) : kNoRank;
      if (r != kNoRank) {
        out[0] = r;
        return 1;
      }
      if (len < PieceCache::kMinLen || len > max_token_len) return MergeSmallIds(p, len, out);
      return MergeCached(p, len, hash, out);
    }
    uint32_t r = Find(p, len);
    if (r != kNoRank) {
      out[0] = r;
      return 1;
    }
    if (len <= kSmallPieceIds) return MergeSmallIds(p, len, out);
    return MergeLong<true>(p, len, out);
  }
  uint32_t r = Find(p, len);
  if (r != kNoRank) {
    out[0] = r;
    return 1;
  }
  if (len <= kSmallPiece) return MergeSmall(p, len, out);
  return MergeLong<false>(p, len, out);
}

// ---------------------------------------------------------------------------------------------
// Rank file loading
// ---------------------------------------------------------------------------------------------
namespace {

struct ParsedToken {
  uint32_t offset, len, rank, line;
};

struct Base64Table {
  uint8_t v[256];
  constexpr Base64Table() : v() {
    for (int i = 0; i < 256; ++i) v[i] = 0xFF;
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) v[static_cast<uint8_t>(a[i])] = static_cast<uint8_t>(i);
  }
};
constexpr Base64Table kBase64;

// Decodes standard padded base64 and appends to `out`; false on any malformed input.
bool decode_base64(const char* s, size_t n, std::vector<uint8_t>* out) {
  if (n == 0 || n % 4 != 0) return false;
  size_t pad = 0;
  if (s[n - 1] == '=') pad = (s[n - 2] == '=') ? 2 : 1;
  size_t full = n / 4 - (pad ? 1 : 0);
  const uint8_t* u = reinterpret_cast<const uint8_t*>(s);
  for (size_t q = 0; q < full; ++q, u += 4) {
    uint32_t a = kBase64.v[u[0]], b = kBase64.v[u[1]], c = kBase64.v[u[2]], d = kBase64.v[u[3]];
    if ((a | b | c | d) & 0x80) return false;
    uint32_t x = (a << 18) | (b << 12) | (c << 6) | d;
    out->push_back(static_cast<uint8_t>(x >> 16));
    out->push_back(static_cast<uint8_t>(x >> 8));
    out->push_back(static_cast<uint8_t>(x));
  }
  if (pad) {
    uint32_t a = kBase64.v[u[0]], b = kBase64.v[u[1]];
    uint32_t c = pad == 1 ? kBase64.v[u[2]] : 0;
    if ((a | b | c) & 0x80) return false;
    uint32_t x = (a << 18) | (b << 12) | (c << 6);
    out->push_back(static_cast<uint8_t>(x >> 16));
    if (pad == 1) out->push_back(static_cast<uint8_t>(x >> 8));
  }
  return true;
}

std::string line_prefix(uint32_t line) { return "rank file line " + std::to_string(line) + ": "; }

// Builds the tables from parsed tokens (arena already filled). Validates duplicates.
Status build_ranks(std::vector<uint8_t> arena, const std::vector<ParsedToken>& parsed,
                   bool from_file, std::unique_ptr<BpeRanks::Impl>* out) {
  auto where = [&](const ParsedToken& t) {
    return from_file ? line_prefix(t.line) : "token #" + std::to_string(t.line) + ": ";
  };
  auto impl = std::make_unique<BpeRanks::Impl>();
  uint32_t max_rank = 0;
  size_t max_len = 0;
  for (const ParsedToken& t : parsed) {
    max_rank = std::max(max_rank, t.rank);
    max_len = std::max<size_t>(max_len, t.len);
  }
  if (!parsed.empty() && max_rank / 4 > parsed.size() + 65536) {
    return Status(ErrorCode::kLimitExceeded,
                  "ranks too sparse: largest rank " + std::to_string(max_rank) + " for " +
                      std::to_string(parsed.size()) + " tokens");
  }
  arena.resize(arena.size() + 16, 0);  // slack: wide loads/copies past a token's end stay inside
  impl->arena = std::move(arena);
  impl->tokens.assign(parsed.empty() ? 0 : size_t{max_rank} + 1, TokenRef{0, 0});
  for (const ParsedToken& t : parsed) {
    TokenRef& ref = impl->tokens[t.rank];
    if (ref.len != 0) {
      return Status(ErrorCode::kInvalidArgument,
                    where(t) + "duplicate rank " + std::to_string(t.rank));
    }
    ref = TokenRef{t.offset, t.len};
  }
  size_t cap = 16;
  int bits = 4;
  while (cap < 2 * parsed.size()) {
    cap <<= 1;
    ++bits;
  }
  impl->slots.assign(cap, Slot{0, 0, 0});
  impl->slot_mask = cap - 1;
  impl->slot_shift = 64 - bits;
  impl->max_token_len = max_len;
  for (const ParsedToken& t : parsed) {
    if (!impl->Insert(impl->arena.data() + t.offset, t.len, t.rank)) {
      return Status(ErrorCode::kInvalidArgument, where(t) + "duplicate token bytes");
    }
  }
  impl->all_bytes = true;
  for (int b = 0; b < 256; ++b) {
    uint8_t byte = static_cast<uint8_t>(b);
    impl->byte_rank[b] = impl->Find(&byte, 1);
    if (impl->byte_rank[b] == kNoRank) impl->all_bytes = false;
  }
  impl->count = parsed.size();
  impl->max_rank = max_rank;
  static std::atomic<uint64_t> next_instance{1};
  impl->instance_id = next_instance.fetch_add(1, std::memory_order_relaxed);
  impl->BuildPairTable();
  *out = std::move(impl);
  return Status::Ok();
}

}  // namespace

void BpeRanks::Impl::BuildPairTable() {
  merge_by_id = false;
  if (!all_bytes || max_rank >= kIdMask) return;
  byte_pair_rank.assign(size_t{1} << 16, kNoRank);
  for (uint32_t b = 0; b < (1u << 16); ++b) {
    uint8_t two[2] = {static_cast<uint8_t>(b >> 8), static_cast<uint8_t>(b)};
    byte_pair_rank[b] = Find(two, 2);
  }
  // Every split of every token into two tokens: ~2.5M lookups of random slots for o200k. They
  // are resolved in batches whose slots are prefetched first, so the misses overlap (this keeps
  // the table build to a few ms instead of ~100).
  struct Probe {
    const uint8_t* p;
    uint64_t prefix;
    size_t slot;
    uint32_t len, rank, left;
  };
  auto start_probe = [&](const uint8_t* q, uint32_t len, uint32_t rank, uint32_t left) {
    uint64_t prefix = load_prefix(q, len);
    size_t i = static_cast<size_t>(hash_prefixed(q, len, prefix) >> slot_shift);
    __builtin_prefetch(&slots[i]);
    return Probe{q, prefix, i, len, rank, left};
  };
  std::vector<uint64_t> entries;
  entries.reserve(count * 3);
  std::vector<Probe> lefts, rights;
  constexpr size_t kBatch = 1024;
  uint32_t r = 0;
  const uint32_t n_ranks = static_cast<uint32_t>(tokens.size());
  while (r < n_ranks) {
    lefts.clear();
    while (r < n_ranks && lefts.size() < kBatch) {
      const TokenRef& t = tokens[r];
      const uint8_t* b = arena.data() + t.offset;
      for (uint32_t k = 1; k < t.len; ++k) lefts.push_back(start_probe(b, k, r, 0));
      ++r;
    }
    rights.clear();
    for (const Probe& q : lefts) {
      uint32_t left = FindAt(q.p, q.len, q.prefix, q.slot);
      if (left == kNoRank) continue;
      const TokenRef& t = tokens[q.rank];
      rights.push_back(start_probe(q.p + q.len, t.len - q.len, q.rank, left));
    }
    for (const Probe& q : rights) {
      uint32_t right = FindAt(q.p, q.len, q.prefix, q.slot);
      if (right == kNoRank) continue;
      entries.push_back((uint64_t{q.left} << (2 * kIdBits)) | (uint64_t{right} << kIdBits) |
                        q.rank);
    }
  }
  auto make_table = [](const uint64_t* e, size_t n, HugeArray<uint64_t>* table, uint64_t* mask,
                       int* shift) {
    size_t cap = 16;
    int bits = 4;
    while (cap < 2 * n) {
      cap <<= 1;
      ++bits;
    }
    table->assign(cap, kEmptyPair);
    *mask = cap - 1;
    *shift = 64 - bits;
    for (size_t k = 0; k < n; ++k) {
      uint64_t key = e[k] >> kIdBits;
      size_t i = static_cast<size_t>((key * kMul) >> *shift);
      while ((*table)[i] != kEmptyPair) i = (i + 1) & *mask;  // keys are distinct
      (*table)[i] = e[k];
    }
  };
  make_table(entries.data(), entries.size(), &pair_slots, &pair_mask, &pair_shift);
  // Bloom filter: >= 8 bits per pair, 3 bits set in one 64-bit word per pair.
  size_t words = 2;
  int word_bits = 1;
  while (words * 64 < 8 * entries.size()) {
    words <<= 1;
    ++word_bits;
  }
  pair_bloom.assign(words, 0);
  bloom_shift = 64 - word_bits;
  for (uint64_t e : entries) {
    uint64_t h2 = (e >> kIdBits) * kBloomMul;
    pair_bloom[static_cast<size_t>(h2 >> bloom_shift)] |= byte_tables::bloom_bits(h2);
  }
  merge_by_id = true;
  BuildCharTable();
}

void BpeRanks::Impl::BuildCharTable() {
  char3.build(
      [&](auto add) {  // every token of two bytes or more, keyed by its rank
        for (uint32_t r = 0; r < tokens.size(); ++r) {
          if (tokens[r].len >= 2) add(arena.data() + tokens[r].offset, tokens[r].len, r);
        }
      },
      [&](const uint8_t* ch) {
        // tiktoken's merge of the character alone: the lower-ranked byte pair, then the whole
        // character if it is a token (its rank is that merge's key).
        char3::Alone a;
        a.ids[0] = byte_rank[ch[0]], a.ids[1] = byte_rank[ch[1]], a.ids[2] = byte_rank[ch[2]];
        const uint32_t r01 = byte_pair_rank[(uint32_t{ch[0]} << 8) | ch[1]];
        const uint32_t r12 = byte_pair_rank[(uint32_t{ch[1]} << 8) | ch[2]];
        if (r01 == kNoRank && r12 == kNoRank) return a;
        a.p0 = std::min(r01, r12);
        a.left_pair = r01 < r12;
        if (a.left_pair) {
          a.ids[0] = r01, a.ids[1] = a.ids[2];
        } else {
          a.ids[1] = r12;
        }
        a.n_ids = 2;
        const uint32_t w = Find(ch, 3);
        if (w != kNoRank) a.r2 = w, a.ids[0] = w, a.n_ids = 1;
        return a;
      });
}


BpeRanks::BpeRanks() = default;
BpeRanks::~BpeRanks() = default;

Status BpeRanks::FromTiktoken(std::string_view contents, std::unique_ptr<BpeRanks>* out) {
  try {
    if (contents.size() >= 0xFFFFFFF0u) {
      return Status(ErrorCode::kLimitExceeded, "rank file larger than 4 GiB");
    }
    std::vector<uint8_t> arena;
    arena.reserve(contents.size() / 2 + 16);
    std::vector<ParsedToken> parsed;
    parsed.reserve(contents.size() / 10 + 16);
    const char* s = contents.data();
    const size_t n = contents.size();
    size_t pos = 0;
    uint32_t line = 0;
    while (pos < n) {
      ++line;
      const char* nl = static_cast<const char*>(std::memchr(s + pos, '\n', n - pos));
      size_t end = nl ? static_cast<size_t>(nl - s) : n;
      size_t a = pos, b = end;
      pos = end + 1;
      auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
      while (a < b && is_space(s[a])) ++a;
      while (b > a && is_space(s[b - 1])) --b;
      if (a == b) continue;  // blank line
      size_t tok_end = a;
      while (tok_end < b && !is_space(s[tok_end])) ++tok_end;
      size_t r = tok_end;
      while (r < b && is_space(s[r])) ++r;
      if (r == b) {
        return Status(ErrorCode::kInvalidArgument, line_prefix(line) + "missing rank");
      }
      uint64_t rank = 0;
      for (size_t k = r; k < b; ++k) {
        char c = s[k];
        if (c < '0' || c > '9') {
          return Status(ErrorCode::kInvalidArgument,
                        line_prefix(line) + "rank is not a non-negative integer");
        }
        rank = rank * 10 + static_cast<uint64_t>(c - '0');
        if (rank >= kNoRank) {
          return Status(ErrorCode::kLimitExceeded, line_prefix(line) + "rank too large");
        }
      }
      size_t before = arena.size();
      if (!decode_base64(s + a, tok_end - a, &arena)) {
        return Status(ErrorCode::kInvalidArgument, line_prefix(line) + "invalid base64 token");
      }
      parsed.push_back(ParsedToken{static_cast<uint32_t>(before),
                                   static_cast<uint32_t>(arena.size() - before),
                                   static_cast<uint32_t>(rank), line});
    }
    std::unique_ptr<Impl> impl;
    Status st = build_ranks(std::move(arena), parsed, true, &impl);
    if (!st.ok()) return st;
    out->reset(new BpeRanks());
    (*out)->impl_ = std::move(impl);
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::kLimitExceeded, "out of memory loading rank file");
  } catch (const std::exception& e) {
    return Status(ErrorCode::kInternal, std::string("loading rank file: ") + e.what());
  }
}

Status BpeRanks::FromPairs(const std::vector<std::pair<std::string, uint32_t>>& pairs,
                           std::unique_ptr<BpeRanks>* out) {
  try {
    std::vector<uint8_t> arena;
    std::vector<ParsedToken> parsed;
    parsed.reserve(pairs.size());
    uint32_t index = 0;
    for (const auto& [bytes, rank] : pairs) {
      ++index;
      if (bytes.empty()) {
        return Status(ErrorCode::kInvalidArgument,
                      "token #" + std::to_string(index) + ": empty token");
      }
      if (rank == kNoRank) {
        return Status(ErrorCode::kLimitExceeded, "token #" + std::to_string(index) + ": rank too large");
      }
      if (arena.size() + bytes.size() >= 0xFFFFFFF0u) {
        return Status(ErrorCode::kLimitExceeded, "tokens larger than 4 GiB in total");
      }
      uint32_t off = static_cast<uint32_t>(arena.size());
      arena.insert(arena.end(), bytes.begin(), bytes.end());
      parsed.push_back(ParsedToken{off, static_cast<uint32_t>(bytes.size()), rank, index});
    }
    std::unique_ptr<Impl> impl;
    Status st = build_ranks(std::move(arena), parsed, false, &impl);
    if (!st.ok()) return st;
    out->reset(new BpeRanks());
    (*out)->impl_ = std::move(impl);
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::kLimitExceeded, "out of memory building ranks");
  } catch (const std::exception& e) {
    return Status(ErrorCode::kInternal, std::string("building ranks: ") + e.what());
  }
}

uint32_t BpeRanks::Rank(const uint8_t* bytes, size_t len) const { return impl_->Find(bytes, len); }

Status BpeRanks::EncodePiece(const uint8_t* bytes, size_t len, std::vector<uint32_t>* out) const {
  try {
    size_t used = out->size();
    out->resize(used + len);
    size_t k = impl_->EncodePieceRaw(bytes, len, out->data() + used);
    if (k == kFail) {
      out->resize(used);
      return Status(ErrorCode::kInvalidArgument, "piece contains a byte that has no rank");
    }
    out->resize(used + k);
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::kLimitExceeded, "out of memory encoding a piece of " +
                                                 std::to_string(len) + " bytes");
  }
}

uint32_t BpeRanks::MergedRank(uint32_t left, uint32_t right) const {
  std::string_view a, b;
  if (!TokenBytes(left, &a) || !TokenBytes(right, &b)) return kNoRank;
  if (impl_->merge_by_id) return impl_->PairRank(left, right);
  std::string cat;
  cat.reserve(a.size() + b.size());
  cat.append(a).append(b);
  return impl_->Find(reinterpret_cast<const uint8_t*>(cat.data()), cat.size());
}

bool BpeRanks::TokenBytes(uint32_t rank, std::string_view* out) const {
  if (rank >= impl_->tokens.size()) return false;
  const TokenRef& ref = impl_->tokens[rank];
  if (ref.len == 0) return false;
  *out = std::string_view(reinterpret_cast<const char*>(impl_->arena.data()) + ref.offset, ref.len);
  return true;
}

size_t BpeRanks::size() const { return impl_->count; }
uint32_t BpeRanks::max_rank() const { return impl_->max_rank; }

// ---------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------
namespace {

constexpr size_t kDefaultParallelThreshold = 256 * 1024;
constexpr size_t kMaxParallelBytes = 0x80000000u;  // the parallel path keeps 32-bit offsets

// Appends to a vector through a raw pointer: the vector is grown ahead (zero-filled) so the hot
// loop writes ids without per-element capacity checks; Finish trims it to what was written.
class IdWriter {
 public:
  IdWriter(std::vector<uint32_t>* v, size_t expected) : v_(v), used_(v->size()) {
    v_->resize(used_ + expected);
  }
  uint32_t* Reserve(size_t need) {
    if (used_ + need > v_->size()) {
      v_->resize(std::max(used_ + need, v_->size() + v_->size() / 2 + 64));
    }
    return v_->data() + used_;
  }
  void Commit(size_t k) { used_ += k; }
  void Push(uint32_t id) { *Reserve(1) = id, ++used_; }
  size_t size() const { return used_; }
  void Finish() { v_->resize(used_); }
  void Abandon(size_t original) { v_->resize(original); }

 private:
  std::vector<uint32_t>* v_;
  size_t used_;
};

Status no_rank_error(size_t offset) {
  return Status(ErrorCode::kInvalidArgument,
                "piece at byte " + std::to_string(offset) + " contains a byte that has no rank");
}

Status lexer_error(size_t offset) {
  return Status(ErrorCode::kInternal,
                "pre-tokenizer returned an invalid piece end at byte " + std::to_string(offset));
}

}  // namespace

struct BpeEncoder::Impl {
  std::shared_ptr<const BpeRanks> ranks_owner;
  const BpeRanks::Impl* R = nullptr;
  PreTokenizerKind kind = PreTokenizerKind::kNone;
  NextPieceFn next = nullptr;
  std::vector<SpecialToken> specials;
  // Special indices by first byte, longest text first (leftmost-longest search).
  std::array<std::vector<uint32_t>, 256> by_first_byte;
  std::unordered_map<std::string_view, uint32_t> index_by_text;  // duplicate check at Create
  std::vector<std::pair<uint32_t, uint32_t>> index_by_id;        // (id, index), sorted
  size_t parallel_threshold = kDefaultParallelThreshold;

  // Ordinary-encodes text[0, n) with the lexer (which sees exactly this range).
  // The lexer runs a few pieces ahead so that each piece's first table probe (a likely cache
  // miss on a table of several MiB: R->PrefetchPiece) is in flight while the pieces before it
  // are encoded; one piece ahead is too little when those are single tokens.
  Status EncodeSegment(const uint8_t* t, size_t n, size_t base, IdWriter* w) const {
    constexpr size_t kAhead = 4;  // power of two
    size_t ring[kAhead];          // ends of the lexed pieces not yet encoded
    size_t lexed = 0, done = 0;   // pieces lexed / encoded so far
    size_t lex_pos = 0, pos = 0;
    for (;;) {
      while (lexed - done < kAhead && lex_pos < n) {
        const size_t end = next(t, n, lex_pos);
        if (end <= lex_pos || end > n) return lexer_error(base + lex_pos);
        R->PrefetchPiece(t + lex_pos, end - lex_pos);
        ring[lexed++ % kAhead] = end;
        lex_pos = end;
      }
      if (done == lexed) return Status::Ok();
      const size_t end = ring[done++ % kAhead];
      const size_t len = end - pos;
      const size_t k = R->EncodePieceRaw(t + pos, len, w->Reserve(len));
      if (k == kFail) return no_rank_error(base + pos);
      w->Commit(k);
      pos = end;
    }
  }

  // Leftmost allowed special at or after `from`; longest among those starting there.
  bool Find(std::string_view text, size_t from, const std::vector<uint8_t>& mask, size_t* index,
            size_t* offset) const {
    if (specials.empty()) return false;
    const uint8_t* t = reinterpret_cast<const uint8_t*>(text.data());
    const size_t n = text.size();
    bool first[256] = {};
    int distinct = 0;
    uint8_t only = 0;
    for (size_t i = 0; i < specials.size() && i < mask.size(); ++i) {
      if (!mask[i]) continue;
      uint8_t b = static_cast<uint8_t>(specials[i].text[0]);
      if (!first[b]) {
        first[b] = true;
        ++distinct;
        only = b;
      }
    }
    if (distinct == 0) return false;
    auto match_at = [&](size_t pos) -> bool {
      for (uint32_t idx : by_first_byte[t[pos]]) {
        if (idx >= mask.size() || !mask[idx]) continue;
        const std::string& s = specials[idx].text;
        if (s.size() <= n - pos && std::memcmp(t + pos, s.data(), s.size()) == 0) {
          *index = idx;
          *offset = pos;
          return true;
        }
      }
      return false;
    };
    size_t pos = from;
    if (distinct == 1) {
      while (pos < n) {
        const void* hit = std::memchr(t + pos, only, n - pos);
        if (!hit) return false;
        pos = static_cast<size_t>(static_cast<const uint8_t*>(hit) - t);
        if (match_at(pos)) return true;
        ++pos;
      }
      return false;
    }
    for (; pos < n; ++pos) {
      if (first[t[pos]] && match_at(pos)) return true;
    }
    return false;
  }

  Status EncodeWithSpecials(std::string_view text, const std::vector<uint8_t>& allowed,
                            IdWriter* w) const {
    const uint8_t* t = reinterpret_cast<const uint8_t*>(text.data());
    size_t pos = 0;
    for (;;) {
      size_t idx = 0, off = text.size();
      bool found = Find(text, pos, allowed, &idx, &off);
      Status st = EncodeSegment(t + pos, off - pos, pos, w);
      if (!st.ok()) return st;
      if (!found) return Status::Ok();
      w->Push(specials[idx].id);
      pos = off + specials[idx].text.size();
    }
  }

  // Parallel path. Lexing is sequential by nature (a piece starts where the previous one ended),
  // so instead of lexing everything first, each chunk of the text is lexed *and* encoded from a
  // guessed start (its first byte), and the guesses are verified while splicing: the true piece
  // sequence, arriving from the previous chunk, is in step with a chunk as soon as one of its
  // piece ends is also a piece end of that chunk (the lexer's next piece depends only on where
  // it starts, within its segment), so the chunk's ids from there on are the true ones. The true
  // sequence is continued serially until that happens; usually it takes zero or one piece. A
  // chunk that never falls into step (e.g. one piece spanning it) is re-encoded serially, so
  // the output is always identical to the serial path.
  struct Segment {
    uint32_t begin, end;
    uint32_t special;  // index into specials, or kNoRank for ordinary text
  };
  struct ChunkResult {
    std::vector<uint32_t> ids;
    std::vector<std::pair<uint32_t, uint32_t>> marks;  // (piece end, ids so far), first pieces
    uint32_t start = 0, last_end = 0;
    Status status;
  };
  static constexpr size_t kSyncMarks = 256;
  static constexpr uint32_t kGiantSpill = 4096;

  // Encodes the piece (or special) that starts at `pos`, appending to w; `seg` must be the
  // segment holding pos (advanced past exhausted segments). Returns the piece end.
  // With stop_beyond, a piece that would end past it is left alone (*pos unchanged).
  Status Step(const uint8_t* t, const std::vector<Segment>& segs, size_t* seg, uint32_t* pos,
              IdWriter* w, uint32_t stop_beyond = 0xFFFFFFFFu) const {
    while (*pos == segs[*seg].end && segs[*seg].special == kNoRank) ++*seg;
    const Segment& g = segs[*seg];
    if (g.special != kNoRank) {
      w->Push(specials[g.special].id);
      *pos = g.end;
      ++*seg;
      return Status::Ok();
    }
    size_t len = g.end - g.begin, rel = *pos - g.begin;
    size_t end = next(t + g.begin, len, rel);
    if (end <= rel || end > len) return lexer_error(*pos);
    if (g.begin + end > stop_beyond) return Status::Ok();
    size_t k = R->EncodePieceRaw(t + *pos, end - rel, w->Reserve(end - rel));
    if (k == kFail) return no_rank_error(*pos);
    w->Commit(k);
    *pos = g.begin + static_cast<uint32_t>(end);
    return Status::Ok();
  }

  Status EncodeParallel(std::string_view text, const std::vector<uint8_t>* allowed,
                        std::vector<uint32_t>* out, size_t threads) const {
    const uint8_t* t = reinterpret_cast<const uint8_t*>(text.data());
    const uint32_t n = static_cast<uint32_t>(text.size());
    // Segments: ordinary text between allowed specials, and the specials themselves; a final
    // empty ordinary segment at n keeps Step's scan in range.
    std::vector<Segment> segs;
    {
      size_t pos = 0;
      for (;;) {
        size_t idx = 0, off = n;
        bool found = allowed != nullptr && Find(text, pos, *allowed, &idx, &off);
        if (off > pos) segs.push_back({uint32_t(pos), uint32_t(off), kNoRank});
        if (!found) break;
        pos = off + specials[idx].text.size();
        segs.push_back({uint32_t(off), uint32_t(pos), uint32_t(idx)});
      }
      segs.push_back({n, n, kNoRank});
    }
    const size_t n_chunks = std::max<size_t>(1, std::min<size_t>(threads * 2, n / 4096));
    std::vector<uint32_t> bounds(n_chunks + 1);
    for (size_t c = 0; c <= n_chunks; ++c) {
      size_t b = static_cast<size_t>(uint64_t{n} * c / n_chunks);
      while (b < n && (t[b] & 0xC0) == 0x80) ++b;  // never start inside a UTF-8 sequence
      bounds[c] = static_cast<uint32_t>(b);
    }
    auto segment_of = [&](uint32_t pos) {  // last segment with begin <= pos
      auto it = std::upper_bound(segs.begin(), segs.end(), pos,
                                 [](uint32_t p, const Segment& g) { return p < g.begin; });
      return static_cast<size_t>(it - segs.begin()) - 1;
    };
    std::vector<ChunkResult> chunks(n_chunks);
    Status pst = parallel_for(n_chunks, threads, [&](size_t c) {
      ChunkResult& ch = chunks[c];
      uint32_t pos = bounds[c];
      size_t seg = segment_of(pos);
      if (segs[seg].special != kNoRank && pos > segs[seg].begin) pos = segs[seg++].end;
      ch.start = pos;
      IdWriter w(&ch.ids, (bounds[c + 1] - bounds[c]) / 3 + 16);
      // A piece reaching far past the chunk (one huge run of spaces, letters or CJK) is left to
      // the splice, which encodes it once serially: otherwise every chunk inside the run would
      // encode it from its own start to the run's end, several times the serial work.
      const uint32_t stop_beyond = bounds[c + 1] + kGiantSpill;
      while (pos < bounds[c + 1]) {
        const uint32_t before = pos;
        Status st = Step(t, segs, &seg, &pos, &w, stop_beyond);
        if (!st.ok()) {
          ch.status = st;  // reported only if the true sequence needs this piece
          break;
        }
        if (pos == before) break;  // a giant piece: stop here
        if (ch.marks.size() < kSyncMarks) ch.marks.emplace_back(pos, uint32_t(w.size()));
      }
      ch.last_end = pos;
      w.Finish();
    });
    if (!pst.ok()) return pst;
    // Splice. E: everything before it is encoded (true piece boundary).
    size_t total = out->size();
    for (const auto& ch : chunks) total += ch.ids.size();
    out->reserve(total + 16);
    IdWriter w(out, 0);
    uint32_t e = 0;
    size_t seg = 0;
    for (size_t c = 0; c < n_chunks; ++c) {
      const ChunkResult& ch = chunks[c];
      size_t mark = 0;
      for (;;) {
        if (e >= ch.last_end) break;  // the true sequence already covers this chunk
        size_t from = kFail;
        if (e == ch.start) {
          from = 0;
        } else {
          while (mark < ch.marks.size() && ch.marks[mark].first < e) ++mark;
          if (mark < ch.marks.size() && ch.marks[mark].first == e) from = ch.marks[mark].second;
        }
        if (from != kFail) {
          if (!ch.status.ok()) return ch.status;
          std::copy(ch.ids.begin() + from, ch.ids.end(), w.Reserve(ch.ids.size() - from));
          w.Commit(ch.ids.size() - from);
          e = ch.last_end;
          break;
        }
        seg = segment_of(e);
        Status st = Step(t, segs, &seg, &e, &w);
        if (!st.ok()) return st;
      }
    }
    w.Finish();
    return Status::Ok();
  }

  bool UseParallel(size_t n, size_t num_threads) const {
    if (num_threads == 1 || n < parallel_threshold || n >= kMaxParallelBytes) return false;
    size_t threads = num_threads == 0 ? hardware_threads() : num_threads;
    return threads > 1;
  }
};

namespace {

Status oom(const char* what) {
  return Status(ErrorCode::kLimitExceeded, std::string("out of memory in ") + what);
}
Status internal(const char* what, const std::exception& e) {
  return Status(ErrorCode::kInternal, std::string(what) + ": " + e.what());
}
Status no_lexer() {
  return Status(ErrorCode::kUnsupported,
                "this encoder has no built-in pre-tokenizer; use EncodePieces");
}

}  // namespace

BpeEncoder::BpeEncoder() = default;
BpeEncoder::~BpeEncoder() = default;

Status BpeEncoder::Create(std::shared_ptr<const BpeRanks> ranks, PreTokenizerKind kind,
                          std::vector<SpecialToken> specials, std::unique_ptr<BpeEncoder>* out) {
  try {
    if (!ranks) return Status(ErrorCode::kInvalidArgument, "BpeEncoder: ranks is null");
    auto impl = std::make_unique<Impl>();
    impl->R = ranks->impl_.get();
    impl->ranks_owner = std::move(ranks);
    impl->kind = kind;
    if (kind != PreTokenizerKind::kNone) {
      impl->next = next_piece_fn(kind);
      if (impl->next == nullptr) {
        return Status(ErrorCode::kUnsupported, "BpeEncoder: no lexer for this pre-tokenizer kind");
      }
    }
    impl->specials = std::move(specials);
    for (uint32_t i = 0; i < impl->specials.size(); ++i) {
      const SpecialToken& sp = impl->specials[i];
      if (sp.text.empty()) {
        return Status(ErrorCode::kInvalidArgument,
                      "special token #" + std::to_string(i) + " has empty text");
      }
      // A special id may equal an ordinary rank (tiktoken allows it): encoding the special text
      // gives the id, and decoding the id gives the ordinary token's bytes (TokenBytes looks
      // there first, as tiktoken's decoder does).
      if (!impl->index_by_text.emplace(std::string_view(sp.text), i).second) {
        return Status(ErrorCode::kInvalidArgument, "duplicate special token '" + sp.text + "'");
      }
      impl->index_by_id.emplace_back(sp.id, i);
      impl->by_first_byte[static_cast<uint8_t>(sp.text[0])].push_back(i);
    }
    std::sort(impl->index_by_id.begin(), impl->index_by_id.end());
    for (size_t i = 1; i < impl->index_by_id.size(); ++i) {
      if (impl->index_by_id[i].first == impl->index_by_id[i - 1].first) {
        return Status(ErrorCode::kInvalidArgument,
                      "two special tokens share id " + std::to_string(impl->index_by_id[i].first));
      }
    }
    for (auto& bucket : impl->by_first_byte) {
      std::stable_sort(bucket.begin(), bucket.end(), [&](uint32_t a, uint32_t b) {
        return impl->specials[a].text.size() > impl->specials[b].text.size();
      });
    }
    out->reset(new BpeEncoder());
    (*out)->impl_ = std::move(impl);
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return oom("BpeEncoder::Create");
  } catch (const std::exception& e) {
    return internal("BpeEncoder::Create", e);
  }
}

// Encode and EncodeOrdinary: one body; `allowed` null means no special-token recognition.
static Status EncodeText(const BpeEncoder::Impl& E, std::string_view text,
                         const std::vector<uint8_t>* allowed, std::vector<uint32_t>* out,
                         size_t num_threads, const char* what) {
  if (E.next == nullptr) return no_lexer();
  if (allowed != nullptr && allowed->size() > E.specials.size()) {
    return Status(ErrorCode::kInvalidArgument, "allowed mask is longer than the special list");
  }
  size_t original = out->size();
  try {
    if (E.UseParallel(text.size(), num_threads)) {
      size_t threads = num_threads == 0 ? hardware_threads() : num_threads;
      Status st = E.EncodeParallel(text, allowed, out, threads);
      if (!st.ok()) out->resize(original);
      return st;
    }
    IdWriter w(out, text.size() / 2 + 16);
    Status st = allowed == nullptr
                    ? E.EncodeSegment(reinterpret_cast<const uint8_t*>(text.data()), text.size(), 0, &w)
                    : E.EncodeWithSpecials(text, *allowed, &w);
    if (!st.ok()) {
      w.Abandon(original);
      return st;
    }
    w.Finish();
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    out->resize(std::min(out->size(), original));
    return oom(what);
  } catch (const std::exception& e) {
    return internal(what, e);
  }
}

Status BpeEncoder::EncodeOrdinary(std::string_view text, std::vector<uint32_t>* out,
                                  size_t num_threads) const {
  return EncodeText(*impl_, text, nullptr, out, num_threads, "EncodeOrdinary");
}

Status BpeEncoder::Encode(std::string_view text, const std::vector<uint8_t>& allowed,
                          std::vector<uint32_t>* out, size_t num_threads) const {
  return EncodeText(*impl_, text, &allowed, out, num_threads, "Encode");
}

Status BpeEncoder::Count(std::string_view text, const std::vector<uint8_t>& allowed,
                         size_t* count) const {
  const Impl& E = *impl_;
  if (E.next == nullptr) return no_lexer();
  if (allowed.size() > E.specials.size()) {
    return Status(ErrorCode::kInvalidArgument, "allowed mask is longer than the special list");
  }
  try {
    const uint8_t* t = reinterpret_cast<const uint8_t*>(text.data());
    std::vector<uint32_t> scratch(256);
    size_t total = 0;
    size_t pos = 0;
    for (;;) {
      size_t idx = 0, off = text.size();
      bool found = E.Find(text, pos, allowed, &idx, &off);
      const uint8_t* seg = t + pos;
      size_t n = off - pos, p = 0;
      while (p < n) {
        size_t end = E.next(seg, n, p);
        if (end <= p || end > n) return lexer_error(pos + p);
        size_t len = end - p;
        if (len > scratch.size()) scratch.resize(len);
        size_t k = E.R->EncodePieceRaw(seg + p, len, scratch.data());
        if (k == kFail) return no_rank_error(pos + p);
        total += k;
        p = end;
      }
      if (!found) break;
      ++total;
      pos = off + E.specials[idx].text.size();
    }
    *count = total;
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return oom("Count");
  } catch (const std::exception& e) {
    return internal("Count", e);
  }
}

Status BpeEncoder::EncodePieces(std::string_view text, const uint32_t* starts,
                                const uint32_t* ends, size_t n_pieces,
                                std::vector<uint32_t>* out) const {
  const Impl& E = *impl_;
  size_t original = out->size();
  try {
    const uint8_t* t = reinterpret_cast<const uint8_t*>(text.data());
    IdWriter w(out, text.size() / 2 + 16);
    for (size_t i = 0; i < n_pieces; ++i) {
      size_t a = starts[i], b = ends[i];
      if (a > b || b > text.size()) {
        w.Abandon(original);
        return Status(ErrorCode::kInvalidArgument,
                      "piece " + std::to_string(i) + " [" + std::to_string(a) + ", " +
                          std::to_string(b) + ") is outside the text of " +
                          std::to_string(text.size()) + " bytes");
      }
      size_t len = b - a;
      size_t k = E.R->EncodePieceRaw(t + a, len, w.Reserve(len));
      if (k == kFail) {
        w.Abandon(original);
        return no_rank_error(a);
      }
      w.Commit(k);
    }
    w.Finish();
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    out->resize(std::min(out->size(), original));
    return oom("EncodePieces");
  } catch (const std::exception& e) {
    return internal("EncodePieces", e);
  }
}

bool BpeEncoder::FindSpecial(std::string_view text, const std::vector<uint8_t>& mask,
                             size_t* index, size_t* offset) const {
  return impl_->Find(text, 0, mask, index, offset);
}

Status BpeEncoder::EncodeBatch(const std::vector<std::string_view>& texts,
                               const std::vector<uint8_t>& allowed,
                               std::vector<std::vector<uint32_t>>* out,
                               size_t num_threads) const {
  const Impl& E = *impl_;
  if (E.next == nullptr) return no_lexer();
  if (allowed.size() > E.specials.size()) {
    return Status(ErrorCode::kInvalidArgument, "allowed mask is longer than the special list");
  }
  try {
    out->clear();
    out->resize(texts.size());
    size_t threads = num_threads == 0 ? hardware_threads() : num_threads;
    // Chunks of consecutive texts, claimed dynamically: ~8 per thread balances uneven lengths
    // while keeping the per-chunk overhead negligible.
    size_t n_chunks = std::min(texts.size(), std::max<size_t>(1, threads * 8));
    if (threads <= 1) n_chunks = texts.empty() ? 0 : 1;
    std::vector<Status> statuses(n_chunks);
    Status pst = parallel_for(n_chunks, threads, [&](size_t c) {
      size_t a = texts.size() * c / n_chunks, b = texts.size() * (c + 1) / n_chunks;
      for (size_t i = a; i < b; ++i) {
        IdWriter w(&(*out)[i], texts[i].size() / 2 + 16);
        Status st = E.EncodeWithSpecials(texts[i], allowed, &w);
        if (!st.ok()) {
          statuses[c] = Status(st.code(), "text " + std::to_string(i) + ": " + st.message());
          w.Abandon(0);
          return;
        }
        w.Finish();
      }
    });
    if (!pst.ok()) return pst;
    for (const Status& st : statuses) {
      if (!st.ok()) return st;
    }
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return oom("EncodeBatch");
  } catch (const std::exception& e) {
    return internal("EncodeBatch", e);
  }
}

bool BpeEncoder::TokenBytes(uint32_t id, std::string_view* out) const {
  if (impl_->ranks_owner->TokenBytes(id, out)) return true;
  const auto& by_id = impl_->index_by_id;
  auto it = std::lower_bound(by_id.begin(), by_id.end(), std::make_pair(id, uint32_t{0}));
  if (it == by_id.end() || it->first != id) return false;
  *out = impl_->specials[it->second].text;
  return true;
}

Status BpeEncoder::DecodeBytes(const uint32_t* ids, size_t n, std::string* out) const {
  try {
    const BpeRanks::Impl& R = *impl_->R;
    const TokenRef* toks = R.tokens.data();
    const size_t n_toks = R.tokens.size();
    size_t total = 0;
    for (size_t i = 0; i < n; ++i) {
      uint32_t id = ids[i];
      if (id < n_toks && toks[id].len != 0) {
        total += toks[id].len;
        continue;
      }
      std::string_view sv;
      if (!TokenBytes(id, &sv)) {
        return Status(ErrorCode::kOutOfRange, "unknown token id " + std::to_string(id) +
                                                  " at position " + std::to_string(i));
      }
      total += sv.size();
    }
    size_t base = out->size();
    out->resize(base + total);
    char* dst = out->data() + base;
    const char* arena = reinterpret_cast<const char*>(R.arena.data());
    for (size_t i = 0; i < n; ++i) {
      uint32_t id = ids[i];
      if (id < n_toks && toks[id].len != 0) {
        std::memcpy(dst, arena + toks[id].offset, toks[id].len);
        dst += toks[id].len;
      } else {
        std::string_view sv;
        TokenBytes(id, &sv);
        std::memcpy(dst, sv.data(), sv.size());
        dst += sv.size();
      }
    }
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return oom("DecodeBytes");
  } catch (const std::exception& e) {
    return internal("DecodeBytes", e);
  }
}

const std::vector<SpecialToken>& BpeEncoder::specials() const { return impl_->specials; }
const BpeRanks& BpeEncoder::ranks() const { return *impl_->ranks_owner; }
PreTokenizerKind BpeEncoder::kind() const { return impl_->kind; }
size_t BpeEncoder::parallel_threshold() const { return impl_->parallel_threshold; }
void BpeEncoder::set_parallel_threshold(size_t bytes) {
  impl_->parallel_threshold = bytes == 0 ? kDefaultParallelThreshold : bytes;
}

}  // namespace fastprep
