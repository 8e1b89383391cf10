// Python bindings for Unicode normalization: str/bytes in, the same object back when it is already
// normal (no copy), otherwise a new object; lists in one call with the GIL released. A str is
// normalized from its own code-point storage (no UTF-8 round trip); bytes go through the UTF-8
// core that the tokenizer pipeline uses. Policy (form names, argument types) lives in
// src/fastprep/normalize.py.
#include <pybind11/pybind11.h>

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "errors.h"
#include "fastprep/normalize.h"
#include "fastprep/thread_pool.h"

namespace py = pybind11;

namespace fastprep::bindings {
namespace {

// Below this many code points in a list, one thread normalizes it (hand-off would cost more).
constexpr size_t kParallelChars = 1 << 18;
// Strings shorter than this are normalized without releasing the GIL.
constexpr Py_ssize_t kReleaseChars = 1 << 12;

[[noreturn]] void raise(PyObject* type, const std::string& message) {
  PyErr_SetString(type, message.c_str());
  throw py::error_already_set();
}

NormalizationForm parse_form(const std::string& name) {
  NormalizationForm form;
  raise_if_error(ParseNormalizationForm(name, &form));
  return form;
}

// Normalizes a str straight from its own storage (Latin-1, UCS-2 or UCS-4 code points), so no
// UTF-8 copy is made or cached on the object. Safe without the GIL: strs are immutable and the
// caller holds a reference.
Status normalize_units(PyObject* text, NormalizationForm form, std::u32string* out, bool* unchanged) {
  const size_t n = static_cast<size_t>(PyUnicode_GET_LENGTH(text));
  const void* data = PyUnicode_DATA(text);
  switch (PyUnicode_KIND(text)) {
    case PyUnicode_1BYTE_KIND:
      return NormalizeCodePoints(static_cast<const uint8_t*>(data), n, form, out, unchanged);
    case PyUnicode_2BYTE_KIND:
      return NormalizeCodePoints(static_cast<const uint16_t*>(data), n, form, out, unchanged);
    default:
      return NormalizeCodePoints(static_cast<const uint32_t*>(data), n, form, out, unchanged);
  }
}

// Core messages say "normalize: text ..."; in a list, name the element instead.
Status for_element(const Status& st, size_t i) {
  std::string message = st.message();
  const std::string prefix = "normalize: text ";
  const std::string where = "normalize: texts[" + std::to_string(i) + "] ";
  if (message.rfind(prefix, 0) == 0) return Status(st.code(), where + message.substr(prefix.size()));
  return Status(st.code(), where + message);
}

py::object str_from_utf32(const std::u32string& s) {
  // CPython picks the narrowest storage that holds the largest code point.
  PyObject* obj = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, s.data(), static_cast<Py_ssize_t>(s.size()));
  if (obj == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(obj);
}

py::object normalize_str(py::str text, const std::string& form_name) {
  const NormalizationForm form = parse_form(form_name);
  PyObject* obj = text.ptr();
  if (PyUnicode_IS_ASCII(obj)) return std::move(text);  // ASCII is normal in every form
  std::u32string out;
  bool unchanged = false;
  Status st;
  {
    std::optional<py::gil_scoped_release> release;  // short strings are not worth the release
    if (PyUnicode_GET_LENGTH(obj) >= kReleaseChars) release.emplace();
    st = normalize_units(obj, form, &out, &unchanged);
  }
  raise_if_error(st);
  if (unchanged) return std::move(text);
  return str_from_utf32(out);
}

py::list normalize_list(py::list texts, const std::string& form_name) {
  const NormalizationForm form = parse_form(form_name);
  const size_t n = texts.size();
  // Own references: the caller's list may change while the GIL is released.
  std::vector<py::object> items(n);
  std::vector<char> skip(n, 0);  // ASCII: already normal
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    items[i] = py::reinterpret_borrow<py::object>(PyList_GET_ITEM(texts.ptr(), static_cast<Py_ssize_t>(i)));
    PyObject* obj = items[i].ptr();
    if (!PyUnicode_Check(obj)) {
      raise(PyExc_TypeError, "normalize: texts[" + std::to_string(i) + "] must be str, not " +
                                 std::string(Py_TYPE(obj)->tp_name));
    }
    skip[i] = PyUnicode_IS_ASCII(obj) ? 1 : 0;
    if (!skip[i]) total += static_cast<size_t>(PyUnicode_GET_LENGTH(obj));
  }
  std::vector<std::u32string> outputs(n);
  std::vector<char> unchanged(n, 1);
  std::vector<Status> statuses(n);
  Status pool_status;
  {
    py::gil_scoped_release release;  // `items` holds references to immutable strs
    auto one = [&](size_t i) {
      if (skip[i]) return;
      bool same = false;
      statuses[i] = normalize_units(items[i].ptr(), form, &outputs[i], &same);
      unchanged[i] = same;
    };
    if (total >= kParallelChars && n > 1) {
      // Tasks of 64 texts keep the per-task overhead small for lists of short strings.
      const size_t per_task = 64, tasks = (n + per_task - 1) / per_task;
      pool_status = parallel_for(tasks, 0, [&](size_t t) {
        for (size_t i = t * per_task; i < n && i < (t + 1) * per_task; ++i) one(i);
      });
    } else {
      for (size_t i = 0; i < n; ++i) one(i);
    }
  }
  raise_if_error(pool_status);
  for (size_t i = 0; i < n; ++i) {
    if (!statuses[i].ok()) raise_if_error(for_element(statuses[i], i));
  }
  py::list result(n);
  for (size_t i = 0; i < n; ++i) {
    result[i] = unchanged[i] ? items[i] : str_from_utf32(outputs[i]);
  }
  return result;
}

py::object normalize_utf8(py::bytes data, const std::string& form_name) {
  const NormalizationForm form = parse_form(form_name);
  char* buf = nullptr;
  Py_ssize_t size = 0;
  if (PyBytes_AsStringAndSize(data.ptr(), &buf, &size) != 0) throw py::error_already_set();
  std::string out;
  bool unchanged = false;
  Status st;
  {
    py::gil_scoped_release release;
    st = Normalize(std::string_view(buf, static_cast<size_t>(size)), form, &out, &unchanged);
  }
  raise_if_error(st);
  if (unchanged) return std::move(data);
  return py::bytes(out);
}

bool is_normalized(py::str text, const std::string& form_name) {
  const NormalizationForm form = parse_form(form_name);
  PyObject* obj = text.ptr();
  if (PyUnicode_IS_ASCII(obj)) return true;
  std::u32string scratch;
  bool result = false;
  Status st;
  {
    std::optional<py::gil_scoped_release> release;
    if (PyUnicode_GET_LENGTH(obj) >= kReleaseChars) release.emplace();
    st = normalize_units(obj, form, &scratch, &result);
  }
  raise_if_error(st);
  return result;
}

// fastprep.normalize's entry point: a plain C function (METH_FASTCALL), because for ASCII text
// (normal in every form) the whole call is one type check and a flag test, and pybind11's or a
// Python function's dispatch would cost several times unicodedata.normalize's. Every other call
// (lists, keyword arguments, non-ASCII text, bad arguments) goes to the Python implementation
// it wraps, which owns the policy and the error messages.
PyObject* g_normalize_impl = nullptr;  // strong reference, kept for the process
PyObject* g_form_names[4] = {};        // interned "NFC", "NFD", "NFKC", "NFKD"
PyMethodDef g_normalize_def = {};
std::string* g_normalize_doc = nullptr;

bool is_form_name(PyObject* form) {
  for (PyObject* name : g_form_names) {
    if (form == name) return true;
  }
  if (!PyUnicode_CheckExact(form)) return false;
  for (PyObject* name : g_form_names) {
    if (PyUnicode_Compare(form, name) == 0) return true;
  }
  PyErr_Clear();
  return false;
}

PyObject* normalize_entry(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (kwnames == nullptr && (nargs == 1 || nargs == 2) && PyUnicode_CheckExact(args[0]) &&
      PyUnicode_IS_ASCII(args[0]) && (nargs == 1 || is_form_name(args[1]))) {
    Py_INCREF(args[0]);
    return args[0];
  }
  return PyObject_Vectorcall(g_normalize_impl, args, static_cast<size_t>(nargs), kwnames);
}

py::object make_normalize_entry(py::function impl, const std::string& doc) {
  if (g_normalize_impl == nullptr) {
    const char* names[4] = {"NFC", "NFD", "NFKC", "NFKD"};
    for (int i = 0; i < 4; ++i) {
      g_form_names[i] = PyUnicode_InternFromString(names[i]);
      if (g_form_names[i] == nullptr) throw py::error_already_set();
    }
    g_normalize_doc = new std::string(doc);  // ml_doc must outlive the function: kept
    g_normalize_def.ml_name = "normalize";
    g_normalize_def.ml_meth = reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(&normalize_entry));
    g_normalize_def.ml_flags = METH_FASTCALL | METH_KEYWORDS;
    g_normalize_def.ml_doc = g_normalize_doc->c_str();
  } else {
    Py_DECREF(g_normalize_impl);
  }
  g_normalize_impl = impl.inc_ref().ptr();
  py::str module_name("fastprep");
  PyObject* fn = PyCFunction_NewEx(&g_normalize_def, nullptr, module_name.ptr());
  if (fn == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(fn);
}

}  // namespace

