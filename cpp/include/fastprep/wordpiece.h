// WordPiece (greedy longest-match-first over a byte trie) and the fused BERT pipeline that feeds
// it: added tokens -> BertNormalizer -> BertPreTokenizer -> WordPiece in one pass over UTF-8,
// giving HF tokenizers' ids and its offsets (in characters of the input).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fastprep/status.h"

namespace fastprep {

inline constexpr uint32_t kNoToken = 0xFFFFFFFFu;

// HF's WordPiece model. Immutable after construction; safe to share between threads.
class WordPieceModel {
 public:
  // `vocab[i]` is the token with id i (distinct, non-empty strings). The unk token need not be in
  // the vocabulary; a word that needs it then fails at encode time, as in HF.
  static Status Create(const std::vector<std::string>& vocab, std::string unk_token,
                       std::string continuing_subword_prefix, size_t max_input_chars_per_word,
                       std::unique_ptr<WordPieceModel>* out);

  // Tokenizes one pre-token (normalized UTF-8 of `n_chars` characters). Appends ids to `ids` and,
  // when `ends` is given, each token's end as a byte offset into `word` (its start is the previous
  // end, or 0). A word longer than max_input_chars_per_word, or one that cannot be covered by
  // the vocabulary, becomes the single unk token. Fails only when unk is needed and missing.
  Status TokenizeWord(std::string_view word, size_t n_chars, std::vector<uint32_t>* ids,
                      std::vector<uint32_t>* ends) const;

  // Id of exactly this token, or kNoToken.
  uint32_t TokenToId(std::string_view token) const;
  size_t vocab_size() const { return vocab_size_; }
  const std::string& unk_token() const { return unk_token_; }
  uint32_t unk_id() const { return unk_id_; }

 private:
  WordPieceModel() = default;
  uint32_t Child(uint32_t node, uint8_t byte) const;
  // Longest vocabulary entry that is a prefix of [p, end), walking from `node`: its id (or
  // kNoToken) and its length through *len.
  uint32_t LongestMatch(uint32_t node, const uint8_t* p, const uint8_t* end, size_t* len) const;
  // Id of exactly [p, end) from the whole-token hash; kNoToken if absent or too long to hash.
  uint32_t WholeLookup(const uint8_t* p, const uint8_t* end) const;

  // The trie, serialized in depth-first order into one array so that a node's header, labels
  // and child offsets share a cache line (and a first child usually follows its parent). A node
  // at offset o: trie_[o] = token id or kNoToken; trie_[o + 1] = number of children n, or kDense;
  // then n labels packed 4 per word, then n child offsets. Dense nodes (many children) keep
  // trie_[o + 2] = their row in dense_ (256 child offsets; 0 = none). The root is at 0.
  static constexpr uint32_t kDense = 0xFFFFFFFFu;
  std::vector<uint32_t> trie_;
  std::vector<uint32_t> dense_;
  // Open-addressing hash of whole tokens: most words are one token, and one probe beats a trie
  // walk of one dependent load per byte.
  struct Slot {
    uint64_t head;  // first 8 bytes of the token, zero-padded
    uint32_t id;
    uint16_t len;   // token length in bytes; 0 = empty slot
    uint16_t tag;   // 16 more bits of the hash
  };
  static constexpr size_t kMaxHashedBytes = 64;  // longer keys are left to the trie
  std::vector<Slot> slots_;
  uint64_t slot_mask_ = 0;
  std::string pool_;                   // all tokens, concatenated
  std::vector<uint32_t> pool_offset_;  // per id: start in pool_
  uint32_t prefix_node_ = kNoToken;  // node reached by the continuing-subword prefix, if any
  uint32_t unk_id_ = kNoToken;
  size_t vocab_size_ = 0;
  size_t max_chars_ = 100;
  std::string unk_token_;
};

struct BertNormalizerOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;  // HF's None (follow `lowercase`) is resolved by the caller
  bool lowercase = true;
};

struct AddedTokenSpec {
  std::string content;
  uint32_t id = 0;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
  bool special = false;
};

// BertNormalizer + BertPreTokenizer + WordPiece, fused, with HF's added-token extraction on the
// raw text. Immutable after construction; Encode may run concurrently on many threads.
class BertEncoder {
 public:
  // Added tokens as HF's AddedVocabulary resolved them (ids assigned; non-empty contents). Those
  // with normalized=false are found on the raw text; those with normalized=true by their
  // normalized content on each remaining piece once normalized (that piece then takes a slower,
  // buffered path). A content normalizing to "" is kUnsupported. When one content appears twice
  // in a group, the later entry wins (HF's order).
  static Status Create(std::shared_ptr<const WordPieceModel> model, BertNormalizerOptions options,
                       std::vector<AddedTokenSpec> added_tokens, std::unique_ptr<BertEncoder>* out);

  // Ids of `text` (valid UTF-8; at most 4 GiB) before post-processing. When `offsets` is not null
  // it receives two entries per id: the token's [start, end) in characters (code points) of
  // `text`, exactly as HF's Python Encoding.offsets. Outputs are cleared first.
  Status Encode(std::string_view text, std::vector<uint32_t>* ids,
                std::vector<uint32_t>* offsets) const;

  const WordPieceModel& model() const { return *model_; }
  const BertNormalizerOptions& options() const { return options_; }

 private:
  BertEncoder() = default;
  template <bool kOffsets>
  Status EncodeImpl(std::string_view text, std::vector<uint32_t>* ids,
                    std::vector<uint32_t>* offsets) const;
  template <bool kOffsets>
  friend class BertPass;

  struct AddedMatch {
    size_t start, end;  // bytes, after lstrip/rstrip widening
    uint32_t id;
  };
  // Added tokens matched on one kind of text (raw, or normalized), leftmost-longest.
  struct AddedTable {
    std::vector<AddedTokenSpec> tokens;             // distinct contents, the later entry winning
    std::vector<std::vector<uint32_t>> by_first;    // per first byte: indices, longest first
    uint8_t first[256] = {};                        // 1 where some token starts with that byte
    void Build(std::vector<AddedTokenSpec> specs);
    bool empty() const { return tokens.empty(); }
    // HF's AddedVocabulary::find_matches on `text` (valid UTF-8), lstrip/rstrip/single_word
    // applied.
    void Find(std::string_view text, std::vector<AddedMatch>* out) const;
  };
  // The normalizer alone (as HF normalizes a normalized=true added token's content).
  std::string NormalizeForMatching(std::string_view text) const;

  std::shared_ptr<const WordPieceModel> model_;
  BertNormalizerOptions options_;
  AddedTable raw_added_;   // normalized=false: found on the raw text first
  AddedTable norm_added_;  // normalized=true: found on each remaining piece once normalized
  // What an ASCII byte becomes: kAsciiDrop, kAsciiSpace, kAsciiPunct, or the (lowercased) byte.
  uint16_t ascii_action_[128] = {};
};

}  // namespace fastprep
