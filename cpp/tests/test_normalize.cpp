// C++ unit tests for Unicode normalization: NormalizationTest.txt in full, the "everything else is
// unchanged" invariant, the quick-check fast path, invalid UTF-8, and adversarial inputs.
#undef NDEBUG
#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fastprep/normalize.h"

using namespace fastprep;

namespace {

const NormalizationForm kForms[4] = {NormalizationForm::kNFC, NormalizationForm::kNFD, NormalizationForm::kNFKC,
                                     NormalizationForm::kNFKD};

void append_utf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::u32string utf8_to_utf32(const std::string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    const uint8_t b = static_cast<uint8_t>(s[i]);
    const size_t len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
    out.push_back(static_cast<char32_t>(cp));
    i += len;
  }
  return out;
}

// Runs the code-point-array entry points on every unit width that can hold `cps`.
void check_code_points(const std::u32string& cps, NormalizationForm form, const std::u32string& want) {
  uint32_t max_cp = 0;
  for (char32_t c : cps) max_cp = std::max<uint32_t>(max_cp, c);
  std::u32string out;
  bool unchanged = false;
  const std::vector<uint32_t> w32(cps.begin(), cps.end());
  assert(NormalizeCodePoints(w32.data(), w32.size(), form, &out, &unchanged).ok());
  assert(unchanged ? (out.empty() && cps == want) : out == want);
  assert(QuickCheckCodePoints(w32.data(), w32.size(), form) <= unchanged);
  if (max_cp < 0x10000) {
    const std::vector<uint16_t> w16(cps.begin(), cps.end());
    assert(NormalizeCodePoints(w16.data(), w16.size(), form, &out).ok() && out == want);
  }
  if (max_cp < 0x100) {
    const std::vector<uint8_t> w8(cps.begin(), cps.end());
    assert(NormalizeCodePoints(w8.data(), w8.size(), form, &out).ok() && out == want);
  }
}

std::string norm(const std::string& s, NormalizationForm form) {
  std::string out;
  Status st = Normalize(s, form, &out);
  assert(st.ok());
  check_code_points(utf8_to_utf32(s), form, utf8_to_utf32(out));
  // The no-copy variant must agree.
  std::string out2;
  bool unchanged = false;
  st = Normalize(s, form, &out2, &unchanged);
  assert(st.ok());
  assert(unchanged ? (out2.empty() && out == s) : out2 == out);
  bool is_norm = false;
  assert(IsNormalized(s, form, &is_norm).ok() && is_norm == (out == s));
  return out;
}

std::string hex_field_to_utf8(const std::string& field) {
  std::istringstream in(field);
  std::string out, tok;
  while (in >> tok) append_utf8(static_cast<uint32_t>(std::stoul(tok, nullptr, 16)), &out);
  return out;
}

