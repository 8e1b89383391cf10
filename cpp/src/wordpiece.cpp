// WordPiece over a byte trie and the fused BERT pass (added tokens, BertNormalizer,
// BertPreTokenizer, WordPiece) that reproduces HF tokenizers' ids and character offsets.
//
// How HF aligns offsets, and why one original character index per normalized character is
// enough: every BertNormalizer step maps one character to zero or more characters that all keep
// that character's range, except NFD, whose sort of combining marks hands the ranges out in
// order (HF's transform: the k-th output character that starts a decomposition takes the k-th
// input's range, a continuation takes the last one handed out). That is what FlushRun
// reproduces. A token's offsets are then [range of its first character, range of its last).
#include "fastprep/wordpiece.h"
#include "fastprep/unicode.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <utility>

namespace fastprep {
namespace {

#include "hf_unicode_tables.inc"

inline uint16_t Flags(uint32_t cp) {
  return kHfFlagStage2[(static_cast<uint32_t>(kHfFlagStage1[cp >> 7]) << 7) | (cp & 127)];
}

constexpr uint32_t kHangulSBase = 0xAC00, kHangulLBase = 0x1100, kHangulVBase = 0x1161,
                   kHangulTBase = 0x11A7, kHangulTCount = 28, kHangulNCount = 21 * 28,
                   kHangulSCount = 19 * 21 * 28;

// Full canonical decomposition (Unicode 9.0) into out[0..3]; returns its length (1 = itself).
inline size_t Decompose(uint32_t cp, uint32_t* out) {
  if (cp - kHangulSBase < kHangulSCount) {
    uint32_t s = cp - kHangulSBase;
    out[0] = kHangulLBase + s / kHangulNCount;
    out[1] = kHangulVBase + (s % kHangulNCount) / kHangulTCount;
    if (s % kHangulTCount == 0) return 2;
    out[2] = kHangulTBase + s % kHangulTCount;
    return 3;
  }
  const HfDecompRow* end = kHfDecompRows + sizeof(kHfDecompRows) / sizeof(kHfDecompRows[0]);
  const HfDecompRow* row = std::lower_bound(
      kHfDecompRows, end, cp, [](const HfDecompRow& r, uint32_t c) { return r.cp < c; });
  if (row == end || row->cp != cp) {
    out[0] = cp;
    return 1;
  }
  for (size_t i = 0; i < row->length; ++i) out[i] = kHfDecompData[row->offset + i];
  return row->length;
}

inline uint8_t Ccc(uint32_t cp) {
  const HfCccRow* end = kHfCccRows + sizeof(kHfCccRows) / sizeof(kHfCccRows[0]);
  const HfCccRow* row = std::lower_bound(kHfCccRows, end, cp,
                                         [](const HfCccRow& r, uint32_t c) { return r.cp < c; });
  return (row != end && row->cp == cp) ? row->ccc : 0;
}

// Rust char::to_lowercase (Unicode 17.0) into out[0..3]; returns its length.
inline size_t Lowercase(uint32_t cp, uint32_t* out) {
  if (cp < 0x80) {
    out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    return 1;
  }
  const HfLowerRow* end = kHfLowerRows + sizeof(kHfLowerRows) / sizeof(kHfLowerRows[0]);
  const HfLowerRow* row = std::lower_bound(
      kHfLowerRows, end, cp, [](const HfLowerRow& r, uint32_t c) { return r.cp < c; });
  if (row == end || row->cp != cp) {
    out[0] = cp;
    return 1;
  }
  if (!(row->lower & 0x80000000u)) {
    out[0] = row->lower;
    return 1;
  }
  size_t offset = (row->lower & 0x7FFFFFFFu) >> 2, n = row->lower & 3u;
  for (size_t i = 0; i < n; ++i) out[i] = kHfLowerMulti[offset + i];
  return n;
}

// Decodes one UTF-8 scalar value at p (< end, *p >= 0x80); returns its length, 0 if invalid.
inline size_t DecodeUtf8(const uint8_t* p, const uint8_t* end, uint32_t* cp) {
  uint8_t b0 = p[0];
  size_t avail = static_cast<size_t>(end - p);
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (avail < 2 || (p[1] & 0xC0) != 0x80) return 0;
    *cp = (static_cast<uint32_t>(b0 & 0x1F) << 6) | (p[1] & 0x3F);
    return 2;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
    uint32_t c = (static_cast<uint32_t>(b0 & 0x0F) << 12) | (static_cast<uint32_t>(p[1] & 0x3F) << 6) |
                 (p[2] & 0x3F);
    if (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) {
      return 0;
    }
    uint32_t c = (static_cast<uint32_t>(b0 & 0x07) << 18) | (static_cast<uint32_t>(p[1] & 0x3F) << 12) |
                 (static_cast<uint32_t>(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    if (c < 0x10000 || c > 0x10FFFF) return 0;
    *cp = c;
    return 4;
  }
  return 0;
}

// Code point starting at byte i of valid UTF-8 text.
inline uint32_t CodePointAt(std::string_view text, size_t i, size_t* len) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(text.data()) + i;
  if (p[0] < 0x80) {
    *len = 1;
    return p[0];
  }
  uint32_t cp = 0;
  *len = DecodeUtf8(p, reinterpret_cast<const uint8_t*>(text.data()) + text.size(), &cp);
  if (*len == 0) *len = 1;
  return cp;
}

// Start of the code point that ends right before byte i (> 0) of valid UTF-8 text.
inline size_t PrevCharStart(std::string_view text, size_t i) {
  size_t j = i - 1;
  while (j > 0 && (static_cast<uint8_t>(text[j]) & 0xC0) == 0x80) --j;
  return j;
}

inline void AppendUtf8(std::string* out, uint32_t cp) {
  char buf[4];
  out->append(buf, encode_utf8(cp, buf));
}

inline size_t Utf8Length(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

inline uint64_t Load8(const uint8_t* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

// Bytes [p, p + n) (n <= 8) as a zero-padded little-endian word, reading nothing outside them:
// two overlapping loads instead of a byte copy (which would stall store-to-load forwarding).
inline uint64_t LoadUpTo8(const uint8_t* p, size_t n) {
  if (n >= 8) return Load8(p);
  if (n >= 4) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + n - 4, 4);
    return lo | (static_cast<uint64_t>(hi) << (8 * (n - 4)));
  }
  if (n >= 2) {
    uint16_t lo, hi;
    std::memcpy(&lo, p, 2);
    std::memcpy(&hi, p + n - 2, 2);
    return lo | (static_cast<uint64_t>(hi) << (8 * (n - 2)));
  }
  return n ? p[0] : 0;
}

inline uint64_t HashKey(const uint8_t* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    h = (h ^ Load8(p + i)) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
  }
  if (i < n) {
    h = (h ^ LoadUpTo8(p + i, n - i)) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
  }
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 29);
}

