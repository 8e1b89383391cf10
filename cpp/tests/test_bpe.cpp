// Tests for the byte-level BPE core: rank loading and validation, tiktoken-exact merging (fast
// paths vs a brute-force reference), specials, decode, serial == parallel, the thread pool.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fastprep/bpe.h"
#include "fastprep/pretokenize.h"
#include "fastprep/thread_pool.h"

#include "check.h"

using namespace fastprep;

#define CHECK_OK(expr)                                                      \
  do {                                                                      \
    Status _st = (expr);                                                    \
    if (!_st.ok()) {                                                        \
      std::fprintf(stderr, "%s:%d: %s -> %s\n", __FILE__, __LINE__, #expr, _st.message().c_str()); \
      ++g_failures;                                                         \
    }                                                                       \
  } while (0)

static const uint8_t* u8(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

static bool read_file(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

// Rank files: $FASTPREP_VOCAB_DIR, then the package data folder.
static bool load_vocab(const std::string& name, std::string* out) {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("FASTPREP_VOCAB_DIR")) dirs.push_back(env);
  dirs.push_back(std::string(FASTPREP_SOURCE_DIR) + "/src/fastprep/data");
  for (const auto& d : dirs) {
    if (read_file(d + "/" + name + ".tiktoken", out)) return true;
  }
  return false;
}

// The specification, written the obvious way: tiktoken's byte_pair_encode.
static std::vector<uint32_t> reference_encode(const BpeRanks& r, const std::string& piece) {
  uint32_t whole = r.Rank(u8(piece), piece.size());
  if (whole != kNoRank) return {whole};
  std::vector<std::string> parts;
  for (char c : piece) parts.emplace_back(1, c);
  for (;;) {
    uint32_t best = kNoRank;
    size_t bi = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      std::string cat = parts[i] + parts[i + 1];
      uint32_t rk = r.Rank(u8(cat), cat.size());
      if (rk < best) {
        best = rk;
        bi = i;
      }
    }
    if (best == kNoRank) break;
    parts[bi] += parts[bi + 1];
    parts.erase(parts.begin() + bi + 1);
  }
  std::vector<uint32_t> ids;
  for (auto& p : parts) ids.push_back(r.Rank(u8(p), p.size()));
  return ids;
}

static std::vector<uint32_t> encode_piece(const BpeRanks& r, const std::string& s) {
  std::vector<uint32_t> v;
  CHECK_OK(r.EncodePiece(u8(s), s.size(), &v));
  return v;
}

static void test_rank_file_errors() {
  std::unique_ptr<BpeRanks> r;
  // "YQ==" = "a", "Yg==" = "b", "YWI=" = "ab"
  CHECK_OK(BpeRanks::FromTiktoken("YQ== 0\nYg== 1\n\nYWI= 5\r\n", &r));
  CHECK(r->size() == 3);
  CHECK(r->max_rank() == 5);
  std::string_view sv;
  CHECK(r->TokenBytes(5, &sv) && sv == "ab");
  CHECK(!r->TokenBytes(3, &sv));  // a hole
  CHECK(!r->TokenBytes(6, &sv));
  CHECK(!r->TokenBytes(kNoRank, &sv));
  CHECK(r->Rank(u8(std::string("ab")), 2) == 5);
  CHECK(r->Rank(u8(std::string("ba")), 2) == kNoRank);

  Status st = BpeRanks::FromTiktoken("YQ== 0\nY!== 1\n", &r);
  CHECK(st.code() == ErrorCode::kInvalidArgument);
  CHECK(st.message().find("line 2") != std::string::npos);
  st = BpeRanks::FromTiktoken("YQ== 0\nYg==\n", &r);
  CHECK(st.code() == ErrorCode::kInvalidArgument && st.message().find("line 2") != std::string::npos);
  st = BpeRanks::FromTiktoken("YQ== 0\nYQ== 1\n", &r);  // duplicate token
  CHECK(st.code() == ErrorCode::kInvalidArgument && st.message().find("duplicate") != std::string::npos);
  st = BpeRanks::FromTiktoken("YQ== 0\nYg== 0\n", &r);  // duplicate rank
  CHECK(st.code() == ErrorCode::kInvalidArgument && st.message().find("duplicate rank") != std::string::npos);
  st = BpeRanks::FromTiktoken("YQ== x1\n", &r);
  CHECK(st.code() == ErrorCode::kInvalidArgument);
  st = BpeRanks::FromTiktoken("YQ= 1\n", &r);  // bad length
  CHECK(st.code() == ErrorCode::kInvalidArgument);
  st = BpeRanks::FromTiktoken("YQ== 99999999999\n", &r);
  CHECK(st.code() == ErrorCode::kLimitExceeded);
  st = BpeRanks::FromTiktoken("YQ== 4000000000\n", &r);  // absurdly sparse
  CHECK(st.code() == ErrorCode::kLimitExceeded);
  CHECK_OK(BpeRanks::FromTiktoken("", &r));
  CHECK(r->size() == 0);

  // Pieces with a byte that has no rank are errors, not crashes.
  CHECK_OK(BpeRanks::FromPairs({{"a", 0}, {"b", 1}, {"ab", 2}, {"cd", 3}}, &r));
  std::vector<uint32_t> v;
  CHECK(r->EncodePiece(u8(std::string("abc")), 3, &v).code() == ErrorCode::kInvalidArgument);
  CHECK(v.empty());
  CHECK_OK(r->EncodePiece(u8(std::string("abcd")), 4, &v));  // "cd" merges first
  CHECK((v == std::vector<uint32_t>{2, 3}));
  CHECK(BpeRanks::FromPairs({{"", 0}}, &r).code() == ErrorCode::kInvalidArgument);
  CHECK(BpeRanks::FromPairs({{"a", 0}, {"a", 1}}, &r).code() == ErrorCode::kInvalidArgument);
}

// Small synthetic vocabulary: every byte, plus tokens whose merge order is subtle.
static void test_merge_order_synthetic() {
  std::vector<std::pair<std::string, uint32_t>> pairs;
  for (int b = 0; b < 256; ++b) pairs.push_back({std::string(1, static_cast<char>(b)), static_cast<uint32_t>(b)});
  pairs.push_back({"aa", 300});
  pairs.push_back({"aaaa", 301});
  pairs.push_back({"ab", 302});
  pairs.push_back({"bc", 299});  // lower than "ab"
  pairs.push_back({"abc", 303});
  pairs.push_back({"aab", 304});
  pairs.push_back({"xyzxyzxyz", 305});   // long whole token, never reachable by merging
  pairs.push_back({"0123456789abcdef0123", 306});
  std::unique_ptr<BpeRanks> r;
  CHECK_OK(BpeRanks::FromPairs(pairs, &r));
  CHECK((encode_piece(*r, "aaa") == std::vector<uint32_t>{300, 'a'}));  // leftmost tie
  CHECK((encode_piece(*r, "aaaaa") == std::vector<uint32_t>{301, 'a'}));
  CHECK((encode_piece(*r, "abc") == std::vector<uint32_t>{303}));       // whole piece
  // "bc" (299) beats "ab" (302); then "a"+"bc" is the token "abc".
  CHECK((encode_piece(*r, "abcabc") == std::vector<uint32_t>{303, 303}));
  CHECK((encode_piece(*r, "aabcc") == std::vector<uint32_t>{300, 299, 'c'}));
  CHECK((encode_piece(*r, "xyzxyzxyz") == std::vector<uint32_t>{305}));
  CHECK((encode_piece(*r, "0123456789abcdef0123") == std::vector<uint32_t>{306}));
  CHECK((encode_piece(*r, "0123456789abcdef0124").size() == 18));  // "bc", then "abc"
  // Long pieces (heap path) agree with the reference.
  std::mt19937 rng(7);
  for (int iter = 0; iter < 200; ++iter) {
    size_t len = 1 + rng() % 600;
    std::string s;
    for (size_t i = 0; i < len; ++i) s.push_back("aabc"[rng() % 4]);
    CHECK(encode_piece(*r, s) == reference_encode(*r, s));
  }
}

// The pair table behind merging (MergedRank) against the byte table: every split of a sample of
// tokens into two tokens (not only one canonical split), plus random pairs, which are mostly
// not tokens and so exercise the Bloom filter and the hot/full table fall-through.
static void check_merged_rank(const std::string& name, const BpeRanks& r, uint32_t stride) {
  auto concat_rank = [&](uint32_t a, uint32_t b) {
    std::string_view x, y;
    if (!r.TokenBytes(a, &x) || !r.TokenBytes(b, &y)) return kNoRank;
    std::string cat = std::string(x) + std::string(y);
    return r.Rank(u8(cat), cat.size());
  };
  size_t splits = 0, bad = 0;
  for (uint32_t id = 0; id <= r.max_rank(); id += stride) {
    std::string_view sv;
    if (!r.TokenBytes(id, &sv)) continue;
    for (size_t k = 1; k < sv.size(); ++k) {
      uint32_t a = r.Rank(reinterpret_cast<const uint8_t*>(sv.data()), k);
      uint32_t b = r.Rank(reinterpret_cast<const uint8_t*>(sv.data()) + k, sv.size() - k);
      if (a == kNoRank || b == kNoRank) continue;
      ++splits;
      if (r.MergedRank(a, b) != id) ++bad;
    }
  }
  std::mt19937 rng(99);
  size_t hits = 0;
  for (int iter = 0; iter < 200000; ++iter) {
    // Low ids are short, frequent tokens: pairs of them are often tokens too.
    uint32_t lim = iter % 2 ? r.max_rank() + 2 : 2000;
    uint32_t a = rng() % lim, b = rng() % lim;
    uint32_t want = concat_rank(a, b);
    hits += want != kNoRank;
    if (r.MergedRank(a, b) != want) ++bad;
  }
  if (bad) std::fprintf(stderr, "%s: %zu MergedRank mismatches\n", name.c_str(), bad);
  CHECK(bad == 0);
  CHECK(splits > r.size() / stride);  // many tokens have several splits
  CHECK(hits > 1000);
}

// A vocabulary in which some bytes have no rank cannot merge by id (a byte-less part may still
// join a neighbour into a token); the byte-keyed path handles it, and must match the reference.
static void test_partial_byte_vocab() {
  std::vector<std::pair<std::string, uint32_t>> pairs;
  uint32_t next_rank = 0;
  for (int b = 'a'; b <= 'e'; ++b) pairs.push_back({std::string(1, static_cast<char>(b)), next_rank++});
  for (const char* t : {"ab", "bc", "cd", "de", "abc", "bcd", "xa", "ax", "abcd", "eab", "xab"}) {
    pairs.push_back({t, next_rank++});
  }
  std::unique_ptr<BpeRanks> r;
  CHECK_OK(BpeRanks::FromPairs(pairs, &r));
  if (!r) return;
  CHECK((encode_piece(*r, "xab") == std::vector<uint32_t>{r->Rank(u8(std::string("xab")), 3)}));
  CHECK(r->MergedRank(r->Rank(u8(std::string("ab")), 2), r->Rank(u8(std::string("cd")), 2)) ==
        r->Rank(u8(std::string("abcd")), 4));
  std::mt19937 rng(5);
  for (int iter = 0; iter < 500; ++iter) {
    size_t len = 2 + rng() % 300;
    std::string s;
    for (size_t i = 0; i < len; ++i) s.push_back("abcdeab"[rng() % 7]);
    if (rng() % 3 == 0) s[rng() % len] = 'x';
    std::vector<uint32_t> got;
    Status st = r->EncodePiece(u8(s), s.size(), &got);
    std::vector<uint32_t> want = reference_encode(*r, s);
    bool want_ok = std::find(want.begin(), want.end(), kNoRank) == want.end();
    CHECK(st.ok() == want_ok);
    if (st.ok() && want_ok) CHECK(got == want);
  }
}

static void test_real_vocab(const std::string& name, const std::string& contents) {
  std::unique_ptr<BpeRanks> owned;
  CHECK_OK(BpeRanks::FromTiktoken(contents, &owned));
  if (!owned) return;
  const BpeRanks& r = *owned;
  // Brute-force reference vs the fast paths, on random strings over small alphabets (many
  // merges) and over all bytes, lengths spanning the small/long threshold.
  std::mt19937 rng(12345);
  const std::vector<std::string> alphabets = {"ab", "a b", "abcde", "0123456789", "^ ",
                                              "\xe3\x81\x82\xe3\x81\x84", "etaoin srh"};
  for (int iter = 0; iter < 3000; ++iter) {
    const std::string& alpha = alphabets[iter % alphabets.size()];
    size_t len = 1 + rng() % (iter % 10 == 0 ? 700 : 150);
    std::string s;
    for (size_t i = 0; i < len; ++i) s.push_back(alpha[rng() % alpha.size()]);
    auto got = encode_piece(r, s);
    auto want = reference_encode(r, s);
    if (got != want) {
      std::fprintf(stderr, "%s: mismatch on piece of %zu bytes over '%s'\n", name.c_str(), len, alpha.c_str());
      ++g_failures;
      break;
    }
  }
  for (int iter = 0; iter < 300; ++iter) {
    size_t len = 1 + rng() % 300;
    std::string s;
    for (size_t i = 0; i < len; ++i) s.push_back(static_cast<char>(rng() & 0xFF));
    CHECK(encode_piece(r, s) == reference_encode(r, s));
  }
  check_merged_rank(name, r, 5);
  // Pieces of every length class (whole token, byte-pair table, small scan up to 128 bytes,
  // bucket queue beyond) from real text fragments, against the reference.
  const std::string words[] = {"Donaudampfschifffahrts", "gesellschaft", "\xe6\x97\xa5\xe6\x9c\xac",
                               "\xe3\x81\xae", "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88", "--", "+", "==",
                               "unbelievably", "x", "0", "\xc3\xa9t\xc3\xa9"};
  for (int iter = 0; iter < 2000; ++iter) {
    std::string s;
    size_t target = 2 + rng() % (iter % 4 == 0 ? 400 : 140);
    while (s.size() < target) s += words[rng() % (sizeof(words) / sizeof(words[0]))];
    if (encode_piece(r, s) != reference_encode(r, s)) {
      std::fprintf(stderr, "%s: mismatch on a %zu-byte word piece\n", name.c_str(), s.size());
      ++g_failures;
      break;
    }
  }
  // Every token's bytes map back to its rank.
  for (uint32_t id = 0; id <= r.max_rank(); id += 7) {
    std::string_view sv;
    if (!r.TokenBytes(id, &sv)) continue;
    CHECK(r.Rank(reinterpret_cast<const uint8_t*>(sv.data()), sv.size()) == id);
  }
}

// Three-byte characters are pre-merged alone before merging a piece, when no token reaching
// across their edges can get in first. Adversarial vocabularies: random tokens built from
// fragments of a few kana (partial characters, whole ones, ASCII neighbours) with random ranks,
// so the load-time and encode-time checks fail in every way; the result must always equal the
// reference. Plus the hand-made cases each check exists for.
static void test_char_premerge_adversarial() {
  const std::string A = "\xe3\x81\x82", I = "\xe3\x81\x84", U = "\xe3\x81\x86", KA = "\xe3\x82\xa2";
  {
    // "ã\x81" (300) then "あ" (310). "x" + "ã\x81" (305) beats finishing あ after an "x".
    std::vector<std::pair<std::string, uint32_t>> pairs;
    for (int b = 0; b < 256; ++b) pairs.push_back({std::string(1, static_cast<char>(b)), static_cast<uint32_t>(b)});
    pairs.push_back({"\xe3\x81", 300});
    pairs.push_back({A, 310});
    pairs.push_back({"x\xe3\x81", 305});   // prefix of あ after "x"
    pairs.push_back({"\x82y", 299});       // suffix of あ before "y", below the first merge
    pairs.push_back({"z\xe3", 306});       // lead byte after "z": only s0 has it as an edge
    pairs.push_back({"bc", 307});
    pairs.push_back({A + "b", 302});       // whole あ + "b" below あ itself
    std::unique_ptr<BpeRanks> r;
    CHECK_OK(BpeRanks::FromPairs(pairs, &r));
    if (!r) return;
    for (const std::string s : {"x" + A, A + "y", "z" + A, A + "bc", "q" + A + "q", A + A + "x" + A,
                                "x" + A + "y" + A + "bc" + A, A + I + A}) {
      auto want = reference_encode(*r, s);
      CHECK(encode_piece(*r, s) == want);
    }
    CHECK((encode_piece(*r, "x" + A + "q") == std::vector<uint32_t>{305, 0x82, 'q'}));
    CHECK((encode_piece(*r, "z" + A + "q") == std::vector<uint32_t>{'z', 310, 'q'}));
    // "bc" goes first while あ is unfinished, so "あb" (302) never forms.
    CHECK((encode_piece(*r, A + "bc") == std::vector<uint32_t>{310, 307}));
  }
  std::mt19937 rng(99);
  const std::vector<std::string> frags = {"x", "y", " ", "\xe3", "\xe3\x81", "\xe3\x82", "\x81", "\x82",
                                          "\x84", "\x86", "\xa2", "\x81\x82", "\x81\x84", "\x82\xa2",
                                          A, I, U, KA};
  const std::vector<std::string> units = {"x", "y", " ", A, I, U, KA, A, I};
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<std::pair<std::string, uint32_t>> pairs;
    std::vector<uint32_t> ranks(256 + 60);
    for (uint32_t i = 0; i < ranks.size(); ++i) ranks[i] = i;
    std::shuffle(ranks.begin() + (trial % 2 ? 0 : 256), ranks.end(), rng);  // bytes first, or not
    for (int b = 0; b < 256; ++b) pairs.push_back({std::string(1, static_cast<char>(b)), ranks[b]});
    std::vector<std::string> seen;
    for (size_t k = 256; k < ranks.size(); ++k) {
      std::string t;
      do {
        t.clear();
        size_t n_frags = 1 + rng() % 3;
        for (size_t f = 0; f < n_frags; ++f) t += frags[rng() % frags.size()];
      } while (t.size() < 2 || std::find(seen.begin(), seen.end(), t) != seen.end());
      seen.push_back(t);
      pairs.push_back({t, ranks[k]});
    }
    std::unique_ptr<BpeRanks> r;
    CHECK_OK(BpeRanks::FromPairs(pairs, &r));
    if (!r) return;
    for (int iter = 0; iter < 60; ++iter) {
      std::string s;
      size_t n_units = 1 + rng() % (iter % 4 == 0 ? 70 : 40);  // also past 128 bytes
      for (size_t u = 0; u < n_units; ++u) s += units[rng() % units.size()];
      if (encode_piece(*r, s) != reference_encode(*r, s)) {
        std::fprintf(stderr, "pre-merge: mismatch in trial %d on a %zu-byte piece\n", trial, s.size());
        ++g_failures;
        return;
      }
    }
  }
}

