// Unicode normalization of UTF-8 text (the pipeline's normalizer stage): a validating quick-check
// scan that copies nothing for normal text, and a segment-at-a-time slow path for the rest.
#include "fastprep/normalize.h"
#include "fastprep/unicode.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

namespace fastprep {
namespace {

struct NormRecord {
  uint16_t canon_offset;   // into kDecompositionPool; full canonical decomposition
  uint16_t compat_offset;  // full compatibility decomposition
  uint16_t compose_start;  // first kCompositionPairs entry with this character as the first
  uint8_t canon_length;    // 0: no canonical decomposition (or a Hangul syllable)
  uint8_t compat_length;
  uint8_t ccc;
  uint8_t flags;  // kNotYes* bits (quick check is Maybe or No) and kCombinesBackward
  uint8_t compose_count;
};

struct CompositionPair {
  uint32_t second;
  uint32_t composite;
};

#include "normalization_tables.inc"

constexpr uint8_t kNotYesNFC = 1, kNotYesNFKC = 2, kNotYesNFD = 4, kNotYesNFKD = 8;
constexpr uint8_t kCombinesBackward = 16;

constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount;
constexpr uint32_t kSCount = kLCount * kNCount;

constexpr uint32_t kCpMask = 0xFFFFFF;  // buffered elements: code point | ccc << 24

inline const NormRecord& Record(uint32_t cp) {
  const uint32_t block = kNormStage1[cp >> kNormBlockShift];
  return kNormRecords[kNormStage2[(block << kNormBlockShift) | (cp & ((1u << kNormBlockShift) - 1))]];
}

struct FormTraits {
  uint8_t not_yes;            // quick-check bit of this form
  bool compat;                // use compatibility decompositions
  bool compose;               // recompose after decomposing
  uint32_t min_non_boundary;  // every code point below this is a quick-check-yes starter
  uint32_t min_decomposing;   // every code point below this is a starter that maps to itself
};

constexpr FormTraits Traits(NormalizationForm form) {
  switch (form) {
    case NormalizationForm::kNFD:
      return {kNotYesNFD, false, false, kMinNonBoundaryNFD, kMinNonBoundaryNFD};
    case NormalizationForm::kNFKC:
      return {kNotYesNFKC, true, true, kMinNonBoundaryNFKC, kMinNonBoundaryNFKD};
    case NormalizationForm::kNFKD:
      return {kNotYesNFKD, true, false, kMinNonBoundaryNFKD, kMinNonBoundaryNFKD};
    case NormalizationForm::kNFC:
    default:
      return {kNotYesNFC, false, true, kMinNonBoundaryNFC, kMinNonBoundaryNFD};
  }
}

// Decodes one UTF-8 sequence at p (p < end), rejecting overlongs, surrogates and values above
// U+10FFFF. Returns its length, or 0 if the bytes at p do not start a valid sequence.
inline size_t DecodeChecked(const uint8_t* p, const uint8_t* end, uint32_t* cp) {
  const uint32_t b0 = p[0];
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  const size_t avail = static_cast<size_t>(end - p);
  if (b0 < 0xC2) return 0;  // continuation byte or overlong 2-byte lead
  if (b0 < 0xE0) {
    if (avail < 2 || (p[1] & 0xC0) != 0x80) return 0;
    *cp = ((b0 & 0x1F) << 6) | (p[1] & 0x3F);
    return 2;
  }
  if (b0 < 0xF0) {
    if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
    const uint32_t c = ((b0 & 0x0F) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3F);
    if (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return 3;
  }
  if (b0 < 0xF5) {
    if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
    const uint32_t c = ((b0 & 0x07) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3F);
    if (c < 0x10000 || c > 0x10FFFF) return 0;
    *cp = c;
    return 4;
  }
  return 0;
}


constexpr uint64_t kHighBits = 0x8080808080808080ULL;

// Result of the quick-check scan from some position.
struct Scan {
  size_t stop;      // end of input, or the offset of a character that fails the quick check
  size_t boundary;  // last boundary <= stop: text before it is final
  bool invalid;     // stop is the offset of invalid UTF-8
};

// Advances over text that passes the quick check. A "boundary" is a starter whose quick check is
// Yes: nothing after it can change anything before it (checked by the generator). Instantiated
// per form so the form's constants fold into the loop.
template <NormalizationForm kForm>
Scan QuickCheckScanForm(const uint8_t* s, size_t n, size_t pos) {
  constexpr FormTraits t = Traits(kForm);
  const uint64_t* groups = kBmpBoundaryGroups[static_cast<int>(kForm)];
  size_t i = pos;
  size_t boundary = pos;
  uint8_t last_ccc = 0;
  const uint8_t* end = s + n;
  while (i < n) {
    const uint32_t b0 = s[i];
    if (b0 < 0x80) {
      // ASCII: 16 bytes per step while whole blocks are ASCII.
      while (i + 16 <= n) {
        uint64_t a, b;
        std::memcpy(&a, s + i, 8);
        std::memcpy(&b, s + i + 8, 8);
        if ((a | b) & kHighBits) break;
        i += 16;
      }
      while (i < n && s[i] < 0x80) ++i;
      boundary = i - 1;
      last_ccc = 0;
      continue;
    }
    uint32_t cp;
    const size_t len = DecodeChecked(s + i, end, &cp);
    if (len == 0) return {i, boundary, true};
    // The group bitmap pays off where whole scripts pass (NFC/NFKC of CJK and kana); under
    // NFD/NFKD kana groups mix passing and failing characters, and the extra unpredictable
    // branch costs more than the record lookup it saves.
    if (t.compose && cp < 0x10000 && ((groups[cp >> 10] >> ((cp >> 4) & 63)) & 1)) {
      boundary = i;
      last_ccc = 0;
    } else {
      const NormRecord& r = Record(cp);
      if (r.flags & t.not_yes) return {i, boundary, false};
      if (r.ccc == 0) {
        boundary = i;
        last_ccc = 0;
      } else {
        if (last_ccc > r.ccc) return {i, boundary, false};
        last_ccc = r.ccc;
      }
    }
    i += len;
  }
  return {n, n, false};
}

Scan QuickCheckScan(const uint8_t* s, size_t n, size_t pos, NormalizationForm form) {
  switch (form) {
    case NormalizationForm::kNFD:
      return QuickCheckScanForm<NormalizationForm::kNFD>(s, n, pos);
    case NormalizationForm::kNFKC:
      return QuickCheckScanForm<NormalizationForm::kNFKC>(s, n, pos);
    case NormalizationForm::kNFKD:
      return QuickCheckScanForm<NormalizationForm::kNFKD>(s, n, pos);
    case NormalizationForm::kNFC:
    default:
      return QuickCheckScanForm<NormalizationForm::kNFC>(s, n, pos);
  }
}

inline bool IsBoundary(uint32_t cp, const FormTraits& t) {
  if (cp < t.min_non_boundary) return true;
  const NormRecord& r = Record(cp);
  return r.ccc == 0 && !(r.flags & t.not_yes);
}

// Appends the full decomposition of cp (as code point | ccc << 24 elements) to buf.
inline void Decompose(uint32_t cp, const FormTraits& t, std::vector<uint32_t>* buf) {
  if (cp < t.min_decomposing) {
    buf->push_back(cp);
    return;
  }
  if (cp - kSBase < kSCount) {
    const uint32_t s = cp - kSBase;
    buf->push_back(kLBase + s / kNCount);
    buf->push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) buf->push_back(kTBase + s % kTCount);
    return;
  }
  const NormRecord& r = Record(cp);
  const uint32_t length = t.compat ? r.compat_length : r.canon_length;
  if (length == 0) {
    buf->push_back(cp | static_cast<uint32_t>(r.ccc) << 24);
    return;
  }
  const uint32_t* d = kDecompositionPool + (t.compat ? r.compat_offset : r.canon_offset);
  buf->insert(buf->end(), d, d + length);
}

// Canonical ordering: stable-sorts every run of non-starters by combining class. Sorting each run
// (instead of bubbling each mark into place) keeps adversarial runs of marks O(n log n).
void CanonicalOrder(std::vector<uint32_t>* buf) {
  uint32_t* b = buf->data();
  const size_t n = buf->size();
  size_t i = 0;
  while (i < n) {
    if ((b[i] >> 24) == 0) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    bool sorted = true;
    while (j < n && (b[j] >> 24) != 0) {
      if ((b[j] >> 24) < (b[j - 1] >> 24)) sorted = false;
      ++j;
    }
    if (!sorted) {
      std::stable_sort(b + i, b + j, [](uint32_t x, uint32_t y) { return (x >> 24) < (y >> 24); });
    }
    i = j;
  }
}

// The primary composite of first + second, or 0 when there is none.
inline uint32_t ComposePair(uint32_t first, uint32_t second) {
  if (second - kVBase < kVCount) {
    return first - kLBase < kLCount ? kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount : 0;
  }
  if (second - kTBase - 1 < kTCount - 1) {
    return (first - kSBase < kSCount && (first - kSBase) % kTCount == 0) ? first + (second - kTBase) : 0;
  }
  const NormRecord& r = Record(first);
  const CompositionPair* p = kCompositionPairs + r.compose_start;
  for (uint32_t k = 0; k < r.compose_count; ++k) {
    if (p[k].second == second) return p[k].composite;
    if (p[k].second > second) break;
  }
  return 0;
}

// Canonical composition in place (UAX #15, section 3.11).
void Compose(std::vector<uint32_t>* buf) {
  uint32_t* b = buf->data();
  const size_t n = buf->size();
  if (n < 2) return;
  size_t starter = 0;
  bool have_starter = (b[0] >> 24) == 0;
  uint32_t last_ccc = have_starter ? 0 : 256;
  size_t w = 1;
  for (size_t k = 1; k < n; ++k) {
    const uint32_t e = b[k];
    const uint32_t cp = e & kCpMask;
    const uint32_t cc = e >> 24;
    if (have_starter && (last_ccc < cc || last_ccc == 0) && cp >= kMinNonBoundaryNFC &&
        (Record(cp).flags & kCombinesBackward)) {
      const uint32_t composite = ComposePair(b[starter] & kCpMask, cp);
      if (composite != 0) {
        b[starter] = composite | static_cast<uint32_t>(Record(composite).ccc) << 24;
        continue;
      }
    }
    if (cc == 0) {
      starter = w;
      have_starter = true;
    }
    last_ccc = cc;
    b[w++] = e;
  }
  buf->resize(w);
}

// Normalizes from `pos` (a boundary) up to the next boundary after it, appending to *out.
// Returns the offset where the quick-check scan may resume, or sets *bad to an invalid offset.
size_t NormalizeSegment(const uint8_t* s, size_t n, size_t pos, const FormTraits& t,
                        std::vector<uint32_t>* buf, std::string* out, bool* bad) {
  const uint8_t* end = s + n;
  buf->clear();
  size_t i = pos;
  while (i < n) {
    uint32_t cp;
    const size_t len = DecodeChecked(s + i, end, &cp);
    if (len == 0) {
      *bad = true;
      return i;
    }
    if (i != pos && IsBoundary(cp, t)) break;
    Decompose(cp, t, buf);
    i += len;
  }
  CanonicalOrder(buf);
  if (t.compose) Compose(buf);
  const size_t start = out->size();
  out->resize(start + 4 * buf->size());
  char* p = &(*out)[start];
  char* const first = p;
  for (uint32_t e : *buf) p += encode_utf8(e & kCpMask, p);
  out->resize(start + static_cast<size_t>(p - first));
  return i;
}

// The quick-check scan over text stored one code point per unit (Python str storage). Runs of
// units below a power of two that is at most the form's first non-boundary code point are skipped
// 8 bytes at a time. Surrogates fail the quick check (their table flags are all set).
template <typename Unit>
Scan ScanUnits(const Unit* u, size_t n, size_t pos, NormalizationForm form) {
  const FormTraits t = Traits(form);
  const uint64_t* groups = kBmpBoundaryGroups[static_cast<int>(form)];
  constexpr size_t kPerWord = 8 / sizeof(Unit);
  uint32_t low_limit = 1;
  while (low_limit * 2 <= t.min_non_boundary) low_limit *= 2;
  if (sizeof(Unit) == 1 && low_limit > 0xFF) return {n, n, false};  // Latin-1 under NFC: normal
  const uint64_t lane_mask = static_cast<Unit>(~(low_limit - 1));
  uint64_t word_mask = 0;
  for (size_t k = 0; k < kPerWord; ++k) word_mask |= lane_mask << (8 * sizeof(Unit) * k);
  uint8_t last_ccc = 0;
  size_t boundary = pos;
  size_t i = pos;
  while (i < n) {
    const uint32_t c = u[i];
    if (c < t.min_non_boundary) {
      last_ccc = 0;
      ++i;
      if (sizeof(Unit) < 4) {
        uint64_t w;
        while (i + kPerWord <= n) {
          std::memcpy(&w, u + i, 8);
          if (w & word_mask) break;
          i += kPerWord;
        }
      }
      boundary = i - 1;
      continue;
    }
    if (t.compose && c < 0x10000 && ((groups[c >> 10] >> ((c >> 4) & 63)) & 1)) {  // see the UTF-8 scan
      last_ccc = 0;
      boundary = i++;
      continue;
    }
    if (c > 0x10FFFF) return {i, boundary, true};
    const NormRecord& r = Record(c);
    if (r.flags & t.not_yes) return {i, boundary, false};
    if (r.ccc == 0) {
      last_ccc = 0;
      boundary = i;
    } else {
      if (last_ccc > r.ccc) return {i, boundary, false};
      last_ccc = r.ccc;
    }
    ++i;
  }
  return {n, n, false};
}

// NormalizeSegment for code-point units; surrogates and values above U+10FFFF set *bad.
template <typename Unit>
size_t NormalizeSegmentUnits(const Unit* u, size_t n, size_t pos, const FormTraits& t,
                             std::vector<uint32_t>* buf, std::u32string* out, bool* bad) {
  buf->clear();
  size_t i = pos;
  while (i < n) {
    const uint32_t cp = u[i];
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      *bad = true;
      return i;
    }
    if (i != pos && IsBoundary(cp, t)) break;
    Decompose(cp, t, buf);
    ++i;
  }
  CanonicalOrder(buf);
  if (t.compose) Compose(buf);
  for (uint32_t e : *buf) out->push_back(static_cast<char32_t>(e & kCpMask));
  return i;
}

Status InvalidCodePoint(uint32_t cp, size_t index, size_t* error_index) {
  if (error_index) *error_index = index;
  char hex[16];
  std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(cp));
  const char* what = cp > 0x10FFFF ? "an out-of-range code point " : "a lone surrogate ";
  return Status(ErrorCode::kInvalidArgument, std::string("normalize: text contains ") + what + hex +
                                                 " at index " + std::to_string(index) +
                                                 "; only valid Unicode text can be normalized");
}