constexpr uint16_t kAsciiDrop = 0x100, kAsciiSpace = 0x101, kAsciiPunct = 0x102;
constexpr size_t kDenseMinChildren = 12;

}  // namespace

// ---- WordPieceModel ------------------------------------------------------------------------

Status WordPieceModel::Create(const std::vector<std::string>& vocab, std::string unk_token,
                              std::string continuing_subword_prefix,
                              size_t max_input_chars_per_word, std::unique_ptr<WordPieceModel>* out) {
  if (vocab.size() >= kNoToken) return Status(ErrorCode::kLimitExceeded, "WordPiece: vocabulary too large");
  std::unique_ptr<WordPieceModel> m(new WordPieceModel());
  m->vocab_size_ = vocab.size();
  m->max_chars_ = max_input_chars_per_word;
  m->unk_token_ = std::move(unk_token);

  // Insert in byte order so that each node's children arrive sorted by label.
  std::vector<uint32_t> order(vocab.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return vocab[a] < vocab[b]; });
  std::vector<std::vector<std::pair<uint8_t, uint32_t>>> kids(1);
  std::vector<uint32_t> token(1, kNoToken);
  for (size_t k = 0; k < order.size(); ++k) {
    const std::string& s = vocab[order[k]];
    if (s.empty()) return Status(ErrorCode::kInvalidArgument, "WordPiece: empty vocabulary entry (id " + std::to_string(order[k]) + ")");
    if (k > 0 && s == vocab[order[k - 1]]) {
      return Status(ErrorCode::kInvalidArgument, "WordPiece: duplicate vocabulary entry '" + s + "'");
    }
    uint32_t node = 0;
    for (unsigned char c : s) {
      auto& ks = kids[node];
      if (!ks.empty() && ks.back().first == c) {
        node = ks.back().second;
      } else {
        uint32_t child = static_cast<uint32_t>(kids.size());
        ks.emplace_back(c, child);
        kids.emplace_back();
        token.push_back(kNoToken);
        node = child;
      }
    }
    token[node] = order[k];
  }
  // Offsets in node order (= depth-first preorder, from the sorted insertion), then fill.
  std::vector<uint32_t> offset(kids.size());
  size_t total = 0;
  for (size_t n = 0; n < kids.size(); ++n) {
    offset[n] = static_cast<uint32_t>(total);
    size_t k = kids[n].size();
    total += k >= kDenseMinChildren ? 3 : 2 + (k + 3) / 4 + k;
  }
  if (total >= kNoToken) return Status(ErrorCode::kLimitExceeded, "WordPiece: vocabulary too large");
  m->trie_.assign(total, 0);
  for (size_t n = 0; n < kids.size(); ++n) {
    uint32_t* at = m->trie_.data() + offset[n];
    const auto& ks = kids[n];
    at[0] = token[n];
    if (ks.size() >= kDenseMinChildren) {
      at[1] = kDense;
      at[2] = static_cast<uint32_t>(m->dense_.size() / 256);
      m->dense_.resize(m->dense_.size() + 256, 0);
      for (const auto& kv : ks) m->dense_[static_cast<size_t>(at[2]) * 256 + kv.first] = offset[kv.second];
      continue;
    }
    at[1] = static_cast<uint32_t>(ks.size());
    uint8_t* labels = reinterpret_cast<uint8_t*>(at + 2);
    uint32_t* targets = at + 2 + (ks.size() + 3) / 4;
    for (size_t i = 0; i < ks.size(); ++i) {
      labels[i] = ks[i].first;
      targets[i] = offset[ks[i].second];
    }
  }
  uint32_t node = 0;
  for (unsigned char c : continuing_subword_prefix) {
    node = m->Child(node, c);
    if (node == 0) break;
  }
  m->prefix_node_ = (node == 0 && !continuing_subword_prefix.empty()) ? kNoToken : node;
  m->unk_id_ = m->TokenToId(m->unk_token_);

  m->pool_offset_.reserve(vocab.size());
  for (const std::string& s : vocab) {
    m->pool_offset_.push_back(static_cast<uint32_t>(m->pool_.size()));
    m->pool_ += s;
  }
  size_t cap = 16;
  while (cap < vocab.size() + vocab.size() / 2) cap *= 2;  // load <= 2/3: 1 MB for BERT
  m->slots_.assign(cap, Slot{0, 0, 0, 0});
  m->slot_mask_ = cap - 1;
  for (uint32_t id = 0; id < vocab.size(); ++id) {
    const std::string& s = vocab[id];
    const size_t n = s.size();
    if (n > kMaxHashedBytes) continue;  // found by the trie walk instead
    const uint8_t* p = reinterpret_cast<const uint8_t*>(s.data());
    uint64_t h = HashKey(p, n);
    size_t i = h & m->slot_mask_;
    while (m->slots_[i].len != 0) i = (i + 1) & m->slot_mask_;
    m->slots_[i] = Slot{LoadUpTo8(p, n < 8 ? n : 8), id, static_cast<uint16_t>(n), static_cast<uint16_t>(h >> 48)};
  }
  *out = std::move(m);
  return Status::Ok();
}

