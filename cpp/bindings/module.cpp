// fastprep._core: the pybind11 module. Each component binds itself in cpp/bindings/bind_<name>.cpp.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace fastprep::bindings {
void bind_errors(py::module_& m);
void bind_bpe(py::module_& m);
void bind_pretokenize(py::module_& m);
void bind_pack(py::module_& m);
void bind_normalize(py::module_& m);
void bind_hf_bpe(py::module_& m);
void bind_wordpiece(py::module_& m);
void bind_stream(py::module_& m);
}  // namespace fastprep::bindings

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastprep native kernels (private; use the fastprep package)";
  fastprep::bindings::bind_errors(m);
  fastprep::bindings::bind_bpe(m);
  fastprep::bindings::bind_pretokenize(m);
  fastprep::bindings::bind_pack(m);
  fastprep::bindings::bind_normalize(m);
  fastprep::bindings::bind_hf_bpe(m);
  fastprep::bindings::bind_wordpiece(m);
  fastprep::bindings::bind_stream(m);
}
