// C++ unit tests for streaming detokenization: lossy incremental UTF-8 against a one-shot
// reference, split at every position, and the batch step's slot handling; plain asserts.
#undef NDEBUG
#include <cassert>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "fastprep/decode_stream.h"

using namespace fastprep;
using namespace fastprep::stream;

namespace {

const std::string kFFFD = "\xEF\xBF\xBD";

std::string lossy(const std::string& bytes) {
  Utf8Tail tail;
  std::string out;
  FeedUtf8(&tail, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &out);
  FinishUtf8(&tail, &out);
  return out;
}

// Feeds `bytes` one chunk boundary set at a time; the result must not depend on the split.
std::string lossy_split(const std::string& bytes, const std::vector<size_t>& cuts) {
  Utf8Tail tail;
  std::string out;
  size_t start = 0;
  for (size_t cut : cuts) {
    FeedUtf8(&tail, reinterpret_cast<const uint8_t*>(bytes.data()) + start, cut - start, &out);
    start = cut;
  }
  FeedUtf8(&tail, reinterpret_cast<const uint8_t*>(bytes.data()) + start, bytes.size() - start, &out);
  FinishUtf8(&tail, &out);
  return out;
}

void test_known_vectors() {
  // Expected values are Python's bytes.decode("utf-8", "replace").
  assert(lossy("abc") == "abc");
  assert(lossy("\xC3\xA9") == "\xC3\xA9");
  assert(lossy("\xE2\x82") == kFFFD);                    // truncated: one maximal subpart
  assert(lossy("\xE2\x82" "A") == kFFFD + "A");
  assert(lossy("\xF0\x9F\x98") == kFFFD);
  assert(lossy("\x80\x80") == kFFFD + kFFFD);             // lone continuations: one each
  assert(lossy("\xC0\xAF") == kFFFD + kFFFD);             // overlong lead
  assert(lossy("\xE0\x80\x80") == kFFFD + kFFFD + kFFFD); // E0 needs A0..BF
  assert(lossy("\xED\xA0\x80") == kFFFD + kFFFD + kFFFD); // surrogate
  assert(lossy("\xF4\x90\x80\x80") == kFFFD + kFFFD + kFFFD + kFFFD);  // past U+10FFFF
  assert(lossy("\xF0\x9F\x98\x80") == "\xF0\x9F\x98\x80");
  assert(lossy("\xF0\x9F" "\xC3\xA9") == kFFFD + "\xC3\xA9");
  assert(lossy("\xFF") == kFFFD);
}

void test_split_invariance() {
  std::mt19937 rng(12345);
  const std::string alphabet[] = {"a", "\xC3", "\xA9", "\xE2", "\x82", "\xAC", "\xF0", "\x9F",
                                  "\x98", "\x80", "\xED", "\xA0", "\xFF", "\xE0", "\xF4", "\x90", "\xBF"};
  for (int round = 0; round < 20000; ++round) {
    std::string bytes;
    const int len = static_cast<int>(rng() % 12);
    for (int i = 0; i < len; ++i) bytes += alphabet[rng() % (sizeof(alphabet) / sizeof(alphabet[0]))];
    const std::string whole = lossy(bytes);
    std::vector<size_t> cuts;
    for (size_t i = 1; i < bytes.size(); ++i) {
      if (rng() % 2) cuts.push_back(i);
    }
    assert(lossy_split(bytes, cuts) == whole);
    std::vector<size_t> every;
    for (size_t i = 1; i < bytes.size(); ++i) every.push_back(i);
    assert(lossy_split(bytes, every) == whole);
  }
}

std::shared_ptr<const ByteVocabulary> small_vocab(TokenKind beyond) {
  // 0 "a", 1 E2 82 (first bytes of the euro sign), 2 AC (its last), 3 skipped, 4 missing, 5 FF
  std::vector<std::string_view> tokens = {"a", "\xE2\x82", "\xAC", "", "", "\xFF"};
  std::vector<TokenKind> kinds = {TokenKind::kBytes, TokenKind::kBytes, TokenKind::kBytes,
                                  TokenKind::kSkip, TokenKind::kMissing, TokenKind::kBytes};
  std::shared_ptr<const ByteVocabulary> vocab;
  assert(ByteVocabulary::Create(tokens, kinds, beyond, &vocab).ok());
  return vocab;
}

void test_single_stream() {
  ByteDecodeStreams s(small_vocab(TokenKind::kMissing), 1);
  std::string out;
  assert(s.Step(0, 0, &out).ok() && out == "a");
  out.clear();
  assert(s.Step(0, 1, &out).ok() && out.empty());
  std::string pending;
  assert(s.Pending(0, &pending).ok() && pending == "\xE2\x82");
  assert(s.Step(0, 3, &out).ok() && out.empty());  // skipped: state unchanged
  assert(s.Step(0, 2, &out).ok() && out == "\xE2\x82\xAC");
  out.clear();
  Status st = s.Step(0, 4, &out);
  assert(!st.ok() && st.code() == ErrorCode::kOutOfRange);
  st = s.Step(0, 99, &out);
  assert(!st.ok() && st.code() == ErrorCode::kOutOfRange);
  assert(s.Step(0, 1, &out).ok() && s.Flush(0, &out).ok() && out == kFFFD);
  assert(s.Pending(0, &pending).ok() && pending.empty());
  assert(!s.Step(1, 0, &out).ok());
  assert(!s.Step(0, -1, &out).ok());

  ByteDecodeStreams lenient(small_vocab(TokenKind::kSkip), 1);
  out.clear();
  assert(lenient.Step(0, 99, &out).ok() && out.empty());
}

void test_batch() {
  ByteDecodeStreams s(small_vocab(TokenKind::kMissing), 3);
  std::string out;
  std::vector<size_t> ends;
  const int64_t ids1[3] = {1, 0, -1};
  assert(s.StepBatch(ids1, 3, nullptr, &out, &ends).ok());
  assert(out == "a" && ends[0] == 0 && ends[1] == 1 && ends[2] == 1);
  out.clear();
  const int64_t ids2[3] = {2, 5, 1};
  assert(s.StepBatch(ids2, 3, nullptr, &out, &ends).ok());
  assert(out == "\xE2\x82\xAC" + kFFFD && ends[0] == 3 && ends[1] == 6 && ends[2] == 6);
  // An error leaves every slot as it was.
  out.clear();
  const int64_t bad[3] = {0, 4, 0};
  assert(!s.StepBatch(bad, 3, nullptr, &out, &ends).ok());
  std::string pending;
  assert(s.Pending(2, &pending).ok() && pending == "\xE2\x82");
  assert(!s.StepBatch(ids1, 2, nullptr, &out, &ends).ok());  // wrong length without slots
  // Explicit slots: a subset, in any order, distinct.
  const int64_t ids3[1] = {2};
  const int64_t slots3[1] = {2};
  out.clear();
  assert(s.StepBatch(ids3, 1, slots3, &out, &ends).ok() && out == "\xE2\x82\xAC");
  const int64_t ids4[2] = {0, 0};
  const int64_t dup[2] = {1, 1};
  assert(!s.StepBatch(ids4, 2, dup, &out, &ends).ok());
  const int64_t far[2] = {0, 3};
  assert(!s.StepBatch(ids4, 2, far, &out, &ends).ok());
  s.Resize(5);
  assert(s.batch_size() == 5 && s.Reset(4).ok() && !s.Reset(5).ok());
  s.ResetAll();
}

}  // namespace

int main() {
  test_known_vectors();
  test_split_invariance();
  test_single_stream();
  test_batch();
  std::printf("test_decode_stream: ok\n");
  return 0;
}
