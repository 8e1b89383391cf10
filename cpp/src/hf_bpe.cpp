// HF tokenizer.json byte-level BPE: added-token split, pre-tokenizers (GPT-2 regex, deepseek_v3's
// three Split regexes, single Split regexes with a hand-written lexer), merges-based BPE on raw
// bytes, and HF's character offsets.
//
// Semantics follow src/fastprep/_fallback/hf/ (the readable specification):
// - BPE: the pair with the lowest merge index merges first, ties go to the leftmost pair, a pair
//   merges only if listed (HF's heap with stale-entry checks gives exactly this order, because a
//   merge's result id fixes the bytes it spans, so a stale entry can never pass the check).
// - A whole pre-token that is a vocabulary token is emitted directly only when BPE would produce
//   that token anyway (checked once per token at load), or always under ignore_merges.
// - Speed, none of it visible in the output: whole pieces are looked up in a packed-prefix token
//   table holding only the tokens BPE reproduces (one cache line per piece); merges are looked
//   up by (left id, right id) in a compact table behind a Bloom filter, two-byte pairs in a
//   direct table; words up to 255 bytes merge with a vectorised min scan, starting from
//   three-byte characters merged alone where a load-time check proves the order unchanged; a
//   per-thread cache remembers recent multi-token words; the large tables sit on huge pages.
// - Added tokens: non-normalized ones are found leftmost-longest on the raw text, normalized ones
//   on each remaining piece after the normalizer; lstrip/rstrip widen a match over White_Space.
#include "fastprep/hf_bpe.h"

#include "byte_tables.h"
#include "char3.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <new>
#include <unordered_map>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "fastprep/normalize.h"
#include "fastprep/pretokenize.h"
#include "fastprep/unicode.h"

namespace fastprep {

// ---------------------------------------------------------------------------------------------
// ByteLevel alphabet (GPT-2 bytes_to_unicode)

namespace {

struct ByteLevelTables {
  uint32_t to_char[256];
  int16_t to_byte[324];  // code points < 324 cover the whole alphabet
};

constexpr bool printable_byte(int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); }

constexpr ByteLevelTables make_byte_level_tables() {
  ByteLevelTables t{};
  for (int i = 0; i < 324; ++i) t.to_byte[i] = -1;
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const uint32_t c = printable_byte(b) ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + extra++);
    t.to_char[b] = c;
    t.to_byte[c] = static_cast<int16_t>(b);
  }
  return t;
}

constexpr ByteLevelTables kByteLevel = make_byte_level_tables();

}  // namespace

uint32_t byte_level_char(uint8_t byte) { return kByteLevel.to_char[byte]; }

int byte_level_byte(uint32_t cp) { return cp < 324 ? kByteLevel.to_byte[cp] : -1; }

namespace {

// Strict UTF-8 decode of one code point at s[i] (i < n); false on a malformed sequence.
bool decode_strict(const std::string& s, size_t* i, uint32_t* cp) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  const uint8_t b0 = p[*i];
  size_t len = b0 < 0x80 ? 1 : (b0 >> 5) == 6 ? 2 : (b0 >> 4) == 14 ? 3 : (b0 >> 3) == 30 ? 4 : 0;
  if (len == 0 || *i + len > n) return false;
  uint32_t c = len == 1 ? b0 : len == 2 ? (b0 & 0x1F) : len == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (size_t k = 1; k < len; ++k) {
    if ((p[*i + k] & 0xC0) != 0x80) return false;
    c = (c << 6) | (p[*i + k] & 0x3F);
  }
  *i += len;
  *cp = c;
  return true;
}

// A vocabulary string in the ByteLevel alphabet -> its raw bytes; false if any character is
// outside the alphabet (such a token can never come out of byte-level input).
bool byte_level_decode(const std::string& token, std::string* bytes) {
  bytes->clear();
  size_t i = 0;
  while (i < token.size()) {
    uint32_t cp;
    if (!decode_strict(token, &i, &cp)) return false;
    const int b = byte_level_byte(cp);
    if (b < 0) return false;
    bytes->push_back(static_cast<char>(b));
  }
  return true;
}

using byte_tables::HugeArray;
using byte_tables::load_prefix;
using byte_tables::hash_prefixed;

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 32;
  x *= 0xD6E8FEB86659FD93ULL;
  x ^= x >> 32;
  return x;
}


// Open-addressing map from a 64-bit key (never ~0) to a 64-bit value; linear probing.
class U64Map {
 public:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  bool empty() const { return keys_.empty(); }
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    keys_.assign(cap, kEmpty);
    values_.assign(cap, 0);
    mask_ = cap - 1;
  }
  // Inserts or overwrites.
  void put(uint64_t key, uint64_t value) {
    size_t i = mix64(key) & mask_;
    while (keys_[i] != kEmpty && keys_[i] != key) i = (i + 1) & mask_;
    keys_[i] = key;
    values_[i] = value;
  }
  bool get(uint64_t key, uint64_t* value) const {
    size_t i = mix64(key) & mask_;
    while (true) {
      const uint64_t k = keys_[i];
      if (k == key) {
        *value = values_[i];
        return true;
      }
      if (k == kEmpty) return false;
      i = (i + 1) & mask_;
    }
  }

 private:
  std::vector<uint64_t> keys_;
  std::vector<uint64_t> values_;
  size_t mask_ = 0;
};

constexpr uint32_t kNoRank = std::numeric_limits<uint32_t>::max();
constexpr uint32_t kNoId = std::numeric_limits<uint32_t>::max();

// (left id, right id) -> merge index; the merge's result id is kept apart, by merge index, since
// it is needed only when the pair actually merges. Merging is bound by cache misses on this
// table: a slot is one 8-byte word (left << 42 | right << 21 | merge index), and a blocked Bloom
// filter (>= 8 bits per pair, 3 bits in one 64-bit word) answers most non-pairs without touching
// it (every piece ends in non-joinable neighbours; most lookups in Japanese are misses).
class PairTable {
 public:
  static constexpr int kIdBits = 21;  // ids and merge indices below 2^21 - 1
  static constexpr uint32_t kMaxValue = (uint32_t{1} << kIdBits) - 2;

