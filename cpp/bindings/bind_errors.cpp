// Maps fastprep::ErrorCode to Python exception types (ValueError, KeyError, OSError, ...).
#include "errors.h"

namespace py = pybind11;

namespace fastprep::bindings {

void raise_if_error(const Status& status) {
  if (status.ok()) return;
  PyObject* type = PyExc_RuntimeError;
  switch (status.code()) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kInvalidUtf8:
    case ErrorCode::kLimitExceeded:
    case ErrorCode::kUnsupported:
      type = PyExc_ValueError;
      break;
    case ErrorCode::kOutOfRange:
      type = PyExc_KeyError;
      break;
    case ErrorCode::kIo:
      type = PyExc_OSError;
      break;
    case ErrorCode::kOk:
    case ErrorCode::kInternal:
      type = PyExc_RuntimeError;
      break;
  }
  PyErr_SetString(type, status.message().c_str());
  throw py::error_already_set();
}

void bind_errors(py::module_& m) { (void)m; }

}  // namespace fastprep::bindings
