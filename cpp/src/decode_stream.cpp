// Streaming detokenization for byte-level vocabularies (see fastprep/decode_stream.h): lossy
// incremental UTF-8 decoding per sequence, and the batch step an engine runs once per token.
#include "fastprep/decode_stream.h"

#include <cstring>
#include <utility>

namespace fastprep::stream {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// Length of the character a lead byte starts, or 0 when the byte can never start one
// (continuation bytes, C0, C1, F5..FF).
inline int SequenceLength(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xC2) return 0;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF5) return 4;
  return 0;
}

// Whether `b` may be byte `pos` (1..3) of a character starting with `lead`. The second byte's
// range excludes overlong forms, surrogates and code points past U+10FFFF (Unicode Table 3-7),
// which is what makes a maximal invalid subpart end where Python and Rust end it.
inline bool ContinuationOk(uint8_t lead, int pos, uint8_t b) {
  if (pos == 1) {
    switch (lead) {
      case 0xE0: return b >= 0xA0 && b <= 0xBF;
      case 0xED: return b >= 0x80 && b <= 0x9F;
      case 0xF0: return b >= 0x90 && b <= 0xBF;
      case 0xF4: return b >= 0x80 && b <= 0x8F;
      default: break;
    }
  }
  return b >= 0x80 && b <= 0xBF;
}

bool IsCompleteUtf8(std::string_view s) {
  Utf8Tail tail;
  std::string scratch;
  scratch.reserve(s.size() + 3);
  FeedUtf8(&tail, reinterpret_cast<const uint8_t*>(s.data()), s.size(), &scratch);
  return tail.size == 0 && scratch.size() == s.size() && std::memcmp(scratch.data(), s.data(), s.size()) == 0;
}

}  // namespace

void FeedUtf8(Utf8Tail* tail, const uint8_t* data, size_t n, std::string* out) {
  size_t i = 0;
  if (tail->size != 0) {
    const uint8_t lead = tail->bytes[0];
    const int need = SequenceLength(lead);
    bool broken = false;
    while (tail->size < need && i < n) {
      if (!ContinuationOk(lead, tail->size, data[i])) {
        broken = true;  // data[i] is not consumed: it may start the next character
        break;
      }
      if (tail->size + 1 == need) {
        out->append(reinterpret_cast<const char*>(tail->bytes), tail->size);
        out->push_back(static_cast<char>(data[i]));
        tail->size = 0;
        ++i;
        break;
      }
      tail->bytes[tail->size++] = data[i++];
    }
    if (broken) {
      out->append(kReplacement, 3);
      tail->size = 0;
    } else if (tail->size != 0) {
      return;  // still unfinished, all of data consumed
    }
  }
  while (i < n) {
    const uint8_t b = data[i];
    if (b < 0x80) {
      size_t j = i + 1;
      while (j < n && data[j] < 0x80) ++j;
      out->append(reinterpret_cast<const char*>(data + i), j - i);
      i = j;
      continue;
    }
    const int need = SequenceLength(b);
    if (need == 0) {
      out->append(kReplacement, 3);
      ++i;
      continue;
    }
    int k = 1;
    while (k < need && i + k < n && ContinuationOk(b, k, data[i + k])) ++k;
    if (k == need) {
      out->append(reinterpret_cast<const char*>(data + i), need);
      i += need;
    } else if (i + k == n) {
      std::memcpy(tail->bytes, data + i, k);  // a valid prefix cut off by the end of the data
      tail->size = static_cast<uint8_t>(k);
      return;
    } else {
      out->append(kReplacement, 3);  // the maximal subpart data[i, i + k) can never complete
      i += k;
    }
  }
}

void FinishUtf8(Utf8Tail* tail, std::string* out) {
  if (tail->size != 0) {
    out->append(kReplacement, 3);
    tail->size = 0;
  }
}