  // entries: (left, right, merge index), keys distinct, every value <= kMaxValue. May throw
  // std::bad_alloc.
  void build(const std::vector<std::array<uint32_t, 3>>& entries) {
    size_t cap = 16;
    int bits = 4;
    while (cap < 2 * entries.size()) {
      cap <<= 1;
      ++bits;
    }
    slots_.assign(cap, kEmpty);
    mask_ = cap - 1;
    shift_ = 64 - bits;
    size_t words = 2;
    int word_bits = 1;
    while (words * 64 < 8 * entries.size()) {
      words <<= 1;
      ++word_bits;
    }
    bloom_.assign(words, 0);
    bloom_shift_ = 64 - word_bits;
    for (const auto& [a, b, rank] : entries) {
      const uint64_t k = key(a, b);
      size_t i = static_cast<size_t>((k * kSlotMul) >> shift_);
      while (slots_[i] != kEmpty) i = (i + 1) & mask_;
      slots_[i] = (k << kIdBits) | rank;
      const uint64_t h = k * kBloomMul;
      bloom_[static_cast<size_t>(h >> bloom_shift_)] |= byte_tables::bloom_bits(h);
    }
  }
  // Merge index of the pair, kNoRank when it does not merge.
  inline uint32_t rank(uint32_t a, uint32_t b) const {
    const uint64_t k = key(a, b);
    const uint64_t h = k * kBloomMul;
    return after_bloom(k, bloom_[static_cast<size_t>(h >> bloom_shift_)], h);
  }
  // Two independent lookups whose filter words load before either is branched on, so their cache
  // misses overlap (a merge's two new neighbour pairs).
  inline void rank2(uint32_t a1, uint32_t b1, uint32_t a2, uint32_t b2, uint32_t* r1, uint32_t* r2) const {
    const uint64_t k1 = key(a1, b1), k2 = key(a2, b2);
    const uint64_t h1 = k1 * kBloomMul, h2 = k2 * kBloomMul;
    const uint64_t w1 = bloom_[static_cast<size_t>(h1 >> bloom_shift_)];
    const uint64_t w2 = bloom_[static_cast<size_t>(h2 >> bloom_shift_)];
    *r1 = after_bloom(k1, w1, h1);
    *r2 = after_bloom(k2, w2, h2);
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static constexpr uint64_t kBloomMul = 0xD6E8FEB86659FD93ULL;
  static constexpr uint64_t kSlotMul = 0x9E3779B97F4A7C15ULL;
  static constexpr uint64_t kRankMask = (uint64_t{1} << kIdBits) - 1;
  static uint64_t key(uint32_t a, uint32_t b) { return (static_cast<uint64_t>(a) << kIdBits) | b; }
  inline uint32_t after_bloom(uint64_t k, uint64_t word, uint64_t h) const {
    const uint64_t bits = byte_tables::bloom_bits(h);
    if ((word & bits) != bits) return kNoRank;
    const uint64_t* slots = slots_.data();
    for (size_t i = static_cast<size_t>((k * kSlotMul) >> shift_);; i = (i + 1) & mask_) {
      const uint64_t s = slots[i];
      if ((s >> kIdBits) == k) return static_cast<uint32_t>(s & kRankMask);
      if (s == kEmpty) return kNoRank;
    }
  }
  HugeArray<uint64_t> slots_;
  std::vector<uint64_t> bloom_{0, 0};
  uint64_t mask_ = 1;
  int shift_ = 63;
  int bloom_shift_ = 63;
};

// Raw token bytes -> id, for whole-piece lookups. Nearly every piece and token is <= 8 bytes, so
// a 16-byte slot holds the first 8 bytes packed into an integer plus the length: a short piece
// is found with one multiply and one slot compare, touching one cache line (a separate hash or
// a compare against token bytes stored elsewhere would cost a second cache miss per piece).
// Longer tokens keep their first 8 bytes in the slot too; the rest is compared against a blob.
// Load factor <= 0.5; a later duplicate of the same bytes wins, as in a JSON object.
class TokenTable {
 public:
  // May throw std::bad_alloc.
  void build(const std::vector<std::pair<std::string, uint32_t>>& entries) {
    size_t cap = 16;
    int bits = 4;
    while (cap < entries.size() * 2) {
      cap <<= 1;
      ++bits;
    }
    slots_.assign(cap, Slot{0, 0, 0});
    tail_.assign(cap, 0);
    mask_ = cap - 1;
    shift_ = 64 - bits;
    blob_.clear();
    max_length_ = 0;
    for (const auto& [bytes, id] : entries) {
      if (bytes.empty()) continue;
      const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
      const size_t n = bytes.size();
      const uint64_t prefix = load_prefix(p, n);
      size_t i = static_cast<size_t>(hash_prefixed(p, n, prefix) >> shift_);
      while (slots_[i].len != 0 && !same(i, prefix, p, n)) i = (i + 1) & mask_;
      if (slots_[i].len == 0) {
        slots_[i].prefix = prefix;
        slots_[i].len = static_cast<uint32_t>(n);
        tail_[i] = static_cast<uint32_t>(blob_.size());
        blob_.append(bytes);
      }
      slots_[i].id = id;
      max_length_ = std::max(max_length_, n);
    }
  }
  // Id of the token p[0, n) (n >= 1), kNoId if none; *hash gets hash_piece of the piece either
  // way (the piece cache is keyed by it).
  inline uint32_t find(const uint8_t* p, size_t n, uint64_t* hash) const {
    const uint64_t prefix = load_prefix(p, n);
    *hash = hash_prefixed(p, n, prefix);
    return find(p, n, prefix, *hash);
  }
  // Starts loading the first slot find() probes for a piece of hash h.
  inline void prefetch_slot(uint64_t h) const { byte_tables::prefetch(&slots_[static_cast<size_t>(h >> shift_)]); }
  size_t max_length() const { return max_length_; }
  // The same given load_prefix(p, n) and hash_prefixed(p, n, prefix).
  inline uint32_t find(const uint8_t* p, size_t n, uint64_t prefix, uint64_t h) const {
    if (n > max_length_) return kNoId;
    size_t i = static_cast<size_t>(h >> shift_);
    const Slot* slots = slots_.data();
    if (n <= 8) {
      for (;; i = (i + 1) & mask_) {
        const Slot& s = slots[i];
        if (s.prefix == prefix && s.len == n) return s.id;
        if (s.len == 0) return kNoId;
      }
    }
    for (;; i = (i + 1) & mask_) {
      const Slot& s = slots[i];
      if (s.prefix == prefix && s.len == n && std::memcmp(blob_.data() + tail_[i] + 8, p + 8, n - 8) == 0) {
        return s.id;
      }
      if (s.len == 0) return kNoId;
    }
  }

 private:
  struct Slot {
    uint64_t prefix;
    uint32_t len;  // 0 = empty
    uint32_t id;
  };
  bool same(size_t i, uint64_t prefix, const uint8_t* p, size_t n) const {
    const Slot& s = slots_[i];
    return s.prefix == prefix && s.len == n && (n <= 8 || std::memcmp(blob_.data() + tail_[i], p, n) == 0);
  }
  HugeArray<Slot> slots_;
  std::vector<uint32_t> tail_;  // by slot: offset of the token's bytes in blob_
  std::string blob_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t max_length_ = 0;
};

// Leftmost-longest multi-pattern matcher (a byte trie with a first-byte filter).
class AddedMatcher {
 public:
  bool empty() const { return terminal_.size() <= 1; }
  void add(const std::string& pattern, uint32_t token_index) {
    uint32_t node = 0;
    for (unsigned char b : pattern) {
      uint64_t child;
      const uint64_t key = (static_cast<uint64_t>(node) << 8) | b;
      if (!edges_map_.count(key)) {
        edges_map_[key] = static_cast<uint32_t>(terminal_.size());
        terminal_.push_back(kNoId);
      }
      child = edges_map_[key];
      node = static_cast<uint32_t>(child);
    }
    terminal_[node] = token_index;  // the same content twice: the last one wins
    first_[static_cast<unsigned char>(pattern[0])] = true;
  }
  void finish() {
    edges_.reserve(edges_map_.size() + 1);
    for (const auto& [k, v] : edges_map_) edges_.put(k, v);
    edges_map_.clear();
    n_firsts_ = 0;
    for (int b = 0; b < 256; ++b) {
      if (!first_[b]) continue;
      if (n_firsts_ < 4) firsts_[n_firsts_] = static_cast<uint8_t>(b);
      ++n_firsts_;
    }
    for (int k = n_firsts_; k < 4; ++k) firsts_[k] = firsts_[0];  // repeats compare harmlessly
  }
  // The first position >= pos (or n) whose byte starts some pattern.
  inline size_t next_candidate(const uint8_t* s, size_t n, size_t pos) const {
#if defined(__SSE2__)
    // Few distinct first bytes (deepseek_v3's 1283 tokens start with '<' or 0xEF): compare 16
    // bytes at a time with each, instead of a table lookup per byte.
    if (n_firsts_ >= 1 && n_firsts_ <= 4) {
      const __m128i t0 = _mm_set1_epi8(static_cast<char>(firsts_[0]));
      const __m128i t1 = _mm_set1_epi8(static_cast<char>(firsts_[1]));
      const __m128i t2 = _mm_set1_epi8(static_cast<char>(firsts_[2]));
      const __m128i t3 = _mm_set1_epi8(static_cast<char>(firsts_[3]));
      for (; pos + 16 <= n; pos += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + pos));
        const __m128i eq = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, t0), _mm_cmpeq_epi8(v, t1)),
                                        _mm_or_si128(_mm_cmpeq_epi8(v, t2), _mm_cmpeq_epi8(v, t3)));
        const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(eq));
        if (mask != 0) return pos + static_cast<size_t>(__builtin_ctz(mask));
      }
    }
#endif
    for (; pos + 8 <= n; pos += 8) {
      if (first_[s[pos]] | first_[s[pos + 1]] | first_[s[pos + 2]] | first_[s[pos + 3]] | first_[s[pos + 4]] |
          first_[s[pos + 5]] | first_[s[pos + 6]] | first_[s[pos + 7]]) {
        break;
      }
    }
    while (pos < n && !first_[s[pos]]) ++pos;
    return pos;
  }
  // Longest pattern starting at s[pos] within [pos, n): its token index and end; false if none.
  inline bool match_at(const uint8_t* s, size_t n, size_t pos, uint32_t* token, size_t* end) const {
    if (!first_[s[pos]]) return false;
    uint32_t node = 0;
    bool found = false;
    for (size_t i = pos; i < n; ++i) {
      uint64_t child;
      if (!edges_.get((static_cast<uint64_t>(node) << 8) | s[i], &child)) break;
      node = static_cast<uint32_t>(child);
      if (terminal_[node] != kNoId) {
        *token = terminal_[node];
        *end = i + 1;
        found = true;
      }
    }
    return found;
  }

 private:
  std::vector<uint32_t> terminal_{kNoId};
  std::unordered_map<uint64_t, uint32_t> edges_map_;
  U64Map edges_;
  bool first_[256] = {};
  uint8_t firsts_[4] = {};  // the distinct first bytes when there are at most 4 (n_firsts_)
  int n_firsts_ = 0;
};

// ---------------------------------------------------------------------------------------------
// deepseek_v3 pre-tokenizer: Split(\p{N}{1,3}) -> Split([一-龥぀-ゟ゠-ヿ]+) -> Split(pattern 3), each
// Isolated. Pieces of the first two steps are runs of one kind (three numbers, CJK-range
// characters, everything else), because the classes are disjoint; pattern 3 then runs on each.

constexpr std::string_view kDeepseekPattern1 = R"PAT(\p{N}{1,3})PAT";
constexpr std::string_view kDeepseekPattern2 = "[\xE4\xB8\x80-\xE9\xBE\xA5\xE3\x81\x80-\xE3\x82\x9F\xE3\x82\xA0-\xE3\x83\xBF]+";
constexpr std::string_view kDeepseekPattern3 =
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
    "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

enum : uint8_t {
  kDsLetter = 1,   // \p{L}
  kDsMark = 2,     // \p{M}
  kDsPunct = 4,    // \p{P}, \p{S}
  kDsBlank = 8,    // \s other than \r \n
  kDsNewline = 16, // \r \n
  kDsNumber = 32,  // \p{N}
  kDsOther = 64,   // anything else (C*, ...)
};
constexpr uint8_t kDsLM = kDsLetter | kDsMark;
constexpr uint8_t kDsSpace = kDsBlank | kDsNewline;
constexpr uint8_t kDsPrefix = kDsMark | kDsBlank | kDsNumber | kDsOther;  // [^\r\n\p{L}\p{P}\p{S}]