// Real vocabularies on CJK text: corpus fragments cut at any byte (so also partial characters
// at the ends, which must take the byte path) and random strings of three-byte characters
// (kana, kanji, overlong and surrogate encodings) with ASCII, against the reference.
static void test_char_premerge_real(const std::string& name, const std::string& contents) {
  std::unique_ptr<BpeRanks> owned;
  CHECK_OK(BpeRanks::FromTiktoken(contents, &owned));
  if (!owned) return;
  const BpeRanks& r = *owned;
  std::mt19937 rng(4242);
  std::string ja;
  if (read_file(std::string(FASTPREP_SOURCE_DIR) + "/tests/data/corpus/ja_prose.txt", &ja) &&
      ja.size() > 1000) {
    for (int iter = 0; iter < 3000; ++iter) {
      size_t len = 2 + rng() % (iter % 4 == 0 ? 400 : 140);
      size_t at = rng() % (ja.size() - len);
      std::string s = ja.substr(at, len);
      if (encode_piece(r, s) != reference_encode(r, s)) {
        std::fprintf(stderr, "%s: pre-merge mismatch on corpus bytes [%zu, +%zu)\n", name.c_str(), at, len);
        ++g_failures;
        break;
      }
    }
  }
  const std::string ascii = "x .,!0";
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s;
    size_t target = 2 + rng() % (iter % 4 == 0 ? 400 : 130);  // also the long-piece path
    while (s.size() < target) {
      uint32_t pick = rng() % 10;
      if (pick == 0) {
        s.push_back(ascii[rng() % ascii.size()]);
      } else if (pick < 5) {  // kana
        uint32_t cp = 0x3041 + rng() % 0xBE;
        s += {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
              static_cast<char>(0x80 | (cp & 0x3F))};
      } else if (pick < 9) {  // common CJK block
        uint32_t cp = 0x4E00 + rng() % 0x5200;
        s += {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
              static_cast<char>(0x80 | (cp & 0x3F))};
      } else {  // any lead E0-EF with any continuation bytes
        s += {static_cast<char>(0xE0 | (rng() & 15)), static_cast<char>(0x80 | (rng() & 63)),
              static_cast<char>(0x80 | (rng() & 63))};
      }
    }
    if (encode_piece(r, s) != reference_encode(r, s)) {
      std::fprintf(stderr, "%s: pre-merge mismatch on a %zu-byte CJK piece\n", name.c_str(), s.size());
      ++g_failures;
      break;
    }
  }
}

