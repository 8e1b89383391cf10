// Conversions shared by every binding (see convert.h).
#include "convert.h"

#include <string>

#include "fastprep/utf8.h"

namespace py = pybind11;

namespace fastprep::bindings {

std::string_view str_utf8(py::handle text) {
  if (!PyUnicode_Check(text.ptr())) {
    throw py::type_error(std::string("expected str, got ") + Py_TYPE(text.ptr())->tp_name);
  }
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(text.ptr(), &size);
  if (data == nullptr) throw py::error_already_set();
  return std::string_view(data, static_cast<size_t>(size));
}

std::string_view text_utf8(py::handle text) {
  if (PyBytes_Check(text.ptr())) {
    const char* data = PyBytes_AS_STRING(text.ptr());
    const size_t size = static_cast<size_t>(PyBytes_GET_SIZE(text.ptr()));
    const size_t valid = Utf8ValidPrefix(reinterpret_cast<const uint8_t*>(data), size);
    if (valid != size) {
      throw py::value_error("invalid UTF-8 at byte offset " + std::to_string(valid) +
                            " (pass errors=\"replace\" to substitute U+FFFD)");
    }
    return std::string_view(data, size);
  }
  if (!PyUnicode_Check(text.ptr())) {
    throw py::type_error(std::string("expected str or bytes, got ") + Py_TYPE(text.ptr())->tp_name);
  }
  return str_utf8(text);
}

py::list owned_texts(py::handle seq) {
  if (PyUnicode_Check(seq.ptr()) || PyBytes_Check(seq.ptr())) {
    throw py::type_error("expected a sequence of texts, not a single str or bytes");
  }
  PyObject* list = PySequence_List(seq.ptr());
  if (list == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::list>(list);
}

IntCache::IntCache(size_t n) {
  objects_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    PyObject* o = PyLong_FromSize_t(i);
    if (o == nullptr) throw py::error_already_set();
    objects_.push_back(py::reinterpret_steal<py::object>(o));
  }
}

PyObject* IntCache::get(uint32_t v) const {
  if (v < objects_.size()) {
    PyObject* o = objects_[v].ptr();
    Py_INCREF(o);
    return o;
  }
  return PyLong_FromUnsignedLong(v);
}

const IntCache& offset_ints() {
  static const IntCache* cache = new IntCache(size_t{1} << 14);  // GIL held; never freed
  return *cache;
}

py::list ids_list(const uint32_t* ids, size_t n, const IntCache* ints) {
  PyObject* list = PyList_New(static_cast<Py_ssize_t>(n));
  if (list == nullptr) throw py::error_already_set();
  // The cached int objects of a large vocabulary span several MiB and ids land on them at
  // random, so nearly every item would miss the cache on its reference count: prefetch ahead.
  constexpr size_t kAhead1 = 32, kAhead2 = 12;
  if (ints != nullptr) {
    for (size_t i = 0; i < n && i < kAhead1; ++i) ints->Prefetch1(ids[i]);
  }
  for (size_t i = 0; i < n; ++i) {
    if (ints != nullptr) {
      if (i + kAhead1 < n) ints->Prefetch1(ids[i + kAhead1]);
      if (i + kAhead2 < n) ints->Prefetch2(ids[i + kAhead2]);
    }
    PyObject* item = ints != nullptr ? ints->get(ids[i]) : PyLong_FromUnsignedLong(ids[i]);
    if (item == nullptr) {
      Py_DECREF(list);
      throw py::error_already_set();
    }
    PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), item);
  }
  return py::reinterpret_steal<py::list>(list);
}

py::list offsets_list(const std::vector<uint32_t>& flat) {
  const IntCache& ints = offset_ints();
  const size_t n = flat.size() / 2;
  PyObject* list = PyList_New(static_cast<Py_ssize_t>(n));
  if (list == nullptr) throw py::error_already_set();
  for (size_t i = 0; i < n; ++i) {
    PyObject* pair = PyTuple_New(2);
    PyObject* a = ints.get(flat[2 * i]);
    PyObject* b = ints.get(flat[2 * i + 1]);
    if (pair == nullptr || a == nullptr || b == nullptr) {
      Py_XDECREF(pair);
      Py_XDECREF(a);
      Py_XDECREF(b);
      Py_DECREF(list);
      throw py::error_already_set();
    }
    PyTuple_SET_ITEM(pair, 0, a);
    PyTuple_SET_ITEM(pair, 1, b);
    PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), pair);
  }
  return py::reinterpret_steal<py::list>(list);
}

py::list pieces_list(std::string_view utf8, const std::vector<uint32_t>& ends) {
  py::list pieces(ends.size());
  size_t start = 0;
  for (size_t i = 0; i < ends.size(); ++i) {
    PyObject* piece = PyUnicode_DecodeUTF8(utf8.data() + start,
                                           static_cast<Py_ssize_t>(ends[i] - start), "strict");
    if (piece == nullptr) throw py::error_already_set();
    PyList_SET_ITEM(pieces.ptr(), static_cast<Py_ssize_t>(i), piece);
    start = ends[i];
  }
  return pieces;
}

}  // namespace fastprep::bindings
