// C++ unit tests of WordPiece and the fused BERT encoder (no Python): small hand-made
// vocabularies for each normalizer/pre-tokenizer rule, plus the MiniLM vocabulary from the test
// data for a few ids known from HF tokenizers.
#include <cassert>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fastprep/thread_pool.h"
#include "fastprep/wordpiece.h"

using namespace fastprep;

#define CHECK(cond)                                                       \
  do {                                                                    \
    if (!(cond)) {                                                        \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                       \
    }                                                                     \
  } while (0)

namespace {

std::unique_ptr<BertEncoder> MakeEncoder(const std::vector<std::string>& vocab, BertNormalizerOptions opt,
                                         std::vector<AddedTokenSpec> added = {}, size_t max_chars = 100) {
  std::unique_ptr<WordPieceModel> model;
  Status st = WordPieceModel::Create(vocab, "[UNK]", "##", max_chars, &model);
  CHECK(st.ok());
  std::unique_ptr<BertEncoder> enc;
  st = BertEncoder::Create(std::shared_ptr<const WordPieceModel>(std::move(model)), opt, std::move(added), &enc);
  CHECK(st.ok());
  return enc;
}

struct Out {
  std::vector<uint32_t> ids, offsets;
};

Out Run(const BertEncoder& enc, const std::string& text) {
  Out o;
  Status st = enc.Encode(text, &o.ids, &o.offsets);
  if (!st.ok()) std::fprintf(stderr, "error: %s\n", st.message().c_str());
  CHECK(st.ok());
  CHECK(o.offsets.size() == 2 * o.ids.size());
  std::vector<uint32_t> ids_only;
  CHECK(enc.Encode(text, &ids_only, nullptr).ok());
  CHECK(ids_only == o.ids);
  return o;
}

const std::vector<std::string> kSmall = {
    "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "hello", "world", ",", "!",
    "\xe4\xb8\xad" /* 中 */, "\xe6\x96\x87" /* 文 */, "cafe", "i", "##\xcc\x87" /* ##U+0307 */, "a", "##a",
    "\xe3\x81\x8b" /* か */, "\xe1\x84\x92" /* U+1112 */, "##\xe1\x85\xa1" /* ##U+1161 */, "##\xe1\x86\xab" /* ##U+11AB */};

void TestBasic() {
  auto enc = MakeEncoder(kSmall, {});
  Out o = Run(*enc, "UnAffable, hello!");
  CHECK((o.ids == std::vector<uint32_t>{3, 4, 5, 8, 6, 9}));
  CHECK((o.offsets == std::vector<uint32_t>{0, 2, 2, 5, 5, 9, 9, 10, 11, 16, 16, 17}));
  // Unknown piece: the whole word becomes [UNK].
  o = Run(*enc, "  unxyz\tworld\n");
  CHECK((o.ids == std::vector<uint32_t>{0, 7}));
  CHECK((o.offsets == std::vector<uint32_t>{2, 7, 8, 13}));
  // Controls are dropped (clean_text) without splitting; offsets count characters.
  o = Run(*enc, "hel\x01lo");
  CHECK((o.ids == std::vector<uint32_t>{6}));
  CHECK((o.offsets == std::vector<uint32_t>{0, 6}));
  o = Run(*enc, "");
  CHECK(o.ids.empty());
}

void TestNormalizer() {
  auto enc = MakeEncoder(kSmall, {});
  // Accents stripped: "Café" as C a f e U+0301 and precomposed.
  Out o = Run(*enc, "Caf\xc3\xa9 cafe\xcc\x81");
  CHECK((o.ids == std::vector<uint32_t>{12, 12}));
  CHECK((o.offsets == std::vector<uint32_t>{0, 4, 5, 9}));  // the stripped mark is in no token
  // CJK characters become words of their own.
  o = Run(*enc, "a\xe4\xb8\xad\xe6\x96\x87" "a");
  CHECK((o.ids == std::vector<uint32_t>{15, 10, 11, 15}));
  CHECK((o.offsets == std::vector<uint32_t>{0, 1, 1, 2, 2, 3, 3, 4}));
  // が (U+304C) -> か + U+3099 (dropped).
  o = Run(*enc, "\xe3\x81\x8c");
  CHECK((o.ids == std::vector<uint32_t>{17}));
  CHECK((o.offsets == std::vector<uint32_t>{0, 1}));
  // Hangul syllable 한 (U+D55C) decomposes to jamo.
  o = Run(*enc, "\xed\x95\x9c");
  CHECK((o.ids == std::vector<uint32_t>{18, 19, 20}));
  CHECK((o.offsets == std::vector<uint32_t>{0, 1, 0, 1, 0, 1}));
  // U+0130 without accent stripping lowercases to i + U+0307 (two characters, one range).
  BertNormalizerOptions keep;
  keep.strip_accents = false;
  auto enc2 = MakeEncoder(kSmall, keep);
  o = Run(*enc2, "\xc4\xb0");
  CHECK((o.ids == std::vector<uint32_t>{13, 14}));
  CHECK((o.offsets == std::vector<uint32_t>{0, 1, 0, 1}));
  // With stripping: NFD first (I + U+0307), the mark goes, then "i".
  o = Run(*enc, "\xc4\xb0");
  CHECK((o.ids == std::vector<uint32_t>{13}));
}

void TestLimitsAndErrors() {
  auto enc = MakeEncoder(kSmall, {}, {}, 5);
  Out o = Run(*enc, "aaaaa aaaaaa");
  CHECK((o.ids == std::vector<uint32_t>{15, 16, 16, 16, 16, 0}));
  CHECK((o.offsets == std::vector<uint32_t>{0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 6, 12}));
  std::vector<uint32_t> ids, offsets;
  Status st = enc->Encode(std::string("ab\xff"), &ids, &offsets);
  CHECK(st.code() == ErrorCode::kInvalidUtf8);
  st = enc->Encode(std::string("a\xe0\x80\x80"), &ids, &offsets);  // overlong
  CHECK(st.code() == ErrorCode::kInvalidUtf8);
  // Missing unk: an error value, only when unk is needed.
  std::unique_ptr<WordPieceModel> model;
  CHECK(WordPieceModel::Create({"a"}, "[UNK]", "##", 100, &model).ok());
  std::unique_ptr<BertEncoder> bare;
  CHECK(BertEncoder::Create(std::shared_ptr<const WordPieceModel>(std::move(model)), {}, {}, &bare).ok());
  CHECK(bare->Encode("a", &ids, nullptr).ok());
  CHECK(bare->Encode("b", &ids, nullptr).code() == ErrorCode::kInvalidArgument);
  // Duplicate vocabulary entries are rejected; an added token normalizing to "" is unsupported.
  CHECK(WordPieceModel::Create({"a", "a"}, "[UNK]", "##", 100, &model).code() == ErrorCode::kInvalidArgument);
  CHECK(WordPieceModel::Create({"a"}, "[UNK]", "##", 100, &model).ok());
  AddedTokenSpec norm;
  norm.content = "\x01";
  norm.normalized = true;
  CHECK(BertEncoder::Create(std::shared_ptr<const WordPieceModel>(std::move(model)), {}, {norm}, &bare).code() ==
        ErrorCode::kUnsupported);
}

void TestAddedTokens() {
  AddedTokenSpec cls{"[CLS]", 1, false, false, false, false, true};
  AddedTokenSpec sep{"[SEP]", 2, true, true, false, false, true};
  AddedTokenSpec word{"hello", 6, false, false, true, false, false};
  auto enc = MakeEncoder(kSmall, {}, {cls, sep, word});
  Out o = Run(*enc, "[CLS]world  [SEP]  hello");
  CHECK((o.ids == std::vector<uint32_t>{1, 7, 2, 6}));
  CHECK((o.offsets == std::vector<uint32_t>{0, 5, 5, 10, 10, 19, 19, 24}));
  // normalized=true: matched on the normalized text ("HeLLo  World" -> "hello  world").
  AddedTokenSpec norm{"HeLLo  W\xc3\xb6rld", 99, false, false, false, true, false};
  auto enc2 = MakeEncoder(kSmall, {}, {cls, norm});
  o = Run(*enc2, "Say HELLO  WORLD! hello  wo\xcc\x88rld[CLS]");
  CHECK((o.ids == std::vector<uint32_t>{0, 99, 9, 99, 1}));
  CHECK((o.offsets == std::vector<uint32_t>{0, 3, 4, 16, 16, 17, 18, 31, 31, 36}));
  // single_word: "hellohello" is no match; the raw-text matcher sees "[cls]" as no token.
  o = Run(*enc, "hellohello [cls]");
  CHECK(o.ids[0] == 0);
}

// Arbitrary bytes: an error value for invalid UTF-8, never a crash; offsets stay within the text.
void TestRandomBytes() {
  AddedTokenSpec cls{"[CLS]", 1, true, true, false, false, true};
  AddedTokenSpec word{"\xc3\xa9t\xc3\xa9", 2, false, false, true, false, false};
  auto enc = MakeEncoder(kSmall, {}, {cls, word}, 8);
  const std::string pieces[] = {"[CLS]", "\xc3\xa9", "e\xcc\x81", "\xe4\xb8\xad", "a", "un", "##", " ", "\t",
                                "\xc4\xb0", "\xe3\x81\x8c", "\xed\x95\x9c", "!", "\xff", "\xc3", "\x80",
                                "\xf0\x9f\x99\x82", "\xe0\xbd\xb3", "\x00", "\xef\xbf\xbd", "\xe2\x80\x83"};
  std::mt19937 rng(1234);
  std::vector<uint32_t> ids, offsets;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string text;
    int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) text += pieces[rng() % (sizeof(pieces) / sizeof(pieces[0]))];
    Status st = enc->Encode(text, &ids, &offsets);
    if (!st.ok()) {
      CHECK(st.code() == ErrorCode::kInvalidUtf8);
      continue;
    }
    size_t n_chars = 0;
    for (unsigned char c : text) n_chars += (c & 0xC0) != 0x80;
    CHECK(offsets.size() == 2 * ids.size());
    for (size_t k = 0; k < ids.size(); ++k) {
      CHECK(offsets[2 * k] < offsets[2 * k + 1] && offsets[2 * k + 1] <= n_chars);
      if (k > 0) CHECK(offsets[2 * k] >= offsets[2 * k - 2]);
    }
  }
}