template <typename Unit>
Status NormalizeUnits(const Unit* u, size_t n, NormalizationForm form, std::u32string* out, bool* unchanged,
                      size_t* error_index) {
  const FormTraits t = Traits(form);
  out->clear();
  Scan scan = ScanUnits(u, n, 0, form);
  if (scan.invalid) return InvalidCodePoint(u[scan.stop], scan.stop, error_index);
  if (scan.stop == n) {
    if (unchanged) {
      *unchanged = true;
    } else {
      out->assign(u, u + n);
    }
    return Status::Ok();
  }
  out->reserve(n + n / 8 + 16);
  std::vector<uint32_t> buf;
  buf.reserve(64);
  size_t pos = 0;
  while (true) {
    out->append(u + pos, u + scan.boundary);
    bool bad = false;
    pos = NormalizeSegmentUnits(u, n, scan.boundary, t, &buf, out, &bad);
    if (bad) return InvalidCodePoint(u[pos], pos, error_index);
    if (pos == n) break;
    scan = ScanUnits(u, n, pos, form);
    if (scan.invalid) return InvalidCodePoint(u[scan.stop], scan.stop, error_index);
    if (scan.stop == n) {
      out->append(u + pos, u + n);
      break;
    }
  }
  if (unchanged) {
    *unchanged = out->size() == n && std::equal(u, u + n, out->begin());
    if (*unchanged) out->clear();
  }
  return Status::Ok();
}