struct DsTables {
  uint8_t by_properties[64];
  uint8_t ascii[128];
};

constexpr uint8_t ds_class_of_category(uint8_t category) {
  switch (static_cast<GeneralCategory>(category)) {
    case GeneralCategory::kLu:
    case GeneralCategory::kLl:
    case GeneralCategory::kLt:
    case GeneralCategory::kLm:
    case GeneralCategory::kLo: return kDsLetter;
    case GeneralCategory::kMn:
    case GeneralCategory::kMc:
    case GeneralCategory::kMe: return kDsMark;
    case GeneralCategory::kNd:
    case GeneralCategory::kNl:
    case GeneralCategory::kNo: return kDsNumber;
    case GeneralCategory::kPc:
    case GeneralCategory::kPd:
    case GeneralCategory::kPs:
    case GeneralCategory::kPe:
    case GeneralCategory::kPi:
    case GeneralCategory::kPf:
    case GeneralCategory::kPo:
    case GeneralCategory::kSm:
    case GeneralCategory::kSc:
    case GeneralCategory::kSk:
    case GeneralCategory::kSo: return kDsPunct;
    default: return kDsOther;
  }
}

constexpr DsTables make_ds_tables() {
  DsTables t{};
  for (int i = 0; i < 64; ++i) {
    t.by_properties[i] = (i & kWhiteSpaceFlag) ? uint8_t{kDsBlank} : ds_class_of_category(i & kCategoryMask);
  }
  for (int b = 0; b < 128; ++b) {
    uint8_t c = kDsOther;
    if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z')) c = kDsLetter;
    else if (b >= '0' && b <= '9') c = kDsNumber;
    else if (b == '\r' || b == '\n') c = kDsNewline;
    else if (b == ' ' || b == '\t' || b == '\v' || b == '\f') c = kDsBlank;
    else if (b >= 0x21 && b <= 0x7E) c = kDsPunct;  // all ASCII punctuation is P or S
    t.ascii[b] = c;
  }
  return t;
}

constexpr DsTables kDs = make_ds_tables();

inline uint8_t ds_class(const uint8_t* s, size_t i, size_t* len) {
  const uint8_t b = s[i];
  if (b < 0x80) {
    *len = 1;
    return kDs.ascii[b];
  }
  return kDs.by_properties[unicode_properties(decode_utf8(s + i, len))];
}

inline bool ds_cjk(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FA5) || (cp >= 0x3040 && cp <= 0x30FF);
}

inline bool ascii_alpha(uint8_t b) { return (b | 0x20) >= 'a' && (b | 0x20) <= 'z'; }

// The three Splits in one pass. The pieces of patterns 1 and 2 are runs of one kind: numbers (cut
// in threes), CJK-range characters, and everything else ("other" runs); pattern 3 then splits each
// CJK or other run as if that run were the whole input. So pattern 3 runs straight over the text in
// the mode of the current run, where a character that belongs to another run has class kDsEnd:
// no alternative accepts it, so every scan stops there exactly as it would at the end of input.
enum class DsRun { kOther, kCjk };
constexpr uint8_t kDsEnd = 0;

struct DsOtherAscii {
  uint8_t cls[128];
};

constexpr DsOtherAscii make_ds_other_ascii() {
  DsOtherAscii t{};
  for (int b = 0; b < 128; ++b) t.cls[b] = (kDs.ascii[b] & kDsNumber) ? kDsEnd : kDs.ascii[b];
  return t;
}

constexpr DsOtherAscii kDsOtherAscii = make_ds_other_ascii();

// Class of the ASCII byte b in a run of kind kRun (every ASCII character ends a CJK run).
template <DsRun kRun>
inline uint8_t ds_run_ascii(uint8_t b) {
  return kRun == DsRun::kOther ? kDsOtherAscii.cls[b] : kDsEnd;
}

// Class of the character at s[i] (i < n) within a run of kind kRun; its byte length goes to *len.
template <DsRun kRun>
inline uint8_t ds_run_class(const uint8_t* s, size_t i, size_t* len) {
  const uint8_t b = s[i];
  if (b < 0x80) {
    *len = 1;
    return ds_run_ascii<kRun>(b);
  }
  const uint32_t cp = decode_utf8(s + i, len);
  if (ds_cjk(cp) != (kRun == DsRun::kCjk)) return kDsEnd;
  const uint8_t c = kDs.by_properties[unicode_properties(cp)];
  return (c & kDsNumber) ? kDsEnd : c;  // no CJK-range character is \p{N}
}

// End of the run of characters whose class is in mask, from i.
template <DsRun kRun>
inline size_t ds_skip(const uint8_t* s, size_t n, size_t i, uint8_t mask) {
  for (;;) {
    for (; i < n && s[i] < 0x80; ++i) {  // ASCII runs (most words, spaces) without decoding
      if (!(ds_run_ascii<kRun>(s[i]) & mask)) return i;
    }
    if (i >= n) return i;
    size_t len;
    if (!(ds_run_class<kRun>(s, i, &len) & mask)) return i;
    i += len;
  }
}

// End of pattern 3's match at pos, whose character has class c (not kDsEnd) and length len, or 0
// when no alternative matches there.
template <DsRun kRun>
size_t ds_match3(const uint8_t* s, size_t n, size_t pos, uint8_t c, size_t len) {
  const size_t q = pos + len;
  const uint8_t b = s[pos];
  // [!"#...~][A-Za-z]+ (ASCII: only in other runs)
  if (kRun == DsRun::kOther && b < 0x80 && (c & kDsPunct) && q < n && ascii_alpha(s[q])) {
    size_t i = q + 1;
    while (i < n && ascii_alpha(s[i])) ++i;
    return i;
  }
  // [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ : a mark is both a prefix and a word character, so a
  // run of letters/marks from pos is the match whenever pos itself is one.
  if (c & kDsLM) return ds_skip<kRun>(s, n, q, kDsLM);
  size_t len2 = 0;
  const uint8_t c2 = q < n ? ds_run_class<kRun>(s, q, &len2) : kDsEnd;
  if ((c & kDsPrefix) && (c2 & kDsLM)) return ds_skip<kRun>(s, n, q + len2, kDsLM);
  //  ?[\p{P}\p{S}]+[\r\n]* (line breaks belong to other runs)
  size_t i = 0;
  if (b == ' ' && (c2 & kDsPunct)) i = ds_skip<kRun>(s, n, q + len2, kDsPunct);
  else if (c & kDsPunct) i = ds_skip<kRun>(s, n, q, kDsPunct);
  if (i) {
    if (kRun == DsRun::kOther) {
      while (i < n && (s[i] == '\r' || s[i] == '\n')) ++i;
    }
    return i;
  }
  if (!(c & kDsSpace)) return 0;
  // \s*[\r\n]+ | \s+(?!\S) | \s+
  size_t end = pos, last_start = pos, newline_end = 0;
  uint8_t k = kDsEnd;
  while (end < n) {
    size_t l;
    k = ds_run_class<kRun>(s, end, &l);
    if (!(k & kDsSpace)) break;
    last_start = end;
    end += l;
    if (k & kDsNewline) newline_end = end;
  }
  if (newline_end) return newline_end;  // \s* gives back up to the last line break
  if (end == n || k == kDsEnd) return end;  // the run ends here: (?!\S) holds
  return last_start > pos ? last_start : end;
}

// Pattern 3 over the run of kind kRun that starts at pos: its matches and the gaps between them,
// each a piece. Writes the piece ends through *out and returns the end of the run.
template <DsRun kRun>
size_t ds_lex_run(const uint8_t* s, size_t n, size_t pos, uint32_t** out) {
  uint32_t* o = *out;
  bool gap = false;
  while (pos < n) {
    size_t len;
    const uint8_t c = ds_run_class<kRun>(s, pos, &len);
    if (c == kDsEnd) break;
    const size_t m = ds_match3<kRun>(s, n, pos, c, len);
    if (m) {
      if (gap) *o++ = static_cast<uint32_t>(pos);
      gap = false;
      *o++ = static_cast<uint32_t>(m);
      pos = m;
    } else {
      gap = true;
      pos += len;
    }
  }
  if (gap) *o++ = static_cast<uint32_t>(pos);
  *out = o;
  return pos;
}

}  // namespace

bool deepseek_split_patterns_match(const std::vector<std::string>& patterns) {
  return patterns.size() == 3 && patterns[0] == kDeepseekPattern1 && patterns[1] == kDeepseekPattern2 &&
         patterns[2] == kDeepseekPattern3;
}

