// Unit tests of the pre-tokenizer lexers and the Unicode tables (no Python): edge cases whose
// expected splits were checked against tiktoken 0.14, and linear time on long runs.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "fastprep/pretokenize.h"
#include "fastprep/unicode.h"

#include "check.h"

using namespace fastprep;


static std::vector<std::string> split(PreTokenizerKind kind, const std::string& text) {
  std::vector<uint32_t> ends;
  const NextPieceFn fn = next_piece_fn(kind);
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = fn(s, text.size(), pos);
    ends.push_back(static_cast<uint32_t>(end));
    if (end <= pos || end > text.size()) break;  // pieces_at reports it
    pos = end;
  }
  return pieces_at(text, ends, pretokenizer_kind_name(kind));
}

static void expect(PreTokenizerKind kind, const std::string& text, const std::vector<std::string>& want) {
  expect_pieces(pretokenizer_kind_name(kind), text, split(kind, text), want);
}

static void test_unicode_tables() {
  CHECK(general_category('A') == GeneralCategory::kLu);
  CHECK(general_category('a') == GeneralCategory::kLl);
  CHECK(general_category('5') == GeneralCategory::kNd);
  CHECK(general_category(0x0301) == GeneralCategory::kMn);
  CHECK(general_category(0x01C5) == GeneralCategory::kLt);
  CHECK(general_category(0x1C89) == GeneralCategory::kLu);    // assigned in Unicode 16.0
  CHECK(general_category(0x10EC2) == GeneralCategory::kLo);   // assigned in Unicode 16.0
  CHECK(general_category(0x0C5C) == GeneralCategory::kCn);    // assigned only in 17.0
  CHECK(general_category(0xD800) == GeneralCategory::kCs);
  CHECK(general_category(0x10FFFF) == GeneralCategory::kCn);
  CHECK(general_category(0xE000) == GeneralCategory::kCo);
  const uint32_t spaces[] = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x200A,
                             0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
  for (uint32_t cp : spaces) CHECK(is_white_space(cp));
  int count = 0;
  for (uint32_t cp = 0; cp <= kMaxCodePoint; ++cp) count += is_white_space(cp);
  CHECK(count == 25);
  CHECK(!is_white_space(0x1C) && !is_white_space(0x180E) && !is_white_space(0x200B));
  CHECK(std::strcmp(general_category_name(GeneralCategory::kZs), "Zs") == 0);
  size_t len = 0;
  CHECK(decode_utf8(reinterpret_cast<const uint8_t*>("\xF0\x9F\x98\x80"), &len) == 0x1F600 && len == 4);
  CHECK(decode_utf8(reinterpret_cast<const uint8_t*>("\xC5\xBF"), &len) == 0x17F && len == 2);
}

static void test_known_pattern() {
  const char* r50k = R"('(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s)";
  CHECK(known_pattern(r50k) == PreTokenizerKind::kGpt2);
  CHECK(known_pattern(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)") ==
        PreTokenizerKind::kGpt2);
  CHECK(known_pattern(std::string(r50k) + " ") == PreTokenizerKind::kNone);
  CHECK(known_pattern("") == PreTokenizerKind::kNone);
  CHECK(next_piece_fn(PreTokenizerKind::kNone) == nullptr);
}

static void test_gpt2() {
  const auto k = PreTokenizerKind::kGpt2;
  expect(k, "Hello world", {"Hello", " world"});
  expect(k, "I'm don't we'll", {"I", "'m", " don", "'t", " we", "'ll"});
  expect(k, "I'M", {"I", "'", "M"});  // case-sensitive contractions
  expect(k, "a  b", {"a", " ", " b"});
  expect(k, "a \tb", {"a", " ", "\t", "b"});
  expect(k, "a\tb", {"a", "\t", "b"});
  expect(k, "x  ", {"x", "  "});
  expect(k, "12345 678", {"12345", " 678"});
  expect(k, " !!? x", {" !!?", " x"});
  expect(k, "  ", {"  "});
  expect(k, "'", {"'"});
  expect(k, "''s", {"''", "s"});
}

