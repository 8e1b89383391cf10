// pybind11 module fastprep._cuda: launches the device packing kernels on raw device pointers.
// No CuPy here: fastprep/cuda.py allocates with CuPy and passes pointers and CuPy's current
// stream; this layer only checks the launch status and maps it to RuntimeError.
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "pack_launch.h"

namespace py = pybind11;
using std::uintptr_t;

namespace {

template <class T>
T* ptr(uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

void check(int error, const char* what) {
  if (error != 0) {
    throw std::runtime_error(std::string("fastprep._cuda: ") + what + " failed: " +
                             fastprep_cuda::error_string(error));
  }
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "CUDA kernels of fastprep (device packing); use fastprep.cuda, not this module.";

  m.def(
      "device_count",
      []() {
        int count = 0;
        const int error = fastprep_cuda::device_count(&count);
        const std::string message = error == 0 ? "" : fastprep_cuda::error_string(error);
        return py::make_tuple(count, message);
      },
      "(number of CUDA devices, '' or the CUDA runtime's error message).");
  m.def("runtime_version", &fastprep_cuda::runtime_version,
        "CUDA runtime version this module was built with (e.g. 13000).");

  m.def(
      "scan",
      [](uintptr_t flat_ids, bool flat_wide, int64_t flat_length, uintptr_t offsets,
         int64_t n_seqs, int64_t max_length, bool truncate_left, int64_t largest_id,
         uintptr_t kept_begin, uintptr_t kept_length, uintptr_t stats, uintptr_t stream) {
        int error;
        {
          py::gil_scoped_release release;
          error = fastprep_cuda::launch_scan(
              ptr<const void>(flat_ids), flat_wide, flat_length, ptr<const int64_t>(offsets),
              n_seqs, max_length, truncate_left, largest_id, ptr<int64_t>(kept_begin),
              ptr<int64_t>(kept_length), ptr<unsigned long long>(stats), stream);
        }
        check(error, "scan kernel launch");
      },
      py::arg("flat_ids"), py::arg("flat_wide"), py::arg("flat_length"), py::arg("offsets"),
      py::arg("n_seqs"), py::arg("max_length"), py::arg("truncate_left"), py::arg("largest_id"),
      py::arg("kept_begin"), py::arg("kept_length"), py::arg("stats"), py::arg("stream"),
      "Validates offsets (int64) and ids; writes kept spans and "
      "stats [error bits, longest, total].");

  m.def(
      "padded",
      [](uintptr_t flat_ids, bool flat_wide, uintptr_t kept_begin, uintptr_t kept_length,
         int64_t n_seqs, int64_t width, int64_t pad_id, bool pad_left, bool out_wide,
         uintptr_t input_ids, uintptr_t attention_mask, uintptr_t position_ids,
         uintptr_t stream) {
        int error;
        {
          py::gil_scoped_release release;
          error = fastprep_cuda::launch_padded(
              ptr<const void>(flat_ids), flat_wide, ptr<const int64_t>(kept_begin),
              ptr<const int64_t>(kept_length), n_seqs, width, pad_id, pad_left, out_wide,
              ptr<void>(input_ids), ptr<void>(attention_mask), ptr<void>(position_ids), stream);
        }
        check(error, "padded kernel launch");
      },
      py::arg("flat_ids"), py::arg("flat_wide"), py::arg("kept_begin"), py::arg("kept_length"),
      py::arg("n_seqs"), py::arg("width"), py::arg("pad_id"), py::arg("pad_left"),
      py::arg("out_wide"), py::arg("input_ids"), py::arg("attention_mask"),
      py::arg("position_ids"), py::arg("stream"),
      "Fills the [n_seqs, width] padded outputs from the kept spans.");

  m.def(
      "varlen",
      [](uintptr_t flat_ids, bool flat_wide, uintptr_t kept_begin, uintptr_t cu_seqlens,
         int64_t n_seqs, int64_t total, bool out_wide, uintptr_t input_ids,
         uintptr_t position_ids, uintptr_t stream) {
        int error;
        {
          py::gil_scoped_release release;
          error = fastprep_cuda::launch_varlen(
              ptr<const void>(flat_ids), flat_wide, ptr<const int64_t>(kept_begin),
              ptr<const int32_t>(cu_seqlens), n_seqs, total, out_wide, ptr<void>(input_ids),
              ptr<void>(position_ids), stream);
        }
        check(error, "varlen kernel launch");
      },
      py::arg("flat_ids"), py::arg("flat_wide"), py::arg("kept_begin"), py::arg("cu_seqlens"),
      py::arg("n_seqs"), py::arg("total"), py::arg("out_wide"), py::arg("input_ids"),
      py::arg("position_ids"), py::arg("stream"),
      "Fills the [total] varlen input_ids / position_ids (cu_seqlens int32).");
}