// Ids from tiktoken 0.14 (tiktoken.Encoding built offline from the same rank files).
static void test_cl100k_known(const std::string& contents) {
  std::unique_ptr<BpeRanks> owned;
  CHECK_OK(BpeRanks::FromTiktoken(contents, &owned));
  if (!owned) return;
  std::shared_ptr<const BpeRanks> ranks(std::move(owned));
  std::unique_ptr<BpeEncoder> enc;
  std::vector<SpecialToken> specials = {{"<|endoftext|>", 100257}, {"<|fim_prefix|>", 100258},
                                        {"<|fim_middle|>", 100259}, {"<|fim_suffix|>", 100260},
                                        {"<|endofprompt|>", 100276}};
  CHECK_OK(BpeEncoder::Create(ranks, PreTokenizerKind::kCl100k, specials, &enc));
  if (!enc) return;
  struct Case {
    std::string text;
    std::vector<uint32_t> ids;
  };
  const std::vector<Case> cases = {
      {"hello world", {15339, 1917}},
      {"", {}},
      {"Hello, world! 1234567", {9906, 11, 1917, 0, 220, 4513, 10961, 22}},
      {"   leading and trailing   ", {256, 6522, 323, 28848, 262}},
      {"def f(x):\n    return x**2\n", {755, 282, 2120, 997, 262, 471, 865, 334, 17, 198}},
      {"Grüße aus München", {6600, 2448, 24352, 9608, 90366}},
      {"日本語のテキスト", {9080, 22656, 45918, 252, 16144, 57933, 62903, 71634}},
      {"antidisestablishmentarianism", {519, 85342, 34500, 479, 8997, 2191}},
      {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", {70540, 70540, 70540, 70540, 70540, 70540, 5418}},
  };
  for (const auto& c : cases) {
    std::vector<uint32_t> got;
    CHECK_OK(enc->EncodeOrdinary(c.text, &got));
    if (got != c.ids) {
      std::fprintf(stderr, "cl100k mismatch on '%s': got", c.text.c_str());
      for (auto id : got) std::fprintf(stderr, " %u", id);
      std::fprintf(stderr, "\n");
      ++g_failures;
    }
  }
  // Specials: allowed ones become ids, disallowed ones are ordinary text.
  std::vector<uint8_t> allow_all(specials.size(), 1), allow_none(specials.size(), 0);
  std::vector<uint32_t> got;
  CHECK_OK(enc->Encode("hi<|endoftext|>there<|fim_prefix|>", allow_all, &got));
  CHECK((got == std::vector<uint32_t>{6151, 100257, 19041, 100258}));
  got.clear();
  CHECK_OK(enc->Encode("hi<|endoftext|>", allow_none, &got));
  CHECK((got == std::vector<uint32_t>{6151, 27, 91, 8862, 728, 428, 91, 29}));
  size_t count = 0;
  CHECK_OK(enc->Count("hi<|endoftext|>there<|fim_prefix|>", allow_all, &count));
  CHECK(count == 4);
  size_t idx = 0, off = 0;
  CHECK(enc->FindSpecial("ab<|fim_middle|>", allow_all, &idx, &off) && idx == 2 && off == 2);
  CHECK(!enc->FindSpecial("ab<|fim_middle|>", allow_none, &idx, &off));
  // Decode: ordinary, special, unknown.
  std::vector<uint32_t> ids = {15339, 100257, 1917};
  std::string bytes;
  CHECK_OK(enc->DecodeBytes(ids.data(), ids.size(), &bytes));
  CHECK(bytes == "hello<|endoftext|> world");
  uint32_t bad[] = {15339, 100261};
  Status st = enc->DecodeBytes(bad, 2, &bytes);
  CHECK(st.code() == ErrorCode::kOutOfRange && st.message().find("100261") != std::string::npos);
  std::string_view sv;
  CHECK(enc->TokenBytes(100276, &sv) && sv == "<|endofprompt|>");
  CHECK(!enc->TokenBytes(100261, &sv));

  // A special id equal to an ordinary rank is allowed, as tiktoken allows it: the special text
  // encodes to the id, and the id decodes to the ordinary token's bytes.
  std::unique_ptr<BpeEncoder> shared_id;
  CHECK(BpeEncoder::Create(ranks, PreTokenizerKind::kCl100k, {{"<x>", 15339}}, &shared_id).ok());
  {
    std::vector<uint32_t> ids;
    CHECK(shared_id->Encode("<x>", {1}, &ids, 1).ok() && ids == std::vector<uint32_t>{15339});
    std::string_view ordinary;
    CHECK(shared_id->TokenBytes(15339, &ordinary) && ordinary != "<x>");
  }
  // Invalid special sets.
  std::unique_ptr<BpeEncoder> bad_enc;
  CHECK(BpeEncoder::Create(ranks, PreTokenizerKind::kCl100k, {{"<x>", 200000}, {"<y>", 200000}}, &bad_enc)
            .code() == ErrorCode::kInvalidArgument);
  CHECK(BpeEncoder::Create(ranks, PreTokenizerKind::kCl100k, {{"<x>", 200000}, {"<x>", 200001}}, &bad_enc)
            .code() == ErrorCode::kInvalidArgument);
  // Leftmost, then longest.
  std::unique_ptr<BpeEncoder> e2;
  CHECK_OK(BpeEncoder::Create(ranks, PreTokenizerKind::kCl100k,
                              {{"<a>", 200000}, {"<a>b", 200001}, {"b<", 200002}}, &e2));
  got.clear();
  CHECK_OK(e2->Encode("xb<a>b", {1, 1, 1}, &got));
  CHECK(got.size() >= 2 && got[1] == 200002);  // "b<" starts first
  got.clear();
  CHECK_OK(e2->Encode("x<a>b", {1, 1, 1}, &got));
  CHECK(!got.empty() && got.back() == 200001);
  got.clear();
  CHECK_OK(e2->Encode("x<a>b", {1, 0, 1}, &got));
  CHECK(got.size() >= 2 && got[got.size() - 2] == 200000);

  // EncodePieces: bytes outside pieces are dropped; bad bounds are errors.
  std::string text = "hello world";
  uint32_t starts[] = {0, 5}, ends[] = {5, 11};
  got.clear();
  CHECK_OK(enc->EncodePieces(text, starts, ends, 2, &got));
  CHECK((got == std::vector<uint32_t>{15339, 1917}));
  uint32_t bad_ends[] = {5, 12};
  CHECK(enc->EncodePieces(text, starts, bad_ends, 2, &got).code() == ErrorCode::kInvalidArgument);
}

static void test_serial_parallel(const std::string& name, const std::string& contents) {
  std::unique_ptr<BpeRanks> owned;
  CHECK_OK(BpeRanks::FromTiktoken(contents, &owned));
  if (!owned) return;
  std::shared_ptr<const BpeRanks> ranks(std::move(owned));
  PreTokenizerKind kind = name == "o200k_base" ? PreTokenizerKind::kO200k : PreTokenizerKind::kCl100k;
  std::unique_ptr<BpeEncoder> enc;
  CHECK_OK(BpeEncoder::Create(ranks, kind, {{"<|endoftext|>", 300000}, {"<|x|>", 300001}}, &enc));
  if (!enc) return;
  enc->set_parallel_threshold(1000);
  std::string text;
  const char* corpus[] = {"en_prose", "de_prose", "ja_prose", "py_code"};
  for (const char* c : corpus) {
    std::string t;
    if (read_file(std::string(FASTPREP_SOURCE_DIR) + "/tests/data/corpus/" + c + ".txt", &t)) {
      text += t.substr(0, 50000);
    }
  }
  if (text.empty()) {
    std::mt19937 rng(3);
    const char* words[] = {"the ", "quick ", "brown\n", "日本 ", "123456 ", "  ", "x=y+1;\n"};
    while (text.size() < 200000) text += words[rng() % 7];
  }
  text += "tail<|endoftext|>more<|x|><|x|>";
  text.insert(text.size() / 3, "<|endoftext|>");
  std::vector<uint8_t> allow = {1, 1};
  std::vector<uint32_t> serial, par2, par8, ser_sp, par_sp;
  enc->set_parallel_threshold(~size_t{0} >> 1);
  CHECK_OK(enc->EncodeOrdinary(text, &serial, 4));
  CHECK_OK(enc->Encode(text, allow, &ser_sp, 4));
  enc->set_parallel_threshold(1000);
  CHECK_OK(enc->EncodeOrdinary(text, &par2, 2));
  CHECK_OK(enc->EncodeOrdinary(text, &par8, 8));
  CHECK_OK(enc->Encode(text, allow, &par_sp, 3));
  CHECK(serial == par2);
  CHECK(serial == par8);
  CHECK(ser_sp == par_sp);
  CHECK(ser_sp.size() < serial.size());
  size_t count = 0;
  CHECK_OK(enc->Count(text, allow, &count));
  CHECK(count == ser_sp.size());
  // Round trip.
  std::string back;
  CHECK_OK(enc->DecodeBytes(ser_sp.data(), ser_sp.size(), &back));
  CHECK(back == text);
  // Batch == one by one.
  std::vector<std::string_view> texts;
  for (size_t i = 0; i + 997 < text.size(); i += 997 + (i % 5) * 300) {
    size_t a = i, b = i + 997;
    while (a > 0 && (static_cast<uint8_t>(text[a]) & 0xC0) == 0x80) --a;
    while (b < text.size() && (static_cast<uint8_t>(text[b]) & 0xC0) == 0x80) ++b;
    texts.emplace_back(text.data() + a, b - a);
  }
  std::vector<std::vector<uint32_t>> batch;
  CHECK_OK(enc->EncodeBatch(texts, allow, &batch, 0));
  CHECK(batch.size() == texts.size());
  for (size_t i = 0; i < texts.size() && i < batch.size(); ++i) {
    std::vector<uint32_t> one;
    CHECK_OK(enc->Encode(texts[i], allow, &one));
    if (one != batch[i]) {
      CHECK(one == batch[i]);
      break;
    }
  }
}

// The parallel path lexes each chunk from a guessed start and splices where the true piece
// sequence falls into step. Texts built to put chunk edges inside long pieces, whitespace runs
// (the lookahead in `\s+(?!\S)`), multi-byte characters, digit runs and specials.
static void test_parallel_resync(const std::string& name, const std::string& contents) {
  std::unique_ptr<BpeRanks> owned;
  CHECK_OK(BpeRanks::FromTiktoken(contents, &owned));
  if (!owned) return;
  std::shared_ptr<const BpeRanks> ranks(std::move(owned));
  PreTokenizerKind kind = name == "o200k_base" ? PreTokenizerKind::kO200k : PreTokenizerKind::kCl100k;
  std::unique_ptr<BpeEncoder> enc;
  CHECK_OK(BpeEncoder::Create(ranks, kind, {{"<|endoftext|>", 300000}, {"<|x|>", 300001}}, &enc));
  if (!enc) return;
  const std::vector<std::string> atoms = {
      "word ", "Wort\n", " \n\n  ", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "1234567", "'s ", "x=y+1;\n",
      "<|endoftext|>", "<|x|>", "<|endo", "\t", "\xc3\xa9", "!!!", "   ", "\r\n", "ABCdef"};
  std::mt19937 rng(11);
  std::vector<uint8_t> allow = {1, 1};
  for (int iter = 0; iter < 24; ++iter) {
    std::string text;
    size_t target = 20000 + rng() % 60000;
    while (text.size() < target) {
      uint32_t pick = rng() % 100;
      if (pick < 2) {
        text += std::string(1000 + rng() % 30000, " a0\n"[rng() % 4]);  // one piece over edges
      } else if (pick < 4) {
        for (int k = 0; k < 3000; ++k) text += "\xe3\x81\x82";  // a long CJK run
      } else {
        text += atoms[rng() % atoms.size()];
      }
    }
    std::vector<uint32_t> serial, ser_sp;
    enc->set_parallel_threshold(~size_t{0} >> 1);
    CHECK_OK(enc->EncodeOrdinary(text, &serial, 1));
    CHECK_OK(enc->Encode(text, allow, &ser_sp, 1));
    enc->set_parallel_threshold(1000);
    for (size_t threads : {2, 3, 8}) {
      std::vector<uint32_t> par, par_sp;
      CHECK_OK(enc->EncodeOrdinary(text, &par, threads));
      CHECK_OK(enc->Encode(text, allow, &par_sp, threads));
      if (par != serial || par_sp != ser_sp) {
        std::fprintf(stderr, "%s: parallel != serial (iter %d, %zu threads, %zu bytes)\n",
                     name.c_str(), iter, threads, text.size());
        ++g_failures;
        return;
      }
    }
  }
  // Errors surface from the parallel path as from the serial one.
  enc->set_parallel_threshold(1000);
  std::vector<uint32_t> got;
  CHECK(enc->Encode(std::string(50000, 'a'), {}, &got, 4).ok());
  CHECK(got.size() > 0);
}

static void test_thread_pool() {
  std::vector<std::atomic<int>> hits(1000);
  CHECK_OK(parallel_for(1000, 0, [&](size_t i) { hits[i]++; }));
  for (auto& h : hits) CHECK(h.load() == 1);
  // Nested calls run serially instead of deadlocking.
  std::atomic<int> total{0};
  CHECK_OK(parallel_for(8, 0, [&](size_t) {
    Status st = parallel_for(8, 0, [&](size_t) { total++; });
    CHECK(st.ok());
  }));
  CHECK(total.load() == 64);
  // Exceptions become statuses.
  Status st = parallel_for(4, 0, [&](size_t i) {
    if (i == 2) throw std::runtime_error("boom");
  });
  CHECK(st.code() == ErrorCode::kInternal && st.message().find("boom") != std::string::npos);
  // A forked child gets its own pool.
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    std::atomic<int> n{0};
    Status cs = parallel_for(100, 0, [&](size_t) { n++; });
    _exit(cs.ok() && n.load() == 100 ? 0 : 1);
  }
  CHECK(pid > 0);
  if (pid > 0) {
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    CHECK(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  }
}


// The per-thread piece cache: a repeated piece (a hit) gives what merging gives; entries never
// leak between vocabularies sharing a thread; old entries stay right after the bounded arena
// has wrapped many times.
static void test_piece_cache(const std::string& a_contents, const std::string& b_contents) {
  std::unique_ptr<BpeRanks> a, b;
  CHECK_OK(BpeRanks::FromTiktoken(a_contents, &a));
  CHECK_OK(BpeRanks::FromTiktoken(b_contents, &b));
  if (!a || !b) return;
  std::mt19937 rng(777);
  const std::string words[] = {"Donaudampf", "schiff", "\xe6\x97\xa5\xe6\x9c\xac", "\xe3\x81\xae",
                               "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88", "ab", "zq", "0", "\xc3\xa9"};
  std::vector<std::string> pieces;
  for (int i = 0; i < 400; ++i) {
    std::string s;
    size_t target = 3 + rng() % 140;
    while (s.size() < target) s += words[rng() % (sizeof(words) / sizeof(words[0]))];
    pieces.push_back(s);
  }
  std::vector<std::vector<uint32_t>> want_a, want_b;
  for (const auto& s : pieces) {
    want_a.push_back(reference_encode(*a, s));
    want_b.push_back(reference_encode(*b, s));
  }
  // Interleaved vocabularies, each piece several times (first a miss, then hits).
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (encode_piece(*a, pieces[i]) != want_a[i] || encode_piece(*b, pieces[i]) != want_b[i]) {
        std::fprintf(stderr, "piece cache: mismatch on piece %zu, round %d\n", i, round);
        ++g_failures;
        return;
      }
    }
  }
  // Wrap the arena many times with distinct pieces, then re-check the first ones.
  for (int i = 0; i < 60000; ++i) {
    std::string s = words[i % 5] + std::to_string(i * 7919) + words[(i / 5) % 9];
    encode_piece(*a, s);
  }
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (encode_piece(*a, pieces[i]) != want_a[i]) {
      std::fprintf(stderr, "piece cache: mismatch after wrap on piece %zu\n", i);
      ++g_failures;
      return;
    }
  }
  // A vocabulary freed and another loaded (possibly at the same address) must not see old
  // entries.
  a.reset();
  CHECK_OK(BpeRanks::FromTiktoken(b_contents, &a));
  for (size_t i = 0; i < pieces.size() && a; ++i) CHECK(encode_piece(*a, pieces[i]) == want_b[i]);
}

