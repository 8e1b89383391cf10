// Byte-level BPE: the rank table (tiktoken semantics), whole-piece lookup and rank-ordered
// pair merging, plus the encoder that combines a pre-tokenizer, the ranks and special tokens.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fastprep/pretokenize.h"
#include "fastprep/status.h"

namespace fastprep {

inline constexpr uint32_t kNoRank = 0xFFFFFFFFu;

// Immutable after construction; safe to share between threads.
class BpeRanks {
 public:
  // Parses a tiktoken rank file: one "<base64 token bytes> <rank>" per line (blank lines ignored).
  // Errors name the 1-based line. Duplicate tokens or duplicate ranks are errors.
  static Status FromTiktoken(std::string_view file_contents, std::unique_ptr<BpeRanks>* out);
  // Builds from (token bytes, rank) pairs. Same validation as FromTiktoken.
  static Status FromPairs(const std::vector<std::pair<std::string, uint32_t>>& pairs,
                          std::unique_ptr<BpeRanks>* out);

  // Rank of exactly these bytes, or kNoRank.
  uint32_t Rank(const uint8_t* bytes, size_t len) const;
  // Appends the ids of one pre-token piece (tiktoken's byte_pair_encode: whole-piece lookup,
  // then repeatedly merge the lowest-ranked adjacent pair, leftmost first). Near-linear in len.
  // Every single byte must have a rank for a piece to encode; otherwise returns kInvalidArgument.
  Status EncodePiece(const uint8_t* bytes, size_t len, std::vector<uint32_t>* out) const;
  // Rank of bytes(left) + bytes(right), or kNoRank if that is not a token (or either id is
  // unknown): the merge step's lookup, answered from a pair table built at load time.
  uint32_t MergedRank(uint32_t left, uint32_t right) const;
  // Bytes of token `rank`; false if no token has that rank.
  bool TokenBytes(uint32_t rank, std::string_view* out) const;

  size_t size() const;        // number of tokens
  uint32_t max_rank() const;  // largest rank present

  ~BpeRanks();
  BpeRanks(const BpeRanks&) = delete;
  BpeRanks& operator=(const BpeRanks&) = delete;
  struct Impl;  // defined in cpp/src/bpe.cpp

 private:
  BpeRanks();
  std::unique_ptr<Impl> impl_;
  friend class BpeEncoder;
};

// A special token: its exact text and its id.
struct SpecialToken {
  std::string text;
  uint32_t id;
};

// ranks + pre-tokenizer + special tokens. Immutable after construction; thread-safe.
class BpeEncoder {
 public:
  // `kind` may be kNone: then only the Encode*Pieces entry points may be used (the caller splits
  // with the general regex path).
  static Status Create(std::shared_ptr<const BpeRanks> ranks, PreTokenizerKind kind,
                       std::vector<SpecialToken> specials, std::unique_ptr<BpeEncoder>* out);

  // Ordinary text, no special-token recognition. `text` must be valid UTF-8.
  // Long inputs (>= parallel_threshold bytes) are split at pre-token boundaries and encoded on
  // up to num_threads threads of the shared pool (0 = all cores); output identical to serial.
  Status EncodeOrdinary(std::string_view text, std::vector<uint32_t>* out,
                        size_t num_threads = 1) const;
  // Occurrences of the specials whose index i has allowed[i] != 0 become their ids (leftmost,
  // longest at a position); the text between them is encoded ordinarily, each segment on its own
  // (so `$` and lookahead see the segment end), exactly as tiktoken does.
  Status Encode(std::string_view text, const std::vector<uint8_t>& allowed,
                std::vector<uint32_t>* out, size_t num_threads = 1) const;
  // Number of tokens Encode would produce, without materializing more than a piece at a time.
  Status Count(std::string_view text, const std::vector<uint8_t>& allowed, size_t* count) const;
  // General path: the caller has split text into pieces [starts[i], ends[i]); bytes outside
  // every piece are dropped (as tiktoken drops text its regex does not match).
  Status EncodePieces(std::string_view text, const uint32_t* starts, const uint32_t* ends,
                      size_t n_pieces, std::vector<uint32_t>* out) const;
  // Index (into specials()) and byte offset of the leftmost occurrence of any special whose
  // mask[i] != 0, or false if none occurs.
  bool FindSpecial(std::string_view text, const std::vector<uint8_t>& mask, size_t* index,
                   size_t* offset) const;

  // Batch: each text encoded with Encode semantics; texts spread over num_threads (0 = all).
  Status EncodeBatch(const std::vector<std::string_view>& texts,
                     const std::vector<uint8_t>& allowed,
                     std::vector<std::vector<uint32_t>>* out, size_t num_threads) const;

  // Concatenated bytes of the ids (ordinary or special). Unknown id -> kOutOfRange naming it.
  Status DecodeBytes(const uint32_t* ids, size_t n, std::string* out) const;
  // Bytes of one id (ordinary or special); false if unknown.
  bool TokenBytes(uint32_t id, std::string_view* out) const;

  const std::vector<SpecialToken>& specials() const;
  const BpeRanks& ranks() const;
  PreTokenizerKind kind() const;
  size_t parallel_threshold() const;  // bytes; default 256 KiB
  // Tests and benchmarks lower it to exercise the parallel path on small inputs (0 = default).
  void set_parallel_threshold(size_t bytes);

  ~BpeEncoder();
  BpeEncoder(const BpeEncoder&) = delete;
  BpeEncoder& operator=(const BpeEncoder&) = delete;
  struct Impl;  // defined in cpp/src/bpe.cpp

 private:
  BpeEncoder();
  std::unique_ptr<Impl> impl_;
};

}  // namespace fastprep
