// Placeholder: replaced by the pretokenize component's bindings.
#include <pybind11/pybind11.h>
namespace fastprep::bindings {
void bind_pretokenize(pybind11::module_& m) { (void)m; }
}  // namespace fastprep::bindings
