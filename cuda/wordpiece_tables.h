// Host side of the device BERT encoder: builds, once per tokenizer, the flat table blob that
// wordpiece_logic.cuh reads (layout in its HeaderField): the BERT normalizer's Unicode data from
// cpp/src/hf_unicode_tables.inc (the tables the CPU pass uses), and open-addressing hashes of
// the WordPiece vocabulary (whole-word pieces and '##' continuation pieces) and the added tokens.
// Plain C++ (no CUDA, no Python): bind_cuda.cpp and the host test build both include it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "wordpiece_logic.cuh"

namespace fastprep_cuda {

namespace hf_tables {
#include "../cpp/src/hf_unicode_tables.inc"
}  // namespace hf_tables

struct AddedTokenSpec {
  std::string content;
  int64_t id = 0;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
};

struct WordPieceSpec {
  std::vector<std::string> vocab;  // token of id i
  std::string unk_token;
  std::string continuing_subword_prefix;
  int64_t max_input_chars_per_word = 100;
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;  // HF's None (follow lowercase) resolved by the caller
  bool lowercase = true;
  std::vector<AddedTokenSpec> added;  // normalized=false tokens only, in HF's order
};

namespace detail {

class BlobWriter {
 public:
  BlobWriter() : blob_(8 * kHeaderFields, 0) {}

  template <class T>
  void array(int field, const std::vector<T>& values) {
    const size_t offset = (blob_.size() + 7) / 8 * 8;
    blob_.resize(offset + values.size() * sizeof(T) + 8);  // +8: no array is ever empty
    if (!values.empty()) {
      std::memcpy(blob_.data() + offset, values.data(), values.size() * sizeof(T));
    }
    set(field, static_cast<int64_t>(offset));
  }
  void set(int field, int64_t value) { std::memcpy(blob_.data() + 8 * field, &value, 8); }
  std::vector<uint8_t> finish() {
    blob_.resize((blob_.size() + 7) / 8 * 8);
    set(kMagic, kTablesMagic);
    set(kBlobSize, static_cast<int64_t>(blob_.size()));
    return std::move(blob_);
  }

