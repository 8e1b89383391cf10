// HF tokenizer.json byte-level BPE, natively: added tokens -> (normalizer check) -> pre-tokenizer
// -> merges-based BPE, giving exactly the ids and character offsets HF `tokenizers` gives before
// its post-processor. Built from the parsed pieces of a tokenizer.json (the Python layer decides
// which files qualify; see src/fastprep/_hf_native.py). The reference is
// src/fastprep/_fallback/hf/ (models.py BPE, added_vocabulary.py, components.py).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fastprep/status.h"

namespace fastprep {

// Which pre-tokenizer runs on each piece between added tokens (always followed by ByteLevel's
// byte mapping, which the model works on directly as raw bytes).
enum class HfPreTokenizer : uint8_t {
  kWhole = 0,    // ByteLevel(use_regex=false): the piece as it is
  kGpt2,         // ByteLevel(use_regex=true): HF's GPT-2 regex (next_piece_gpt2)
  kDeepseekV3,   // Sequence[Split(\p{N}{1,3}), Split(CJK runs), Split(cl100k-like), ByteLevel(false)]
  // Sequence[Split(pattern), ByteLevel(use_regex=false)] for the patterns of
  // hf_split_pattern_lexer (a Split with the GPT-2 regex is kGpt2 without a prefix space):
  kLlama3,       // Llama-3 = cl100k_base's pre-0.7 spelling (next_piece_cl100k_legacy)
  kQwen2,        // Qwen2/Qwen2.5: Llama-3 with one \p{N} per piece (next_piece_qwen2)
  kCl100k,       // cl100k_base's current spelling, as Oniguruma reads it (next_piece_cl100k_oniguruma)
  kO200k,        // o200k_base (next_piece_o200k)
};

// The HF normalizers the native path understands. NFC/NFKC text is encoded natively only when
// it is already normal (then HF's alignments are the identity); otherwise Encode answers
// kUnsupported and the caller uses the reference (HF's NFKC follows Unicode 9.0 data and its own
// alignment rules).
enum class HfNormalizer : uint8_t { kNone = 0, kNFC, kNFKC };

struct HfAddedToken {
  std::string content;  // UTF-8; for normalized tokens, the content after the normalizer
  uint32_t id = 0;
  bool normalized = false;  // matched on normalized text (second pass) instead of the raw text
  bool lstrip = false;
  bool rstrip = false;
};

struct HfBpeConfig {
  // Token strings in the ByteLevel alphabet (GPT-2's bytes_to_unicode), as in tokenizer.json.
  std::vector<std::pair<std::string, uint32_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // priority = index
  std::vector<HfAddedToken> added;                          // in tokenizer.json order
  HfPreTokenizer pre_tokenizer = HfPreTokenizer::kWhole;
  bool add_prefix_space = false;  // ByteLevel's; only with kWhole / kGpt2
  HfNormalizer normalizer = HfNormalizer::kNone;
  // Characters the normalizer replaces by a fixed image (UTF-8) independently of their
  // neighbours: ccc 0, an image of starters whose first character composes with nothing before
  // it and whose last composes with nothing after it (so both sides are hard boundaries). Text
  // whose only non-normal characters are these is normalized natively, with HF's alignments
  // (every image character aligned with the replaced character). Computed by the Python layer
  // from the normalizer's own data (Unicode 9.0 for HF).
  std::vector<std::pair<uint32_t, std::string>> norm_simple;
  bool ignore_merges = false;
};

// The Split patterns of deepseek_v3.json, in order; `deepseek_split_patterns_match` says whether
// a Sequence of Split regexes is exactly this one (then kDeepseekV3 applies).
bool deepseek_split_patterns_match(const std::vector<std::string>& patterns);

// The hand-written lexer that splits exactly as one HF Split regex (Oniguruma semantics, every
// character in some match, so Isolated and inverted Removed give the same pieces) when `pattern`
// is exactly one we know: the GPT-2 regex (either spelling) -> kGpt2; Llama-3 -> kLlama3;
// Qwen2 -> kQwen2; tiktoken's cl100k_base -> kCl100k; o200k_base -> kO200k. False otherwise
// (the caller then uses the general path).
bool hf_split_pattern_lexer(std::string_view pattern, HfPreTokenizer* kind);

// "whole", "gpt2", "deepseek_v3", "llama3", "qwen2", "cl100k", "o200k"; and back (false when
// the name is unknown).
const char* hf_pre_tokenizer_name(HfPreTokenizer kind);
bool hf_pre_tokenizer_from_name(std::string_view name, HfPreTokenizer* kind);

// Appends to *ends the end offset of each piece that pre-tokenizer `kind` (not kDeepseekV3, not
// kWhole) splits valid UTF-8 `text` into. Exposed for tests.
void split_hf_pieces(HfPreTokenizer kind, const uint8_t* text, size_t n, std::vector<uint32_t>* ends);

// Splits `text` (valid UTF-8) into the pieces deepseek_v3.json's three Split pre-tokenizers give;
// appends each piece's end offset to *ends. Exposed for tests.
void split_deepseek_v3(const uint8_t* text, size_t n, std::vector<uint32_t>* ends);

// Output of one encode: ids, and when requested character offsets [start, end) into the input
// text (as HF's Python Encoding.offsets) and the word (split) index of each token.
struct HfEncodeOutput {
  std::vector<uint32_t> ids;
  std::vector<uint32_t> offsets;  // 2 per token
  std::vector<uint32_t> words;
  void clear() {
    ids.clear();
    offsets.clear();
    words.clear();
  }
};

class HfBpeEncoder {
 public:
  // Validates the configuration (every merge token in the vocabulary, all 256 byte symbols
  // present, ...); kInvalidArgument / kUnsupported otherwise.
  static Status Create(const HfBpeConfig& config, std::unique_ptr<HfBpeEncoder>* out);
  ~HfBpeEncoder();
  HfBpeEncoder(const HfBpeEncoder&) = delete;
  HfBpeEncoder& operator=(const HfBpeEncoder&) = delete;

  // Encodes valid UTF-8 (the caller validates). Thread-safe. with_offsets/with_words select the
  // extra outputs. kUnsupported when the text needs a normalization step the native path does
  // not perform (the caller then uses the reference); *out is cleared first.
  Status Encode(std::string_view utf8, bool with_offsets, bool with_words, HfEncodeOutput* out) const;

  // The BPE model alone on raw bytes (one pre-token): appends ids. For tests and benchmarks.
  void EncodeWord(const uint8_t* bytes, size_t n, std::vector<uint32_t>* ids) const;

  size_t vocab_size() const;
  size_t num_merges() const;

  struct Impl;

 private:
  HfBpeEncoder();
  std::unique_ptr<Impl> impl_;
};

// GPT-2's byte -> code point table of the ByteLevel alphabet, and the inverse (-1 when a code
// point is not in the alphabet).
uint32_t byte_level_char(uint8_t byte);
int byte_level_byte(uint32_t cp);

}  // namespace fastprep