inline uint32_t WordPieceModel::Child(uint32_t node, uint8_t byte) const {
  const uint32_t* at = trie_.data() + node;
  const uint32_t n = at[1];
  if (n == kDense) return dense_[static_cast<size_t>(at[2]) * 256 + byte];
  const uint8_t* labels = reinterpret_cast<const uint8_t*>(at + 2);
  for (uint32_t i = 0; i < n; ++i) {
    if (labels[i] >= byte) return labels[i] == byte ? at[2 + (n + 3) / 4 + i] : 0;
  }
  return 0;
}

uint32_t WordPieceModel::TokenToId(std::string_view token) const {
  if (token.empty()) return kNoToken;
  uint32_t node = 0;
  for (unsigned char c : token) {
    node = Child(node, c);
    if (node == 0) return kNoToken;
  }
  return trie_[node];
}

inline uint32_t WordPieceModel::LongestMatch(uint32_t node, const uint8_t* p, const uint8_t* end,
                                             size_t* len) const {
  uint32_t best = kNoToken;
  size_t best_len = 0;
  for (const uint8_t* q = p; q < end; ++q) {
    node = Child(node, *q);
    if (node == 0) break;
    uint32_t t = trie_[node];
    if (t != kNoToken) {
      best = t;
      best_len = static_cast<size_t>(q + 1 - p);
    }
  }
  *len = best_len;
  return best;
}