Status InvalidUtf8(size_t offset, size_t* error_offset) {
  if (error_offset) *error_offset = offset;
  return Status(ErrorCode::kInvalidUtf8, "normalize: invalid UTF-8 at byte offset " + std::to_string(offset));
}

}  // namespace

Status ParseNormalizationForm(std::string_view name, NormalizationForm* form) {
  if (name == "NFC") {
    *form = NormalizationForm::kNFC;
  } else if (name == "NFD") {
    *form = NormalizationForm::kNFD;
  } else if (name == "NFKC") {
    *form = NormalizationForm::kNFKC;
  } else if (name == "NFKD") {
    *form = NormalizationForm::kNFKD;
  } else {
    return Status(ErrorCode::kInvalidArgument,
                  "normalize: form must be 'NFC', 'NFD', 'NFKC' or 'NFKD', not '" + std::string(name) + "'");
  }
  return Status::Ok();
}

const char* NormalizationFormName(NormalizationForm form) {
  switch (form) {
    case NormalizationForm::kNFC:
      return "NFC";
    case NormalizationForm::kNFD:
      return "NFD";
    case NormalizationForm::kNFKC:
      return "NFKC";
    case NormalizationForm::kNFKD:
      return "NFKD";
  }
  return "?";
}

const char* NormalizationUnicodeVersion() { return kNormalizationUnicodeVersion; }

