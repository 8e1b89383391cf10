// Unit tests of the hand-written lexers for tokenizer.json Split regexes (no Python): selection by
// exact pattern string, splits checked against HF tokenizers 0.23.3 (Oniguruma), linear time.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "fastprep/hf_bpe.h"

#include "check.h"

using namespace fastprep;


static std::vector<std::string> split(HfPreTokenizer kind, const std::string& text) {
  std::vector<uint32_t> ends;
  split_hf_pieces(kind, reinterpret_cast<const uint8_t*>(text.data()), text.size(), &ends);
  return pieces_at(text, ends, hf_pre_tokenizer_name(kind));
}

static void expect(HfPreTokenizer kind, const std::string& text, const std::vector<std::string>& want) {
  expect_pieces(hf_pre_tokenizer_name(kind), text, split(kind, text), want);
}

// The regexes as they read after JSON decoding.
static const std::string kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
static const std::string kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
static const std::string kCl100k =
    R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s)";
static const std::string kO200k =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
static const std::string kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

static void test_selection() {
  const std::pair<std::string, HfPreTokenizer> cases[] = {
      {kLlama3, HfPreTokenizer::kLlama3},
      {kQwen2, HfPreTokenizer::kQwen2},
      {kCl100k, HfPreTokenizer::kCl100k},
      {kO200k, HfPreTokenizer::kO200k},
      {kGpt2, HfPreTokenizer::kGpt2},
  };
  for (const auto& [pattern, want] : cases) {
    HfPreTokenizer kind = HfPreTokenizer::kWhole;
    CHECK(hf_split_pattern_lexer(pattern, &kind) && kind == want);
    // Any one character removed or replaced: no hand-written lexer.
    for (size_t i = 0; i < pattern.size(); ++i) {
      std::string cut = pattern;
      cut.erase(i, 1);
      std::string changed = pattern;
      changed[i] = changed[i] == 'x' ? 'y' : 'x';
      HfPreTokenizer k2 = HfPreTokenizer::kWhole;
      CHECK(!hf_split_pattern_lexer(cut, &k2));
      CHECK(!hf_split_pattern_lexer(changed, &k2));
    }
  }
  HfPreTokenizer kind = HfPreTokenizer::kWhole;
  CHECK(!hf_split_pattern_lexer("", &kind));
  CHECK(!hf_split_pattern_lexer(kLlama3 + "|x", &kind));
  for (HfPreTokenizer k : {HfPreTokenizer::kWhole, HfPreTokenizer::kGpt2, HfPreTokenizer::kDeepseekV3,
                           HfPreTokenizer::kLlama3, HfPreTokenizer::kQwen2, HfPreTokenizer::kCl100k,
                           HfPreTokenizer::kO200k}) {
    HfPreTokenizer back = HfPreTokenizer::kWhole;
    CHECK(hf_pre_tokenizer_from_name(hf_pre_tokenizer_name(k), &back) && back == k);
  }
  CHECK(!hf_pre_tokenizer_from_name("cl100k_base", &kind));
}

static void test_splits() {
  using K = HfPreTokenizer;
  // Numbers: Qwen2 one per piece, Llama-3/o200k in threes, cl100k's `\p{N}{1,3}+` whole runs.
  expect(K::kQwen2, "1234567 89", {"1", "2", "3", "4", "5", "6", "7", " ", "8", "9"});
  expect(K::kLlama3, "1234567 89", {"123", "456", "7", " ", "89"});
  expect(K::kO200k, "1234567 89", {"123", "456", "7", " ", "89"});
  expect(K::kCl100k, "1234567 89", {"1234567", " ", "89"});
  expect(K::kGpt2, "1234567 89", {"1234567", " 89"});
  // U+0661..U+0664 (Nd), U+00B2 (No), U+2167 (Nl)
  const std::string numbers = "\xD9\xA1\xD9\xA2\xD9\xA3\xD9\xA4\xC2\xB2\xE2\x85\xA7";
  expect(K::kQwen2, numbers, {"\xD9\xA1", "\xD9\xA2", "\xD9\xA3", "\xD9\xA4", "\xC2\xB2", "\xE2\x85\xA7"});
  expect(K::kLlama3, numbers, {"\xD9\xA1\xD9\xA2\xD9\xA3", "\xD9\xA4\xC2\xB2\xE2\x85\xA7"});
  expect(K::kCl100k, numbers, {numbers});
  // Case-insensitive contractions: U+017F LONG S folds to s in Oniguruma too.
  expect(K::kQwen2, "x'\xC5\xBFt 'S'LL", {"x", "'\xC5\xBF", "t", " '", "S", "'LL"});
  expect(K::kCl100k, "x'\xC5\xBFt 'S'LL", {"x", "'\xC5\xBF", "t", " '", "S", "'LL"});
  expect(K::kO200k, "x'\xC5\xBFt 'S'LL", {"x'\xC5\xBF", "t", " '", "S'LL"});
  expect(K::kGpt2, "x'\xC5\xBFt 'S'LL", {"x", "'", "\xC5\xBFt", " '", "S", "'", "LL"});
  expect(K::kQwen2, "it's 12'd", {"it", "'s", " ", "1", "2", "'d"});
  expect(K::kO200k, "it's 12'd", {"it's", " ", "12", "'d"});
  // Trailing whitespace with a line break: only cl100k's `\s++$` keeps it whole.
  expect(K::kQwen2, "a\n  ", {"a", "\n", "  "});
  expect(K::kLlama3, "a\n  ", {"a", "\n", "  "});
  expect(K::kCl100k, "a\n  ", {"a", "\n  "});
  expect(K::kQwen2, "a \r\n\r\n  b", {"a", " \r\n\r\n", " ", " b"});
  expect(K::kGpt2, "a \r\n\r\n  b", {"a", " \r\n\r\n ", " b"});
  expect(K::kWhole, "a b", {"a b"});
}

static void test_linear_time() {
  for (HfPreTokenizer k : {HfPreTokenizer::kQwen2, HfPreTokenizer::kCl100k, HfPreTokenizer::kLlama3}) {
    for (const char* unit : {"1", " ", "\r\n", "a", " \n"}) {
      std::string text;
      for (int i = 0; i < 400000; ++i) text += unit;
      const auto t0 = std::chrono::steady_clock::now();
      const auto pieces = split(k, text);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      CHECK(!pieces.empty());
      CHECK(s < 2.0);
    }
  }
}

int main() {
  test_selection();
  test_splits();
  test_linear_time();
  if (g_failures) {
    std::fprintf(stderr, "%d failure(s)\n", g_failures);
    return 1;
  }
  std::printf("test_hf_split_lexers: all passed\n");
  return 0;
}
