// Per-element logic of the device BERT kernels (wordpiece_kernels.cu): added-token matching,
// segmentation, BertNormalizer + BertPreTokenizer + WordPiece for one segment, and the
// truncation / template plan of one text, as __host__ __device__ functions over the flat tables
// that wordpiece_tables.h builds. The kernels are thin loops over these; the test build of
// cuda/tests/wordpiece_host_kernels.cpp runs the same functions in host loops, so
// tests/test_cuda_wordpiece_logic.py checks them against fastprep's CPU ids without a GPU.
//
// The CPU reference is cpp/src/wordpiece.cpp (BertPass, WordPieceModel::TokenizeWord,
// BertEncoder::AddedTable::Find); every step here reproduces its ids, not its offsets.
//
// Why segments: after an ASCII byte that the normalizer turns into whitespace or punctuation,
// the CPU pass is in a clean state (word flushed, no pending combining marks), so the text can
// be cut there and each piece encoded by its own thread with the same result. Added-token
// matches are cut out the same way (they are their own pieces in HF).
#pragma once

#include <cstdint>

#ifndef FASTPREP_HD  // pack_logic.cuh defines the same
#ifdef __CUDACC__
#define FASTPREP_HD __host__ __device__ __forceinline__
#else
#define FASTPREP_HD inline
#endif
#endif
#ifdef __CUDACC__
// Out of line on the device: the encoder's stages call each other from many places, and
// inlining them all makes ptxas take minutes and the kernels large.
#define FASTPREP_HD_OUTLINE __host__ __device__ __noinline__
#else
#define FASTPREP_HD_OUTLINE inline
#endif

