// pybind11 module fastprep._cuda: launches the device packing and BERT WordPiece kernels on raw
// device pointers, and builds the WordPiece tables blob. No CuPy here: fastprep/cuda.py allocates
// with CuPy and passes pointers and CuPy's current stream; this layer only checks the launch
// status and maps it to RuntimeError (a malformed spec or blob to ValueError).
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "pack_launch.h"
#include "wordpiece_launch.h"
#include "wordpiece_tables.h"

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

// The host copy of a tables blob's header, checked before any kernel reads the blob.
const int64_t* tables_header(uintptr_t address) {
  const int64_t* header = ptr<const int64_t>(address);
  if (header == nullptr || header[fastprep_cuda::kMagic] != fastprep_cuda::kTablesMagic) {
    throw py::value_error("fastprep._cuda: header is not a WordPiece tables blob");
  }
  return header;
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() =
      "CUDA kernels of fastprep (device packing, BERT WordPiece); use fastprep.cuda, not this "
      "module.";

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

  m.def(
      "wordpiece_tables",
      [](const py::bytes& spec) {
        const std::string data = spec;
        std::vector<uint8_t> blob;
        std::string error;
        {
          py::gil_scoped_release release;
          fastprep_cuda::WordPieceSpec parsed;
          error = fastprep_cuda::parse_wordpiece_spec(
              reinterpret_cast<const uint8_t*>(data.data()), data.size(), &parsed);
          if (error.empty()) error = fastprep_cuda::build_wordpiece_tables(parsed, &blob);
        }
        if (!error.empty()) throw py::value_error("fastprep._cuda: " + error);
        return py::bytes(reinterpret_cast<const char*>(blob.data()), blob.size());
      },
      py::arg("spec"),
      "The WordPiece tables blob (cuda/wordpiece_tables.h) of a serialized spec "
      "(fastprep.cuda builds it from a tokenizer.json).");

  m.def(
      "wordpiece_segments",
      [](uintptr_t blob, uintptr_t header, uintptr_t text, int64_t n_bytes, uintptr_t text_offsets,
         int64_t n_texts, uintptr_t covered, uintptr_t flags, uintptr_t stream) {
        const int64_t* h = tables_header(header);
        int error;
        {
          py::gil_scoped_release release;
          error = fastprep_cuda::launch_wordpiece_segments(
              ptr<const uint8_t>(blob), h, ptr<const uint8_t>(text), n_bytes,
              ptr<const int64_t>(text_offsets), n_texts, ptr<int32_t>(covered),
              ptr<uint8_t>(flags), stream);
        }
        check(error, "WordPiece segment kernel launch");
      },
      py::arg("blob"), py::arg("header"), py::arg("text"), py::arg("n_bytes"),
      py::arg("text_offsets"), py::arg("n_texts"), py::arg("covered"), py::arg("flags"),
      py::arg("stream"),
      "Added-token matches (covered, int32, or 0) and segment starts (flags, uint8).");

  m.def(
      "wordpiece_count",
      [](uintptr_t blob, uintptr_t header, uintptr_t text, int64_t n_bytes, uintptr_t flags,
         uintptr_t covered, uintptr_t counts, uintptr_t stats, uintptr_t stream) {
        const int64_t* h = tables_header(header);
        int error;
        {
          py::gil_scoped_release release;
          error = fastprep_cuda::launch_wordpiece_count(
              ptr<const uint8_t>(blob), h, ptr<const uint8_t>(text), n_bytes,
              ptr<const uint8_t>(flags), ptr<const int32_t>(covered), ptr<int32_t>(counts),
              ptr<unsigned long long>(stats), stream);
        }
        check(error, "WordPiece count kernel launch");
      },
      py::arg("blob"), py::arg("header"), py::arg("text"), py::arg("n_bytes"), py::arg("flags"),
      py::arg("covered"), py::arg("counts"), py::arg("stats"), py::arg("stream"),
      "Ids per segment (counts, int32 per byte) and error stats.");

  m.def(
      "wordpiece_plan",
      [](uintptr_t text_offsets, int64_t n_texts, uintptr_t raw_inclusive, int64_t max_length,
         bool truncate_left, int64_t n_affixes, uintptr_t keep_begin, uintptr_t keep_length,
         uintptr_t final_length, uintptr_t stats, uintptr_t stream) {
        int error;
        {
          py::gil_scoped_release release;
          error = fastprep_cuda::launch_wordpiece_plan(
              ptr<const int64_t>(text_offsets), n_texts, ptr<const int64_t>(raw_inclusive),
              max_length, truncate_left, n_affixes, ptr<int64_t>(keep_begin),
              ptr<int64_t>(keep_length), ptr<int64_t>(final_length),
              ptr<unsigned long long>(stats), stream);
        }
        check(error, "WordPiece plan kernel launch");
      },
      py::arg("text_offsets"), py::arg("n_texts"), py::arg("raw_inclusive"), py::arg("max_length"),
      py::arg("truncate_left"), py::arg("n_affixes"), py::arg("keep_begin"),
      py::arg("keep_length"), py::arg("final_length"), py::arg("stats"), py::arg("stream"),
      "Per text: truncation window and final length (max_length < 0: none).");

  m.def(
      "wordpiece_write",
      [](uintptr_t blob, uintptr_t header, uintptr_t text, int64_t n_bytes, uintptr_t flags,
         uintptr_t covered, uintptr_t counts, uintptr_t raw_inclusive, uintptr_t text_offsets,
         int64_t n_texts, uintptr_t keep_begin, uintptr_t keep_length, uintptr_t final_offsets,
         uintptr_t affixes, int64_t n_prefix, int64_t n_suffix, uintptr_t out,
         uintptr_t stream) {
        const int64_t* h = tables_header(header);
        int error;
        {
          py::gil_scoped_release release;
          error = fastprep_cuda::launch_wordpiece_write(
              ptr<const uint8_t>(blob), h, ptr<const uint8_t>(text), n_bytes,
              ptr<const uint8_t>(flags), ptr<const int32_t>(covered), ptr<const int32_t>(counts),
              ptr<const int64_t>(raw_inclusive), ptr<const int64_t>(text_offsets), n_texts,
              ptr<const int64_t>(keep_begin), ptr<const int64_t>(keep_length),
              ptr<const int64_t>(final_offsets), ptr<const int32_t>(affixes), n_prefix, n_suffix,
              ptr<int32_t>(out), stream);
        }
        check(error, "WordPiece write kernel launch");
      },
      py::arg("blob"), py::arg("header"), py::arg("text"), py::arg("n_bytes"), py::arg("flags"),
      py::arg("covered"), py::arg("counts"), py::arg("raw_inclusive"), py::arg("text_offsets"),
      py::arg("n_texts"), py::arg("keep_begin"), py::arg("keep_length"),
      py::arg("final_offsets"), py::arg("affixes"), py::arg("n_prefix"), py::arg("n_suffix"),
      py::arg("out"), py::arg("stream"),
      "Writes every text's affixed, truncated ids at final_offsets (int32 out).");
}