namespace {

// split_deepseek_v3 into a caller's buffer with room for n ends (at most one piece per byte);
// returns the number of pieces. The encoder keeps that buffer between calls, so it is not
// zero-filled again for every text.
size_t split_deepseek_v3_into(const uint8_t* s, size_t n, uint32_t* const first) {
  uint32_t* out = first;
  size_t pos = 0;
  for (;;) {
    pos = ds_lex_run<DsRun::kOther>(s, n, pos, &out);
    if (pos >= n) break;
    // A number or a CJK-range character starts the next run.
    size_t len;
    if (ds_class(s, pos, &len) & kDsNumber) {  // \p{N}{1,3}: pattern 3 leaves each piece whole
      size_t i = pos + len;
      int count = 1;
      while (i < n) {
        size_t l;
        if (!(ds_class(s, i, &l) & kDsNumber)) break;
        if (count == 3) {
          *out++ = static_cast<uint32_t>(i);
          count = 0;
        }
        i += l;
        ++count;
      }
      *out++ = static_cast<uint32_t>(i);
      pos = i;
    } else {
      pos = ds_lex_run<DsRun::kCjk>(s, n, pos, &out);
    }
    if (pos >= n) break;
  }
  return static_cast<size_t>(out - first);
}

}  // namespace


// ---------------------------------------------------------------------------------------------
// Single Split regexes with a hand-written lexer (see hf_split_pattern_lexer in the header).

namespace {

constexpr std::string_view kQwen2Pattern =
    R"PAT((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)PAT";

// The lexer of a kind that splits with one; nullptr for kWhole and kDeepseekV3.
NextPieceFn hf_next_piece_fn(HfPreTokenizer kind) {
  switch (kind) {
    case HfPreTokenizer::kGpt2: return next_piece_gpt2;
    case HfPreTokenizer::kLlama3: return next_piece_cl100k_legacy;
    case HfPreTokenizer::kQwen2: return next_piece_qwen2;
    case HfPreTokenizer::kCl100k: return next_piece_cl100k_oniguruma;
    case HfPreTokenizer::kO200k: return next_piece_o200k;
    case HfPreTokenizer::kWhole:
    case HfPreTokenizer::kDeepseekV3: break;
  }
  return nullptr;
}

constexpr std::pair<HfPreTokenizer, const char*> kHfPreTokenizerNames[] = {
    {HfPreTokenizer::kWhole, "whole"},   {HfPreTokenizer::kGpt2, "gpt2"},
    {HfPreTokenizer::kDeepseekV3, "deepseek_v3"},
    {HfPreTokenizer::kLlama3, "llama3"}, {HfPreTokenizer::kQwen2, "qwen2"},
    {HfPreTokenizer::kCl100k, "cl100k"}, {HfPreTokenizer::kO200k, "o200k"},
};

}  // namespace

bool hf_split_pattern_lexer(std::string_view pattern, HfPreTokenizer* kind) {
  // The tiktoken spellings, each checked against HF's Oniguruma: only cl100k_base's
  // `\p{N}{1,3}+` reads differently there (see next_piece_cl100k_oniguruma).
  switch (known_pattern(pattern)) {
    case PreTokenizerKind::kGpt2: *kind = HfPreTokenizer::kGpt2; return true;
    case PreTokenizerKind::kCl100kLegacy: *kind = HfPreTokenizer::kLlama3; return true;
    case PreTokenizerKind::kCl100k: *kind = HfPreTokenizer::kCl100k; return true;
    case PreTokenizerKind::kO200k: *kind = HfPreTokenizer::kO200k; return true;
    case PreTokenizerKind::kNone: break;
  }
  if (pattern == kQwen2Pattern) {
    *kind = HfPreTokenizer::kQwen2;
    return true;
  }
  return false;
}

const char* hf_pre_tokenizer_name(HfPreTokenizer kind) {
  for (const auto& [k, name] : kHfPreTokenizerNames) {
    if (k == kind) return name;
  }
  return "";
}

bool hf_pre_tokenizer_from_name(std::string_view name, HfPreTokenizer* kind) {
  for (const auto& [k, known] : kHfPreTokenizerNames) {
    if (name == known) {
      *kind = k;
      return true;
    }
  }
  return false;
}

namespace {

// split_hf_pieces into a buffer with room for n ends; returns the number of pieces.
size_t split_hf_pieces_into(HfPreTokenizer kind, const uint8_t* s, size_t n, uint32_t* const first) {
  if (kind == HfPreTokenizer::kDeepseekV3) return split_deepseek_v3_into(s, n, first);
  const NextPieceFn next_piece = hf_next_piece_fn(kind);
  uint32_t* out = first;
  if (next_piece == nullptr) {  // kWhole: the text is one piece
    if (n) *out++ = static_cast<uint32_t>(n);
  } else {
    for (size_t pos = 0; pos < n;) {
      pos = next_piece(s, n, pos);
      *out++ = static_cast<uint32_t>(pos);
    }
  }
  return static_cast<size_t>(out - first);
}

}  // namespace

void split_hf_pieces(HfPreTokenizer kind, const uint8_t* s, size_t n, std::vector<uint32_t>* ends) {
  const size_t base = ends->size();
  ends->resize(base + n);
  ends->resize(base + split_hf_pieces_into(kind, s, n, ends->data() + base));
}

void split_deepseek_v3(const uint8_t* s, size_t n, std::vector<uint32_t>* ends) {
  split_hf_pieces(HfPreTokenizer::kDeepseekV3, s, n, ends);
}

// ---------------------------------------------------------------------------------------------
// The encoder

namespace {

// Per-thread cache of piece -> (ids, ends) for pieces that BPE splits into several tokens, HF's
// word cache in small: in running text the same multi-token words recur within and across
// documents, and a hit replaces the whole merge (tens of dependent pair-table probes) with one
// index probe and a byte compare. Bounded: a direct-mapped index over a ring arena holding each
// piece's bytes, ids and token ends; an entry is live while the arena has not wrapped past it. A
// hit needs the same vocabulary (instance id, never reused) and identical bytes, so the output is
// exactly what merging gives.
struct PieceCache {
  static constexpr size_t kIndexBits = 12;                // 4096 entries
  static constexpr size_t kArenaBytes = size_t{1} << 17;  // 128 KiB of bytes + ids + ends
  static constexpr size_t kMinLen = 3, kMaxLen = 128;     // ends fit in one byte
  struct Entry {
    uint64_t hash;
    uint64_t pos;    // arena write position of the entry's data (absolute, never wraps)
    uint64_t owner;  // HfBpeEncoder::Impl::instance_id; 0 = empty
    uint32_t len, n_ids;
  };
  Entry index[size_t{1} << kIndexBits] = {};
  alignas(64) uint8_t arena[kArenaBytes];
  uint64_t head = 0;  // bytes ever written

  static size_t pad4(size_t x) { return (x + 3) & ~size_t{3}; }
  static size_t data_size(size_t len, size_t n_ids) { return pad4(pad4(len) + 5 * n_ids); }

  // Writes the cached ids (and ends, when ends is not null) of piece p and returns how many; 0
  // on a miss. hash = hash_prefixed(p, len): for len <= 8 it is a bijection of the packed bytes
  // (prefix + len times an odd constant), so equal hashes and lengths are equal bytes.
  size_t lookup(uint64_t owner, const uint8_t* p, size_t len, uint64_t hash, uint32_t* ids, uint32_t* ends) const {
    const Entry& e = index[static_cast<size_t>(hash >> (64 - kIndexBits))];
    if (e.hash != hash || e.owner != owner || e.len != len) return 0;
    if (head - e.pos > kArenaBytes - data_size(len, e.n_ids)) return 0;  // overwritten
    const uint8_t* d = arena + (e.pos & (kArenaBytes - 1));
    if (len > 8 && std::memcmp(d, p, len) != 0) return 0;
    std::memcpy(ids, d + pad4(len), 4 * size_t{e.n_ids});
    if (ends) {
      const uint8_t* end8 = d + pad4(len) + 4 * size_t{e.n_ids};
      for (uint32_t k = 0; k < e.n_ids; ++k) ends[k] = end8[k];
    }
    return e.n_ids;
  }
  void insert(uint64_t owner, const uint8_t* p, size_t len, uint64_t hash, const uint32_t* ids,
              const uint32_t* ends, size_t n_ids) {
    const size_t size = data_size(len, n_ids);
    size_t at = static_cast<size_t>(head & (kArenaBytes - 1));
    if (at + size > kArenaBytes) {  // keep each entry contiguous: skip to the arena start
      head += kArenaBytes - at;
      at = 0;
    }
    uint8_t* d = arena + at;
    std::memcpy(d, p, len);
    std::memcpy(d + pad4(len), ids, 4 * n_ids);
    uint8_t* end8 = d + pad4(len) + 4 * n_ids;
    for (size_t k = 0; k < n_ids; ++k) end8[k] = static_cast<uint8_t>(ends[k]);
    index[static_cast<size_t>(hash >> (64 - kIndexBits))] =
        Entry{hash, head, owner, static_cast<uint32_t>(len), static_cast<uint32_t>(n_ids)};
    head += size;
  }
};

// Words up to this length merge with a vectorised O(n^2) scan over stack arrays; longer ones use
// the heap + linked list, O(n log n). Positions are packed in 8 bits of a scan key.
constexpr size_t kShortWord = 255;

}  // namespace

struct HfBpeEncoder::Impl {
  uint32_t byte_id[256];
  PairTable pairs;
  std::vector<uint32_t> merge_result;  // merge index -> result id
  // Merge index of the two-byte pair (b0 << 8 | b1), kNoRank if none: every word's first round
  // of lookups without hashing, from a 256 KiB table that stays in L2.
  std::vector<uint32_t> byte_pair_rank;
  // Raw bytes -> id of the tokens a whole piece may be emitted as directly: those BPE of their
  // own bytes reproduces (checked once at load), or every token under ignore_merges.
  TokenTable whole;
  bool ignore_merges = false;

