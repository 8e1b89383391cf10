// Conversions shared by every binding: Python text to UTF-8 views, id vectors to Python lists
// (through a cache of prebuilt ints), offsets to tuples, tokenized rows to model-input arrays.
// All of these need the GIL, except FeatureArrays::Fill.
#pragma once
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "fastprep/features.h"
#include "fastprep/pack.h"
#include "fastprep/status.h"

namespace fastprep::bindings {

// Releasing and re-taking the GIL costs more than tokenizing a few hundred bytes, so short
// inputs keep it (they finish in a microsecond or two); everything longer releases it.
constexpr size_t kReleaseGilBytes = 512;

class MaybeReleaseGil {
 public:
  explicit MaybeReleaseGil(size_t bytes) : state_(bytes >= kReleaseGilBytes ? PyEval_SaveThread() : nullptr) {}
  ~MaybeReleaseGil() {
    if (state_ != nullptr) PyEval_RestoreThread(state_);
  }
  MaybeReleaseGil(const MaybeReleaseGil&) = delete;
  MaybeReleaseGil& operator=(const MaybeReleaseGil&) = delete;

 private:
  PyThreadState* state_;
};

// UTF-8 of a Python str (cached inside the str object, so no copy). Lone surrogates raise
// UnicodeEncodeError. Anything else raises TypeError.
std::string_view str_utf8(pybind11::handle text);

// Like str_utf8, and also accepts bytes, validated once here: invalid UTF-8 raises ValueError
// naming the byte offset.
std::string_view text_utf8(pybind11::handle text);

// A new list holding references to every item of a sequence of texts, so UTF-8 views into the
// items stay valid while the GIL is released even if the caller's sequence creates items on the
// fly or is mutated by another thread. A single str or bytes is a TypeError, not a sequence.
pybind11::list owned_texts(pybind11::handle seq);

// Python ints 0..n-1 created once: a list of ids then costs an INCREF per item instead of an
// allocation (most ids are above CPython's small-int cache).
class IntCache {
 public:
  explicit IntCache(size_t n);
  PyObject* get(uint32_t v) const;  // new reference
  size_t size() const { return objects_.size(); }
  // Brings v's object toward the cache (for writing its reference count); in two stages, since
  // the object's address is itself a load: Prefetch1 for ids a few dozen items ahead, Prefetch2
  // for those a dozen ahead.
  void Prefetch1(uint32_t v) const {
    if (v < objects_.size()) __builtin_prefetch(&objects_[v]);
  }
  void Prefetch2(uint32_t v) const {
    if (v < objects_.size()) __builtin_prefetch(objects_[v].ptr(), 1);
  }

 private:
  std::vector<pybind11::object> objects_;
};

// Shared cache for character offsets (documents' offsets mostly fall below 2**14).
const IntCache& offset_ints();

pybind11::list ids_list(const uint32_t* ids, size_t n, const IntCache* ints);
inline pybind11::list ids_list(const std::vector<uint32_t>& ids, const IntCache* ints = nullptr) {
  return ids_list(ids.data(), ids.size(), ints);
}
// [(start, end), ...] from flat pairs.
pybind11::list offsets_list(const std::vector<uint32_t>& flat);
// The pieces of utf8 ending at each of `ends` (piece i starts where piece i-1 ended), as str.
pybind11::list pieces_list(std::string_view utf8, const std::vector<uint32_t>& ends);

// ---- Text to model inputs in one call (the encoders' encode_batch_packed) ----

// How tokenized single sequences become arrays: the post-processor template and HF truncation
// (applied per row by the encoder, features::finish_single), then padded or varlen packing.
struct FeatureOptions {
  features::SingleTemplate single;
  features::Truncation truncation;
  bool varlen = false;
  bool wide = true;              // int64 outputs (else int32)
  pack::PaddedOptions padded;    // pad_id, pad_side, pad_to_multiple_of, min_width, max_threads
  bool type_ids = false;         // also return token_type_ids
  int64_t pad_type_id = 0;
};

// Reads the options dict that src/fastprep/features.py builds (keys listed in its
// _packed_spec); raises ValueError/TypeError for a missing or ill-typed entry. Checks the template
// against the truncation (features::check_single).
FeatureOptions feature_options(const pybind11::dict& spec, size_t num_threads);

// The arrays of one batch (defined in bind_pack.cpp, beside the output allocator): Fill packs
// finished rows without needing the GIL; ToDict hands the buffers to NumPy without copying.
class FeatureArrays {
 public:
  FeatureArrays();
  ~FeatureArrays();
  FeatureArrays(const FeatureArrays&) = delete;
  FeatureArrays& operator=(const FeatureArrays&) = delete;
  Status Fill(const std::vector<std::vector<uint32_t>>& rows, const FeatureOptions& options);
  pybind11::dict ToDict();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fastprep::bindings
