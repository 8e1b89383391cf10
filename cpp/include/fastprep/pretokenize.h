// Pre-tokenization: hand-written linear-time lexers that split UTF-8 text exactly as the
// tiktoken regexes do (cl100k_base, o200k_base, r50k/p50k/GPT-2).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fastprep {

enum class PreTokenizerKind : uint8_t {
  kNone = 0,  // no hand-written lexer: the caller must split with the general (regex) path
  kCl100k,
  kO200k,
  kGpt2,  // r50k_base, p50k_base, gpt2 (also the original 2019 GPT-2 spelling, which splits the same)
  // The cl100k_base spelling published before tiktoken 0.7: it lacks `\s++$`, so trailing whitespace
  // that contains a line break splits differently ("\n  " at the end -> "\n", "  ").
  kCl100kLegacy,
};

// The lexer for a pattern string, or kNone when the string is not exactly one we know.
PreTokenizerKind known_pattern(std::string_view pattern);

// Returns the end offset (> pos) of the piece that starts at byte `pos` of `text[0, n)`.
// `text` must be valid UTF-8 and pos < n. Pieces tile the input: feeding each end back in as the
// next pos enumerates exactly the regex's successive matches.
using NextPieceFn = size_t (*)(const uint8_t* text, size_t n, size_t pos);
NextPieceFn next_piece_fn(PreTokenizerKind kind);

size_t next_piece_cl100k(const uint8_t* text, size_t n, size_t pos);
size_t next_piece_o200k(const uint8_t* text, size_t n, size_t pos);
size_t next_piece_gpt2(const uint8_t* text, size_t n, size_t pos);
size_t next_piece_cl100k_legacy(const uint8_t* text, size_t n, size_t pos);

// Lexers for spellings that only HF tokenizer.json files use (their regex engine is Oniguruma;
// hf_bpe.cpp selects them by exact pattern string):
// - Qwen2/Qwen2.5: cl100k_base_legacy (= Llama-3) with `\p{N}` for `\p{N}{1,3}`, one number per piece;
// - cl100k_base's current spelling as Oniguruma reads it: it has no possessive interval, so
//   `\p{N}{1,3}+` is `(?:\p{N}{1,3})+` and a whole run of numbers is one piece; the rest splits as
//   next_piece_cl100k (Oniguruma's `?+ *+ ++` are possessive, and `\s++$` can only hold at the end).
size_t next_piece_qwen2(const uint8_t* text, size_t n, size_t pos);
size_t next_piece_cl100k_oniguruma(const uint8_t* text, size_t n, size_t pos);

// "cl100k_base", "o200k_base", "gpt2", "cl100k_base_legacy"; nullptr for kNone.
const char* pretokenizer_kind_name(PreTokenizerKind kind);

}  // namespace fastprep