void test_conformance_file() {
  const std::string path = std::string(FASTPREP_SOURCE_DIR) + "/tests/data/NormalizationTest-15.0.0.txt.bz2";
  const std::string cmd = "bzip2 -dc '" + path + "'";
  FILE* f = popen(cmd.c_str(), "r");
  assert(f != nullptr);
  std::string text;
  char chunk[1 << 16];
  size_t got;
  while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) text.append(chunk, got);
  const int rc = pclose(f);
  assert(rc == 0 && !text.empty());
  assert(std::string(NormalizationUnicodeVersion()) == "15.0.0");
  assert(text.find("NormalizationTest-15.0.0.txt") != std::string::npos);

  std::istringstream lines(text);
  std::string line;
  bool part1 = false;
  std::set<uint32_t> part1_cps;
  size_t cases = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '@') {
      part1 = line.rfind("@Part1", 0) == 0;
      continue;
    }
    std::vector<std::string> c;
    size_t start = 0;
    for (int k = 0; k < 5; ++k) {
      const size_t semi = line.find(';', start);
      c.push_back(hex_field_to_utf8(line.substr(start, semi - start)));
      start = semi + 1;
    }
    if (part1) part1_cps.insert(static_cast<uint32_t>(std::stoul(line.substr(0, line.find(';')), nullptr, 16)));
    for (int k = 0; k < 3; ++k) {
      assert(norm(c[k], NormalizationForm::kNFC) == c[1]);
      assert(norm(c[k], NormalizationForm::kNFD) == c[2]);
    }
    for (int k = 3; k < 5; ++k) {
      assert(norm(c[k], NormalizationForm::kNFC) == c[3]);
      assert(norm(c[k], NormalizationForm::kNFD) == c[4]);
    }
    for (int k = 0; k < 5; ++k) {
      assert(norm(c[k], NormalizationForm::kNFKC) == c[3]);
      assert(norm(c[k], NormalizationForm::kNFKD) == c[4]);
    }
    ++cases;
  }
  assert(cases > 19000 && part1_cps.size() > 10000);

  // Part 1 invariant: every code point not listed there is unchanged by every form.
  size_t unchanged = 0;
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if ((cp >= 0xD800 && cp <= 0xDFFF) || part1_cps.count(cp)) continue;
    std::string s;
    append_utf8(cp, &s);
    for (NormalizationForm form : kForms) {
      std::string out;
      bool same = false;
      assert(Normalize(s, form, &out, &same).ok());
      assert(same);
    }
    ++unchanged;
  }
  std::printf("NormalizationTest-15.0.0: %zu cases x 4 forms OK; %zu other code points unchanged\n", cases,
              unchanged);
}

void test_fast_path_and_unchanged() {
  std::string out = "junk";
  bool unchanged = false;
  assert(Normalize("plain ascii text, long enough for 16-byte blocks", NormalizationForm::kNFC, &out, &unchanged).ok());
  assert(unchanged && out.empty());
  assert(Normalize("", NormalizationForm::kNFKD, &out, &unchanged).ok() && unchanged);
  // e + COMBINING ACUTE -> é under NFC.
  assert(Normalize("caf\x65\xCC\x81!", NormalizationForm::kNFC, &out, &unchanged).ok());
  assert(!unchanged && out == "caf\xC3\xA9!");
  // U+1161 alone: quick check says Maybe, but the text is normal -> unchanged.
  assert(Normalize("x\xE1\x85\xA1y", NormalizationForm::kNFC, &out, &unchanged).ok() && unchanged && out.empty());
  // Hangul: L V T -> LVT syllable (U+D4DB), and back.
  assert(norm("\xE1\x84\x91\xE1\x85\xB1\xE1\x86\xB6", NormalizationForm::kNFC) == "\xED\x93\x9B");
  assert(norm("\xED\x93\x9B", NormalizationForm::kNFD) == "\xE1\x84\x91\xE1\x85\xB1\xE1\x86\xB6");
  // NFKC: fi ligature, full-width A, superscript two.
  assert(norm("\xEF\xAC\x81 \xEF\xBC\xA1 \xC2\xB2", NormalizationForm::kNFKC) == "fi A 2");
  // Quick-check prefix ends at the starter before the first problem.
  assert(QuickCheckPrefix("abc\x65\xCC\x81", NormalizationForm::kNFC) == 3);
  assert(QuickCheckPrefix("abc", NormalizationForm::kNFC) == 3);
  assert(CanonicalCombiningClass(0x301) == 230 && CanonicalCombiningClass('a') == 0);
  // A long text with problems scattered after the ASCII blocks keeps the normal parts verbatim.
  std::string big, expected;
  for (int i = 0; i < 1000; ++i) {
    big += "The quick brown fox jumps over the lazy dog. e\xCC\x81 ";
    expected += "The quick brown fox jumps over the lazy dog. \xC3\xA9 ";
  }
  assert(norm(big, NormalizationForm::kNFC) == expected);
}