Status ByteVocabulary::Create(const std::vector<std::string_view>& tokens,
                              const std::vector<TokenKind>& kinds, TokenKind beyond,
                              std::shared_ptr<const ByteVocabulary>* out) {
  if (tokens.size() != kinds.size()) {
    return Status(ErrorCode::kInvalidArgument, "ByteVocabulary: tokens and kinds differ in length");
  }
  if (tokens.size() >= 0xFFFFFFFFull) {
    return Status(ErrorCode::kLimitExceeded, "ByteVocabulary: too many ids");
  }
  auto vocab = std::make_shared<ByteVocabulary>();
  size_t total = 0;
  for (std::string_view t : tokens) total += t.size();
  if (total > 0xFFFFFFF0ull) {
    return Status(ErrorCode::kLimitExceeded, "ByteVocabulary: over 4 GiB of token bytes");
  }
  vocab->blob_.reserve(total);
  vocab->offsets_.reserve(tokens.size() + 1);
  vocab->kinds_.reserve(tokens.size());
  vocab->offsets_.push_back(0);
  for (size_t i = 0; i < tokens.size(); ++i) {
    const TokenKind kind = kinds[i];
    if (kind != TokenKind::kMissing && kind != TokenKind::kSkip && kind != TokenKind::kBytes) {
      return Status(ErrorCode::kInvalidArgument, "ByteVocabulary: bad kind for id " + std::to_string(i));
    }
    uint8_t flags = static_cast<uint8_t>(kind);
    if (kind == TokenKind::kBytes) {
      vocab->blob_.append(tokens[i]);
      if (IsCompleteUtf8(tokens[i])) flags |= kCompleteUtf8;
    }
    vocab->offsets_.push_back(static_cast<uint32_t>(vocab->blob_.size()));
    vocab->kinds_.push_back(flags);
  }
  vocab->beyond_ = beyond;
  *out = std::move(vocab);
  return Status::Ok();
}

Status ByteDecodeStreams::CheckSlot(int64_t slot) const {
  if (slot < 0 || static_cast<uint64_t>(slot) >= tails_.size()) {
    return Status(ErrorCode::kInvalidArgument, "slot " + std::to_string(slot) +
                                                   " out of range for batch_size " +
                                                   std::to_string(tails_.size()));
  }
  return Status::Ok();
}

Status ByteDecodeStreams::CheckId(int64_t id, size_t index) const {
  if (vocab_->kind(id) == TokenKind::kMissing) {
    return Status(ErrorCode::kOutOfRange, "Invalid token for decoding: " + std::to_string(id) +
                                              " (sequence " + std::to_string(index) + ")");
  }
  return Status::Ok();
}

Status ByteDecodeStreams::Reset(int64_t slot) {
  Status s = CheckSlot(slot);
  if (!s.ok()) return s;
  tails_[slot] = Utf8Tail();
  return Status::Ok();
}

void ByteDecodeStreams::ResetAll() {
  for (Utf8Tail& t : tails_) t = Utf8Tail();
}

Status ByteDecodeStreams::Pending(int64_t slot, std::string* out) const {
  Status s = CheckSlot(slot);
  if (!s.ok()) return s;
  out->assign(reinterpret_cast<const char*>(tails_[slot].bytes), tails_[slot].size);
  return Status::Ok();
}

inline void ByteDecodeStreams::Advance(Utf8Tail* tail, int64_t id, std::string* out) const {
  if (vocab_->kind(id) != TokenKind::kBytes) return;  // kSkip (kMissing was rejected)
  std::string_view bytes = vocab_->bytes(id);
  if (tail->size == 0 && vocab_->is_complete_utf8(id)) {
    out->append(bytes.data(), bytes.size());
    return;
  }
  FeedUtf8(tail, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), out);
}

Status ByteDecodeStreams::Step(int64_t slot, int64_t id, std::string* out) {
  Status s = CheckSlot(slot);
  if (!s.ok()) return s;
  if (id < 0) return Status(ErrorCode::kInvalidArgument, "token id must be non-negative, got " + std::to_string(id));
  s = CheckId(id, 0);
  if (!s.ok()) return s;
  Advance(&tails_[slot], id, out);
  return Status::Ok();
}

Status ByteDecodeStreams::StepBatch(const int64_t* ids, size_t n, const int64_t* slots,
                                    std::string* out, std::vector<size_t>* ends) {
  if (slots == nullptr && n != tails_.size()) {
    return Status(ErrorCode::kInvalidArgument, "expected " + std::to_string(tails_.size()) +
                                                   " token ids (one per slot), got " + std::to_string(n));
  }
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] < 0) continue;
    Status s = CheckId(ids[i], i);
    if (!s.ok()) return s;
  }
  if (slots != nullptr) {
    seen_.assign(tails_.size(), 0);
    for (size_t i = 0; i < n; ++i) {
      Status s = CheckSlot(slots[i]);
      if (!s.ok()) return s;
      if (seen_[slots[i]]++) {
        return Status(ErrorCode::kInvalidArgument, "slot " + std::to_string(slots[i]) +
                                                       " appears twice in one step");
      }
    }
  }
  ends->resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] >= 0) Advance(&tails_[slots ? slots[i] : static_cast<int64_t>(i)], ids[i], out);
    (*ends)[i] = out->size();
  }
  return Status::Ok();
}

Status ByteDecodeStreams::Flush(int64_t slot, std::string* out) {
  Status s = CheckSlot(slot);
  if (!s.ok()) return s;
  FinishUtf8(&tails_[slot], out);
  return Status::Ok();
}

}  // namespace fastprep::stream