uint8_t CanonicalCombiningClass(uint32_t cp) { return cp > 0x10FFFF ? 0 : Record(cp).ccc; }

bool QuickCheckCodePoints(const uint8_t* units, size_t n, NormalizationForm form) {
  const Scan scan = ScanUnits(units, n, 0, form);
  return scan.stop == n && !scan.invalid;
}
bool QuickCheckCodePoints(const uint16_t* units, size_t n, NormalizationForm form) {
  const Scan scan = ScanUnits(units, n, 0, form);
  return scan.stop == n && !scan.invalid;
}
bool QuickCheckCodePoints(const uint32_t* units, size_t n, NormalizationForm form) {
  const Scan scan = ScanUnits(units, n, 0, form);
  return scan.stop == n && !scan.invalid;
}

Status NormalizeCodePoints(const uint8_t* units, size_t n, NormalizationForm form, std::u32string* out,
                           bool* unchanged, size_t* error_index) {
  return NormalizeUnits(units, n, form, out, unchanged, error_index);
}
Status NormalizeCodePoints(const uint16_t* units, size_t n, NormalizationForm form, std::u32string* out,
                           bool* unchanged, size_t* error_index) {
  return NormalizeUnits(units, n, form, out, unchanged, error_index);
}
Status NormalizeCodePoints(const uint32_t* units, size_t n, NormalizationForm form, std::u32string* out,
                           bool* unchanged, size_t* error_index) {
  return NormalizeUnits(units, n, form, out, unchanged, error_index);
}