static void test_cl100k() {
  const auto k = PreTokenizerKind::kCl100k;
  expect(k, "Hello world", {"Hello", " world"});
  expect(k, "I'M HE'S they'LL", {"I", "'M", " HE", "'S", " they", "'LL"});
  expect(k, "'\xC5\xBF" "a", {"'\xC5\xBF", "a"});  // U+017F folds to s
  expect(k, "1234567", {"123", "456", "7"});
  expect(k, "\"hello", {"\"hello"});
  expect(k, "a\n  ", {"a", "\n  "});                 // \s++$
  expect(k, "a \n b", {"a", " \n", " b"});           // \s*[\r\n]
  expect(k, "a\r\n\r\n  b", {"a", "\r\n\r\n", " ", " b"});
  expect(k, "x\r\n\t", {"x", "\r\n\t"});
  expect(k, "a   b", {"a", "  ", " b"});
  expect(k, "a\tb", {"a", "\tb"});
  expect(k, "!!\n\nx", {"!!\n\n", "x"});
  expect(k, " ?!\r\nx", {" ?!\r\n", "x"});
  expect(k, "e\xCC\x81", {"e", "\xCC\x81"});  // a combining mark is not \p{L}
  expect(k, "a\xC2\x85" "b", {"a", "\xC2\x85" "b"});  // U+0085 is White_Space but not \r\n
  expect(PreTokenizerKind::kCl100kLegacy, "a\n  ", {"a", "\n", "  "});
  expect(PreTokenizerKind::kCl100kLegacy, "a \n b", {"a", " \n", " b"});
}

static void test_o200k() {
  const auto k = PreTokenizerKind::kO200k;
  expect(k, "Hello world", {"Hello", " world"});
  expect(k, "don'T x'\xC5\xBF", {"don'T", " x'\xC5\xBF"});
  expect(k, "HTMLParser camelCase", {"HTMLParser", " camel", "Case"});
  expect(k, "ABC", {"ABC"});
  expect(k, "\xCC\x81" "ABC", {"\xCC\x81", "ABC"});  // a lone mark, then the capitals
  expect(k, "A\xCC\x81" "BC", {"A\xCC\x81", "BC"});  // X* gives back to the last mark
  expect(k, "a\xCC\x81", {"a\xCC\x81"});
  expect(k, " \xCC\x81", {" \xCC\x81"});
  expect(k, "!!\xCC\x81", {"!!\xCC\x81"});
  expect(k, "a/b//\n", {"a", "/b", "//\n"});
  expect(k, "1234", {"123", "4"});
  expect(k, "a\n  ", {"a", "\n", "  "});  // no \s++$ branch
  expect(k, "a  \n\n  b", {"a", "  \n\n", " ", " b"});
}

static double seconds_for(PreTokenizerKind kind, const std::string& text, size_t* pieces) {
  const auto t0 = std::chrono::steady_clock::now();
  *pieces = split(kind, text).size();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

static void test_linear_time() {
  const size_t n = 1000000;
  const std::string runs[] = {std::string(n, ' '),        std::string(n, 'a'),       std::string(n, '7'),
                              std::string(n, '^'),        std::string(n, '\n'),      std::string(n, 'A'),
                              std::string(n / 2, ' ') + "x", [] {
                                std::string s;
                                while (s.size() < 1000000) s += " \t\n\r\xC2\xA0\xE3\x80\x80";
                                return s;
                              }(),
                              [] {
                                std::string s;
                                while (s.size() < 1000000) s += "\xCC\x81" "A";
                                return s;
                              }()};
  for (auto kind : {PreTokenizerKind::kGpt2, PreTokenizerKind::kCl100k, PreTokenizerKind::kO200k,
                    PreTokenizerKind::kCl100kLegacy}) {
    for (const auto& text : runs) {
      size_t pieces = 0;
      const double s = seconds_for(kind, text, &pieces);
      if (s > 0.5) {
        ++g_failures;
        std::fprintf(stderr, "%s: %zu-byte run took %.3f s\n", pretokenizer_kind_name(kind), text.size(), s);
      }
    }
  }
}

int main() {
  test_unicode_tables();
  test_known_pattern();
  test_gpt2();
  test_cl100k();
  test_o200k();
  test_linear_time();
  if (g_failures) {
    std::fprintf(stderr, "%d failure(s)\n", g_failures);
    return 1;
  }
  std::printf("test_pretokenize: all passed\n");
  return 0;
}
