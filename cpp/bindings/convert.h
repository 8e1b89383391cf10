// Conversions shared by every binding: Python text to UTF-8 views, id vectors to Python lists
// (through a cache of prebuilt ints), offsets to tuples. All of these need the GIL.
#pragma once
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string_view>
#include <vector>

namespace fastprep::bindings {

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

}  // namespace fastprep::bindings