void TestMiniLm() {
  std::ifstream in(FASTPREP_SOURCE_DIR "/tests/data/vocab/bert_minilm_uncased.json");
  if (!in) {
    std::fprintf(stderr, "skipping MiniLM test: vocabulary file not found\n");
    return;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string json = ss.str();
  // Minimal parse of model.vocab: {"token": id, ...}; JSON escapes as written by HF.
  size_t pos = json.find("\"vocab\"", json.find("\"model\""));
  CHECK(pos != std::string::npos);
  pos = json.find('{', pos) + 1;
  std::vector<std::pair<std::string, uint32_t>> entries;
  while (true) {
    pos = json.find_first_of("\"}", pos);
    if (json[pos] == '}') break;
    std::string key;
    for (++pos; json[pos] != '"'; ++pos) {
      if (json[pos] != '\\') {
        key.push_back(json[pos]);
        continue;
      }
      char e = json[++pos];
      if (e == 'u') {
        uint32_t cp = std::stoul(json.substr(pos + 1, 4), nullptr, 16);
        pos += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && json.compare(pos + 1, 2, "\\u") == 0) {
          uint32_t lo = std::stoul(json.substr(pos + 3, 4), nullptr, 16);
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          pos += 6;
        }
        std::string u;
        if (cp < 0x80) u.push_back(static_cast<char>(cp));
        else if (cp < 0x800) { u.push_back(static_cast<char>(0xC0 | (cp >> 6))); u.push_back(static_cast<char>(0x80 | (cp & 0x3F))); }
        else if (cp < 0x10000) { u.push_back(static_cast<char>(0xE0 | (cp >> 12))); u.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F))); u.push_back(static_cast<char>(0x80 | (cp & 0x3F))); }
        else { u.push_back(static_cast<char>(0xF0 | (cp >> 18))); u.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F))); u.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F))); u.push_back(static_cast<char>(0x80 | (cp & 0x3F))); }
        key += u;
      } else {
        key.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e);
      }
    }
    pos = json.find(':', pos) + 1;
    uint32_t id = std::stoul(json.substr(pos, 12));
    entries.emplace_back(key, id);
  }
  std::vector<std::string> vocab(entries.size());
  for (auto& kv : entries) {
    CHECK(kv.second < vocab.size());
    vocab[kv.second] = kv.first;
  }
  CHECK(vocab.size() == 30522);
  std::vector<AddedTokenSpec> added;
  for (auto& [c, id] : std::vector<std::pair<std::string, uint32_t>>{
           {"[PAD]", 0}, {"[UNK]", 100}, {"[CLS]", 101}, {"[SEP]", 102}, {"[MASK]", 103}}) {
    added.push_back({c, id, false, false, false, false, true});
  }
  auto enc = MakeEncoder(vocab, {}, added);
  // HF tokenizers 0.23.3, add_special_tokens=False.
  Out o = Run(*enc, "Hello, World! [SEP]unaffable");
  CHECK((o.ids == std::vector<uint32_t>{7592, 1010, 2088, 999, 102, 14477, 20961, 3468}));
  CHECK((o.offsets == std::vector<uint32_t>{0, 5, 5, 6, 7, 12, 12, 13, 14, 19, 19, 22, 22, 25, 25, 28}));

  // Many threads on one encoder give the same answer.
  std::string text;
  for (int i = 0; i < 200; ++i) text += "The Quick brown fox, jumped over the lazy dog's back! Caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87. ";
  Out want = Run(*enc, text);
  std::vector<Out> got(16);
  CHECK(parallel_for(got.size(), 0, [&](size_t i) {
          CHECK(enc->Encode(text, &got[i].ids, &got[i].offsets).ok());
        }).ok());
  for (const Out& g : got) CHECK(g.ids == want.ids && g.offsets == want.offsets);
}

}  // namespace

int main() {
  TestBasic();
  TestNormalizer();
  TestLimitsAndErrors();
  TestAddedTokens();
  TestRandomBytes();
  TestMiniLm();
  std::printf("test_wordpiece: OK\n");
  return 0;
}