  // Three-byte UTF-8 characters pre-merged, keyed by merge index (see char3.h; the argument is
  // bpe.cpp's, with merge indices for ranks).
  char3::Table char3;
  // raw: (token bytes, id) of the vocabulary; min_merge: by id, the lowest merge index whose
  // result is that token (kNoRank if none). May throw std::bad_alloc.
  void build_char3(const std::vector<std::pair<std::string, uint32_t>>& raw, const std::vector<uint32_t>& min_merge);
  size_t vocab_size = 0;
  size_t num_merges = 0;
  uint64_t instance_id = 0;  // tells encoders apart in the per-thread piece cache
  std::vector<HfAddedToken> added;   // deduplicated; indices used by the matchers
  AddedMatcher raw_matcher;
  AddedMatcher norm_matcher;
  HfPreTokenizer pre_tokenizer = HfPreTokenizer::kWhole;
  bool add_prefix_space = false;
  HfNormalizer normalizer = HfNormalizer::kNone;
  U64Map norm_simple;  // code point -> index in norm_images
  std::vector<std::string> norm_images;
  // Bit per BMP code point: in norm_simple (most characters of non-normal text, e.g. Japanese
  // next to full-width punctuation, are not, and a bit test is cheaper than the map probe).
  std::vector<uint64_t> norm_simple_bmp;

  // Scratch per thread (one per thread_local owner, reached once per call, not per piece).
  struct Scratch {
    std::vector<uint32_t> ids, next, prev;
    std::vector<uint64_t> heap;
    std::vector<uint32_t> piece_ends, token_ends, normalized_map;
    std::string prefixed, normalized;
    std::unique_ptr<PieceCache> cache;  // allocated on first use
  };

  // BPE of bytes p[0, n) (n >= 1): writes the ids to ids[] and their piece-relative end offsets
  // to ends[] (may be null), room for n each, and returns how many. use_whole: the whole-word
  // shortcut and the piece cache (off while Create checks tokens). May throw std::bad_alloc
  // (pieces longer than kShortWord).
  // known_hash: hash_prefixed of the piece when the caller has it (see prefetch_piece).
  size_t bpe(const uint8_t* p, size_t n, bool use_whole, Scratch& sc, uint32_t* ids, uint32_t* ends,
             const uint64_t* known_hash = nullptr) const;
  size_t bpe_long(const uint8_t* p, size_t n, Scratch& sc, uint32_t* ids, uint32_t* ends) const;
  // Starts loading the whole-piece table slot that bpe(p, n, true, ...) probes first: a cache
  // miss on a table of several MiB, and the pre-tokenizer knows pieces well ahead of their
  // encoding, so the miss overlaps the pieces before. Returns the piece's hash for bpe's
  // known_hash (meaningless for n < 3, where bpe needs none).
  uint64_t prefetch_piece(const uint8_t* p, size_t n) const;
};

namespace {

// target_clones needs ifunc support: glibc on ELF (not musl, not macOS/Windows).
#if defined(__x86_64__) && defined(__ELF__) && defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && \
    (defined(__GNUC__) || defined(__clang__))
#define FASTPREP_HF_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define FASTPREP_HF_MULTIVERSION
#endif

constexpr uint32_t kNoPairKey = uint32_t{1} << 29;  // scan keys at or above: no pair
constexpr uint32_t kLanes = 8;  // key array padded to a multiple of this with ~0

// Builds the starting parts of a piece with three-byte characters pre-merged (see
// HfBpeEncoder::Impl::char3): part ids, the byte offset where each starts, and the pair
// keys. Returns the part count, or 0 when the piece is not whole UTF-8 units (then the byte path
// applies).
inline uint32_t premerged_parts(const HfBpeEncoder::Impl& im, const uint8_t* p, uint32_t n, uint32_t* part,
                                uint8_t* start, uint32_t* key) {
  // tag[k]: the byte of a raw one-byte part (for the two-byte table), kTagSame for a character
  // part followed by another part of the same character (a finished character: no pair there),
  // kTagChar for other character parts.
  constexpr uint16_t kTagSame = 256, kTagChar = 257;
  uint16_t tag[kShortWord];
  uint32_t m = 0;
  for (uint32_t i = 0; i < n;) {
    const uint8_t b = p[i];
    if ((b & 0xF0) == 0xE0) {
      if (n - i < 3 || (((p[i + 1] & 0xC0) ^ 0x80) | ((p[i + 2] & 0xC0) ^ 0x80))) return 0;
      const char3::Entry& entry = im.char3.entry(p + i);
      const uint64_t e = entry.parts;
      if (char3::part(e, 0) != char3::kIdMask && (entry.guard == 0 || im.char3.safe(entry.guard, p, i, n))) {
        const uint32_t id1 = char3::part(e, 1);
        part[m] = char3::part(e, 0);
        start[m] = static_cast<uint8_t>(i);
        if (id1 == char3::kIdMask) {
          tag[m++] = kTagChar;
        } else {
          tag[m++] = kTagSame;
          const uint32_t id2 = char3::part(e, 2);
          part[m] = id1;
          start[m] = static_cast<uint8_t>(i + (char3::first_two(e) ? 2 : 1));
          tag[m++] = id2 != char3::kIdMask ? kTagSame : kTagChar;
          if (id2 != char3::kIdMask) {
            part[m] = id2;
            start[m] = static_cast<uint8_t>(i + 2);
            tag[m++] = kTagChar;
          }
        }
        i += 3;
        continue;
      }
    }
    if (b < 0x80) {
      part[m] = im.byte_id[b];
      start[m] = static_cast<uint8_t>(i);
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
      part[m] = im.byte_id[p[i]];
      start[m] = static_cast<uint8_t>(i);
      tag[m++] = p[i];
    }
  }
  const uint32_t* bpr = im.byte_pair_rank.data();
  for (uint32_t k = 0; k + 1 < m; ++k) {
    uint32_t r;
    if ((tag[k] | tag[k + 1]) < 256) {
      r = bpr[(uint32_t{tag[k]} << 8) | tag[k + 1]];
    } else if (tag[k] == kTagSame) {
      r = kNoRank;
    } else {
      r = im.pairs.rank(part[k], part[k + 1]);
    }
    key[k] = (r << 8) | k;
  }
  return m;
}

// Short words (2 <= n <= kShortWord): one key per pair position, (merge index << 8 | position),
// so the smallest key is the lowest merge index and, on ties, the leftmost pair: the min loop
// vectorises (AVX2 where the CPU has it, chosen once at load) and needs no index search or
// shifting. Parts form a linked list by index; start[] keeps the byte offset each part begins
// at (parts index bytes, or pre-merged characters in CJK text). Writes ids and (unless out_ends
// is null) ends; returns how many.
FASTPREP_HF_MULTIVERSION
size_t merge_short(const HfBpeEncoder::Impl& im, const uint8_t* p, size_t len, uint32_t* out_ids,
                   uint32_t* out_ends) {
  uint32_t key[kShortWord + kLanes];
  uint32_t part[kShortWord + 1];  // part[n]: a harmless id for the lookup past the end
  uint8_t start[kShortWord];
  uint16_t next[kShortWord], prev[kShortWord];
  const uint32_t* result = im.merge_result.data();
  uint32_t n = 0;
  if (im.char3.ready()) {
    bool lead3 = false;
    for (size_t i = 0; i < len; ++i) lead3 |= (p[i] & 0xF0) == 0xE0;
    if (lead3) n = premerged_parts(im, p, static_cast<uint32_t>(len), part, start, key);
  }
  if (n == 0) {  // byte path: one part per byte
    const uint32_t* bpr = im.byte_pair_rank.data();
    n = static_cast<uint32_t>(len);
    for (uint32_t i = 0; i < n; ++i) {
      part[i] = im.byte_id[p[i]];
      start[i] = static_cast<uint8_t>(i);
    }
    for (uint32_t i = 0; i + 1 < n; ++i) key[i] = (bpr[(uint32_t{p[i]} << 8) | p[i + 1]] << 8) | i;
  }
  const uint32_t padded = (n + kLanes - 1) & ~(kLanes - 1);
  for (uint32_t i = 0; i < n; ++i) {
    next[i] = static_cast<uint16_t>(i + 1);
    prev[i] = static_cast<uint16_t>(i - 1);
  }
  part[n] = 0;
  prev[0] = 0;
  // made[i]: the id pair i merges into, loaded when its key is set rather than when the pair is
  // chosen: the merge index -> id table is large, and that load would otherwise sit on the chain
  // from one merge to the next. Pairs that do not merge read entry 0 (their made[] is unused).
  uint32_t made[kShortWord];
  const uint32_t last = static_cast<uint32_t>(im.merge_result.size()) - 1;  // never empty (Create)
  auto made_of = [&](uint32_t rank) { return result[std::min(rank, last)]; };
  for (uint32_t i = 0; i + 1 < n; ++i) made[i] = made_of(key[i] >> 8);
  for (uint32_t i = n - 1; i < padded; ++i) key[i] = ~uint32_t{0};
  for (;;) {
    uint32_t best = ~uint32_t{0};
    for (uint32_t i = 0; i < padded; ++i) best = std::min(best, key[i]);
    if (best >= kNoPairKey) break;
    const uint32_t x = best & 0xFF;
    const uint32_t j = next[x];  // part x absorbs part j
    const uint32_t after = next[j];
    const uint32_t merged = made[x];
    part[x] = merged;
    key[j] = ~uint32_t{0};
    next[x] = static_cast<uint16_t>(after);
    // Both neighbours' lookups at once, branch-free; the one past either end is discarded.
    const uint32_t k = prev[x];  // 0 when x == 0
    uint32_t right_rank, left_rank;
    im.pairs.rank2(merged, part[after], part[k], merged, &right_rank, &left_rank);
    if (after < n) prev[after] = static_cast<uint16_t>(x);
    key[x] = after < n ? (right_rank << 8) | x : ~uint32_t{0};
    made[x] = made_of(right_rank);
    if (x > 0) {
      key[k] = (left_rank << 8) | k;
      made[k] = made_of(left_rank);
    }
  }
  size_t m = 0;
  if (out_ends) {
    for (uint32_t i = 0; i < n; i = next[i]) {
      out_ids[m] = part[i];
      out_ends[m++] = next[i] < n ? start[next[i]] : static_cast<uint32_t>(len);
    }
  } else {
    for (uint32_t i = 0; i < n; i = next[i]) out_ids[m++] = part[i];
  }
  return m;
}

}  // namespace

