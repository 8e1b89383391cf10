// Unit tests of the native HF byte-level BPE (no Python): merge order, added tokens, the deepseek_v3
// splitter, character offsets, the prefix space, near-linear time on long words, and the per-thread
// piece cache (which must never change an id).
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "fastprep/hf_bpe.h"

#include "check.h"

using namespace fastprep;


static std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

// ByteLevel spelling of raw bytes.
static std::string bl(const std::string& raw) {
  std::string s;
  for (unsigned char b : raw) s += utf8(byte_level_char(b));
  return s;
}

// Byte b has id b; merges (in priority order) get ids from 256 up.
static HfBpeConfig tiny_config(const std::vector<std::pair<std::string, std::string>>& merges) {
  HfBpeConfig c;
  for (int b = 0; b < 256; ++b) c.vocab.emplace_back(bl(std::string(1, static_cast<char>(b))), b);
  uint32_t next = 256;
  for (const auto& [a, b] : merges) {
    c.merges.emplace_back(bl(a), bl(b));
    bool known = false;
    for (const auto& v : c.vocab) known |= v.first == bl(a + b);
    if (!known) c.vocab.emplace_back(bl(a + b), next++);
  }
  return c;
}

static std::vector<uint32_t> word(const HfBpeEncoder& e, const std::string& w) {
  std::vector<uint32_t> ids;
  e.EncodeWord(reinterpret_cast<const uint8_t*>(w.data()), w.size(), &ids);
  return ids;
}

static void test_merge_order() {
  // "a b" (256) before "b c" (257); "ab c" (258); "c c" (259).
  std::unique_ptr<HfBpeEncoder> e;
  CHECK(HfBpeEncoder::Create(tiny_config({{"a", "b"}, {"b", "c"}, {"ab", "c"}, {"c", "c"}}), &e).ok());
  CHECK((word(*e, "abc") == std::vector<uint32_t>{258}));
  CHECK((word(*e, "bc") == std::vector<uint32_t>{257}));
  CHECK((word(*e, "ccc") == std::vector<uint32_t>{259, 'c'}));  // ties: leftmost first
  CHECK((word(*e, "cab") == std::vector<uint32_t>{'c', 256}));
  CHECK((word(*e, "ba") == std::vector<uint32_t>{'b', 'a'}));  // unlisted pair never merges
  // Long words take the heap path; the result must match the short path piecewise.
  std::string longw;
  for (int i = 0; i < 100; ++i) longw += "abc";
  const auto ids = word(*e, longw);
  CHECK(ids.size() == 100);
  for (uint32_t id : ids) CHECK(id == 258);
  std::string cs(1001, 'c');
  const auto cids = word(*e, cs);
  CHECK(cids.size() == 501 && cids.back() == 'c' && cids.front() == 259);
}

static void test_whole_word_needs_bpe_agreement() {
  // "xy" is a token, but only reachable through "x y"; "yz" merges first in "xyz".
  std::unique_ptr<HfBpeEncoder> e;
  CHECK(HfBpeEncoder::Create(tiny_config({{"y", "z"}, {"x", "y"}, {"x", "yz"}}), &e).ok());
  CHECK((word(*e, "xyz") == std::vector<uint32_t>{258}));
  CHECK((word(*e, "xy") == std::vector<uint32_t>{257}));
}

static void test_errors() {
  std::unique_ptr<HfBpeEncoder> e;
  HfBpeConfig c = tiny_config({{"a", "b"}});
  c.merges.emplace_back(bl("q"), bl("r"));  // "qr" is not in the vocabulary
  CHECK(HfBpeEncoder::Create(c, &e).code() == ErrorCode::kInvalidArgument);
  HfBpeConfig d = tiny_config({});
  d.vocab.erase(d.vocab.begin() + 7);  // a byte symbol missing
  CHECK(HfBpeEncoder::Create(d, &e).code() == ErrorCode::kUnsupported);
  HfBpeConfig big = tiny_config({{"a", "b"}});
  big.vocab.back().second = 3000000;  // ids must fit the pair table's 21 bits (the caller falls back)
  CHECK(HfBpeEncoder::Create(big, &e).code() == ErrorCode::kUnsupported);
}

static std::vector<std::string> ds_split(const std::string& text) {
  std::vector<uint32_t> ends;
  split_deepseek_v3(reinterpret_cast<const uint8_t*>(text.data()), text.size(), &ends);
  std::vector<std::string> out;
  size_t start = 0;
  for (uint32_t e : ends) {
    out.push_back(text.substr(start, e - start));
    start = e;
  }
  return out;
}