void test_code_point_quick_check() {
  const uint8_t latin1[] = {'c', 'a', 'f', 0xE9, 0xA0};  // "café" + NO-BREAK SPACE
  assert(QuickCheckCodePoints(latin1, 5, NormalizationForm::kNFC));
  assert(!QuickCheckCodePoints(latin1, 5, NormalizationForm::kNFD));   // é decomposes
  assert(!QuickCheckCodePoints(latin1, 5, NormalizationForm::kNFKC));  // U+00A0 -> U+0020
  assert(QuickCheckCodePoints(latin1, 3, NormalizationForm::kNFKD));
  const uint16_t ordered[] = {'a', 0x316, 0x363, 0x65E5, 0x672C};      // classes 220 then 230, no compositions
  const uint16_t unordered[] = {'a', 0x363, 0x316};
  const uint16_t maybe[] = {0x304B, 0x3099};                           // か + combining dakuten
  const uint16_t surrogate[] = {'a', 0xD800};
  for (NormalizationForm form : kForms) {
    assert(QuickCheckCodePoints(ordered, 5, form));
    assert(!QuickCheckCodePoints(unordered, 3, form));
    assert(!QuickCheckCodePoints(surrogate, 2, form));
  }
  assert(!QuickCheckCodePoints(maybe, 2, NormalizationForm::kNFC));
  assert(QuickCheckCodePoints(maybe, 2, NormalizationForm::kNFD));
  std::vector<uint16_t> long_ascii(1000, 'x');
  long_ascii[997] = 0x2126;  // OHM SIGN -> U+03A9 after a run of 8-byte blocks
  assert(!QuickCheckCodePoints(long_ascii.data(), long_ascii.size(), NormalizationForm::kNFC));
  const uint32_t wide[] = {0x1F600, 0x1D15E, 0x10FFFF};  // emoji; MUSICAL SYMBOL HALF NOTE (decomposes)
  assert(QuickCheckCodePoints(wide, 1, NormalizationForm::kNFKC));
  assert(!QuickCheckCodePoints(wide, 2, NormalizationForm::kNFC));
  assert(QuickCheckCodePoints(wide + 2, 1, NormalizationForm::kNFC));
}

void test_invalid_utf8() {
  struct Case {
    std::string text;
    size_t offset;
  };
  const Case cases[] = {
      {"abc\xC0\x80", 3},              // overlong
      {"abc\xED\xA0\x80", 3},          // surrogate U+D800
      {"\xF4\x90\x80\x80", 0},         // above U+10FFFF
      {"ab\xE2\x82", 2},               // truncated
      {"\x80", 0},                     // lone continuation
      {"e\xCC\x81\xFF", 3},            // after a slow-path segment
      {"e\xCC\x81xyz\xC3", 6},         // truncated after the scan resumed
      {"0123456789abcdef0123\xF8", 20},  // after an ASCII block
  };
  for (const Case& c : cases) {
    for (NormalizationForm form : kForms) {
      std::string out;
      size_t offset = 12345;
      Status st = Normalize(c.text, form, &out, nullptr, &offset);
      assert(!st.ok() && st.code() == ErrorCode::kInvalidUtf8);
      assert(offset == c.offset);
      assert(st.message().find("byte offset " + std::to_string(c.offset)) != std::string::npos);
      bool is_norm;
      assert(IsNormalized(c.text, form, &is_norm).code() == ErrorCode::kInvalidUtf8);
    }
  }
  // Code-point input: surrogates and out-of-range values are reported by index.
  const uint16_t with_surrogate[] = {'a', 0x301, 'b', 0xDC80, 'c'};
  const uint32_t out_of_range[] = {'e', 0x301, 0x110000};
  for (NormalizationForm form : kForms) {
    std::u32string out;
    size_t index = 99;
    Status st = NormalizeCodePoints(with_surrogate, 5, form, &out, nullptr, &index);
    assert(!st.ok() && st.code() == ErrorCode::kInvalidArgument && index == 3);
    assert(st.message() == "normalize: text contains a lone surrogate U+DC80 at index 3; only valid Unicode "
                           "text can be normalized");
    st = NormalizeCodePoints(out_of_range, 3, form, &out, nullptr, &index);
    assert(!st.ok() && index == 2);
  }
  NormalizationForm form;
  assert(ParseNormalizationForm("NFKC", &form).ok() && form == NormalizationForm::kNFKC);
  Status st = ParseNormalizationForm("nfc", &form);
  assert(!st.ok() && st.code() == ErrorCode::kInvalidArgument && st.message().find("'nfc'") != std::string::npos);
  assert(std::string(NormalizationFormName(NormalizationForm::kNFKD)) == "NFKD");
}

