// Pre-tokenization: linear-time lexers that reproduce tiktoken's regex splits exactly.
//
// Each next_piece_* function is a hand-derived equivalent of one pattern under fancy-regex's
// semantics (leftmost-first alternation, greedy backtracking, possessive quantifiers). The
// comments next to each branch name the alternative it implements and why backtracking collapses
// to a single forward scan. Every scan only moves forward from pos and each byte is examined a
// bounded number of times per piece, so splitting a whole text is linear.
#include "fastprep/pretokenize.h"

#include "fastprep/unicode.h"

namespace fastprep {
namespace {

// Lexer classes, one bit each, so every character set of the patterns is a mask.
enum : uint8_t {
  kUpper = 1,     // Lu, Lt
  kLower = 2,     // Ll
  kModOther = 4,  // Lm, Lo: in both of o200k's case classes
  kMark = 8,      // Mn, Mc, Me (not \p{L}, so also "punctuation" for the patterns)
  kNumber = 16,   // Nd, Nl, No
  kBlank = 32,    // White_Space other than \r and \n
  kNewline = 64,  // \r, \n
  kOther = 128,   // everything else
};
constexpr uint8_t kLetter = kUpper | kLower | kModOther;      // \p{L}
constexpr uint8_t kSpace = kBlank | kNewline;                 // \s
constexpr uint8_t kPunct = kOther | kMark;                    // [^\s\p{L}\p{N}]
constexpr uint8_t kPrefix = kBlank | kOther | kMark;          // [^\r\n\p{L}\p{N}]
constexpr uint8_t kWord = kLetter | kMark;                    // o200k word characters
constexpr uint8_t kCaseUpper = kUpper | kModOther | kMark;    // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
constexpr uint8_t kCaseLower = kLower | kModOther | kMark;    // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
constexpr uint8_t kCaseBoth = kModOther | kMark;              // in both case classes

struct ClassTables {
  uint8_t by_properties[64];  // indexed by unicode_properties(cp) (category | White_Space flag)
  uint8_t ascii[128];
};

constexpr uint8_t class_of_category(uint8_t category) {
  switch (static_cast<GeneralCategory>(category)) {
    case GeneralCategory::kLu:
    case GeneralCategory::kLt: return kUpper;
    case GeneralCategory::kLl: return kLower;
    case GeneralCategory::kLm:
    case GeneralCategory::kLo: return kModOther;
    case GeneralCategory::kMn:
    case GeneralCategory::kMc:
    case GeneralCategory::kMe: return kMark;
    case GeneralCategory::kNd:
    case GeneralCategory::kNl:
    case GeneralCategory::kNo: return kNumber;
    default: return kOther;
  }
}

constexpr ClassTables make_class_tables() {
  ClassTables t{};
  for (int i = 0; i < 64; ++i) {
    // Every White_Space character is Zs/Zl/Zp/Cc, so the flag alone decides.
    t.by_properties[i] = (i & kWhiteSpaceFlag) ? uint8_t{kBlank} : class_of_category(i & kCategoryMask);
  }
  for (int b = 0; b < 128; ++b) {
    uint8_t c = kOther;
    if (b >= 'A' && b <= 'Z') c = kUpper;
    else if (b >= 'a' && b <= 'z') c = kLower;
    else if (b >= '0' && b <= '9') c = kNumber;
    else if (b == '\r' || b == '\n') c = kNewline;
    else if (b == ' ' || b == '\t' || b == '\v' || b == '\f') c = kBlank;  // ASCII White_Space
    t.ascii[b] = c;
  }
  return t;
}

constexpr ClassTables kClasses = make_class_tables();

// Class of the character at s[i] (i < n); its byte length goes to *len.
inline uint8_t class_at(const uint8_t* s, size_t i, size_t* len) {
  const uint8_t b = s[i];
  if (b < 0x80) {
    *len = 1;
    return kClasses.ascii[b];
  }
  return kClasses.by_properties[unicode_properties(decode_utf8(s + i, len))];
}

// End of the run of characters whose class is in `mask`, starting at i.
inline size_t skip_class(const uint8_t* s, size_t n, size_t i, uint8_t mask) {
  while (i < n) {
    const uint8_t b = s[i];
    if (b < 0x80) {
      if (!(kClasses.ascii[b] & mask)) break;
      ++i;
      continue;
    }
    size_t len;
    if (!(class_at(s, i, &len) & mask)) break;
    i += len;
  }
  return i;
}

// [\r\n]* (cl100k) or [\r\n/]* (o200k) after punctuation.
template <bool kSlash>
inline size_t skip_newlines(const uint8_t* s, size_t n, size_t i) {
  while (i < n && (s[i] == '\r' || s[i] == '\n' || (kSlash && s[i] == '/'))) ++i;
  return i;
}

// `\p{N}{1,kMax}` starting with the number of byte length len at p; kMax == 0 means no bound
// (`\p{N}+`).
template <int kMax = 3>
inline size_t number_piece(const uint8_t* s, size_t n, size_t p, size_t len) {
  size_t i = p + len;
  for (int k = 1; (kMax == 0 || k < kMax) && i < n; ++k) {
    size_t l;
    if (!(class_at(s, i, &l) & kNumber)) break;
    i += l;
  }
  return i;
}

// Case-insensitive `'(?:[sdmt]|ll|ve|re)` at s[p] == '\''; 0 when absent. Under Unicode simple
// case folding the only non-ASCII member of these letters' classes is U+017F LATIN SMALL LETTER
// LONG S (folds to s); tiktoken matches it (probed). U+212A KELVIN SIGN folds to k, not used here.
inline size_t contraction_ci(const uint8_t* s, size_t n, size_t p) {
  if (p + 1 >= n) return 0;
  const uint8_t c1 = s[p + 1] | 0x20;  // ASCII lower case; no other byte maps onto a letter
  if (c1 == 's' || c1 == 'd' || c1 == 'm' || c1 == 't') return p + 2;
  if (p + 2 >= n) return 0;
  if (s[p + 1] == 0xC5 && s[p + 2] == 0xBF) return p + 3;  // U+017F
  const uint8_t c2 = s[p + 2] | 0x20;
  if ((c1 == 'l' && c2 == 'l') || (c1 == 'v' && c2 == 'e') || (c1 == 'r' && c2 == 'e')) return p + 3;
  return 0;
}

struct SpaceRun {
  size_t end;          // end of the maximal \s run
  size_t last_start;   // start of its last character
  size_t newline_end;  // end of its last \r or \n; 0 when it has none
};

inline SpaceRun scan_space(const uint8_t* s, size_t n, size_t p) {
  SpaceRun r{p, p, 0};
  size_t i = p;
  while (i < n) {
    size_t len;
    const uint8_t c = class_at(s, i, &len);
    if (!(c & kSpace)) break;
    r.last_start = i;
    i += len;
    if (c & kNewline) r.newline_end = i;
  }
  r.end = i;
  return r;
}

// `\s+(?!\S)` then a single `\s`: a run followed by a non-space gives back its last character
// (the lookahead fails after the whole run and holds one character earlier) unless it is one
// character long, when `\s` takes that one character.
inline size_t space_before_text(const SpaceRun& r, size_t p) { return r.last_start > p ? r.last_start : r.end; }

// o200k's words: `X*Y+` with X = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], Y = [\p{Ll}\p{Lm}\p{Lo}\p{M}]
// from q. Backtracking order: X* takes the longest X run; if a lowercase-only character (Ll)
// stops it, Y+ takes the Y run from there. If X* ran to the end of the word, X* gives characters
// back until Y+ can start: at the last character in both classes (Lm/Lo/M), and Y+ then ends right
// after it (only Lu/Lt follow). Returns 0 when there is no match (the word is only Lu/Lt, possibly
// empty); *upper_end is then where that Lu/Lt run ends, which is where `X+Y*` (the next
// alternative) would end.
inline size_t o200k_lower_word(const uint8_t* s, size_t n, size_t q, size_t* upper_end) {
  size_t i = q;
  size_t last_both_end = 0;
  while (i < n) {
    size_t len;
    const uint8_t c = class_at(s, i, &len);
    if (c & kLower) return skip_class(s, n, i + len, kCaseLower);
    if (!(c & kCaseUpper)) break;
    i += len;
    if (c & kCaseBoth) last_both_end = i;
  }
  *upper_end = i;
  return last_both_end;
}

inline size_t o200k_with_contraction(const uint8_t* s, size_t n, size_t end) {
  if (end < n && s[end] == '\'') {
    const size_t c = contraction_ci(s, n, end);
    if (c) return c;
  }
  return end;
}

// cl100k_base, and with kLegacy the pre-0.7 spelling that lacks `\s++$`. kMaxNumbers is the
// bound of the number alternative: 3 (`\p{N}{1,3}`), 1 (Qwen2's `\p{N}`) or 0 (none: Oniguruma
// reads cl100k_base's `\p{N}{1,3}+` as `(?:\p{N}{1,3})+`).
template <bool kLegacy, int kMaxNumbers = 3>
size_t next_piece_cl100k_impl(const uint8_t* s, size_t n, size_t pos) {
  const uint8_t b = s[pos];
  if (b == '\'') {  // '(?i:[sdmt]|ll|ve|re)
    const size_t end = contraction_ci(s, n, pos);
    if (end) return end;
  }
  size_t len;
  const uint8_t c = class_at(s, pos, &len);
  const size_t q = pos + len;
  if (c & kLetter) return skip_class(s, n, q, kLetter);  // [^\r\n\p{L}\p{N}]?+\p{L}++
  if (c & kNumber) return number_piece<kMaxNumbers>(s, n, pos, len);  // \p{N}{1,3}+
  if ((c & kPrefix) && q < n) {
    size_t len2;
    const uint8_t c2 = class_at(s, q, &len2);
    if (c2 & kLetter) return skip_class(s, n, q + len2, kLetter);
    // ` ?[^\s\p{L}\p{N}]++[\r\n]*+` with the space
    if (b == ' ' && (c2 & kPunct)) return skip_newlines<false>(s, n, skip_class(s, n, q + len2, kPunct));
  }
  if (c & kPunct) return skip_newlines<false>(s, n, skip_class(s, n, q, kPunct));
  // \s++$ | \s*[\r\n] | \s+(?!\S) | \s   (legacy: \s*[\r\n]+ | \s+(?!\S) | \s+)
  const SpaceRun r = scan_space(s, n, pos);
  if (!kLegacy && r.end == n) return n;
  if (r.newline_end) return r.newline_end;  // \s* backtracks to the last line break
  if (r.end == n) return n;
  return space_before_text(r, pos);
}

}  // namespace

size_t next_piece_gpt2(const uint8_t* s, size_t n, size_t pos) {
  const uint8_t b = s[pos];
  if (b == '\'' && pos + 1 < n) {  // '(?:[sdmt]|ll|ve|re), case-sensitive
    const uint8_t c1 = s[pos + 1];
    if (c1 == 's' || c1 == 'd' || c1 == 'm' || c1 == 't') return pos + 2;
    if (pos + 2 < n) {
      const uint8_t c2 = s[pos + 2];
      if ((c1 == 'l' && c2 == 'l') || (c1 == 'v' && c2 == 'e') || (c1 == 'r' && c2 == 'e')) return pos + 3;
    }
  }
  size_t len;
  uint8_t c = class_at(s, pos, &len);
  size_t start = pos;
  if (b == ' ' && pos + 1 < n) {  // the optional leading space of the next three alternatives
    size_t len2;
    const uint8_t c2 = class_at(s, pos + 1, &len2);
    if (!(c2 & kSpace)) {
      c = c2;
      start = pos + 1;
      len = len2;
    }
  }
  if (c & kLetter) return skip_class(s, n, start + len, kLetter);  //  ?\p{L}++
  if (c & kNumber) return skip_class(s, n, start + len, kNumber);  //  ?\p{N}++
  if (c & kPunct) return skip_class(s, n, start + len, kPunct);    //  ?[^\s\p{L}\p{N}]++
  const SpaceRun r = scan_space(s, n, pos);                        // \s++$ | \s+(?!\S) | \s
  return r.end == n ? n : space_before_text(r, pos);
}

size_t next_piece_cl100k(const uint8_t* s, size_t n, size_t pos) { return next_piece_cl100k_impl<false>(s, n, pos); }

size_t next_piece_cl100k_legacy(const uint8_t* s, size_t n, size_t pos) {
  return next_piece_cl100k_impl<true>(s, n, pos);
}

size_t next_piece_qwen2(const uint8_t* s, size_t n, size_t pos) {
  return next_piece_cl100k_impl<true, 1>(s, n, pos);
}

size_t next_piece_cl100k_oniguruma(const uint8_t* s, size_t n, size_t pos) {
  return next_piece_cl100k_impl<false, 0>(s, n, pos);
}

size_t next_piece_o200k(const uint8_t* s, size_t n, size_t pos) {
  const uint8_t b = s[pos];
  size_t len;
  const uint8_t c = class_at(s, pos, &len);
  const size_t q = pos + len;
  size_t upper_end = 0;
  // Alternatives 1 and 2: [^\r\n\p{L}\p{N}]? then X*Y+ (1) or X+Y* (2), then (?i:'s|...|'d)?.
  // Backtracking order: 1 with the prefix, 1 without it, 2 with it, 2 without it.
  if (c & kPrefix) {
    if (q < n) {
      const size_t end = o200k_lower_word(s, n, q, &upper_end);
      if (end) return o200k_with_contraction(s, n, end);
    }
    // Without the prefix, a mark starts the word itself and X*Y+ always matches.
    if (c & kMark) return o200k_with_contraction(s, n, o200k_lower_word(s, n, pos, &upper_end));
    if (q < n && upper_end > q) return o200k_with_contraction(s, n, upper_end);
  } else if (c & kLetter) {
    size_t end = o200k_lower_word(s, n, pos, &upper_end);
    if (!end) end = upper_end;  // X+Y*: the word is all Lu/Lt
    return o200k_with_contraction(s, n, end);
  }
  if (c & kNumber) return number_piece(s, n, pos, len);  // \p{N}{1,3}
  if (b == ' ' && q < n) {                               //  ?[^\s\p{L}\p{N}]+[\r\n/]*
    size_t len2;
    if (class_at(s, q, &len2) & kPunct) return skip_newlines<true>(s, n, skip_class(s, n, q + len2, kPunct));
  }
  if (c & kPunct) return skip_newlines<true>(s, n, skip_class(s, n, q, kPunct));
  // \s*[\r\n]+ | \s+(?!\S) | \s+
  const SpaceRun r = scan_space(s, n, pos);
  if (r.newline_end) return r.newline_end;
  if (r.end == n) return n;
  return space_before_text(r, pos);
}

namespace {
constexpr std::string_view kR50kPattern =
    R"PAT('(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s)PAT";
constexpr std::string_view kGpt2LegacyPattern =
    R"PAT('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)PAT";
constexpr std::string_view kCl100kPattern =
    R"PAT('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s)PAT";
constexpr std::string_view kCl100kLegacyPattern =
    R"PAT((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)PAT";
constexpr std::string_view kO200kPattern =
    R"PAT([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)PAT";
}  // namespace

PreTokenizerKind known_pattern(std::string_view pattern) {
  if (pattern == kCl100kPattern) return PreTokenizerKind::kCl100k;
  if (pattern == kO200kPattern) return PreTokenizerKind::kO200k;
  if (pattern == kR50kPattern || pattern == kGpt2LegacyPattern) return PreTokenizerKind::kGpt2;
  if (pattern == kCl100kLegacyPattern) return PreTokenizerKind::kCl100kLegacy;
  return PreTokenizerKind::kNone;
}

NextPieceFn next_piece_fn(PreTokenizerKind kind) {
  switch (kind) {
    case PreTokenizerKind::kCl100k: return next_piece_cl100k;
    case PreTokenizerKind::kO200k: return next_piece_o200k;
    case PreTokenizerKind::kGpt2: return next_piece_gpt2;
    case PreTokenizerKind::kCl100kLegacy: return next_piece_cl100k_legacy;
    case PreTokenizerKind::kNone: break;
  }
  return nullptr;
}

const char* pretokenizer_kind_name(PreTokenizerKind kind) {
  switch (kind) {
    case PreTokenizerKind::kCl100k: return "cl100k_base";
    case PreTokenizerKind::kO200k: return "o200k_base";
    case PreTokenizerKind::kGpt2: return "gpt2";
    case PreTokenizerKind::kCl100kLegacy: return "cl100k_base_legacy";
    case PreTokenizerKind::kNone: break;
  }
  return nullptr;
}

}  // namespace fastprep