namespace fastprep_cuda {

// ---- the table blob ---------------------------------------------------------------------------
// One byte blob holds every table: a header of kHeaderFields int64 (byte offsets of the arrays
// and scalar settings), then the arrays, each 8-byte aligned. wordpiece_tables.h writes it; the
// host keeps a copy to read the header, the device a copy to read the arrays.
enum HeaderField : int {
  kMagic = 0,
  kFlagStage1,     // uint8  [cp >> 7] -> row
  kFlagStage2,     // uint16 [row << 7 | cp & 127] -> kFlag* bits
  kDecompCp,       // uint32 [n_decomp], sorted
  kDecompStart,    // uint32 [n_decomp]: start in decomp_data
  kDecompLength,   // uint32 [n_decomp]
  kDecompCount,
  kDecompData,     // uint32
  kCccCp,          // uint32 [n_ccc], sorted (non-zero classes only)
  kCccValue,       // uint32 [n_ccc]
  kCccCount,
  kLowerCp,        // uint32 [n_lower], sorted
  kLowerValue,     // uint32: the lowercase, or 0x80000000 | start << 2 | length in lower_multi
  kLowerCount,
  kLowerMulti,     // uint32
  kPool,           // uint8: vocabulary tokens then added-token contents
  kStartHash,      // uint64 [capacity] } whole-word table: every vocabulary token
  kStartKey,       // uint32 [capacity] } key = pool offset
  kStartLength,    // uint32 [capacity] } key length in bytes
  kStartId,        // int32  [capacity] } -1 = empty slot
  kStartMask,      // capacity - 1
  kStartMaxLength, // longest key in bytes
  kContHash,       // the same for continuation pieces: tokens that begin with the
  kContKey,        // continuing-subword prefix, keyed by the bytes after it
  kContLength,
  kContId,
  kContMask,
  kContMaxLength,
  kOptions,        // kOpt* bits
  kUnkId,          // -1 when the unk token is not in the vocabulary
  kMaxWordChars,   // max_input_chars_per_word
  kAddedCount,
  kAddedKey,       // uint32 [n_added]: pool offset of the content
  kAddedLength,    // uint32 [n_added]
  kAddedId,        // int32  [n_added]
  kAddedFlags,     // uint32 [n_added]: kAdded* bits
  kAddedBucket,    // int32  [257]: tokens whose content starts with byte b are
                   //   [bucket[b], bucket[b+1]), longest first
  kBlobSize,
  kHeaderFields
};

constexpr int64_t kTablesMagic = 0x3150575046505346;  // "FSPFWPW1"
constexpr int kWordBufferChars = 128;  // longest max_input_chars_per_word the device supports
constexpr int kWordBufferBytes = 4 * kWordBufferChars;

// Option bits (kOptions) and added-token bits (added_flags).
constexpr int64_t kOptCleanText = 1, kOptChineseChars = 2, kOptStripAccents = 4, kOptLowercase = 8;
constexpr uint32_t kAddedLstrip = 1, kAddedRstrip = 2, kAddedSingleWord = 4;

// Character classes: the bits of cpp/src/hf_unicode_tables.inc (copied into the blob by
// wordpiece_tables.h, which checks that they agree).
enum FlagBits : uint16_t {
  kFlagWhitespace = 1,
  kFlagOther8 = 2,
  kFlagPunct8 = 4,
  kFlagMn8 = 8,
  kFlagDecomp9 = 16,
  kFlagNonStarter9 = 32,
  kFlagLower17 = 64,
  kFlagWord16 = 128,
  kFlagCjk = 256,
};

// Error bits the count kernel raises (stats[0]); stats[1] / stats[2] get the lowest byte
// position of each, and the host names the text.
constexpr unsigned long long kErrInvalidUtf8 = 1ull, kErrMissingUnk = 2ull;

struct VocabHash {
  const uint64_t* hash;
  const uint32_t* key;
  const uint32_t* length;
  const int32_t* id;
  uint64_t mask;
  int64_t max_length;
};

// The blob's arrays as typed pointers (into host or device memory) plus its settings.
struct BertTables {
  const uint8_t* flag_stage1;
  const uint16_t* flag_stage2;
  const uint32_t* decomp_cp;
  const uint32_t* decomp_start;
  const uint32_t* decomp_length;
  int64_t decomp_count;
  const uint32_t* decomp_data;
  const uint32_t* ccc_cp;
  const uint32_t* ccc_value;
  int64_t ccc_count;
  const uint32_t* lower_cp;
  const uint32_t* lower_value;
  int64_t lower_count;
  const uint32_t* lower_multi;
  const uint8_t* pool;
  VocabHash start;
  VocabHash cont;
  int64_t options;
  int32_t unk_id;
  int64_t max_word_chars;
  int64_t added_count;
  const uint32_t* added_key;
  const uint32_t* added_length;
  const int32_t* added_id;
  const uint32_t* added_flags;
  const int32_t* added_bucket;
};

template <class T>
FASTPREP_HD const T* blob_array(const uint8_t* blob, const int64_t* header, int field) {
  return reinterpret_cast<const T*>(blob + header[field]);
}

// Typed view of a blob: `header` is the host copy of its first kHeaderFields int64, `blob` the
// copy (host or device) the functions below will read.
inline BertTables bert_tables(const uint8_t* blob, const int64_t* header) {
  BertTables t;
  t.flag_stage1 = blob_array<uint8_t>(blob, header, kFlagStage1);
  t.flag_stage2 = blob_array<uint16_t>(blob, header, kFlagStage2);
  t.decomp_cp = blob_array<uint32_t>(blob, header, kDecompCp);
  t.decomp_start = blob_array<uint32_t>(blob, header, kDecompStart);
  t.decomp_length = blob_array<uint32_t>(blob, header, kDecompLength);
  t.decomp_count = header[kDecompCount];
  t.decomp_data = blob_array<uint32_t>(blob, header, kDecompData);
  t.ccc_cp = blob_array<uint32_t>(blob, header, kCccCp);
  t.ccc_value = blob_array<uint32_t>(blob, header, kCccValue);
  t.ccc_count = header[kCccCount];
  t.lower_cp = blob_array<uint32_t>(blob, header, kLowerCp);
  t.lower_value = blob_array<uint32_t>(blob, header, kLowerValue);
  t.lower_count = header[kLowerCount];
  t.lower_multi = blob_array<uint32_t>(blob, header, kLowerMulti);
  t.pool = blob_array<uint8_t>(blob, header, kPool);
  t.start = VocabHash{blob_array<uint64_t>(blob, header, kStartHash),
                      blob_array<uint32_t>(blob, header, kStartKey),
                      blob_array<uint32_t>(blob, header, kStartLength),
                      blob_array<int32_t>(blob, header, kStartId),
                      static_cast<uint64_t>(header[kStartMask]), header[kStartMaxLength]};
  t.cont = VocabHash{blob_array<uint64_t>(blob, header, kContHash),
                     blob_array<uint32_t>(blob, header, kContKey),
                     blob_array<uint32_t>(blob, header, kContLength),
                     blob_array<int32_t>(blob, header, kContId),
                     static_cast<uint64_t>(header[kContMask]), header[kContMaxLength]};
  t.options = header[kOptions];
  t.unk_id = static_cast<int32_t>(header[kUnkId]);
  t.max_word_chars = header[kMaxWordChars];
  t.added_count = header[kAddedCount];
  t.added_key = blob_array<uint32_t>(blob, header, kAddedKey);
  t.added_length = blob_array<uint32_t>(blob, header, kAddedLength);
  t.added_id = blob_array<int32_t>(blob, header, kAddedId);
  t.added_flags = blob_array<uint32_t>(blob, header, kAddedFlags);
  t.added_bucket = blob_array<int32_t>(blob, header, kAddedBucket);
  return t;
}

// ---- Unicode ----------------------------------------------------------------------------------

FASTPREP_HD uint16_t char_flags(const BertTables& t, uint32_t cp) {
  if (cp > 0x10FFFF) return 0;
  const uint32_t row = t.flag_stage1[cp >> 7];
  return t.flag_stage2[(row << 7) | (cp & 127)];
}

// Index of cp in a sorted array, or -1.
FASTPREP_HD int64_t find_code_point(const uint32_t* cps, int64_t n, uint32_t cp) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (cps[mid] < cp) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return (lo < n && cps[lo] == cp) ? lo : -1;
}