// Long single-piece runs (the bucket queue, and the parallel path's giant-piece hand-off)
// against the reference on sizes it can afford, and serial == parallel on runs spanning chunks.
static void test_long_runs(const std::string& name, const std::string& contents) {
  std::unique_ptr<BpeRanks> owned;
  CHECK_OK(BpeRanks::FromTiktoken(contents, &owned));
  if (!owned) return;
  const BpeRanks& r = *owned;
  const std::string units[] = {"a", " ", "^", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "ab", "0"};
  for (const auto& u : units) {
    for (size_t n : {129u, 300u, 1000u}) {
      std::string s;
      while (s.size() < n) s += u;
      if (encode_piece(r, s) != reference_encode(r, s)) {
        std::fprintf(stderr, "%s: long run of '%s' x %zu differs from the reference\n", name.c_str(),
                     u.c_str(), s.size() / u.size());
        ++g_failures;
      }
    }
  }
  std::shared_ptr<const BpeRanks> ranks(std::move(owned));
  PreTokenizerKind kind = name == "o200k_base" ? PreTokenizerKind::kO200k : PreTokenizerKind::kCl100k;
  std::unique_ptr<BpeEncoder> enc;
  CHECK_OK(BpeEncoder::Create(ranks, kind, {{"<|endoftext|>", 300000}}, &enc));
  if (!enc) return;
  std::vector<std::string> texts = {
      std::string(60000, ' '), "x" + std::string(50000, 'a') + " b", std::string(40000, '^'),
      "word " + std::string(30000, ' ') + "tail", std::string(30000, ' ') + "<|endoftext|>" + std::string(30000, 'z'),
  };
  std::string cjk;
  while (cjk.size() < 45000) cjk += "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e";
  texts.push_back(cjk);
  texts.push_back("short words here " + cjk + " and " + std::string(20000, ' ') + "end\n");
  std::vector<uint8_t> allow = {1};
  for (const auto& t : texts) {
    std::vector<uint32_t> serial, par, ser_sp, par_sp;
    enc->set_parallel_threshold(~size_t{0} >> 1);
    CHECK_OK(enc->EncodeOrdinary(t, &serial, 4));
    CHECK_OK(enc->Encode(t, allow, &ser_sp, 4));
    enc->set_parallel_threshold(1000);
    CHECK_OK(enc->EncodeOrdinary(t, &par, 3));
    CHECK_OK(enc->Encode(t, allow, &par_sp, 4));
    CHECK(serial == par);
    CHECK(ser_sp == par_sp);
    std::string back;
    CHECK_OK(enc->DecodeBytes(serial.data(), serial.size(), &back));
    CHECK(back == t);
  }
}

int main() {
  test_rank_file_errors();
  test_merge_order_synthetic();
  test_partial_byte_vocab();
  test_char_premerge_adversarial();
  test_thread_pool();
  for (const char* name : {"cl100k_base", "o200k_base"}) {
    std::string contents;
    if (!load_vocab(name, &contents)) {
      std::printf("SKIP %s tests: rank file not found\n", name);
      continue;
    }
    test_real_vocab(name, contents);
    test_char_premerge_real(name, contents);
    if (std::string(name) == "cl100k_base") test_cl100k_known(contents);
    test_serial_parallel(name, contents);
    test_parallel_resync(name, contents);
    test_long_runs(name, contents);
  }
  {
    std::string cl, o2;
    if (load_vocab("cl100k_base", &cl) && load_vocab("o200k_base", &o2)) test_piece_cache(cl, o2);
  }
  if (g_failures) {
    std::fprintf(stderr, "%d failure(s)\n", g_failures);
    return 1;
  }
  std::printf("test_bpe: all passed\n");
  return 0;
}