inline uint32_t WordPieceModel::WholeLookup(const uint8_t* p, const uint8_t* end) const {
  const size_t n = static_cast<size_t>(end - p);
  if (n > kMaxHashedBytes) return kNoToken;
  const uint64_t h = HashKey(p, n);
  const uint64_t head = LoadUpTo8(p, n < 8 ? n : 8);
  const uint16_t tag = static_cast<uint16_t>(h >> 48);
  for (size_t i = h & slot_mask_;; i = (i + 1) & slot_mask_) {
    const Slot& slot = slots_[i];
    if (slot.len == 0) return kNoToken;
    if (slot.len == n && slot.tag == tag && slot.head == head &&
        (n <= 8 || std::memcmp(pool_.data() + pool_offset_[slot.id] + 8, p + 8, n - 8) == 0)) {
      return slot.id;
    }
  }
}

Status WordPieceModel::TokenizeWord(std::string_view word, size_t n_chars, std::vector<uint32_t>* ids,
                                    std::vector<uint32_t>* ends) const {
  if (word.empty()) return Status::Ok();
  const size_t mark = ids->size(), mark_ends = ends ? ends->size() : 0;
  if (n_chars <= max_chars_) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(word.data());
    const uint8_t* end = p + word.size();
    size_t start = 0;
    // Greedy longest-match-first: the longest vocabulary prefix of the rest (behind the
    // continuing-subword prefix after the first piece) is exactly the first substring HF's
    // shrinking search finds, because vocabulary entries end on character boundaries.
    // The whole word is the longest possible match: one hash probe settles most words. The
    // pieces after a miss go to the trie only (a second probe there mostly misses; measured).
    uint32_t whole = WholeLookup(p, end);
    if (whole != kNoToken) {
      ids->push_back(whole);
      if (ends) ends->push_back(static_cast<uint32_t>(word.size()));
      return Status::Ok();
    }
    while (start < word.size()) {
      uint32_t from = start == 0 ? 0 : prefix_node_;
      if (from == kNoToken) break;
      size_t len = 0;
      uint32_t id = LongestMatch(from, p + start, end, &len);
      if (id == kNoToken) break;
      ids->push_back(id);
      start += len;
      if (ends) ends->push_back(static_cast<uint32_t>(start));
    }
    if (start == word.size()) return Status::Ok();
    ids->resize(mark);
    if (ends) ends->resize(mark_ends);
  }
  if (unk_id_ == kNoToken) {
    return Status(ErrorCode::kInvalidArgument,
                  "WordPiece error: Missing [UNK] token from the vocabulary (unk_token '" + unk_token_ + "')");
  }
  ids->push_back(unk_id_);
  if (ends) ends->push_back(static_cast<uint32_t>(word.size()));
  return Status::Ok();
}

// ---- BertEncoder ---------------------------------------------------------------------------

Status BertEncoder::Create(std::shared_ptr<const WordPieceModel> model, BertNormalizerOptions options,
                           std::vector<AddedTokenSpec> added_tokens, std::unique_ptr<BertEncoder>* out) {
  if (!model) return Status(ErrorCode::kInvalidArgument, "BertEncoder: no WordPiece model");
  std::unique_ptr<BertEncoder> e(new BertEncoder());
  e->model_ = std::move(model);
  e->options_ = options;
  // What each ASCII character becomes after the whole normalizer and the pre-tokenizer's
  // classification (ASCII has no decomposition and no nonspacing marks).
  for (uint32_t b = 0; b < 128; ++b) {
    uint32_t c = b;
    uint16_t f = Flags(c);
    if (options.clean_text) {
      if (c == 0 || ((f & kHfOther8) && c != '\t' && c != '\n' && c != '\r')) {
        e->ascii_action_[b] = kAsciiDrop;
        continue;
      }
      if (f & kHfWhitespace) c = ' ';
    }
    if (options.lowercase && c >= 'A' && c <= 'Z') c += 'a' - 'A';
    f = Flags(c);
    e->ascii_action_[b] = (f & kHfWhitespace) ? kAsciiSpace : (f & kHfPunct8) ? kAsciiPunct
                                                                             : static_cast<uint16_t>(c);
  }
  std::vector<AddedTokenSpec> raw, norm;
  for (auto& t : added_tokens) {
    if (t.content.empty()) return Status(ErrorCode::kInvalidArgument, "BertEncoder: empty added token");
    if (t.normalized) {
      // HF matches the normalized content on normalized text.
      std::string normalized = e->NormalizeForMatching(t.content);
      if (normalized.empty()) {
        return Status(ErrorCode::kUnsupported, "BertEncoder: added token '" + t.content +
                                                   "' normalizes to the empty string");
      }
      t.content = std::move(normalized);
      norm.push_back(std::move(t));
    } else {
      raw.push_back(std::move(t));
    }
  }
  e->raw_added_.Build(std::move(raw));
  e->norm_added_.Build(std::move(norm));
  *out = std::move(e);
  return Status::Ok();
}