 private:
  std::vector<uint8_t> blob_;
};

template <class T, size_t N>
std::vector<T> copy_of(const T (&table)[N]) {
  return std::vector<T>(table, table + N);
}

// keys: (pool offset, length, id); hashed from the pool.
struct HashKey {
  uint32_t offset;
  uint32_t length;
  int32_t id;
};

inline void write_hash(BlobWriter& w, const std::string& pool, const std::vector<HashKey>& keys,
                       int hash_field, int key_field, int length_field, int id_field,
                       int mask_field, int max_length_field) {
  size_t capacity = 16;
  while (capacity < 2 * keys.size()) capacity *= 2;
  std::vector<uint64_t> hashes(capacity, 0);
  std::vector<uint32_t> offsets(capacity, 0), lengths(capacity, 0);
  std::vector<int32_t> ids(capacity, -1);
  int64_t max_length = 0;
  for (const HashKey& k : keys) {
    uint64_t h = hash_seed();
    for (uint32_t i = 0; i < k.length; ++i) {
      h = hash_step(h, static_cast<uint8_t>(pool[k.offset + i]));
    }
    size_t slot = h & (capacity - 1);
    while (ids[slot] >= 0) slot = (slot + 1) & (capacity - 1);
    hashes[slot] = h;
    offsets[slot] = k.offset;
    lengths[slot] = k.length;
    ids[slot] = k.id;
    max_length = std::max<int64_t>(max_length, k.length);
  }
  w.array(hash_field, hashes);
  w.array(key_field, offsets);
  w.array(length_field, lengths);
  w.array(id_field, ids);
  w.set(mask_field, static_cast<int64_t>(capacity - 1));
  w.set(max_length_field, max_length);
}

}  // namespace detail

// Builds the blob into *blob. Returns "" or what is wrong with the spec (the caller raises it).
inline std::string build_wordpiece_tables(const WordPieceSpec& spec, std::vector<uint8_t>* blob) {
  namespace H = hf_tables;
  static_assert(H::kHfWhitespace == kFlagWhitespace && H::kHfOther8 == kFlagOther8 &&
                    H::kHfPunct8 == kFlagPunct8 && H::kHfMn8 == kFlagMn8 &&
                    H::kHfDecomp9 == kFlagDecomp9 && H::kHfNonStarter9 == kFlagNonStarter9 &&
                    H::kHfLower17 == kFlagLower17 && H::kHfWord16 == kFlagWord16 &&
                    H::kHfCjk == kFlagCjk,
                "flag bits of hf_unicode_tables.inc changed");
  if (spec.vocab.size() >= 0x7FFFFFFFu) return "WordPiece vocabulary too large for int32 ids";
  if (spec.max_input_chars_per_word < 0) return "max_input_chars_per_word must be >= 0";
  if (spec.max_input_chars_per_word > kWordBufferChars) {
    return "the GPU WordPiece encoder supports max_input_chars_per_word up to " +
           std::to_string(kWordBufferChars) + ", this tokenizer has " +
           std::to_string(spec.max_input_chars_per_word);
  }
  detail::BlobWriter w;

  // Unicode data, as flat arrays.
  w.array(kFlagStage1, detail::copy_of(H::kHfFlagStage1));
  w.array(kFlagStage2, detail::copy_of(H::kHfFlagStage2));
  std::vector<uint32_t> cps, starts, lengths, values;
  for (const auto& row : H::kHfDecompRows) {
    if (row.length > 4) return "a canonical decomposition longer than 4 characters";
    cps.push_back(row.cp);
    starts.push_back(row.offset);
    lengths.push_back(row.length);
  }
  w.array(kDecompCp, cps);
  w.array(kDecompStart, starts);
  w.array(kDecompLength, lengths);
  w.set(kDecompCount, static_cast<int64_t>(cps.size()));
  w.array(kDecompData, detail::copy_of(H::kHfDecompData));
  cps.clear();
  for (const auto& row : H::kHfCccRows) {
    cps.push_back(row.cp);
    values.push_back(row.ccc);
  }
  w.array(kCccCp, cps);
  w.array(kCccValue, values);
  w.set(kCccCount, static_cast<int64_t>(cps.size()));
  cps.clear();
  values.clear();
  for (const auto& row : H::kHfLowerRows) {
    if ((row.lower & 0x80000000u) && (row.lower & 3u) > 3) return "a lowercase mapping too long";
    cps.push_back(row.cp);
    values.push_back(row.lower);
  }
  w.array(kLowerCp, cps);
  w.array(kLowerValue, values);
  w.set(kLowerCount, static_cast<int64_t>(cps.size()));
  w.array(kLowerMulti, detail::copy_of(H::kHfLowerMulti));

  // Vocabulary: whole tokens, and continuation pieces keyed by what follows the prefix.
  std::string pool;
  std::vector<detail::HashKey> whole, continuation;
  const std::string& prefix = spec.continuing_subword_prefix;
  int64_t unk_id = -1;
  for (size_t id = 0; id < spec.vocab.size(); ++id) {
    const std::string& token = spec.vocab[id];
    if (token.empty()) return "empty WordPiece vocabulary entry (id " + std::to_string(id) + ")";
    if (pool.size() + token.size() >= 0xFFFFFFFFu) return "WordPiece vocabulary too large";
    const uint32_t offset = static_cast<uint32_t>(pool.size());
    pool += token;
    whole.push_back({offset, static_cast<uint32_t>(token.size()), static_cast<int32_t>(id)});
    if (token.size() > prefix.size() && token.compare(0, prefix.size(), prefix) == 0) {
      continuation.push_back({offset + static_cast<uint32_t>(prefix.size()),
                              static_cast<uint32_t>(token.size() - prefix.size()),
                              static_cast<int32_t>(id)});
    }
    if (unk_id < 0 && token == spec.unk_token) unk_id = static_cast<int64_t>(id);
  }
  {
    std::unordered_map<std::string, int32_t> seen;
    for (const auto& k : whole) {
      if (!seen.emplace(pool.substr(k.offset, k.length), k.id).second) {
        return "duplicate WordPiece vocabulary entry (id " + std::to_string(k.id) + ")";
      }
    }
  }

  // Added tokens: one entry per content (a later duplicate wins, at the earlier one's place),
  // grouped by first byte, longest first.
  std::vector<AddedTokenSpec> added;
  std::unordered_map<std::string, size_t> by_content;
  for (const AddedTokenSpec& a : spec.added) {
    if (a.content.empty()) return "empty added token";
    if (a.id < 0 || a.id > 0x7FFFFFFF) return "added token id out of int32 range";
    auto it = by_content.find(a.content);
    if (it == by_content.end()) {
      by_content.emplace(a.content, added.size());
      added.push_back(a);
    } else {
      added[it->second] = a;
    }
  }
  std::vector<size_t> order(added.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const uint8_t fa = static_cast<uint8_t>(added[a].content[0]);
    const uint8_t fb = static_cast<uint8_t>(added[b].content[0]);
    if (fa != fb) return fa < fb;
    return added[a].content.size() > added[b].content.size();
  });
  std::vector<uint32_t> added_key, added_length, added_flags;
  std::vector<int32_t> added_id, bucket(257, 0);
  for (size_t i : order) {
    const AddedTokenSpec& a = added[i];
    if (pool.size() + a.content.size() >= 0xFFFFFFFFu) return "added tokens too large";
    added_key.push_back(static_cast<uint32_t>(pool.size()));
    pool += a.content;
    added_length.push_back(static_cast<uint32_t>(a.content.size()));
    added_id.push_back(static_cast<int32_t>(a.id));
    added_flags.push_back((a.lstrip ? kAddedLstrip : 0u) | (a.rstrip ? kAddedRstrip : 0u) |
                          (a.single_word ? kAddedSingleWord : 0u));
    ++bucket[static_cast<uint8_t>(a.content[0]) + 1];
  }
  for (int b = 0; b < 256; ++b) bucket[b + 1] += bucket[b];