void test_adversarial_marks() {
  // 200,000 alternating marks of classes 230 and 220 after one starter: one huge segment that a
  // mark-by-mark insertion sort would take quadratic time on.
  std::string s = "a";
  for (int i = 0; i < 100000; ++i) s += "\xCC\x81\xCC\x96";  // U+0301 (230), U+0316 (220)
  const auto t0 = std::chrono::steady_clock::now();
  std::string out = norm(s, NormalizationForm::kNFD);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  assert(out.size() == s.size());
  assert(out.compare(1, 2, "\xCC\x96") == 0 && out.compare(out.size() - 2, 2, "\xCC\x81") == 0);
  assert(secs < 5.0);
  // NFC: after reordering, the first U+0301 is not blocked (220 < 230) and composes with a -> á.
  std::string nfc = norm(s, NormalizationForm::kNFC);
  assert(nfc.size() == s.size() - 1 && nfc.compare(0, 2, "\xC3\xA1") == 0);
}

void test_random_idempotence() {
  std::mt19937 rng(12345);
  // Mostly interesting code points: Latin, combining marks, Hangul, compatibility characters.
  const uint32_t ranges[][2] = {{0x41, 0x7A},     {0xC0, 0x17F},   {0x300, 0x36F}, {0x1100, 0x11FF},
                                {0xAC00, 0xAC40}, {0x1E00, 0x1EFF}, {0xFB00, 0xFB4F}, {0x3099, 0x309C},
                                {0x1D15E, 0x1D164}, {0xFF00, 0xFF60}, {0x0F70, 0x0F80}, {0x2000, 0x2100}};
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s;
    const int len = static_cast<int>(rng() % 12);
    for (int k = 0; k < len; ++k) {
      const auto& r = ranges[rng() % (sizeof ranges / sizeof ranges[0])];
      append_utf8(r[0] + rng() % (r[1] - r[0] + 1), &s);
    }
    const std::string nfc = norm(s, NormalizationForm::kNFC), nfd = norm(s, NormalizationForm::kNFD);
    const std::string nfkc = norm(s, NormalizationForm::kNFKC), nfkd = norm(s, NormalizationForm::kNFKD);
    assert(norm(nfc, NormalizationForm::kNFC) == nfc && norm(nfd, NormalizationForm::kNFC) == nfc);
    assert(norm(nfc, NormalizationForm::kNFD) == nfd && norm(nfd, NormalizationForm::kNFD) == nfd);
    assert(norm(nfkc, NormalizationForm::kNFKC) == nfkc && norm(nfkd, NormalizationForm::kNFKC) == nfkc);
    assert(norm(nfc, NormalizationForm::kNFKD) == nfkd && norm(nfkc, NormalizationForm::kNFKD) == nfkd);
    // Normalizing a concatenation with a normal ASCII prefix only prepends the prefix.
    assert(norm("0123456789abcdefXYZ " + s, NormalizationForm::kNFC) == "0123456789abcdefXYZ " + nfc);
  }
}

}  // namespace

int main() {
  test_fast_path_and_unchanged();
  test_code_point_quick_check();
  test_invalid_utf8();
  test_adversarial_marks();
  test_random_idempotence();
  test_conformance_file();
  std::printf("test_normalize: all passed\n");
  return 0;
}