void BertEncoder::AddedTable::Build(std::vector<AddedTokenSpec> specs) {
  std::unordered_map<std::string, size_t> index;
  for (auto& t : specs) {
    auto it = index.find(t.content);
    if (it == index.end()) {
      index.emplace(t.content, tokens.size());
      tokens.push_back(std::move(t));
    } else {
      tokens[it->second] = std::move(t);
    }
  }
  by_first.assign(256, {});
  for (uint32_t i = 0; i < tokens.size(); ++i) {
    uint8_t b = static_cast<uint8_t>(tokens[i].content[0]);
    by_first[b].push_back(i);
    first[b] = 1;
  }
  for (auto& bucket : by_first) {
    std::stable_sort(bucket.begin(), bucket.end(), [&](uint32_t a, uint32_t b) {
      return tokens[a].content.size() > tokens[b].content.size();
    });
  }
}

void BertEncoder::AddedTable::Find(std::string_view text, std::vector<AddedMatch>* out) const {
  out->clear();
  const size_t n = text.size();
  size_t start_offset = 0;
  size_t p = 0;
  while (p < n) {
    if (!first[static_cast<uint8_t>(text[p])]) {
      ++p;
      continue;
    }
    const auto& bucket = by_first[static_cast<uint8_t>(text[p])];
    const AddedTokenSpec* hit = nullptr;
    for (uint32_t idx : bucket) {
      const std::string& c = tokens[idx].content;
      if (c.size() <= n - p && std::memcmp(text.data() + p, c.data(), c.size()) == 0) {
        hit = &tokens[idx];
        break;
      }
    }
    if (hit == nullptr) {
      ++p;
      continue;
    }
    // HF's AddedVocabulary::split_with_indices: the scan resumes after the match itself; a
    // failed single_word check drops the match without rescanning what it covered.
    size_t start = p, stop = p + hit->content.size();
    p = stop;
    if (hit->single_word) {
      size_t len = 0;
      bool start_space = start == 0 ||
                         !(Flags(CodePointAt(text, PrevCharStart(text, start), &len)) & kHfWord16);
      bool stop_space = stop == n || !(Flags(CodePointAt(text, stop, &len)) & kHfWord16);
      if (!(start_space && stop_space)) continue;
    }
    if (hit->lstrip) {
      size_t s = start, len = 0;
      while (s > 0) {
        size_t prev = PrevCharStart(text, s);
        if (!(Flags(CodePointAt(text, prev, &len)) & kHfWhitespace)) break;
        s = prev;
      }
      start = std::max(s, start_offset);
    }
    if (hit->rstrip) {
      size_t len = 0;
      while (stop < n && (Flags(CodePointAt(text, stop, &len)) & kHfWhitespace)) stop += len;
    }
    out->push_back({start, stop, hit->id});
    start_offset = stop;
  }
}

namespace {

struct Mark {
  uint32_t cp;
  uint8_t ccc;
  bool first;  // first character of its input character's decomposition (HF change 0)
};

// Per-thread working memory, reused across calls.
struct Scratch {
  std::string word;                 // normalized UTF-8 of the current pre-token
  std::vector<uint32_t> word_align;  // per byte of `word`: index of the original character
  size_t word_chars = 0;
  std::vector<Mark> run;             // pending combining marks (NFD reordering)
  std::vector<uint32_t> run_inputs;  // original character of each `first` mark, in input order
  uint32_t last_align = 0;           // the range most recently handed out by NFD
  std::vector<uint32_t> ends;
  std::string norm;                  // normalized piece, when normalized added tokens are matched
  std::vector<uint32_t> norm_align;  // per byte of `norm`: index of the original character
};

}  // namespace

// One encode call: the normalizer stages as member functions feeding each other character by
// character (clean -> Chinese spacing -> NFD + reorder -> drop Mn -> lowercase -> split).
template <bool kOffsets>
class BertPass {
 public:
  BertPass(const BertEncoder& enc, Scratch& s, std::vector<uint32_t>* ids, std::vector<uint32_t>* offsets)
      : enc_(enc), model_(*enc.model_), opt_(enc.options_), s_(s), ids_(*ids), offsets_(offsets) {
    slow_mask_ = kHfWhitespace | kHfOther8 | kHfPunct8;
    if (opt_.handle_chinese_chars) slow_mask_ |= kHfCjk;
    if (opt_.strip_accents) slow_mask_ |= kHfDecomp9 | kHfNonStarter9 | kHfMn8;
    if (opt_.lowercase) slow_mask_ |= kHfLower17;
  }

