// Three-byte UTF-8 characters (lead E0-EF + two continuation bytes; kana, kanji, most CJK)
// pre-merged, for both BPE engines: bpe.cpp orders merges by token rank, hf_bpe.cpp by merge
// index; here either is the merge's "key" (lower merges first). Internal to the project.
//
// A character's own merges (two bytes, then maybe the whole character) are most of the work in
// CJK text, and they may run first, each character alone, without changing the result when no
// merge that reaches across the character's edge can come before the character is finished:
// every token such a merge makes (holding a proper prefix or suffix of the character plus
// outside bytes, or all of it plus more) has a key above the merge pending inside the character
// in every state where that edge exists, and above its last merge for the finished parts. Then
// merging from the finished parts takes the same merges in the same order. Checked per
// character at load (Table::build); a character that fails keeps its raw bytes. Holds only for
// pieces made of whole UTF-8 units (the engines check that while building the parts).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "byte_tables.h"

namespace fastprep::char3 {

constexpr uint32_t kNone = 0xFFFFFFFFu;  // no merge
constexpr int kIdBits = 21;
constexpr uint64_t kIdMask = (uint64_t{1} << kIdBits) - 1;

// The character c of three bytes -> its table index.
inline size_t index(const uint8_t* c) {
  return (size_t{c[0] & 0x0Fu} << 12) | (size_t{c[1] & 0x3Fu} << 6) | (c[2] & 0x3Fu);
}

// How a character merges alone, as its engine computes it: states s0 = three bytes, s1 = two
// parts, finished.
struct Alone {
  uint32_t p0 = kNone;     // key of the first merge (the lower of the two byte pairs); kNone: none
  bool left_pair = false;  // that merge joins bytes 0 and 1 (else 1 and 2)
  uint32_t r2 = kNone;     // key of the merge that then makes one token of the two parts
  uint32_t ids[3] = {0, 0, 0};  // the finished parts
  uint32_t n_ids = 3;
};

// parts: the isolated result's ids, id0 | id1 << 21 | id2 << 42 with kIdMask for an absent
// part (kIdMask in id0 = not pre-mergeable), bit 63 set when two parts remain and the first
// holds two bytes. guard: non-zero for characters whose edges are safe only in some contexts:
// p0 | imax << 21 | selectors << 42 (2 bits per edge: left 1 byte, left 2 bytes, right 1 byte;
// 1 = the neighbour-dependent token's key must be above p0, 2 = above imax), checked against the
// neighbour-keyed minima (Table::safe). Both in one 16-byte entry: a character costs one cache
// line (the table is 1 MiB and CJK text touches it all over).
struct Entry {
  uint64_t parts;
  uint64_t guard;
};

inline uint32_t part(uint64_t parts, int k) { return static_cast<uint32_t>((parts >> (kIdBits * k)) & kIdMask); }
inline bool first_two(uint64_t parts) { return (parts >> 63) != 0; }

class Table {
 public:
  bool ready() const { return ready_; }
  const Entry& entry(const uint8_t* c) const { return entries_[index(c)]; }

  // The character at p[i, i + 3) of a piece p[0, n), whose entry has this guard, may be
  // pre-merged in its context.
  bool safe(uint64_t guard, const uint8_t* p, uint32_t i, uint32_t n) const {
    const uint32_t p0 = static_cast<uint32_t>(guard & kIdMask);
    const uint32_t imax = static_cast<uint32_t>((guard >> kIdBits) & kIdMask);
    const uint32_t sel = static_cast<uint32_t>(guard >> (2 * kIdBits));
    auto after = [&](uint32_t key, uint32_t s) { return key > (s == 1 ? p0 : imax); };
    if (i > 0) {
      const uint32_t prev = p[i - 1];
      if ((sel & 3) && !after(prefix1_[(prev << 4) | (p[i] & 0x0Fu)], sel & 3)) return false;
      if ((sel & 12) &&
          !after(prefix2_[(prev << 10) | (uint32_t{p[i] & 0x0Fu} << 6) | (p[i + 1] & 0x3Fu)], (sel >> 2) & 3)) {
        return false;
      }
    }
    if (i + 3 < n && (sel & 48) && !after(suffix1_[(uint32_t{p[i + 2] & 0x3Fu} << 8) | p[i + 3]], (sel >> 4) & 3)) {
      return false;
    }
    return true;
  }