size_t HfBpeEncoder::Impl::bpe(const uint8_t* p, size_t n, bool use_whole, Scratch& sc, uint32_t* ids,
                               uint32_t* ends, const uint64_t* known_hash) const {
  if (n == 1) {
    ids[0] = byte_id[p[0]];
    if (ends) ends[0] = 1;
    return 1;
  }
  if (n == 2 && !ignore_merges) {  // the whole-word shortcut agrees with BPE here by construction
    const uint32_t r = byte_pair_rank[(uint32_t{p[0]} << 8) | p[1]];
    if (r != kNoRank) {
      ids[0] = merge_result[r];
      if (ends) ends[0] = 2;
      return 1;
    }
    ids[0] = byte_id[p[0]];
    ids[1] = byte_id[p[1]];
    if (ends) {
      ends[0] = 1;
      ends[1] = 2;
    }
    return 2;
  }
  uint64_t hash = 0;
  if (use_whole) {
    if (!sc.cache) sc.cache.reset(new PieceCache());
    const uint64_t prefix = load_prefix(p, n);
    hash = known_hash ? *known_hash : hash_prefixed(p, n, prefix);
    const uint32_t id = whole.find(p, n, prefix, hash);
    if (id != kNoId) {
      ids[0] = id;
      if (ends) ends[0] = static_cast<uint32_t>(n);
      return 1;
    }
  }
  if (n > kShortWord) return bpe_long(p, n, sc, ids, ends);
  const bool cacheable = use_whole && n >= PieceCache::kMinLen && n <= PieceCache::kMaxLen;
  if (!cacheable) return merge_short(*this, p, n, ids, ends);
  const size_t hit = sc.cache->lookup(instance_id, p, n, hash, ids, ends);
  if (hit) return hit;
  uint32_t out_ends[kShortWord];
  const size_t m = merge_short(*this, p, n, ids, out_ends);
  if (ends) std::memcpy(ends, out_ends, 4 * m);
  sc.cache->insert(instance_id, p, n, hash, ids, out_ends, m);
  return m;
}

uint64_t HfBpeEncoder::Impl::prefetch_piece(const uint8_t* p, size_t n) const {
  if (n < 3) return 0;  // answered without the table
  const uint64_t hash = hash_prefixed(p, n, load_prefix(p, n));
  if (n <= whole.max_length()) whole.prefetch_slot(hash);
  return hash;
}

// Long words: a min-heap of (merge index, position) over a linked list of symbols.
size_t HfBpeEncoder::Impl::bpe_long(const uint8_t* p, size_t n, Scratch& sc, uint32_t* ids, uint32_t* ends) const {
  constexpr uint32_t kEnd = std::numeric_limits<uint32_t>::max();
  auto& id = sc.ids;
  auto& next = sc.next;
  auto& prev = sc.prev;
  auto& heap = sc.heap;
  id.resize(n);
  next.resize(n);
  prev.resize(n);
  heap.clear();
  for (size_t i = 0; i < n; ++i) {
    id[i] = byte_id[p[i]];
    next[i] = i + 1 < n ? static_cast<uint32_t>(i + 1) : kEnd;
    prev[i] = i > 0 ? static_cast<uint32_t>(i - 1) : kEnd;
  }
  for (size_t i = 0; i + 1 < n; ++i) {
    const uint32_t r = byte_pair_rank[(uint32_t{p[i]} << 8) | p[i + 1]];
    if (r != kNoRank) heap.push_back((static_cast<uint64_t>(r) << 32) | i);
  }
  auto cmp = std::greater<uint64_t>();
  std::make_heap(heap.begin(), heap.end(), cmp);
  // A merged-away symbol has id kNoId.
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), cmp);
    const uint64_t top = heap.back();
    heap.pop_back();
    const uint32_t r = static_cast<uint32_t>(top >> 32);
    const uint32_t pos = static_cast<uint32_t>(top);
    if (id[pos] == kNoId) continue;
    const uint32_t right = next[pos];
    if (right == kEnd) continue;
    if (pairs.rank(id[pos], id[right]) != r) continue;  // stale entry
    const uint32_t new_id = merge_result[r];
    id[pos] = new_id;
    id[right] = kNoId;
    const uint32_t after = next[right];
    next[pos] = after;
    if (after != kEnd) prev[after] = pos;
    const uint32_t before = prev[pos];
    if (before != kEnd) {
      const uint32_t r2 = pairs.rank(id[before], new_id);
      if (r2 != kNoRank) {
        heap.push_back((static_cast<uint64_t>(r2) << 32) | before);
        std::push_heap(heap.begin(), heap.end(), cmp);
      }
    }
    if (after != kEnd) {
      const uint32_t r2 = pairs.rank(new_id, id[after]);
      if (r2 != kNoRank) {
        heap.push_back((static_cast<uint64_t>(r2) << 32) | pos);
        std::push_heap(heap.begin(), heap.end(), cmp);
      }
    }
  }
  size_t m = 0;
  for (uint32_t i = 0; i != kEnd; i = next[i]) {
    ids[m] = id[i];
    if (ends) ends[m] = next[i] == kEnd ? static_cast<uint32_t>(n) : next[i];
    ++m;
  }
  return m;
}

void HfBpeEncoder::Impl::build_char3(const std::vector<std::pair<std::string, uint32_t>>& raw,
                                     const std::vector<uint32_t>& min_merge) {
  char3.build(
      [&](auto add) {  // every token a merge makes, keyed by the lowest merge index making it
        for (const auto& [bytes, id] : raw) {
          const uint32_t r = id < min_merge.size() ? min_merge[id] : kNoRank;
          if (r == kNoRank || bytes.size() < 2) continue;
          add(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<uint32_t>(bytes.size()), r);
        }
      },
      [&](const uint8_t* ch) {
        // HF's merge of the character alone: the byte pair with the lower merge index, then the
        // merge (if listed) of the merged part with the remaining byte.
        char3::Alone a;
        a.ids[0] = byte_id[ch[0]], a.ids[1] = byte_id[ch[1]], a.ids[2] = byte_id[ch[2]];
        const uint32_t r01 = byte_pair_rank[(uint32_t{ch[0]} << 8) | ch[1]];
        const uint32_t r12 = byte_pair_rank[(uint32_t{ch[1]} << 8) | ch[2]];
        a.p0 = std::min(r01, r12);
        if (a.p0 == kNoRank) return a;
        a.left_pair = r01 < r12;
        if (a.left_pair) {
          a.ids[0] = merge_result[r01], a.ids[1] = a.ids[2];
        } else {
          a.ids[1] = merge_result[r12];
        }
        a.n_ids = 2;
        const uint32_t r2 = pairs.rank(a.ids[0], a.ids[1]);
        if (r2 != kNoRank) a.r2 = r2, a.ids[0] = merge_result[r2], a.n_ids = 1;
        return a;
      });
}

HfBpeEncoder::HfBpeEncoder() : impl_(new Impl) {}
HfBpeEncoder::~HfBpeEncoder() = default;

size_t HfBpeEncoder::vocab_size() const { return impl_->vocab_size; }
size_t HfBpeEncoder::num_merges() const { return impl_->num_merges; }

