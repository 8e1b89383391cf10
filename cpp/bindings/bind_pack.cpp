// Placeholder: replaced by the pack component's bindings.
#include <pybind11/pybind11.h>
namespace fastprep::bindings {
void bind_pack(pybind11::module_& m) { (void)m; }
}  // namespace fastprep::bindings
