// What the C++ test programs share: CHECK counts a failure and goes on (main returns non-zero
// when g_failures > 0), and helpers for the lexer tests that compare a text's pieces.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

inline int g_failures = 0;

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      ++g_failures;                                                                 \
    }                                                                               \
  } while (0)

// The pieces of `text` ending at each of `ends` (piece i starts where piece i-1 ended); an end
// that does not advance or runs past the text is a failure, reported with `lexer`'s name.
inline std::vector<std::string> pieces_at(const std::string& text, const std::vector<uint32_t>& ends,
                                          const char* lexer) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (uint32_t e : ends) {
    if (e <= pos || e > text.size()) {
      std::fprintf(stderr, "lexer %s made no progress at %zu\n", lexer, pos);
      ++g_failures;
      break;
    }
    out.emplace_back(text.substr(pos, e - pos));
    pos = e;
  }
  return out;
}

inline void expect_pieces(const char* lexer, const std::string& text, const std::vector<std::string>& got,
                          const std::vector<std::string>& want) {
  if (got == want) return;
  ++g_failures;
  std::fprintf(stderr, "lexer %s, text \"%s\": got", lexer, text.c_str());
  for (const auto& p : got) std::fprintf(stderr, " [%s]", p.c_str());
  std::fprintf(stderr, ", want");
  for (const auto& p : want) std::fprintf(stderr, " [%s]", p.c_str());
  std::fprintf(stderr, "\n");
}