Status HfBpeEncoder::Create(const HfBpeConfig& config, std::unique_ptr<HfBpeEncoder>* out) {
  std::unique_ptr<HfBpeEncoder> enc(new HfBpeEncoder());
  Impl& im = *enc->impl_;
  im.ignore_merges = config.ignore_merges;
  im.pre_tokenizer = config.pre_tokenizer;
  im.add_prefix_space = config.add_prefix_space;
  im.normalizer = config.normalizer;
  if (config.add_prefix_space && config.pre_tokenizer != HfPreTokenizer::kWhole &&
      config.pre_tokenizer != HfPreTokenizer::kGpt2) {
    return Status(ErrorCode::kUnsupported, "HfBpeEncoder: add_prefix_space with Split pre-tokenizers");
  }

  std::unordered_map<std::string, uint32_t> by_string;
  by_string.reserve(config.vocab.size() * 2);
  uint32_t max_id = 0;
  for (const auto& [token, id] : config.vocab) {
    if (id == kNoId) return Status(ErrorCode::kInvalidArgument, "HfBpeEncoder: vocabulary id too large");
    by_string[token] = id;
    max_id = std::max(max_id, id);
  }
  im.vocab_size = by_string.size();
  std::vector<std::pair<std::string, uint32_t>> raw;
  raw.reserve(config.vocab.size());
  std::string bytes;
  for (const auto& [token, id] : config.vocab) {
    if (byte_level_decode(token, &bytes)) raw.emplace_back(bytes, id);
  }
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    const uint32_t cp = byte_level_char(static_cast<uint8_t>(b));
    if (cp < 0x80) {
      ch.push_back(static_cast<char>(cp));
    } else {
      ch.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      ch.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    const auto it = by_string.find(ch);
    if (it == by_string.end()) {
      return Status(ErrorCode::kUnsupported,
                    "HfBpeEncoder: the vocabulary lacks the ByteLevel symbol of byte " + std::to_string(b));
    }
    im.byte_id[b] = it->second;
  }

  // Later duplicates of a pair win, as in HF's merge map.
  std::unordered_map<uint64_t, uint32_t> pair_rank;
  pair_rank.reserve(config.merges.size() * 2);
  if (max_id > PairTable::kMaxValue || config.merges.size() > PairTable::kMaxValue) {
    return Status(ErrorCode::kUnsupported, "HfBpeEncoder: vocabulary ids or merges beyond 2^21");
  }
  // One entry at least: merge_short reads entry min(index, size - 1) for pairs that do not merge.
  im.merge_result.assign(std::max<size_t>(config.merges.size(), 1), 0);
  for (size_t rank = 0; rank < config.merges.size(); ++rank) {
    const auto& [a, b] = config.merges[rank];
    const auto ia = by_string.find(a);
    const auto ib = by_string.find(b);
    const auto in = by_string.find(a + b);
    if (ia == by_string.end() || ib == by_string.end() || in == by_string.end()) {
      return Status(ErrorCode::kInvalidArgument, "HfBpeEncoder: merge " + std::to_string(rank + 1) + " ('" + a +
                                                     "', '" + b + "') uses a token that is not in the vocabulary");
    }
    pair_rank[(static_cast<uint64_t>(ia->second) << 32) | ib->second] = static_cast<uint32_t>(rank);
    im.merge_result[rank] = in->second;
  }
  {
    std::vector<std::array<uint32_t, 3>> entries;
    entries.reserve(pair_rank.size());
    for (const auto& [k, rank] : pair_rank) {
      entries.push_back({static_cast<uint32_t>(k >> 32), static_cast<uint32_t>(k), rank});
    }
    im.pairs.build(entries);
  }
  im.byte_pair_rank.resize(size_t{1} << 16);
  for (uint32_t b0 = 0; b0 < 256; ++b0) {
    for (uint32_t b1 = 0; b1 < 256; ++b1) {
      im.byte_pair_rank[(b0 << 8) | b1] = im.pairs.rank(im.byte_id[b0], im.byte_id[b1]);
    }
  }
  static std::atomic<uint64_t> next_instance{1};
  im.instance_id = next_instance.fetch_add(1, std::memory_order_relaxed);
  im.num_merges = config.merges.size();

  {  // Pre-merged three-byte characters: the lowest live merge index making each token.
    std::vector<uint32_t> min_merge(static_cast<size_t>(max_id) + 1, kNoRank);
    for (const auto& [k, rank] : pair_rank) {
      uint32_t& m = min_merge[im.merge_result[rank]];
      m = std::min(m, rank);
    }
    im.build_char3(raw, min_merge);
  }

  // The whole-piece table: every token under ignore_merges, else the tokens BPE reproduces from
  // their own bytes (then a whole-piece hit is exactly what merging gives).
  im.whole.build(raw);
  if (!im.ignore_merges) {
    std::vector<std::pair<std::string, uint32_t>> reproduced;
    reproduced.reserve(raw.size());
    Impl::Scratch sc;
    std::vector<uint32_t> ids;
    for (auto& entry : raw) {
      const auto* tb = reinterpret_cast<const uint8_t*>(entry.first.data());
      const size_t len = entry.first.size();
      uint64_t hash;
      if (len == 0 || im.whole.find(tb, len, &hash) != entry.second) continue;  // a later duplicate won
      ids.resize(len);
      if (im.bpe(tb, len, false, sc, ids.data(), nullptr) == 1 && ids[0] == entry.second) {
        reproduced.push_back(std::move(entry));
      }
    }
    im.whole.build(reproduced);
  }

  for (const auto& tok : config.added) {
    if (tok.content.empty()) continue;
    const uint32_t index = static_cast<uint32_t>(im.added.size());
    im.added.push_back(tok);
    (tok.normalized ? im.norm_matcher : im.raw_matcher).add(tok.content, index);
  }
  im.raw_matcher.finish();
  if (!config.norm_simple.empty()) {
    im.norm_simple.reserve(config.norm_simple.size());
    im.norm_simple_bmp.assign(1024, 0);
    for (const auto& [cp, image] : config.norm_simple) {
      im.norm_simple.put(cp, im.norm_images.size());
      im.norm_images.push_back(image);
      if (cp < 0x10000) im.norm_simple_bmp[cp >> 6] |= uint64_t{1} << (cp & 63);
    }
  }
  im.norm_matcher.finish();
  *out = std::move(enc);
  return Status::Ok();
}

void HfBpeEncoder::EncodeWord(const uint8_t* bytes, size_t n, std::vector<uint32_t>* ids) const {
  if (n == 0) return;
  thread_local Impl::Scratch sc;
  const size_t at = ids->size();
  ids->resize(at + n);
  ids->resize(at + impl_->bpe(bytes, n, true, sc, ids->data() + at, nullptr));
}

namespace {

// Character index of byte offsets. Tokens come in text order, so the cursor nearly always moves
// forward by a few bytes (a token's first byte, then its last, then the next token's first); it
// also steps back, exactly, should a caller ever ask for an earlier offset.
struct CharCursor {
  const uint8_t* s;
  size_t byte = 0;
  size_t chars = 0;  // lead bytes in [0, byte)
  static bool lead(uint8_t b) { return (b & 0xC0) != 0x80; }
  // Number of characters that start before byte b.
  size_t before(size_t b) {
    for (; byte + 8 <= b; byte += 8) {  // 8 bytes at a time: count the continuation bytes
      const uint64_t v = byte_tables::load_le64(s + byte);  // any byte order counts the same
      const uint64_t cont = (v & ~(v << 1) & 0x8080808080808080ULL) >> 7;
      chars += 8 - static_cast<size_t>((cont * 0x0101010101010101ULL) >> 56);
    }
    for (; byte < b; ++byte) chars += lead(s[byte]);
    for (; byte > b; --byte) chars -= lead(s[byte - 1]);
    return chars;
  }
};

struct Emitter {
  HfEncodeOutput* out;
  bool with_offsets;
  bool with_words;
  CharCursor chars;
  uint32_t word = 0;
  // A token covering original bytes [first, last] (inclusive): from the character holding its
  // first byte to the end of the character holding its last.
  inline void offsets(size_t first, size_t last) {
    const uint32_t start = static_cast<uint32_t>(chars.before(first + 1) - 1);
    const uint32_t end = static_cast<uint32_t>(chars.before(last + 1));
    out->offsets.push_back(start);
    out->offsets.push_back(end);
  }
};

// HF's AddedVocabulary::find_matches over [a, b): calls gap(x, y) and token(index, x, y) in order.
template <class Gap, class Token>
void split_added(const AddedMatcher& matcher, const std::vector<HfAddedToken>& tokens, const uint8_t* s, size_t a,
                 size_t b, Gap&& gap, Token&& token) {
  if (matcher.empty()) {
    if (a < b) gap(a, b);
    return;
  }
  size_t start_offset = a;
  size_t pos = a;
  while (pos < b) {
    uint32_t index;
    size_t end;
    if (!matcher.match_at(s, b, pos, &index, &end)) {
      pos = matcher.next_candidate(s, b, pos + 1);
      continue;
    }
    const HfAddedToken& tok = tokens[index];
    size_t start = pos, stop = end;
    if (tok.lstrip) {
      size_t ns = start;
      while (ns > a) {
        size_t k = ns - 1;
        while (k > a && (s[k] & 0xC0) == 0x80) --k;
        size_t len;
        if (!is_white_space(decode_utf8(s + k, &len))) break;
        ns = k;
      }
      start = std::max(ns, start_offset);
    }
    if (tok.rstrip) {
      while (stop < b) {
        size_t len;
        if (!is_white_space(decode_utf8(s + stop, &len))) break;
        stop += len;
      }
    }
    if (start_offset < start) gap(start_offset, start);
    token(index, start, stop);
    start_offset = stop;
    pos = end;
  }
  if (start_offset < b) gap(start_offset, b);
}

}  // namespace