// Full canonical decomposition (Unicode 9.0, Hangul by rule) into out[0..3]; returns its length.
FASTPREP_HD_OUTLINE int decompose(const BertTables& t, uint32_t cp, uint32_t* out) {
  const uint32_t s_base = 0xAC00, l_base = 0x1100, v_base = 0x1161, t_base = 0x11A7;
  const uint32_t t_count = 28, n_count = 21 * 28, s_count = 19 * 21 * 28;
  if (cp - s_base < s_count) {
    const uint32_t s = cp - s_base;
    out[0] = l_base + s / n_count;
    out[1] = v_base + (s % n_count) / t_count;
    if (s % t_count == 0) return 2;
    out[2] = t_base + s % t_count;
    return 3;
  }
  const int64_t row = find_code_point(t.decomp_cp, t.decomp_count, cp);
  if (row < 0) {
    out[0] = cp;
    return 1;
  }
  const uint32_t n = t.decomp_length[row];
  for (uint32_t i = 0; i < n && i < 4; ++i) out[i] = t.decomp_data[t.decomp_start[row] + i];
  return static_cast<int>(n < 4 ? n : 4);
}

FASTPREP_HD uint32_t combining_class(const BertTables& t, uint32_t cp) {
  const int64_t row = find_code_point(t.ccc_cp, t.ccc_count, cp);
  return row < 0 ? 0 : t.ccc_value[row];
}

// Rust char::to_lowercase (Unicode 17.0) into out[0..3]; returns its length.
FASTPREP_HD_OUTLINE int to_lowercase(const BertTables& t, uint32_t cp, uint32_t* out) {
  if (cp < 0x80) {
    out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    return 1;
  }
  const int64_t row = find_code_point(t.lower_cp, t.lower_count, cp);
  if (row < 0) {
    out[0] = cp;
    return 1;
  }
  const uint32_t value = t.lower_value[row];
  if (!(value & 0x80000000u)) {
    out[0] = value;
    return 1;
  }
  const uint32_t start = (value & 0x7FFFFFFFu) >> 2, n = value & 3u;
  for (uint32_t i = 0; i < n; ++i) out[i] = t.lower_multi[start + i];
  return static_cast<int>(n);
}

