// Python bindings for streaming detokenization (fastprep/decode_stream.h): the byte table is
// passed once from Python; each engine step converts the ids, runs the core, and builds one str
// (or None) per sequence.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "errors.h"
#include "fastprep/decode_stream.h"

namespace py = pybind11;

namespace fastprep::bindings {
namespace {

using stream::ByteDecodeStreams;
using stream::ByteVocabulary;
using stream::TokenKind;

using IdArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

// Text (valid UTF-8 by construction) as a str, or None when empty.
py::object text_or_none(const char* data, size_t size) {
  if (size == 0) return py::none();
  PyObject* s = PyUnicode_DecodeUTF8(data, static_cast<Py_ssize_t>(size), nullptr);
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(s);
}

class PyByteVocabulary {
 public:
  // tokens[i]: bytes of id i or None; kinds: one byte per id (0 missing, 1 skip, 2 bytes).
  PyByteVocabulary(const py::list& tokens, const py::bytes& kinds, bool unknown_is_error) {
    std::string_view kind_view = kinds;
    if (kind_view.size() != tokens.size()) throw py::value_error("tokens and kinds differ in length");
    std::vector<std::string_view> views(tokens.size());
    std::vector<TokenKind> kind_values(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) {
      kind_values[i] = static_cast<TokenKind>(static_cast<uint8_t>(kind_view[i]));
      py::handle t = tokens[i];
      if (t.is_none()) continue;
      char* data = nullptr;
      Py_ssize_t size = 0;
      if (PyBytes_AsStringAndSize(t.ptr(), &data, &size) != 0) throw py::error_already_set();
      views[i] = std::string_view(data, static_cast<size_t>(size));
    }
    raise_if_error(ByteVocabulary::Create(views, kind_values,
                                          unknown_is_error ? TokenKind::kMissing : TokenKind::kSkip,
                                          &vocab_));
  }
  std::shared_ptr<const ByteVocabulary> vocab() const { return vocab_; }
  size_t size() const { return vocab_->size(); }

 private:
  std::shared_ptr<const ByteVocabulary> vocab_;
};

class PyByteDecodeStreams {
 public:
  PyByteDecodeStreams(const PyByteVocabulary& vocab, long long batch_size)
      : streams_(vocab.vocab(), checked_size(batch_size)) {}

  static size_t checked_size(long long n) {
    if (n < 0) throw py::value_error("batch_size must be non-negative, got " + std::to_string(n));
    return static_cast<size_t>(n);
  }

  size_t batch_size() const { return streams_.batch_size(); }
  void resize(long long n) { streams_.Resize(checked_size(n)); }
  void reset(long long slot) { raise_if_error(streams_.Reset(slot)); }
  void reset_all() { streams_.ResetAll(); }

  py::bytes pending(long long slot) const {
    std::string out;
    raise_if_error(streams_.Pending(slot, &out));
    return py::bytes(out);
  }

  py::object step_one(long long slot, long long id) {
    out_.clear();
    raise_if_error(streams_.Step(slot, id, &out_));
    return text_or_none(out_.data(), out_.size());
  }

  py::list step(const IdArray& ids, const py::object& slots_obj) {
    if (ids.ndim() != 1) throw py::value_error("token_ids must be one-dimensional");
    const size_t n = static_cast<size_t>(ids.shape(0));
    IdArray slots;
    const int64_t* slot_data = nullptr;
    if (!slots_obj.is_none()) {
      slots = IdArray::ensure(slots_obj);
      if (!slots || slots.ndim() != 1 || static_cast<size_t>(slots.shape(0)) != n) {
        PyErr_Clear();
        throw py::value_error("slots must be a one-dimensional sequence of ints as long as token_ids");
      }
      slot_data = slots.data();
    }
    out_.clear();
    // A step is a few hundred table lookups and copies: cheaper than releasing the GIL.
    raise_if_error(streams_.StepBatch(ids.data(), n, slot_data, &out_, &ends_));
    PyObject* list = PyList_New(static_cast<Py_ssize_t>(n));
    if (list == nullptr) throw py::error_already_set();
    py::list result = py::reinterpret_steal<py::list>(list);
    size_t start = 0;
    for (size_t i = 0; i < n; ++i) {
      py::object item = text_or_none(out_.data() + start, ends_[i] - start);
      PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), item.release().ptr());
      start = ends_[i];
    }
    return result;
  }

  std::string flush(long long slot) {
    out_.clear();
    raise_if_error(streams_.Flush(slot, &out_));
    return out_;
  }

 private:
  ByteDecodeStreams streams_;
  std::string out_;
  std::vector<size_t> ends_;
};

}  // namespace

void bind_stream(py::module_& m) {
  py::class_<PyByteVocabulary>(m, "ByteVocabulary",
                               "Immutable id -> bytes table for streaming detokenization.")
      .def(py::init<const py::list&, const py::bytes&, bool>(), py::arg("tokens"),
           py::arg("kinds"), py::arg("unknown_is_error"),
           "tokens[i]: bytes of id i (or None); kinds: one byte per id, 0 = missing (stepping it "
           "raises KeyError), 1 = skipped, 2 = bytes. Ids past the table are missing when "
           "unknown_is_error, else skipped.")
      .def("__len__", &PyByteVocabulary::size);
  py::class_<PyByteDecodeStreams>(m, "ByteDecodeStreams",
                                  "Per-slot lossy incremental UTF-8 detokenization state.")
      .def(py::init<const PyByteVocabulary&, long long>(), py::arg("vocab"), py::arg("batch_size"))
      .def_property_readonly("batch_size", &PyByteDecodeStreams::batch_size)
      .def("resize", &PyByteDecodeStreams::resize, py::arg("batch_size"),
           "Grow with empty slots or drop the highest slots.")
      .def("reset", &PyByteDecodeStreams::reset, py::arg("slot"), "Discard a slot's state.")
      .def("reset_all", &PyByteDecodeStreams::reset_all, "Discard every slot's state.")
      .def("pending", &PyByteDecodeStreams::pending, py::arg("slot"),
           "Bytes of the unfinished character held for a slot.")
      .def("step_one", &PyByteDecodeStreams::step_one, py::arg("slot"), py::arg("id"),
           "Advance one slot by one id: the new complete text, or None.")
      .def("step", &PyByteDecodeStreams::step, py::arg("ids"), py::arg("slots") = py::none(),
           "Advance each sequence by one id (ids[i] -> slot i, or slots[i]); negative ids skip a "
           "sequence. Returns one str or None per id. Validates first: on error nothing changes.")
      .def("flush", &PyByteDecodeStreams::flush, py::arg("slot"),
           "End the slot's sequence: its remaining text (U+FFFD for an unfinished character); "
           "the slot is reset.");
}

}  // namespace fastprep::bindings
