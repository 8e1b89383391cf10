// Pieces shared by the two BPE engines' lookup tables (bpe.cpp for tiktoken rank files,
// hf_bpe.cpp for tokenizer.json merges): byte strings packed into a 64-bit key and hashed, an
// array for multi-MiB tables on huge pages, and a prefetch the compiler keeps (also used by the
// packing bindings). Internal to the project (not installed).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(_WIN32)
#include <malloc.h>
#endif

namespace fastprep::byte_tables {

// Little-endian loads: a packed prefix must give every byte string of one length its own value,
// which depends on the byte order.
inline uint64_t load_le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

inline uint32_t load_le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap32(v);
#endif
  return v;
}

// The first min(n, 8) bytes of p[0, n) (n >= 1) as a little-endian integer, zero-padded; reads
// only p[0, n).
inline uint64_t load_prefix(const uint8_t* p, size_t n) {
  if (n >= 8) return load_le64(p);
  if (n >= 4) {  // two overlapping loads: the overlap ORs equal bytes onto each other
    return load_le32(p) | (uint64_t{load_le32(p + n - 4)} << (8 * (n - 4)));
  }
  // n 1..3: p[0], p[n / 2] and p[n - 1] cover every position; mask off the repeats.
  const uint64_t v = uint64_t{p[0]} | (uint64_t{p[n >> 1]} << 8) | (uint64_t{p[n - 1]} << 16);
  return v & ((uint64_t{1} << (8 * n)) - 1);
}

constexpr uint64_t kHashMul = 0x9E3779B97F4A7C15ull;

inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// Hash of p[0, n) given its packed prefix; the top bits are the well-mixed ones (table indices
// take them). Strings of up to 8 bytes, nearly all pieces and tokens, cost one multiply.
inline uint64_t hash_prefixed(const uint8_t* p, size_t n, uint64_t prefix) {
  if (n <= 8) return (prefix + n) * kHashMul;
  uint64_t h = prefix * kHashMul;
  size_t i = 8;
  for (; i + 8 < n; i += 8) h = (rotl64(h, 29) ^ load_le64(p + i)) * kHashMul;
  h = (rotl64(h, 29) ^ load_le64(p + n - 8)) * kHashMul;
  return (h ^ n) * kHashMul;
}

// A prefetch the compiler must keep: GCC deletes a __builtin_prefetch that is control-dependent
// on a branch (its dead-code elimination treats the prefetch as removable), which is where
// every useful prefetch of a lookup-ahead loop sits.
inline void prefetch(const void* p) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p);
#endif
}

// Pair filters (blocked Bloom filters, one 64-bit word per key): the three bits of a key come
// from a table of 1024 masks indexed by bits 24..33 of the key's multiplicative hash (its low
// bits depend only on the key's low bits; its top bits pick the word). One load instead of three
// variable shifts; with only 1024 patterns a miss shares an inserted key's exact pattern more
// often, about one point more false positives (~4% instead of ~3%), which cost less than the
// shifts saved (callgrind: -5% instructions in the tiktoken path's merging, -12% in the HF
// path's).
struct BloomMasks {
  uint64_t m[1024];
  constexpr BloomMasks() : m() {
    for (uint64_t i = 0; i < 1024; ++i) {
      const uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull;
      m[i] = (uint64_t{1} << (x >> 58)) | (uint64_t{1} << ((x >> 52) & 63)) |
             (uint64_t{1} << ((x >> 46) & 63));
    }
  }
};
inline constexpr BloomMasks kBloomMasks{};
inline uint64_t bloom_bits(uint64_t hash) { return kBloomMasks.m[(hash >> 24) & 1023]; }

// A fixed-size array for the big lookup tables. Lookups land on random cache lines of several
// MiB, so with 4 KiB pages nearly every probe also misses the TLB; on Linux an array of 2 MiB or
// more is 2 MiB-aligned and advised into transparent huge pages (THP is often in "madvise"
// mode; the advice is a hint, failure just means small pages).
template <class T>
class HugeArray {
 public:
  HugeArray() = default;
  HugeArray(const HugeArray&) = delete;
  HugeArray& operator=(const HugeArray&) = delete;
  ~HugeArray() { release(data_); }

  // May throw std::bad_alloc.
  void assign(size_t n, const T& value) {
    release(data_);
    data_ = nullptr;
    size_ = 0;
    constexpr size_t kHuge = size_t{2} << 20;
    size_t bytes = std::max<size_t>(n * sizeof(T), 64);
    void* p = nullptr;
    if (bytes >= kHuge) {
      bytes = (bytes + kHuge - 1) & ~(kHuge - 1);
      p = allocate(kHuge, bytes);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
      if (p) madvise(p, bytes, MADV_HUGEPAGE);
#endif
    } else {
      p = allocate(64, (bytes + 63) & ~size_t{63});
    }
    if (!p) throw std::bad_alloc();
    data_ = static_cast<T*>(p);
    size_ = n;
    std::fill(data_, data_ + n, value);
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  size_t size() const { return size_; }

 private:
  static void* allocate(size_t align, size_t bytes) {
#if defined(_WIN32)
    return _aligned_malloc(bytes, align);
#else
    return std::aligned_alloc(align, bytes);
#endif
  }
  static void release(void* p) {
#if defined(_WIN32)
    _aligned_free(p);
#else
    std::free(p);
#endif
  }

  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace fastprep::byte_tables