// One UTF-8 scalar value at p (< end, *p >= 0x80); returns its length, 0 if invalid. The same
// acceptance as the CPU decoder (no overlongs, surrogates or values above U+10FFFF).
FASTPREP_HD int decode_utf8(const uint8_t* p, const uint8_t* end, uint32_t* cp) {
  const uint8_t b0 = p[0];
  const int64_t avail = end - p;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (avail < 2 || (p[1] & 0xC0) != 0x80) return 0;
    *cp = (static_cast<uint32_t>(b0 & 0x1F) << 6) | (p[1] & 0x3F);
    return 2;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
    const uint32_t c = (static_cast<uint32_t>(b0 & 0x0F) << 12) |
                       (static_cast<uint32_t>(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    if (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) {
      return 0;
    }
    const uint32_t c = (static_cast<uint32_t>(b0 & 0x07) << 18) |
                       (static_cast<uint32_t>(p[1] & 0x3F) << 12) |
                       (static_cast<uint32_t>(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    if (c < 0x10000 || c > 0x10FFFF) return 0;
    *cp = c;
    return 4;
  }
  return 0;
}

// Code point at byte i of [.., end) and its length; an invalid sequence reads as (0, 1), as the
// CPU's CodePointAt does (only reached on text that the count kernel then rejects).
FASTPREP_HD uint32_t code_point_at(const uint8_t* text, int64_t i, int64_t end, int* len) {
  if (text[i] < 0x80) {
    *len = 1;
    return text[i];
  }
  uint32_t cp = 0;
  *len = decode_utf8(text + i, text + end, &cp);
  if (*len == 0) {
    *len = 1;
    cp = 0;
  }
  return cp;
}

FASTPREP_HD int utf8_length(uint32_t cp) {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

FASTPREP_HD int encode_utf8(uint32_t cp, uint8_t* out) {
  if (cp < 0x80) {
    out[0] = static_cast<uint8_t>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<uint8_t>(0xC0 | (cp >> 6));
    out[1] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<uint8_t>(0xE0 | (cp >> 12));
    out[1] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<uint8_t>(0xF0 | (cp >> 18));
  out[1] = static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
  return 4;
}

// What the whole normalizer and the pre-tokenizer's classification make of an ASCII byte.
enum AsciiAction : int { kAsciiDrop = 0x100, kAsciiSpace = 0x101, kAsciiPunct = 0x102 };

FASTPREP_HD int ascii_action(const BertTables& t, uint32_t b) {
  uint32_t c = b;
  uint16_t f = char_flags(t, c);
  if (t.options & kOptCleanText) {
    if (c == 0 || ((f & kFlagOther8) && c != '\t' && c != '\n' && c != '\r')) return kAsciiDrop;
    if (f & kFlagWhitespace) c = ' ';
  }
  if ((t.options & kOptLowercase) && c >= 'A' && c <= 'Z') c += 'a' - 'A';
  f = char_flags(t, c);
  if (f & kFlagWhitespace) return kAsciiSpace;
  if (f & kFlagPunct8) return kAsciiPunct;
  return static_cast<int>(c);
}

// ---- vocabulary lookup ------------------------------------------------------------------------

FASTPREP_HD uint64_t hash_seed() { return 0xcbf29ce484222325ull; }
FASTPREP_HD uint64_t hash_step(uint64_t h, uint8_t byte) {
  return (h ^ byte) * 0x100000001b3ull;  // FNV-1a: the hash of every prefix comes for free
}

// Id of the key [bytes, bytes + length) whose hash is h, or -1.
FASTPREP_HD int32_t vocab_lookup(const VocabHash& v, const uint8_t* pool, uint64_t h,
                                 const uint8_t* bytes, int64_t length) {
  for (uint64_t slot = h & v.mask;; slot = (slot + 1) & v.mask) {
    const int32_t id = v.id[slot];
    if (id < 0) return -1;
    if (v.hash[slot] == h && v.length[slot] == static_cast<uint64_t>(length)) {
      const uint8_t* key = pool + v.key[slot];
      int64_t i = 0;
      while (i < length && key[i] == bytes[i]) ++i;
      if (i == length) return id;
    }
  }
}

// ---- output ----------------------------------------------------------------------------------

// Where a segment's ids go. The count pass only counts (out == nullptr). The write pass knows the
// segment's final count (limit) and the window of its raw ids that truncation keeps
// [keep_lo, keep_hi); raw id c lands at out[base + c]. Ids of a word that later turns into unk
// are written tentatively and then overwritten; the limit keeps them inside the segment.
struct IdSink {
  int32_t* out;
  int64_t base;
  int64_t count;
  int64_t limit;
  int64_t keep_lo;
  int64_t keep_hi;

  FASTPREP_HD void emit(int32_t id) {
    if (out != nullptr && count < limit && count >= keep_lo && count < keep_hi) {
      out[base + count] = id;
    }
    ++count;
  }
};

FASTPREP_HD IdSink counting_sink() { return IdSink{nullptr, 0, 0, 0, 0, 0}; }

// ---- one segment: BertNormalizer -> BertPreTokenizer -> WordPiece -----------------------------

// Greedy longest-match-first over one normalized word (HF's WordPiece::tokenize). Returns false
// when unk is needed and missing from the vocabulary.
FASTPREP_HD_OUTLINE bool wordpiece_word(const BertTables& t, const uint8_t* word, int64_t n_bytes,
                                int64_t n_chars, IdSink& sink) {
  if (n_chars <= t.max_word_chars && n_bytes <= kWordBufferBytes) {
    const int64_t mark = sink.count;
    int64_t start = 0;
    while (start < n_bytes) {
      const VocabHash& v = start == 0 ? t.start : t.cont;
      int64_t limit = start + v.max_length;
      if (limit > n_bytes) limit = n_bytes;
      int32_t best = -1;
      int64_t best_end = 0;
      uint64_t h = hash_seed();
      for (int64_t k = start; k < limit; ++k) {
        h = hash_step(h, word[k]);
        if (k + 1 == n_bytes || (word[k + 1] & 0xC0) != 0x80) {  // a character boundary
          const int32_t id = vocab_lookup(v, t.pool, h, word + start, k + 1 - start);
          if (id >= 0) {
            best = id;
            best_end = k + 1;
          }
        }
      }
      if (best < 0) break;
      sink.emit(best);
      start = best_end;
    }
    if (start == n_bytes) return true;
    sink.count = mark;  // the word cannot be covered: it becomes unk
  }
  if (t.unk_id < 0) return false;
  sink.emit(t.unk_id);
  return true;
}

// The encoder of one segment text[begin, end), one character at a time through the stages of
// the CPU's BertPass: clean -> Chinese spacing -> NFD + canonical reordering -> drop Mn ->
// lowercase -> split into words -> WordPiece.
//
// Pending combining marks are not buffered: a run is remembered by where it starts, and when a
// starter ends it the marks that survive accent stripping are replayed from the source in
// canonical order (one survivor, the usual case, is kept). Runs of marks are short and survivors
// rare, so the replay costs nothing in practice and bounds memory on adversarial input.
struct SegmentEncoder {
  const BertTables& t;
  const uint8_t* text;
  int64_t end;  // of the segment
  IdSink& sink;
  uint8_t word[kWordBufferBytes];
  int64_t word_bytes;
  int64_t word_chars;
  bool missing_unk;
  // the pending run of non-starters
  bool run_active;
  int64_t run_pos;       // byte position of the character whose decomposition starts the run
  int run_index;         // index of the run's first mark in that decomposition
  int64_t survivors;     // marks in the run that accent stripping keeps
  uint32_t survivor;     // the first of them
  uint32_t min_class;    // their lowest combining class

  FASTPREP_HD SegmentEncoder(const BertTables& tables, const uint8_t* bytes, int64_t stop,
                             IdSink& ids)
      : t(tables), text(bytes), end(stop), sink(ids), word_bytes(0), word_chars(0),
        missing_unk(false), run_active(false), run_pos(0), run_index(0), survivors(0),
        survivor(0), min_class(0) {}

  FASTPREP_HD bool strip() const { return (t.options & kOptStripAccents) != 0; }

  FASTPREP_HD_OUTLINE void flush_word() {
    if (word_bytes == 0 && word_chars == 0) return;
    if (!wordpiece_word(t, word, word_bytes, word_chars, sink)) missing_unk = true;
    word_bytes = 0;
    word_chars = 0;
  }

  FASTPREP_HD void append(uint32_t cp) {
    const int n = utf8_length(cp);
    // Past kWordBufferBytes the word has more than max_word_chars characters (the tables builder
    // checks max_word_chars <= kWordBufferChars), so it becomes unk and its bytes do not matter.
    if (word_bytes + n <= kWordBufferBytes) encode_utf8(cp, word + word_bytes);
    word_bytes += n;
    ++word_chars;
  }

  // BertPreTokenizer: whitespace ends a word and is dropped; punctuation is a word of its own.
  FASTPREP_HD_OUTLINE void split(uint32_t cp) {
    const uint16_t f = char_flags(t, cp);
    if (f & kFlagWhitespace) {
      flush_word();
    } else if (f & kFlagPunct8) {
      flush_word();
      append(cp);
      flush_word();
    } else {
      append(cp);
    }
  }

  FASTPREP_HD_OUTLINE void lower(uint32_t cp) {
    if ((t.options & kOptLowercase) && (char_flags(t, cp) & kFlagLower17)) {
      uint32_t l[4];
      const int n = to_lowercase(t, cp, l);
      for (int i = 0; i < n; ++i) split(l[i]);
      return;
    }
    split(cp);
  }

  // strip_accents, part 2: nonspacing marks (Unicode 8.0) are dropped.
  FASTPREP_HD bool survives(uint32_t cp) const { return !(char_flags(t, cp) & kFlagMn8); }

  FASTPREP_HD void filter(uint32_t cp) {
    if (survives(cp)) lower(cp);
  }

  // What clean_text does to an original character: 0 keep, 1 drop, 2 becomes ' '.
  FASTPREP_HD int cleaned(uint32_t cp, uint16_t f) const {
    if (!(t.options & kOptCleanText)) return 0;
    if (cp == 0 || cp == 0xFFFD || ((f & kFlagOther8) && cp != '\t' && cp != '\n' && cp != '\r')) {
      return 1;
    }
    return (f & kFlagWhitespace) ? 2 : 0;
  }

  // Visits the run's marks again, from its start to the first starter, emitting the survivors
  // of combining class `level`; returns the lowest survivor class above `level` (256: none).
  FASTPREP_HD_OUTLINE uint32_t replay_level(uint32_t level) {
    uint32_t next = 256;
    int first_index = run_index;
    for (int64_t p = run_pos; p < end;) {
      if (text[p] < 0x80) {  // ASCII is a starter, unless clean_text drops it before NFD
        if (ascii_action(t, text[p]) != kAsciiDrop) break;
        ++p;
        first_index = 0;
        continue;
      }
      uint32_t cp = 0;
      const int len = decode_utf8(text + p, text + end, &cp);
      if (len == 0) break;
      const uint16_t f = char_flags(t, cp);
      const int clean = cleaned(cp, f);
      if (clean == 1) {  // dropped before NFD: the run goes on across it
        p += len;
        first_index = 0;
        continue;
      }
      if (clean == 2) break;
      if ((t.options & kOptChineseChars) && (f & kFlagCjk)) break;
      if (!(f & (kFlagDecomp9 | kFlagNonStarter9))) break;
      uint32_t d[4];
      const int n = decompose(t, cp, d);
      for (int j = first_index; j < n; ++j) {
        if (!(char_flags(t, d[j]) & kFlagNonStarter9)) return next;
        if (!survives(d[j])) continue;
        const uint32_t c = combining_class(t, d[j]);
        if (c == level) {
          lower(d[j]);
        } else if (c > level && c < next) {
          next = c;
        }
      }
      first_index = 0;
      p += len;
    }
    return next;
  }

  FASTPREP_HD void flush_run() {
    if (run_active) emit_run();
  }

  // strip_accents: the pending marks leave in stable order of combining class.
  FASTPREP_HD_OUTLINE void emit_run() {
    run_active = false;
    if (survivors == 1) {
      lower(survivor);
    } else if (survivors > 1) {
      for (uint32_t level = min_class; level < 256;) level = replay_level(level);
    }
  }

  FASTPREP_HD void add_mark(uint32_t cp, int64_t pos, int index) {
    if (!run_active) {
      run_active = true;
      run_pos = pos;
      run_index = index;
      survivors = 0;
    }
    if (!survives(cp)) return;
    const uint32_t c = combining_class(t, cp);
    if (survivors == 0 || c < min_class) min_class = c;
    if (survivors == 0) survivor = cp;
    ++survivors;
  }

  // strip_accents, part 1: canonical decomposition; non-starters join the pending run.
  // `pos` is the byte position of the original character (the replay starts there).
  FASTPREP_HD_OUTLINE void nfd(uint32_t cp, int64_t pos) {
    if (!strip()) {
      lower(cp);
      return;
    }
    if (!(char_flags(t, cp) & (kFlagDecomp9 | kFlagNonStarter9))) {
      flush_run();
      filter(cp);
      return;
    }
    uint32_t d[4];
    const int n = decompose(t, cp, d);
    for (int j = 0; j < n; ++j) {
      if (char_flags(t, d[j]) & kFlagNonStarter9) {
        add_mark(d[j], pos, j);
      } else {
        flush_run();
        filter(d[j]);
      }
    }
  }

  // clean_text, then handle_chinese_chars, for one original non-ASCII character.
  FASTPREP_HD_OUTLINE void original(uint32_t cp, uint16_t f, int64_t pos) {
    const int clean = cleaned(cp, f);
    if (clean == 1) return;
    if (clean == 2) {
      nfd(' ', pos);
      return;
    }
    if ((t.options & kOptChineseChars) && (f & kFlagCjk)) {
      nfd(' ', pos);
      nfd(cp, pos);
      nfd(' ', pos);
      return;
    }
    nfd(cp, pos);
  }

  // Encodes text[begin, end). Returns 0, or kErrInvalidUtf8 with *error_pos set (processing
  // stops), or kErrMissingUnk (a word needed the missing unk token).
  FASTPREP_HD unsigned long long run(int64_t begin, int64_t* error_pos) {
    for (int64_t p = begin; p < end;) {
      const uint8_t b = text[p];
      if (b < 0x80) {
        const int a = ascii_action(t, b);
        if (a != kAsciiDrop) flush_run();  // a character clean_text drops never reaches NFD
        if (a == kAsciiSpace) {
          flush_word();
        } else if (a == kAsciiPunct) {
          flush_word();
          append(b);
          flush_word();
        } else if (a != kAsciiDrop) {
          append(static_cast<uint32_t>(a));
        }
        ++p;
        continue;
      }
      uint32_t cp = 0;
      const int len = decode_utf8(text + p, text + end, &cp);
      if (len == 0) {
        *error_pos = p;
        return kErrInvalidUtf8;
      }
      original(cp, char_flags(t, cp), p);
      p += len;
    }
    flush_run();
    flush_word();
    return missing_unk ? kErrMissingUnk : 0ull;
  }
};

// ---- added tokens (normalized=false) on the raw text ------------------------------------------

// covered[i] for each byte: 0 ordinary text, k + 1 the first byte of a match of added token k,
// -1 another byte of a match (including whitespace that lstrip / rstrip took).
constexpr int32_t kCoveredInside = -1;

FASTPREP_HD int64_t previous_char_start(const uint8_t* text, int64_t begin, int64_t i) {
  int64_t j = i - 1;
  while (j > begin && (text[j] & 0xC0) == 0x80) --j;
  return j;
}

// HF's AddedVocabulary::find_matches on text[begin, end), as the CPU's AddedTable::Find: the
// leftmost match, longest content first at one position; the scan resumes after the match;
// single_word, lstrip and rstrip as HF applies them. Marks the matches in covered[].
FASTPREP_HD_OUTLINE void mark_added_tokens(const BertTables& t, const uint8_t* text, int64_t begin,
                                   int64_t end, int32_t* covered) {
  int64_t start_offset = begin;
  for (int64_t p = begin; p < end;) {
    const uint8_t b = text[p];
    int32_t hit = -1;
    for (int32_t k = t.added_bucket[b]; k < t.added_bucket[b + 1]; ++k) {
      const int64_t n = t.added_length[k];
      if (n > end - p) continue;
      const uint8_t* content = t.pool + t.added_key[k];
      int64_t i = 0;
      while (i < n && content[i] == text[p + i]) ++i;
      if (i == n) {
        hit = k;
        break;
      }
    }
    if (hit < 0) {
      ++p;
      continue;
    }
    int64_t start = p, stop = p + t.added_length[hit];
    p = stop;
    const uint32_t flags = t.added_flags[hit];
    int len = 0;
    if (flags & kAddedSingleWord) {
      const bool start_space =
          start == begin ||
          !(char_flags(t, code_point_at(text, previous_char_start(text, begin, start), end, &len)) &
            kFlagWord16);
      const bool stop_space =
          stop == end || !(char_flags(t, code_point_at(text, stop, end, &len)) & kFlagWord16);
      if (!(start_space && stop_space)) continue;
    }
    if (flags & kAddedLstrip) {
      int64_t s = start;
      while (s > begin) {
        const int64_t prev = previous_char_start(text, begin, s);
        if (!(char_flags(t, code_point_at(text, prev, end, &len)) & kFlagWhitespace)) break;
        s = prev;
      }
      start = s > start_offset ? s : start_offset;
    }
    if (flags & kAddedRstrip) {
      while (stop < end &&
             (char_flags(t, code_point_at(text, stop, end, &len)) & kFlagWhitespace)) {
        stop += len;
      }
    }
    covered[start] = hit + 1;
    for (int64_t i = start + 1; i < stop; ++i) covered[i] = kCoveredInside;
    start_offset = stop;
  }
}

// ---- segmentation -----------------------------------------------------------------------------

// A non-ASCII character that the normalizer surrounds with (or turns into) a space: a CJK
// ideograph under handle_chinese_chars, or whitespace that clean_text maps to ' '. The pass is
// clean right after it, and cutting right before it is equivalent too: a segment's end flushes
// the pending marks and the word exactly as the ' ' it starts with would.
FASTPREP_HD bool separates_words(const BertTables& t, uint32_t cp) {
  const uint16_t f = char_flags(t, cp);
  if (t.options & kOptCleanText) {
    if (cp == 0xFFFD || (f & kFlagOther8)) return false;  // dropped (none of \t \n \r is here)
    if (f & kFlagWhitespace) return true;
  }
  return (t.options & kOptChineseChars) && (f & kFlagCjk);
}

// Does a segment start at byte i (of n_bytes)? Text starts are marked separately, by
// mark_text_start. covered may be null (no added tokens).
FASTPREP_HD uint8_t segment_flag(const BertTables& t, const uint8_t* text, int64_t n_bytes,
                                 int64_t i, const int32_t* covered) {
  if (covered != nullptr) {
    if (covered[i] == kCoveredInside) return 0;
    if (covered[i] > 0) return 1;
  }
  if (i == 0) return 1;
  if (covered != nullptr && covered[i - 1] != 0) return 1;  // right after a match
  uint32_t cp = 0;
  if (text[i] >= 0xC0 && decode_utf8(text + i, text + n_bytes, &cp) > 0 &&
      separates_words(t, cp)) {
    return 1;
  }
  const uint8_t b = text[i - 1];
  if (b < 0x80) {
    const int a = ascii_action(t, b);
    return (a == kAsciiSpace || a == kAsciiPunct) ? 1 : 0;
  }
  if ((b & 0xC0) != 0x80) return 0;
  int64_t lead = i - 1;  // the character that ends at i - 1, if any
  while (lead > 0 && lead > i - 4 && (text[lead] & 0xC0) == 0x80) --lead;
  const int len = decode_utf8(text + lead, text + n_bytes, &cp);
  return (len > 0 && lead + len == i && separates_words(t, cp)) ? 1 : 0;
}

// The text that holds byte i: the largest k < n_texts with offsets[k] <= i (empty texts repeat an
// offset, so the largest is the one that owns the byte).
FASTPREP_HD int64_t text_of_byte(const int64_t* offsets, int64_t n_texts, int64_t i) {
  int64_t lo = 0, hi = n_texts;
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (offsets[mid] <= i) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// End of the segment that starts at byte i: the next segment start, or the end of the bytes.
FASTPREP_HD int64_t segment_end(const uint8_t* flags, int64_t i, int64_t n_bytes) {
  int64_t j = i + 1;
  while (j < n_bytes && !flags[j]) ++j;
  return j;
}

// Ids of the segment starting at byte i (flags[i] == 1) into sink. Returns 0 or error bits;
// *error_pos gets the byte of invalid UTF-8.
FASTPREP_HD_OUTLINE unsigned long long encode_segment(const BertTables& t, const uint8_t* text,
                                              int64_t n_bytes, const uint8_t* flags,
                                              const int32_t* covered, int64_t i, IdSink& sink,
                                              int64_t* error_pos) {
  if (covered != nullptr && covered[i] > 0) {
    sink.emit(t.added_id[covered[i] - 1]);
    return 0;
  }
  SegmentEncoder encoder(t, text, segment_end(flags, i, n_bytes), sink);
  return encoder.run(i, error_pos);
}

// ---- per text: truncation and the post-processor's affixes ------------------------------------

// Raw ids before byte position `byte` (raw_inclusive: inclusive prefix sum of per-byte counts).
FASTPREP_HD int64_t raw_before(const int64_t* raw_inclusive, int64_t byte) {
  return byte == 0 ? 0 : raw_inclusive[byte - 1];
}

struct TextPlan {
  int64_t raw_begin;    // raw ids of earlier texts
  int64_t raw_count;    // this text's ids before truncation
  int64_t keep_begin;   // first kept raw id (within the text)
  int64_t keep_length;
  int64_t final_length; // keep_length + prefix + suffix
};

// max_length < 0: no truncation. Otherwise the rules of the CPU's HfEngine._finish for a single
// sequence: keep max_length ids from the right (or, truncate_left, the last max_length).
FASTPREP_HD TextPlan plan_text(const int64_t* text_offsets, const int64_t* raw_inclusive,
                               int64_t k, int64_t max_length, bool truncate_left,
                               int64_t n_affixes) {
  TextPlan plan;
  plan.raw_begin = raw_before(raw_inclusive, text_offsets[k]);
  plan.raw_count = raw_before(raw_inclusive, text_offsets[k + 1]) - plan.raw_begin;
  plan.keep_begin = 0;
  plan.keep_length = plan.raw_count;
  if (max_length >= 0 && plan.raw_count > max_length) {
    plan.keep_length = max_length;
    if (truncate_left) plan.keep_begin = plan.raw_count - max_length;
  }
  plan.final_length = plan.keep_length + n_affixes;
  return plan;
}

// The write-pass sink of the segment starting at byte i of text k.
FASTPREP_HD IdSink writing_sink(int32_t* out, const int64_t* raw_inclusive, const int32_t* counts,
                                int64_t i, int64_t text_raw_begin, int64_t keep_begin,
                                int64_t keep_length, int64_t final_begin, int64_t n_prefix) {
  const int64_t segment_raw = raw_before(raw_inclusive, i) - text_raw_begin;  // within the text
  IdSink sink;
  sink.out = out;
  sink.base = final_begin + n_prefix - keep_begin + segment_raw;
  sink.count = 0;
  sink.limit = counts[i];
  sink.keep_lo = keep_begin - segment_raw;
  sink.keep_hi = keep_begin + keep_length - segment_raw;
  return sink;
}

// ---- kernel bodies: one call per CUDA thread index ---------------------------------------------
// The device kernels and the host test build run exactly these; only the reductions into stats
// (atomics on the device) are theirs.

// Per text k: a non-empty text starts a segment.
FASTPREP_HD void mark_text_start(const int64_t* text_offsets, int64_t k, uint8_t* flags) {
  if (text_offsets[k] < text_offsets[k + 1]) flags[text_offsets[k]] = 1;
}

// Per byte i, count pass: counts[i] = ids of the segment starting at i (0 elsewhere). Returns
// error bits; *error_pos: the byte of invalid UTF-8, or i for a missing unk.
FASTPREP_HD unsigned long long count_element(const BertTables& t, const uint8_t* text,
                                             int64_t n_bytes, const uint8_t* flags,
                                             const int32_t* covered, int64_t i, int32_t* counts,
                                             int64_t* error_pos) {
  if (!flags[i]) {
    counts[i] = 0;
    return 0;
  }
  IdSink sink = counting_sink();
  const unsigned long long errors =
      encode_segment(t, text, n_bytes, flags, covered, i, sink, error_pos);
  if (errors == kErrMissingUnk) *error_pos = i;
  counts[i] = static_cast<int32_t>(sink.count);
  return errors;
}

// Per text k: its truncation window and final length.
FASTPREP_HD TextPlan plan_element(const int64_t* text_offsets, const int64_t* raw_inclusive,
                                  int64_t k, int64_t max_length, bool truncate_left,
                                  int64_t n_affixes, int64_t* keep_begin, int64_t* keep_length,
                                  int64_t* final_length) {
  const TextPlan plan =
      plan_text(text_offsets, raw_inclusive, k, max_length, truncate_left, n_affixes);
  keep_begin[k] = plan.keep_begin;
  keep_length[k] = plan.keep_length;
  final_length[k] = plan.final_length;
  return plan;
}

// Per byte i, write pass: the kept ids of the segment starting at i, at their final places.
FASTPREP_HD void write_element(const BertTables& t, const uint8_t* text, int64_t n_bytes,
                               const uint8_t* flags, const int32_t* covered,
                               const int32_t* counts, const int64_t* raw_inclusive,
                               const int64_t* text_offsets, int64_t n_texts,
                               const int64_t* keep_begin, const int64_t* keep_length,
                               const int64_t* final_offsets, int64_t n_prefix, int64_t i,
                               int32_t* out) {
  if (!flags[i] || counts[i] == 0) return;
  const int64_t k = text_of_byte(text_offsets, n_texts, i);
  const int64_t text_raw_begin = raw_before(raw_inclusive, text_offsets[k]);
  IdSink sink = writing_sink(out, raw_inclusive, counts, i, text_raw_begin, keep_begin[k],
                             keep_length[k], final_offsets[k], n_prefix);
  int64_t error_pos = 0;
  encode_segment(t, text, n_bytes, flags, covered, i, sink, &error_pos);
}

// Per text k: the post-processor's ids before and after the kept ids.
FASTPREP_HD void affix_element(const int32_t* affixes, int64_t n_prefix, int64_t n_suffix,
                               const int64_t* keep_length, const int64_t* final_offsets,
                               int64_t k, int32_t* out) {
  const int64_t begin = final_offsets[k];
  for (int64_t j = 0; j < n_prefix; ++j) out[begin + j] = affixes[j];
  const int64_t tail = begin + n_prefix + keep_length[k];
  for (int64_t j = 0; j < n_suffix; ++j) out[tail + j] = affixes[n_prefix + j];
}

}  // namespace fastprep_cuda