void bind_normalize(py::module_& m) {
  m.def("make_normalize_entry", &make_normalize_entry, py::arg("impl"), py::arg("doc"),
        "fastprep.normalize as a C function: ASCII str with a valid form returns at once, anything\n"
        "else calls impl(*args, **kwargs). doc becomes its __doc__ (first line: the signature).");
  m.def("normalize_str", &normalize_str, py::arg("text"), py::arg("form"),
        "Unicode normalization of one str into form 'NFC', 'NFD', 'NFKC' or 'NFKD'. Returns the same\n"
        "object when it is already normal. Lone surrogates raise ValueError.");
  m.def("normalize_list", &normalize_list, py::arg("texts"), py::arg("form"),
        "normalize_str over a list of str in one call (GIL released; large lists use all cores).");
  m.def("normalize_utf8", &normalize_utf8, py::arg("data"), py::arg("form"),
        "Normalizes UTF-8 bytes; returns the same bytes object when already normal. Invalid UTF-8\n"
        "raises ValueError naming the byte offset.");
  m.def("is_normalized", &is_normalized, py::arg("text"), py::arg("form"),
        "Whether a str is already in the given normalization form.");
  m.attr("NORMALIZATION_UNICODE_VERSION") = NormalizationUnicodeVersion();
}

}  // namespace fastprep::bindings