  // Normalizes and tokenizes text[begin, end) as one HF split; `ci` = character index of begin.
  Status Piece(std::string_view text, size_t begin, size_t end, uint32_t ci) {
    if (!enc_.norm_added_.empty()) return PieceWithNormalizedTokens(text, begin, end, ci);
    const uint8_t* base = reinterpret_cast<const uint8_t*>(text.data());
    const uint8_t* p = base + begin;
    const uint8_t* stop = base + end;
    const bool strip = opt_.strip_accents;
    while (p < stop) {
      uint8_t b = *p;
      if (b < 0x80) {
        uint16_t a = enc_.ascii_action_[b];
        // A character clean_text drops never reaches NFD, so it does not end a run of marks
        // (HF reorders the marks on both sides of it together).
        if (strip && a != kAsciiDrop && !s_.run.empty()) FlushRun();
        if (a < 0x80) {
          s_.word.push_back(static_cast<char>(a));
          if (kOffsets) s_.word_align.push_back(ci);
          ++s_.word_chars;
        } else if (a == kAsciiSpace) {
          FlushWord();
        } else if (a == kAsciiPunct) {
          FlushWord();
          s_.word.push_back(static_cast<char>(b));
          if (kOffsets) s_.word_align.push_back(ci);
          s_.word_chars = 1;
          FlushWord();
        }
        ++p;
        ++ci;
        continue;
      }
      uint32_t cp = 0;
      size_t len = DecodeUtf8(p, stop, &cp);
      if (len == 0) {
        return Status(ErrorCode::kInvalidUtf8,
                      "BertEncoder: invalid UTF-8 at byte " + std::to_string(p - base));
      }
      const uint16_t f = Flags(cp);
      if (!(f & slow_mask_) && cp != 0xFFFD) {
        // Unchanged by every normalizer step and not a separator: copy its bytes.
        if (strip && !s_.run.empty()) FlushRun();
        s_.word.append(reinterpret_cast<const char*>(p), len);
        if (kOffsets) s_.word_align.insert(s_.word_align.end(), len, ci);
        ++s_.word_chars;
      } else {
        Original(cp, f, ci);
      }
      p += len;
      ++ci;
    }
    if (strip && !s_.run.empty()) FlushRun();
    FlushWord();
    return status_;
  }

  // HF's path when normalized=true added tokens exist: normalize the whole piece, find those
  // tokens on the normalized text, then pre-tokenize and tokenize the rest around them.
  Status PieceWithNormalizedTokens(std::string_view text, size_t begin, size_t end, uint32_t ci) {
    Status st = Record(text, begin, end, ci);
    if (!st.ok()) return st;
    static thread_local std::vector<BertEncoder::AddedMatch> matches;
    enc_.norm_added_.Find(s_.norm, &matches);
    size_t start_offset = 0;
    for (const auto& m : matches) {
      if (start_offset < m.start) SplitRecorded(start_offset, m.start);
      EmitAdded(m.id, s_.norm_align[m.start], s_.norm_align[m.end - 1] + 1);
      start_offset = m.end;
    }
    if (start_offset < s_.norm.size()) SplitRecorded(start_offset, s_.norm.size());
    return status_;
  }

  // Runs text[begin, end) through the normalizer only, into s_.norm / s_.norm_align.
  Status Record(std::string_view text, size_t begin, size_t end, uint32_t ci) {
    s_.norm.clear();
    s_.norm_align.clear();
    record_ = true;
    const uint8_t* base = reinterpret_cast<const uint8_t*>(text.data());
    for (const uint8_t* p = base + begin; p < base + end; ++ci) {
      uint32_t cp = *p;
      size_t len = 1;
      if (cp >= 0x80) {
        len = DecodeUtf8(p, base + end, &cp);
        if (len == 0) {
          record_ = false;
          return Status(ErrorCode::kInvalidUtf8, "BertEncoder: invalid UTF-8 at byte " + std::to_string(p - base));
        }
      }
      Original(cp, Flags(cp), ci);
      p += len;
    }
    if (opt_.strip_accents && !s_.run.empty()) FlushRun();
    record_ = false;
    return Status::Ok();
  }

  void SplitRecorded(size_t begin, size_t end) {
    size_t len = 1;
    for (size_t i = begin; i < end; i += len) Split(CodePointAt(s_.norm, i, &len), s_.norm_align[i]);
    FlushWord();
  }

  void EmitAdded(uint32_t id, uint32_t start_char, uint32_t end_char) {
    ids_.push_back(id);
    if (kOffsets) {
      offsets_->push_back(start_char);
      offsets_->push_back(end_char);
    }
  }