static void test_deepseek_splitter() {
  using V = std::vector<std::string>;
  CHECK((ds_split("abc 12345 def") == V{"abc", " ", "123", "45", " def"}));
  CHECK((ds_split("Hello, world!\n\n") == V{"Hello", ",", " world", "!\n\n"}));
  CHECK((ds_split("x  \n  y") == V{"x", "  \n", " ", " y"}));
  CHECK((ds_split("a   b") == V{"a", "  ", " b"}));
  CHECK((ds_split(".foo 'bar") == V{".foo", " '", "bar"}));
  // CJK-range runs are pieces of their own; U+30FB (Po) inside one splits again.
  CHECK((ds_split("abc\xE6\x97\xA5\xE6\x9C\xAC" "def") == V{"abc", "\xE6\x97\xA5\xE6\x9C\xAC", "def"}));
  CHECK((ds_split("\xE3\x82\xA2\xE3\x83\xBB\xE3\x82\xA2") == V{"\xE3\x82\xA2", "\xE3\x83\xBB", "\xE3\x82\xA2"}));
  CHECK((ds_split("   ") == V{"   "}));
  CHECK((ds_split("\x01\x02" "ab") == V{"\x01", "\x02" "ab"}));  // a control is a gap unless a prefix
  CHECK(deepseek_split_patterns_match({R"(\p{N}{1,3})",
                                       "[\xE4\xB8\x80-\xE9\xBE\xA5\xE3\x81\x80-\xE3\x82\x9F\xE3\x82\xA0-\xE3\x83\xBF]+",
                                       "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?"
                                       "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}));
  CHECK(!deepseek_split_patterns_match({R"(\p{N}{1,3})"}));
}

static void test_encode_added_tokens_and_offsets() {
  HfBpeConfig c = tiny_config({{" ", "w"}, {"h", "i"}});
  c.pre_tokenizer = HfPreTokenizer::kGpt2;
  c.added.push_back({"<s>", 900, false, false, false});
  c.added.push_back({"<s>x", 901, false, false, false});
  c.added.push_back({"!!", 902, false, true, true});
  std::unique_ptr<HfBpeEncoder> e;
  CHECK(HfBpeEncoder::Create(c, &e).ok());
  HfEncodeOutput out;
  // "é" is two bytes, one character: offsets count characters.
  CHECK(e->Encode("hi<s>xé w  !!  <s>", true, true, &out).ok());
  const std::vector<uint32_t> want_ids{257, 901, 0xC3, 0xA9, 256, 902, 900};
  CHECK(out.ids == want_ids);
  const std::vector<uint32_t> want_offsets{0, 2, 2, 6, 6, 7, 6, 7, 7, 9, 9, 15, 15, 18};
  CHECK(out.offsets == want_offsets);
  const std::vector<uint32_t> want_words{0, 1, 2, 2, 3, 4, 5};
  CHECK(out.words == want_words);

  HfBpeConfig p = tiny_config({{" ", "h"}, {" h", "i"}});
  p.pre_tokenizer = HfPreTokenizer::kGpt2;
  p.add_prefix_space = true;
  CHECK(HfBpeEncoder::Create(p, &e).ok());
  CHECK(e->Encode("hi", true, false, &out).ok());
  CHECK((out.ids == std::vector<uint32_t>{257}));
  CHECK((out.offsets == std::vector<uint32_t>{0, 2}));
}

static void test_long_word_time() {
  std::unique_ptr<HfBpeEncoder> e;
  CHECK(HfBpeEncoder::Create(tiny_config({{"a", "a"}, {"aa", "aa"}, {"aaaa", "aaaa"}}), &e).ok());
  auto time_of = [&](size_t n) {
    const std::string w(n, 'a');
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = word(*e, w);
    CHECK(ids.size() == (n + 7) / 8);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  const double small = time_of(100000);
  const double big = time_of(1000000);
  CHECK(big < 30 * small + 0.05);
}

// Encode on a fresh thread: an empty piece cache, so the output is what merging alone gives.
static HfEncodeOutput encode_fresh(const HfBpeEncoder& e, const std::string& text) {
  HfEncodeOutput out;
  std::thread([&] { CHECK(e.Encode(text, true, true, &out).ok()); }).join();
  return out;
}

static bool same_output(const HfEncodeOutput& a, const HfEncodeOutput& b) {
  return a.ids == b.ids && a.offsets == b.offsets && a.words == b.words;
}

static void test_piece_cache_repeats() {
  // Words that merge into several tokens (cached) recur; offsets come from the cache too.
  HfBpeConfig c = tiny_config({{"a", "b"}, {"b", "c"}, {"ab", "c"}, {"c", "c"}, {" ", "a"}});
  c.pre_tokenizer = HfPreTokenizer::kGpt2;
  std::unique_ptr<HfBpeEncoder> e;
  CHECK(HfBpeEncoder::Create(c, &e).ok());
  const std::string text = "abcabcc ccccc abcab abcabcc ccccc abcab abcabcc";
  const HfEncodeOutput want = encode_fresh(*e, text);
  HfEncodeOutput out;
  for (int round = 0; round < 3; ++round) {
    CHECK(e->Encode(text, true, true, &out).ok());
    CHECK(same_output(out, want));
  }
  // ids-only and with-offsets calls share entries.
  CHECK(e->Encode(text, false, false, &out).ok());
  CHECK(out.ids == want.ids && out.offsets.empty());
  // 128 bytes (the longest cached piece) and 129 (merged, not cached) both repeat exactly.
  for (size_t n : {127, 128, 129, 200}) {
    std::string w;
    while (w.size() < n) w += "abc";
    w.resize(n);
    const HfEncodeOutput ref = encode_fresh(*e, w);
    CHECK(e->Encode(w, true, true, &out).ok() && same_output(out, ref));
    CHECK(e->Encode(w, true, true, &out).ok() && same_output(out, ref));
  }
}

static void test_piece_cache_two_vocabularies() {
  // The same bytes merge differently under two vocabularies used alternately on one thread.
  std::unique_ptr<HfBpeEncoder> e1, e2;
  CHECK(HfBpeEncoder::Create(tiny_config({{"a", "b"}, {"b", "c"}, {"ab", "c"}}), &e1).ok());
  CHECK(HfBpeEncoder::Create(tiny_config({{"b", "c"}, {"a", "b"}, {"a", "bc"}, {"bc", "bc"}}), &e2).ok());
  const std::vector<std::string> words{"abcabc", "bcbcbc", "abcbca", "cabcab"};
  std::vector<HfEncodeOutput> want1, want2;
  for (const auto& w : words) {
    want1.push_back(encode_fresh(*e1, w));
    want2.push_back(encode_fresh(*e2, w));
  }
  CHECK(!same_output(want1[1], want2[1]));
  HfEncodeOutput out;
  for (int round = 0; round < 4; ++round) {
    for (size_t i = 0; i < words.size(); ++i) {
      CHECK(e1->Encode(words[i], true, true, &out).ok() && same_output(out, want1[i]));
      CHECK(e2->Encode(words[i], true, true, &out).ok() && same_output(out, want2[i]));
    }
  }
  // A new encoder at a freed one's address must not see its entries.
  const std::vector<uint32_t> ids2 = want2[0].ids;
  e2.reset();
  CHECK(HfBpeEncoder::Create(tiny_config({{"c", "a"}}), &e2).ok());
  CHECK(e2->Encode(words[0], false, false, &out).ok() && out.ids != ids2);
  CHECK((out.ids == std::vector<uint32_t>{'a', 'b', 256, 'b', 'c'}));
}

static void test_piece_cache_wraps() {
  // Far more distinct cached pieces than the cache holds (its arena wraps many times), then the
  // first ones again: every answer must equal a fresh merge.
  HfBpeConfig c = tiny_config({{"a", "b"}, {"b", "c"}, {"ab", "c"}, {"c", "a"}, {"abc", "abc"}});
  c.pre_tokenizer = HfPreTokenizer::kGpt2;
  std::unique_ptr<HfBpeEncoder> e;
  CHECK(HfBpeEncoder::Create(c, &e).ok());
  auto piece = [](uint32_t i) {
    std::string w = "abcab";
    for (int k = 0; k < 4; ++k) w += static_cast<char>('d' + (i >> (4 * k)) % 16);
    return w + "cabcabcab";
  };
  std::string first, all;
  for (uint32_t i = 0; i < 20000; ++i) {
    all += piece(i) + " ";
    if (i < 300) first += piece(i) + " ";
  }
  const HfEncodeOutput want_first = encode_fresh(*e, first);
  const HfEncodeOutput want_all = encode_fresh(*e, all);
  HfEncodeOutput out;
  for (int round = 0; round < 2; ++round) {
    CHECK(e->Encode(first, true, true, &out).ok() && same_output(out, want_first));
    CHECK(e->Encode(all, true, true, &out).ok() && same_output(out, want_all));
  }
  CHECK(e->Encode(first, true, true, &out).ok() && same_output(out, want_first));
}

int main() {
  test_merge_order();
  test_whole_word_needs_bpe_agreement();
  test_errors();
  test_deepseek_splitter();
  test_encode_added_tokens_and_offsets();
  test_long_word_time();
  test_piece_cache_repeats();
  test_piece_cache_two_vocabularies();
  test_piece_cache_wraps();
  if (g_failures) {
    std::fprintf(stderr, "%d failure(s)\n", g_failures);
    return 1;
  }
  std::puts("test_hf_bpe: ok");
  return 0;
}
