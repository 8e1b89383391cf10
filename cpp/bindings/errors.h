// The one place where core Status values become Python exceptions.
#pragma once
#include <pybind11/pybind11.h>

#include "fastprep/status.h"

namespace fastprep::bindings {

// Raises the Python exception for a failed Status (must hold the GIL); no-op when ok.
void raise_if_error(const Status& status);

}  // namespace fastprep::bindings