  // tokens(add) calls add(bytes, length, key) for every token of two bytes or more that a merge
  // makes, key = the lowest key of a merge making it; alone(ch) gives the Alone of the
  // character ch[0..3). May throw std::bad_alloc.
  template <class Tokens, class AloneOf>
  void build(Tokens tokens, AloneOf alone) {
    ready_ = false;
    // Lowest key of a token that can reach across an edge of a character c, by the part of c it
    // holds and the byte on the other side of the edge (tokens never cross pieces, and in a
    // piece of whole UTF-8 units a unit starts right after c):
    //   suffix1[last byte of c, next byte], suffix2 (any next byte): tokens that start with c's
    //     last 1/2 bytes (exactly that many continuation bytes) and go on;
    //   prefix1_[previous byte, c's lead], prefix2_[previous byte, c's first 2 bytes]: tokens
    //     that end with c's first 1/2 bytes after other bytes;
    //   whole: tokens longer than 3 bytes holding all of c.
    std::vector<uint32_t> suffix1(64 * 256, kNone), suffix2(64 * 64, kNone), whole(size_t{1} << 16, kNone);
    prefix1_.assign(256 * 16, kNone);
    prefix2_.assign(256 * 16 * 64, kNone);
    auto is_cont = [](uint8_t b) { return (b & 0xC0) == 0x80; };
    auto is_lead3 = [](uint8_t b) { return (b & 0xF0) == 0xE0; };
    auto lower = [](uint32_t* slot, uint32_t r) { *slot = std::min(*slot, r); };
    tokens([&](const uint8_t* b, uint32_t len, uint32_t r) {
      uint32_t k = 0;
      while (k < len && is_cont(b[k])) ++k;
      if (k == 1) lower(&suffix1[(uint32_t{b[0] & 0x3Fu} << 8) | b[1]], r);
      if (k == 2 && len > 2) lower(&suffix2[(uint32_t{b[0] & 0x3Fu} << 6) | (b[1] & 0x3Fu)], r);
      uint32_t last = len;  // one past the last byte that is not a continuation byte
      while (last > 0 && is_cont(b[last - 1])) --last;
      if (last >= 2 && is_lead3(b[last - 1]) && len - (last - 1) <= 2) {
        const uint8_t* q = b + last - 1;
        const uint32_t prev = q[-1];
        if (len - (last - 1) == 1) {
          lower(&prefix1_[(prev << 4) | (q[0] & 0x0Fu)], r);
        } else {
          lower(&prefix2_[(prev << 10) | (uint32_t{q[0] & 0x0Fu} << 6) | (q[1] & 0x3Fu)], r);
        }
      }
      if (len > 3) {
        for (uint32_t i = 0; i + 3 <= len; ++i) {
          if (is_lead3(b[i]) && is_cont(b[i + 1]) && is_cont(b[i + 2])) lower(&whole[index(b + i)], r);
        }
      }
    });
    // The same over every neighbouring byte: a character that passes these needs no check at
    // encode time.
    std::vector<uint32_t> suffix1_any(64, kNone), prefix1_any(16, kNone), prefix2_any(16 * 64, kNone);
    for (size_t i = 0; i < suffix1.size(); ++i) lower(&suffix1_any[i >> 8], suffix1[i]);
    for (size_t i = 0; i < prefix1_.size(); ++i) lower(&prefix1_any[i & 15], prefix1_[i]);
    for (size_t i = 0; i < prefix2_.size(); ++i) lower(&prefix2_any[i & 1023], prefix2_[i]);
    suffix1_.assign(suffix1.size(), kNone);
    std::copy(suffix1.begin(), suffix1.end(), suffix1_.data());

    entries_.assign(size_t{1} << 16, Entry{kIdMask, 0});
    for (uint32_t c = 0; c < (1u << 16); ++c) {
      const uint8_t ch[3] = {static_cast<uint8_t>(0xE0 | (c >> 12)), static_cast<uint8_t>(0x80 | ((c >> 6) & 0x3F)),
                             static_cast<uint8_t>(0x80 | (c & 0x3F))};
      const Alone a = alone(ch);
      // An edge part that is a proper part of c may not join a neighbour while c is unfinished,
      // so tokens reaching from it must come after the merge pending in every state where it is
      // an edge (strictly: a tie goes to the leftmost, which may be the neighbour); after c is
      // finished its edges must come after every merge made inside it (imax).
      // Per edge kind (left 1 byte, left 2 bytes, right 1 byte, right 2 bytes): the highest
      // pending key it must beat, kNone if none.
      enum { kL1, kL2, kR1, kR2 };
      uint32_t need[4] = {kNone, kNone, kNone, kNone};
      auto require = [&](int e, uint32_t r) { need[e] = need[e] == kNone ? r : std::max(need[e], r); };
      uint32_t imax = kNone;
      if (a.p0 != kNone) {
        require(kL1, a.p0);
        require(kR1, a.p0);
        imax = a.r2 != kNone ? std::max(a.p0, a.r2) : a.p0;
        // s1's edges must beat r2 when c then becomes one token; otherwise the two finished
        // parts' edges stay and must beat imax.
        const uint32_t s1 = a.r2 != kNone ? a.r2 : imax;
        require(a.left_pair ? kL2 : kL1, s1);
        require(a.left_pair ? kR1 : kR2, s1);
        if (a.r2 != kNone && whole[c] <= imax) continue;  // not pre-mergeable: raw bytes
        if (need[kR2] != kNone && suffix2[c & 0xFFF] <= need[kR2]) continue;
        // Guard for the encode-time check: per context edge which of p0 and imax (1, 2) its
        // neighbour-dependent token must come after; 0 = already safe.
        auto sel = [&](int e, uint32_t any) -> uint64_t {
          if (need[e] == kNone || any > need[e]) return 0;
          return need[e] == a.p0 ? 1 : 2;
        };
        const uint64_t g = sel(kL1, prefix1_any[c >> 12]) | (sel(kL2, prefix2_any[c >> 6]) << 2) |
                           (sel(kR1, suffix1_any[c & 0x3F]) << 4);
        if (g != 0) entries_[c].guard = uint64_t{a.p0} | (uint64_t{imax} << kIdBits) | (g << (2 * kIdBits));
      }
      uint64_t e = a.n_ids == 2 && a.left_pair ? uint64_t{1} << 63 : 0;
      for (uint32_t i = 0; i < 3; ++i) e |= uint64_t{i < a.n_ids ? a.ids[i] : kIdMask} << (kIdBits * i);
      entries_[c].parts = e;
    }
    ready_ = true;
  }

 private:
  byte_tables::HugeArray<Entry> entries_;
  byte_tables::HugeArray<uint32_t> prefix1_;  // [prev byte << 4 | lead & 15]
  byte_tables::HugeArray<uint32_t> prefix2_;  // [prev byte << 10 | (lead & 15) << 6 | byte1 & 63]
  byte_tables::HugeArray<uint32_t> suffix1_;  // [(last byte & 63) << 8 | next byte]
  bool ready_ = false;
};

}  // namespace fastprep::char3