Status HfBpeEncoder::Encode(std::string_view utf8, bool with_offsets, bool with_words, HfEncodeOutput* out) const {
  out->clear();
  const Impl& im = *impl_;
  const auto* s = reinterpret_cast<const uint8_t*>(utf8.data());
  const size_t n = utf8.size();
  // One thread-local access per call: the lambdas below use the reference (a thread_local named
  // in them would be looked up again, through __tls_get_addr, at every use).
  thread_local Impl::Scratch tls_scratch;
  Impl::Scratch& sc = tls_scratch;
  Emitter em{out, with_offsets, with_words, CharCursor{s}};
  std::vector<uint32_t>& token_ends = sc.token_ends;
  // Ids go through a cursor into out->ids, which is grown ahead (doubling) and trimmed at the
  // end: one room check per piece instead of a capacity check per token.
  std::vector<uint32_t>& ids = out->ids;
  // Ids only: the pre-tokenizer loops below then take one room check per text, not per piece,
  // and ask for room for one id per byte up front.
  const bool plain = !with_offsets && !with_words;
  ids.resize(plain ? n + 16 : n / 3 + 16);
  size_t n_ids = 0;
  auto room = [&](size_t k) {
    if (ids.size() - n_ids < k) ids.resize(std::max(2 * ids.size(), n_ids + k));
  };

  // Byte i of a (possibly normalized) buffer comes from original byte src(i): the start of the
  // original character it was produced from (HF aligns every output character that way).
  struct Src {
    const uint32_t* map;
    size_t base;
    size_t operator()(size_t i) const { return map ? map[i] : base + i; }
  };

  auto emit_added = [&](uint32_t index, size_t x, size_t y, const Src& src) {
    room(1);
    ids[n_ids++] = im.added[index].id;
    if (with_offsets) em.offsets(src(x), src(y - 1));
    if (with_words) out->words.push_back(em.word);
    ++em.word;
  };

  // One pre-token: buf[0, len) of raw bytes; orig(i) maps a byte of buf to the original byte.
  auto emit_piece = [&](const uint8_t* buf, size_t len, auto&& orig) {
    room(len);  // at most one id per byte
    if (with_offsets && token_ends.size() < len) token_ends.resize(len);
    const size_t m = im.bpe(buf, len, true, sc, ids.data() + n_ids, with_offsets ? token_ends.data() : nullptr);
    n_ids += m;
    if (with_offsets) {
      uint32_t prev = 0;
      for (size_t k = 0; k < m; ++k) {
        const uint32_t e = token_ends[k];
        em.offsets(orig(prev), orig(e - 1));
        prev = e;
      }
    }
    if (with_words) out->words.insert(out->words.end(), m, em.word);
    ++em.word;
  };

  // Pre-tokenizes text[a, b) of a buffer whose bytes map to the original through src.
  auto pre_tokenize = [&](const uint8_t* text, size_t a, size_t b, const Src& src) {
    const uint8_t* base = text + a;
    size_t len = b - a;
    if (im.add_prefix_space && base[0] != ' ') {
      sc.prefixed.assign(1, ' ');
      sc.prefixed.append(reinterpret_cast<const char*>(base), len);
      const auto* buf = reinterpret_cast<const uint8_t*>(sc.prefixed.data());
      ++len;
      // The added space is aligned with the first character, as HF's prepend does.
      auto orig = [a, &src](size_t i) { return i == 0 ? src(a) : src(a + i - 1); };
      if (im.pre_tokenizer == HfPreTokenizer::kGpt2) {
        for (size_t pos = 0; pos < len;) {
          const size_t e = next_piece_gpt2(buf, len, pos);
          emit_piece(buf + pos, e - pos, [&](size_t i) { return orig(pos + i); });
          pos = e;
        }
      } else {
        emit_piece(buf, len, orig);
      }
      return;
    }
    if (im.pre_tokenizer == HfPreTokenizer::kWhole) {
      emit_piece(base, len, [a, &src](size_t i) { return src(a + i); });
      return;
    }
    // The pieces first, so that each piece's table probe can start kAhead pieces early.
    constexpr size_t kAhead = 4;
    auto& ends = sc.piece_ends;  // only grows: no zero-fill per text
    if (ends.size() < len) ends.resize(len);
    const uint32_t* e = ends.data();
    const size_t pieces = split_hf_pieces_into(im.pre_tokenizer, base, len, ends.data());
    uint64_t hashes[kAhead];  // of the pieces prefetched and not yet encoded
    for (size_t k = 0; k < pieces && k < kAhead; ++k) {
      const size_t from = k ? e[k - 1] : 0;
      hashes[k] = im.prefetch_piece(base + from, e[k] - from);
    }
    size_t pos = 0;
    if (plain) {
      room(len);  // at most one id per byte
      for (size_t k = 0; k < pieces; ++k) {
        const uint64_t hash = hashes[k % kAhead];
        if (k + kAhead < pieces) {
          hashes[k % kAhead] = im.prefetch_piece(base + e[k + kAhead - 1], e[k + kAhead] - e[k + kAhead - 1]);
        }
        n_ids += im.bpe(base + pos, e[k] - pos, true, sc, ids.data() + n_ids, nullptr, &hash);
        pos = e[k];
      }
      return;
    }
    for (size_t k = 0; k < pieces; ++k) {
      if (k + kAhead < pieces) im.prefetch_piece(base + e[k + kAhead - 1], e[k + kAhead] - e[k + kAhead - 1]);
      const size_t at = a + pos;
      emit_piece(base + pos, e[k] - pos, [at, &src](size_t i) { return src(at + i); });
      pos = e[k];
    }
  };

  // Normalized added tokens, then the pre-tokenizer, over text[a, b).
  auto after_normalizer = [&](const uint8_t* text, size_t a, size_t b, const Src& src) {
    split_added(
        im.norm_matcher, im.added, text, a, b, [&](size_t x, size_t y) { pre_tokenize(text, x, y, src); },
        [&](uint32_t index, size_t x, size_t y) { emit_added(index, x, y, src); });
  };

  bool needs_normalizer = false;
  const Src identity{nullptr, 0};
  auto segment = [&](size_t a, size_t b) {
    if (needs_normalizer) return;
    if (im.normalizer == HfNormalizer::kNone) {
      after_normalizer(s, a, b, identity);
      return;
    }
    const NormalizationForm form = im.normalizer == HfNormalizer::kNFC ? NormalizationForm::kNFC
                                                                       : NormalizationForm::kNFKC;
    const std::string_view seg(utf8.data() + a, b - a);
    const size_t normal_prefix = QuickCheckPrefix(seg, form);
    if (normal_prefix == seg.size()) {
      after_normalizer(s, a, b, identity);
      return;
    }
    // Not normal: native only when every change is a replacement of one character that is a
    // hard normalization boundary on both sides (e.g. U+00A0 -> ' ', U+2026 -> '...') and the
    // runs between them are normal.
    if (im.norm_simple.empty()) {
      needs_normalizer = true;
      return;
    }
    std::string& buf = sc.normalized;
    std::vector<uint32_t>& map = sc.normalized_map;
    buf.clear();
    map.clear();
    size_t run = a;
    // [a, checked) passed the quick check and ends at a normalization boundary (a property of
    // the character there alone), so it holds no replaced character (those all fail the check:
    // decompositions are stable across Unicode versions) and the first run needs checking only
    // from there on. The byte map serves offsets only.
    const size_t checked = a + normal_prefix;
    auto flush_run = [&](size_t end) {
      if (end == run) return true;
      const size_t from = run == a && checked <= end ? checked : run;
      if (QuickCheckPrefix(std::string_view(utf8.data() + from, end - from), form) != end - from) return false;
      buf.append(utf8.data() + run, end - run);
      if (with_offsets) {
        const size_t at = map.size();
        map.resize(at + (end - run));
        for (size_t i = 0; i < end - run; ++i) map[at + i] = static_cast<uint32_t>(run + i);
      }
      return true;
    };
    for (size_t pos = checked; pos < b;) {
      if (s[pos] < 0x80) {
        ++pos;
        continue;
      }
      size_t len;
      const uint32_t cp = decode_utf8(s + pos, &len);
      uint64_t index;
      if ((cp >= 0x10000 || ((im.norm_simple_bmp[cp >> 6] >> (cp & 63)) & 1)) && im.norm_simple.get(cp, &index)) {
        if (!flush_run(pos)) {
          needs_normalizer = true;
          return;
        }
        const std::string& image = im.norm_images[index];
        buf.append(image);
        if (with_offsets) map.insert(map.end(), image.size(), static_cast<uint32_t>(pos));
        run = pos + len;
      }
      pos += len;
    }
    if (!flush_run(b)) {
      needs_normalizer = true;
      return;
    }
    // Later splits below reuse no normalizer scratch, so buf/map stay valid throughout.
    after_normalizer(reinterpret_cast<const uint8_t*>(buf.data()), 0, buf.size(),
                     with_offsets ? Src{map.data(), 0} : identity);
  };
  split_added(im.raw_matcher, im.added, s, 0, n, segment,
              [&](uint32_t index, size_t x, size_t y) { emit_added(index, x, y, identity); });
  if (needs_normalizer) {
    out->clear();
    return Status(ErrorCode::kUnsupported, "HfBpeEncoder: the text changes under the normalizer");
  }
  ids.resize(n_ids);
  return Status::Ok();
}

}  // namespace fastprep
