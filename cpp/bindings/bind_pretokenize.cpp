// Bindings for the pre-tokenizers: split text with a hand-written lexer, recognise known patterns.
#include <pybind11/pybind11.h>

#include <string>
#include <string_view>
#include <vector>

#include "errors.h"
#include "fastprep/pretokenize.h"
#include "fastprep/status.h"

namespace py = pybind11;

namespace fastprep::bindings {
namespace {

PreTokenizerKind kind_from_name(std::string_view name) {
  for (PreTokenizerKind kind : {PreTokenizerKind::kCl100k, PreTokenizerKind::kO200k, PreTokenizerKind::kGpt2,
                                PreTokenizerKind::kCl100kLegacy}) {
    if (name == pretokenizer_kind_name(kind)) return kind;
  }
  raise_if_error(Status(ErrorCode::kInvalidArgument,
                        "pretokenize: unknown lexer kind '" + std::string(name) +
                            "' (expected cl100k_base, o200k_base, gpt2 or cl100k_base_legacy)"));
  return PreTokenizerKind::kNone;
}

// UTF-8 view of a str (strict: lone surrogates raise UnicodeEncodeError, a ValueError).
std::string_view utf8_of(const py::str& text) {
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(text.ptr(), &size);
  if (data == nullptr) throw py::error_already_set();
  return {data, static_cast<size_t>(size)};
}

py::list split_pieces(std::string_view kind_name, const py::str& text) {
  const NextPieceFn next_piece = next_piece_fn(kind_from_name(kind_name));
  const std::string_view utf8 = utf8_of(text);
  const auto* data = reinterpret_cast<const uint8_t*>(utf8.data());
  const size_t n = utf8.size();
  std::vector<size_t> ends;
  {
    py::gil_scoped_release release;
    ends.reserve(n / 4 + 1);
    for (size_t pos = 0; pos < n;) {
      pos = next_piece(data, n, pos);
      ends.push_back(pos);
    }
  }
  py::list pieces(ends.size());
  size_t start = 0;
  for (size_t i = 0; i < ends.size(); ++i) {
    PyObject* piece = PyUnicode_DecodeUTF8(utf8.data() + start, static_cast<Py_ssize_t>(ends[i] - start), "strict");
    if (piece == nullptr) throw py::error_already_set();
    PyList_SET_ITEM(pieces.ptr(), static_cast<Py_ssize_t>(i), piece);
    start = ends[i];
  }
  return pieces;
}

py::object known_pattern_name(std::string_view pattern) {
  const char* name = pretokenizer_kind_name(known_pattern(pattern));
  if (name == nullptr) return py::none();
  return py::str(name);
}

}  // namespace

void bind_pretokenize(py::module_& m) {
  m.def("split_pieces", &split_pieces, py::arg("kind"), py::arg("text"),
        "Split text into pre-tokenizer pieces with the hand-written lexer `kind` (cl100k_base, o200k_base,\n"
        "gpt2 or cl100k_base_legacy); identical to the matches of the corresponding tiktoken regex.");
  m.def("known_pattern", &known_pattern_name, py::arg("pattern"),
        "The lexer kind name whose splits equal those of the regex `pattern`, or None when there is none.");
}

}  // namespace fastprep::bindings