 private:
  // clean_text, then handle_chinese_chars, for one original (non-ASCII) character.
  void Original(uint32_t cp, uint16_t f, uint32_t ci) {
    if (opt_.clean_text) {
      if (cp == 0 || cp == 0xFFFD || ((f & kHfOther8) && cp != '\t' && cp != '\n' && cp != '\r')) return;
      if (f & kHfWhitespace) {
        Nfd(' ', ci);
        return;
      }
    }
    if (opt_.handle_chinese_chars && (f & kHfCjk)) {
      Nfd(' ', ci);
      Nfd(cp, ci);
      Nfd(' ', ci);
      return;
    }
    Nfd(cp, ci);
  }

  // strip_accents, part 1: canonical decomposition; combining marks wait in the run.
  void Nfd(uint32_t cp, uint32_t align) {
    if (!opt_.strip_accents) {
      Lower(cp, align);
      return;
    }
    uint16_t f = Flags(cp);
    if (!(f & (kHfDecomp9 | kHfNonStarter9))) {
      if (!s_.run.empty()) FlushRun();
      s_.last_align = align;
      Filter(cp, align);
      return;
    }
    uint32_t d[4];
    size_t n = Decompose(cp, d);
    for (size_t j = 0; j < n; ++j) {
      uint32_t c = d[j];
      if (Flags(c) & kHfNonStarter9) {
        s_.run.push_back({c, 0, j == 0});
        if (j == 0) s_.run_inputs.push_back(align);
      } else {
        if (!s_.run.empty()) FlushRun();
        if (j == 0) s_.last_align = align;
        Filter(c, s_.last_align);
      }
    }
  }

  // Stable sort of the pending marks by combining class, then HF's in-order range hand-out.
  void FlushRun() {
    auto& run = s_.run;
    if (run.size() > 32) {  // long runs of marks (adversarial input): O(n log n)
      for (auto& m : run) m.ccc = Ccc(m.cp);
      std::stable_sort(run.begin(), run.end(), [](const Mark& a, const Mark& b) { return a.ccc < b.ccc; });
    } else if (run.size() > 1) {
      for (auto& m : run) m.ccc = Ccc(m.cp);
      for (size_t i = 1; i < run.size(); ++i) {  // insertion sort: stable, runs are tiny
        Mark m = run[i];
        size_t j = i;
        while (j > 0 && run[j - 1].ccc > m.ccc) {
          run[j] = run[j - 1];
          --j;
        }
        run[j] = m;
      }
    }
    size_t k = 0;
    for (const Mark& m : run) {
      if (m.first) s_.last_align = s_.run_inputs[k++];
      Filter(m.cp, s_.last_align);
    }
    run.clear();
    s_.run_inputs.clear();
  }

  // strip_accents, part 2: drop nonspacing marks (Unicode 8.0).
  void Filter(uint32_t cp, uint32_t align) {
    if (Flags(cp) & kHfMn8) return;
    Lower(cp, align);
  }

  void Lower(uint32_t cp, uint32_t align) {
    if (opt_.lowercase && (Flags(cp) & kHfLower17)) {
      uint32_t l[4];
      size_t n = Lowercase(cp, l);
      for (size_t i = 0; i < n; ++i) Emit(l[i], align);
      return;
    }
    Emit(cp, align);
  }

  void Emit(uint32_t cp, uint32_t align) {
    if (!record_) {
      Split(cp, align);
      return;
    }
    AppendUtf8(&s_.norm, cp);
    s_.norm_align.insert(s_.norm_align.end(), Utf8Length(cp), align);
  }

  // BertPreTokenizer: whitespace ends a word and is dropped; punctuation is a word of its own.
  void Split(uint32_t cp, uint32_t align) {
    uint16_t f = Flags(cp);
    if (f & kHfWhitespace) {
      FlushWord();
      return;
    }
    if (f & kHfPunct8) {
      FlushWord();
      Append(cp, align);
      FlushWord();
      return;
    }
    Append(cp, align);
  }

  void Append(uint32_t cp, uint32_t align) {
    AppendUtf8(&s_.word, cp);
    if (kOffsets) s_.word_align.insert(s_.word_align.end(), Utf8Length(cp), align);
    ++s_.word_chars;
  }