  w.array(kPool, std::vector<uint8_t>(pool.begin(), pool.end()));
  detail::write_hash(w, pool, whole, kStartHash, kStartKey, kStartLength, kStartId, kStartMask,
                     kStartMaxLength);
  detail::write_hash(w, pool, continuation, kContHash, kContKey, kContLength, kContId, kContMask,
                     kContMaxLength);
  w.set(kOptions, (spec.clean_text ? kOptCleanText : int64_t{0}) |
                      (spec.handle_chinese_chars ? kOptChineseChars : int64_t{0}) |
                      (spec.strip_accents ? kOptStripAccents : int64_t{0}) |
                      (spec.lowercase ? kOptLowercase : int64_t{0}));
  w.set(kUnkId, unk_id);
  w.set(kMaxWordChars, spec.max_input_chars_per_word);
  w.set(kAddedCount, static_cast<int64_t>(added_id.size()));
  w.array(kAddedKey, added_key);
  w.array(kAddedLength, added_length);
  w.array(kAddedId, added_id);
  w.array(kAddedFlags, added_flags);
  w.array(kAddedBucket, bucket);
  *blob = w.finish();
  return "";
}

// The spec as fastprep/cuda.py serializes it (little-endian int64 fields; a string is its
// length then its bytes): n_vocab, the tokens in id order, unk_token, prefix,
// max_input_chars_per_word, option bits (kOpt* bits), n_added, then per added token its content,
// id and kAdded* bits. Returns "" or what is malformed.
inline std::string parse_wordpiece_spec(const uint8_t* data, size_t size, WordPieceSpec* spec) {
  size_t at = 0;
  bool ok = true;
  auto integer = [&]() -> int64_t {
    if (!ok || size - at < 8) {
      ok = false;
      return 0;
    }
    int64_t v;
    std::memcpy(&v, data + at, 8);
    at += 8;
    return v;
  };
  auto bytes = [&]() -> std::string {
    const int64_t n = integer();
    if (!ok || n < 0 || static_cast<uint64_t>(n) > size - at) {
      ok = false;
      return std::string();
    }
    std::string s(reinterpret_cast<const char*>(data + at), static_cast<size_t>(n));
    at += static_cast<size_t>(n);
    return s;
  };
  const int64_t n_vocab = integer();
  if (!ok || n_vocab < 0 || static_cast<uint64_t>(n_vocab) > size / 8) {
    return "malformed WordPiece spec";
  }
  spec->vocab.clear();
  spec->vocab.reserve(static_cast<size_t>(n_vocab));
  for (int64_t i = 0; i < n_vocab && ok; ++i) spec->vocab.push_back(bytes());
  spec->unk_token = bytes();
  spec->continuing_subword_prefix = bytes();
  spec->max_input_chars_per_word = integer();
  const int64_t options = integer();
  spec->clean_text = (options & kOptCleanText) != 0;
  spec->handle_chinese_chars = (options & kOptChineseChars) != 0;
  spec->strip_accents = (options & kOptStripAccents) != 0;
  spec->lowercase = (options & kOptLowercase) != 0;
  const int64_t n_added = integer();
  if (!ok || n_added < 0 || static_cast<uint64_t>(n_added) > size / 8) {
    return "malformed WordPiece spec";
  }
  spec->added.clear();
  for (int64_t i = 0; i < n_added && ok; ++i) {
    AddedTokenSpec a;
    a.content = bytes();
    a.id = integer();
    const int64_t flags = integer();
    a.lstrip = (flags & kAddedLstrip) != 0;
    a.rstrip = (flags & kAddedRstrip) != 0;
    a.single_word = (flags & kAddedSingleWord) != 0;
    spec->added.push_back(std::move(a));
  }
  if (!ok || at != size) return "malformed WordPiece spec";
  return "";
}

// Checks a blob's header before the kernels trust it (a blob is opaque bytes in Python).
inline std::string check_wordpiece_tables(const uint8_t* blob, size_t size) {
  if (size < 8 * kHeaderFields) return "WordPiece tables: blob too small";
  int64_t header[kHeaderFields];
  std::memcpy(header, blob, sizeof(header));
  if (header[kMagic] != kTablesMagic) return "WordPiece tables: not a fastprep tables blob";
  if (header[kBlobSize] != static_cast<int64_t>(size)) return "WordPiece tables: truncated blob";
  return "";
}

}  // namespace fastprep_cuda
