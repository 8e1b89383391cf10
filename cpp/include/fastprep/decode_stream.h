// Streaming detokenization for byte-level vocabularies: turns one token id at a time into the
// text that has become complete, holding at most 3 bytes of an unfinished UTF-8 character per
// sequence. Bytes that can never become valid UTF-8 become U+FFFD exactly where a one-shot
// lossy decode (Python's bytes.decode("utf-8", "replace"), Rust's from_utf8_lossy) puts them:
// one U+FFFD per maximal invalid subpart, so the concatenated output of every step plus Flush()
// equals the lossy decode of the concatenated token bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fastprep/status.h"

namespace fastprep::stream {

// What an id means to the stream.
enum class TokenKind : uint8_t {
  kMissing = 0,  // not in the vocabulary: stepping it is an error (tiktoken's KeyError)
  kSkip = 1,     // contributes nothing (HF: a skipped special token or an unknown id)
  kBytes = 2,    // contributes its bytes
};

// Lossy incremental UTF-8 decoding of one byte stream. `pending` holds the valid prefix of an
// unfinished character (0..3 bytes).
struct Utf8Tail {
  uint8_t bytes[3] = {0, 0, 0};
  uint8_t size = 0;
};

// Appends to `out` the text of `data` that is complete given `tail` (valid UTF-8, with EF BF BD
// for each maximal invalid subpart) and leaves the unfinished remainder in `tail`.
void FeedUtf8(Utf8Tail* tail, const uint8_t* data, size_t n, std::string* out);
// Ends the stream: an unfinished character is one maximal invalid subpart, so one U+FFFD.
void FinishUtf8(Utf8Tail* tail, std::string* out);

// Immutable id -> bytes table; shared by any number of stream batches and threads.
class ByteVocabulary {
 public:
  // tokens[i] and kinds[i] describe id i; ids >= tokens.size() have kind `beyond`.
  // Fails (kLimitExceeded) past 4 GiB of token bytes or 2^32 - 1 ids.
  static Status Create(const std::vector<std::string_view>& tokens,
                       const std::vector<TokenKind>& kinds, TokenKind beyond,
                       std::shared_ptr<const ByteVocabulary>* out);

  size_t size() const { return kinds_.size(); }
  TokenKind kind(int64_t id) const {
    return id >= 0 && static_cast<uint64_t>(id) < kinds_.size() ? static_cast<TokenKind>(kinds_[id] & 3)
                                                                  : beyond_;
  }
  // True when the token's bytes are complete, valid UTF-8 (copied as is when nothing is pending).
  bool is_complete_utf8(int64_t id) const { return (kinds_[id] & kCompleteUtf8) != 0; }
  std::string_view bytes(int64_t id) const {
    return std::string_view(blob_.data() + offsets_[id], offsets_[id + 1] - offsets_[id]);
  }

 private:
  static constexpr uint8_t kCompleteUtf8 = 4;
  std::string blob_;
  std::vector<uint32_t> offsets_;  // size() + 1
  std::vector<uint8_t> kinds_;     // TokenKind | kCompleteUtf8
  TokenKind beyond_ = TokenKind::kMissing;
};

// A batch of independent detokenization streams ("slots") over one vocabulary: the state of an
// engine step. Slots are reused as sequences come and go (Reset / Flush); not thread-safe.
class ByteDecodeStreams {
 public:
  ByteDecodeStreams(std::shared_ptr<const ByteVocabulary> vocab, size_t batch_size)
      : vocab_(std::move(vocab)), tails_(batch_size) {}

  size_t batch_size() const { return tails_.size(); }
  // Grows with empty slots or drops the highest slots.
  void Resize(size_t batch_size) { tails_.resize(batch_size); }
  Status Reset(int64_t slot);
  void ResetAll();
  // Pending bytes of a slot (an unfinished character), for inspection.
  Status Pending(int64_t slot, std::string* out) const;

  // Advances `slot` by `id`, appending its new complete text to `out`. An id of kind kMissing or
  // a bad slot fails with nothing changed.
  Status Step(int64_t slot, int64_t id, std::string* out);

  // Advances n sequences by one token each: ids[i] goes to slot i, or to slots[i] when `slots` is
  // given (then slots must be distinct). A negative id means "no token for this sequence".
  // Appends all new text to `out` and sets ends[i] to the end offset of sequence i's text (its
  // text starts at ends[i - 1], or at the initial size of `out`). Validates everything first:
  // on error no slot has changed.
  Status StepBatch(const int64_t* ids, size_t n, const int64_t* slots, std::string* out,
                   std::vector<size_t>* ends);

  // Ends the sequence in `slot`: appends what is left (U+FFFD for an unfinished character) and
  // resets the slot.
  Status Flush(int64_t slot, std::string* out);

 private:
  Status CheckSlot(int64_t slot) const;
  Status CheckId(int64_t id, size_t index) const;
  void Advance(Utf8Tail* tail, int64_t id, std::string* out) const;

  std::shared_ptr<const ByteVocabulary> vocab_;
  std::vector<Utf8Tail> tails_;
  std::vector<uint8_t> seen_;  // scratch for the distinct-slots check
};

}  // namespace fastprep::stream