  void FlushWord() {
    if (s_.word.empty()) return;
    size_t first = ids_.size();
    Status st = model_.TokenizeWord(s_.word, s_.word_chars, &ids_, kOffsets ? &s_.ends : nullptr);
    if (!st.ok() && status_.ok()) status_ = st;
    if (kOffsets) {
      uint32_t b = 0;
      for (size_t k = 0; k < ids_.size() - first; ++k) {
        uint32_t e = s_.ends[k];
        offsets_->push_back(s_.word_align[b]);
        offsets_->push_back(s_.word_align[e - 1] + 1);
        b = e;
      }
      s_.ends.clear();
      s_.word_align.clear();
    }
    s_.word.clear();
    s_.word_chars = 0;
  }

  const BertEncoder& enc_;
  const WordPieceModel& model_;
  const BertNormalizerOptions& opt_;
  Scratch& s_;
  std::vector<uint32_t>& ids_;
  std::vector<uint32_t>* offsets_;
  Status status_;
  uint16_t slow_mask_ = 0;  // flags that send a character through the normalizer stages
  bool record_ = false;     // normalizer output goes to s_.norm instead of the pre-tokenizer
};

std::string BertEncoder::NormalizeForMatching(std::string_view text) const {
  Scratch s;
  std::vector<uint32_t> ids;
  BertPass<false> pass(*this, s, &ids, nullptr);
  if (!pass.Record(text, 0, text.size(), 0).ok()) return std::string(text);
  return s.norm;
}

namespace {
thread_local Scratch tls_scratch;

// A huge word or piece leaves big per-thread buffers behind; give them back.
void TrimScratch() {
  constexpr size_t kKeep = 1 << 16;
  Scratch& s = tls_scratch;
  if (s.word.capacity() > kKeep) std::string().swap(s.word);
  if (s.word_align.capacity() > kKeep) std::vector<uint32_t>().swap(s.word_align);
  if (s.norm.capacity() > kKeep) std::string().swap(s.norm);
  if (s.norm_align.capacity() > kKeep) std::vector<uint32_t>().swap(s.norm_align);
  if (s.run.capacity() > kKeep) std::vector<Mark>().swap(s.run);
  if (s.run_inputs.capacity() > kKeep) std::vector<uint32_t>().swap(s.run_inputs);
  if (s.ends.capacity() > kKeep) std::vector<uint32_t>().swap(s.ends);
}
}  // namespace

template <bool kOffsets>
Status BertEncoder::EncodeImpl(std::string_view text, std::vector<uint32_t>* ids,
                               std::vector<uint32_t>* offsets) const {
  static thread_local std::vector<AddedMatch> matches;
  Scratch& s = tls_scratch;
  s.word.clear();
  s.word_align.clear();
  s.word_chars = 0;
  s.run.clear();
  s.run_inputs.clear();
  s.ends.clear();
  s.last_align = 0;
  ids->clear();
  if (kOffsets) offsets->clear();
  if (text.size() >= 0xFFFFFFFFull) {
    return Status(ErrorCode::kLimitExceeded, "BertEncoder: input of 4 GiB or more");
  }
  ids->reserve(text.size() / 4 + 8);
  if (kOffsets) offsets->reserve(text.size() / 2 + 16);
  BertPass<kOffsets> pass(*this, s, ids, offsets);
  if (raw_added_.empty()) return pass.Piece(text, 0, text.size(), 0);

  raw_added_.Find(text, &matches);
  // Character index of a byte position: a forward cursor (matches arrive in order).
  size_t cur_byte = 0;
  uint32_t cur_char = 0;
  auto char_at = [&](size_t byte) {
    if (byte < cur_byte) {
      cur_byte = 0;
      cur_char = 0;
    }
    for (; cur_byte < byte; ++cur_byte) cur_char += (static_cast<uint8_t>(text[cur_byte]) & 0xC0) != 0x80;
    return cur_char;
  };
  size_t start_offset = 0;
  for (const AddedMatch& m : matches) {
    if (start_offset < m.start) {
      Status st = pass.Piece(text, start_offset, m.start, char_at(start_offset));
      if (!st.ok()) return st;
    }
    uint32_t a = char_at(m.start);
    uint32_t b = char_at(m.end);
    pass.EmitAdded(m.id, a, b);
    start_offset = m.end;
  }
  if (start_offset < text.size()) return pass.Piece(text, start_offset, text.size(), char_at(start_offset));
  return Status::Ok();
}

Status BertEncoder::Encode(std::string_view text, std::vector<uint32_t>* ids,
                           std::vector<uint32_t>* offsets) const {
  if (ids == nullptr) return Status(ErrorCode::kInvalidArgument, "BertEncoder: ids is null");
  Status st = offsets ? EncodeImpl<true>(text, ids, offsets) : EncodeImpl<false>(text, ids, nullptr);
  if (text.size() > (1u << 20)) TrimScratch();
  return st;
}

}  // namespace fastprep