size_t QuickCheckPrefix(std::string_view utf8, NormalizationForm form) {
  const Scan scan = QuickCheckScan(reinterpret_cast<const uint8_t*>(utf8.data()), utf8.size(), 0, form);
  return scan.stop == utf8.size() && !scan.invalid ? utf8.size() : scan.boundary;
}

Status Normalize(std::string_view utf8, NormalizationForm form, std::string* out, bool* unchanged,
                 size_t* error_offset) {
  const FormTraits t = Traits(form);
  const uint8_t* s = reinterpret_cast<const uint8_t*>(utf8.data());
  const size_t n = utf8.size();
  out->clear();
  Scan scan = QuickCheckScan(s, n, 0, form);
  if (scan.invalid) return InvalidUtf8(scan.stop, error_offset);
  if (scan.stop == n) {
    if (unchanged) {
      *unchanged = true;
    } else {
      out->assign(utf8.data(), n);
    }
    return Status::Ok();
  }
  out->reserve(n + n / 8 + 16);
  std::vector<uint32_t> buf;
  buf.reserve(64);
  size_t pos = 0;
  while (true) {
    out->append(utf8.data() + pos, scan.boundary - pos);
    bool bad = false;
    pos = NormalizeSegment(s, n, scan.boundary, t, &buf, out, &bad);
    if (bad) return InvalidUtf8(pos, error_offset);
    if (pos == n) break;
    scan = QuickCheckScan(s, n, pos, form);
    if (scan.invalid) return InvalidUtf8(scan.stop, error_offset);
    if (scan.stop == n) {
      out->append(utf8.data() + pos, n - pos);
      break;
    }
  }
  if (unchanged) {
    // Quick check said Maybe but the text was normal after all: report it as such.
    *unchanged = out->size() == n && std::memcmp(out->data(), utf8.data(), n) == 0;
    if (*unchanged) out->clear();
  }
  return Status::Ok();
}

Status IsNormalized(std::string_view utf8, NormalizationForm form, bool* result, size_t* error_offset) {
  std::string scratch;
  bool unchanged = false;
  Status st = Normalize(utf8, form, &scratch, &unchanged, error_offset);
  if (!st.ok()) return st;
  *result = unchanged;
  return Status::Ok();
}

}  // namespace fastprep
