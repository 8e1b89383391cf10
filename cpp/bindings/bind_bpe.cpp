// Python bindings for the byte-level BPE encoder: argument conversion with the GIL held, all
// tokenization with the GIL released, results as lists or zero-copy NumPy arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "convert.h"
#include "errors.h"
#include "fastprep/bpe.h"
#include "fastprep/pack.h"
#include "fastprep/pretokenize.h"

namespace py = pybind11;

namespace fastprep::bindings {
namespace {

// Hands a vector's buffer to NumPy without copying: the capsule owns the heap vector.
py::array_t<uint32_t> to_numpy(std::vector<uint32_t>&& ids) {
  auto* owned = new std::vector<uint32_t>(std::move(ids));
  py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<uint32_t>*>(p); });
  return py::array_t<uint32_t>({static_cast<py::ssize_t>(owned->size())}, {sizeof(uint32_t)},
                               owned->data(), owner);
}

template <typename T>
py::array_t<T> owned_array(std::vector<T>&& data, std::vector<py::ssize_t> shape) {
  auto* owned = new std::vector<T>(std::move(data));
  py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, owned->data(), owner);
}

// Tokenized rows as int32 spans for the packing kernels (ids are ranks < 2^31, checked at load).
std::vector<pack::IdSpan> spans_of(const std::vector<std::vector<uint32_t>>& rows) {
  std::vector<pack::IdSpan> spans(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    spans[i].data = rows[i].data();
    spans[i].length = static_cast<int64_t>(rows[i].size());
    spans[i].width = pack::IdWidth::k32;
  }
  return spans;
}

template <typename Out>
py::dict pack_rows(const std::vector<std::vector<uint32_t>>& rows, bool varlen,
                   const pack::PaddedOptions& padded, Status* status) {
  std::vector<pack::IdSpan> spans = spans_of(rows);
  const int64_t batch = static_cast<int64_t>(rows.size());
  py::dict out;
  if (varlen) {
    pack::VarlenOptions options;
    options.max_length = padded.max_length;
    options.truncation_side = padded.truncation_side;
    int64_t total = 0, max_seqlen = 0;
    std::vector<Out> ids, positions;
    std::vector<int32_t> cu(static_cast<size_t>(batch) + 1);
    {
      py::gil_scoped_release release;
      *status = pack::varlen_sizes(spans.data(), batch, options, &total, &max_seqlen);
      if (status->ok()) {
        ids.resize(static_cast<size_t>(total));
        positions.resize(static_cast<size_t>(total));
        *status = pack::fill_varlen<Out>(spans.data(), batch, options, ids.data(), cu.data(),
                                         positions.data());
      }
    }
    if (!status->ok()) return out;
    out["input_ids"] = owned_array(std::move(ids), {total});
    out["cu_seqlens"] = owned_array(std::move(cu), {batch + 1});
    out["position_ids"] = owned_array(std::move(positions), {total});
    out["max_seqlen"] = py::int_(max_seqlen);
    return out;
  }
  int64_t width = 0;
  std::vector<Out> ids, mask, positions;
  {
    py::gil_scoped_release release;
    *status = pack::padded_width(spans.data(), batch, padded, &width);
    if (status->ok()) {
      const size_t n = static_cast<size_t>(batch * width);
      ids.resize(n);
      mask.resize(n);
      positions.resize(n);
      *status = pack::fill_padded<Out>(spans.data(), batch, padded, width, ids.data(), mask.data(),
                                       positions.data());
    }
  }
  if (!status->ok()) return out;
  out["input_ids"] = owned_array(std::move(ids), {batch, width});
  out["attention_mask"] = owned_array(std::move(mask), {batch, width});
  out["position_ids"] = owned_array(std::move(positions), {batch, width});
  return out;
}

std::vector<uint8_t> to_mask(const py::bytes& mask, size_t n_specials) {
  char* data = nullptr;
  Py_ssize_t size = 0;
  if (PyBytes_AsStringAndSize(mask.ptr(), &data, &size) != 0) throw py::error_already_set();
  if (static_cast<size_t>(size) != n_specials) {
    throw py::value_error("special-token mask has the wrong length");
  }
  return std::vector<uint8_t>(data, data + size);
}

bool any_set(const std::vector<uint8_t>& mask) {
  for (uint8_t v : mask) {
    if (v) return true;
  }
  return false;
}

// Token ids from a list/tuple of ints or a 1-D integer array. Values outside uint32 -> KeyError
// (the id cannot be in the vocabulary), non-integers -> TypeError.
std::vector<uint32_t> ids_from_python(py::handle seq) {
  std::vector<uint32_t> ids;
  if (py::isinstance<py::array>(seq)) {
    py::array arr = py::reinterpret_borrow<py::array>(seq);
    if (arr.ndim() != 1) throw py::value_error("token ids must be a 1-D array");
    char kind = arr.dtype().kind();
    if (kind != 'i' && kind != 'u') {
      throw py::type_error("token ids must be integers, got an array of dtype " +
                           std::string(py::str(arr.dtype())));
    }
    py::array_t<int64_t, py::array::forcecast> as64(arr);
    auto view = as64.unchecked<1>();
    ids.reserve(static_cast<size_t>(view.shape(0)));
    for (py::ssize_t i = 0; i < view.shape(0); ++i) {
      int64_t v = view(i);
      if (v < 0 || v > 0xFFFFFFFFLL) {
        PyErr_SetObject(PyExc_KeyError,
                        py::str("Invalid token for decoding: {}").format(v).ptr());
        throw py::error_already_set();
      }
      ids.push_back(static_cast<uint32_t>(v));
    }
    return ids;
  }
  py::sequence items = py::reinterpret_borrow<py::sequence>(seq);
  ids.reserve(items.size());
  for (py::handle item : items) {
    if (!PyLong_Check(item.ptr())) {
      throw py::type_error(std::string("token ids must be int, got ") + Py_TYPE(item.ptr())->tp_name);
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(item.ptr(), &overflow);
    if (overflow != 0 || v < 0 || v > 0xFFFFFFFFLL) {
      PyErr_SetObject(PyExc_KeyError,
                      py::str("Invalid token for decoding: {}").format(item).ptr());
      throw py::error_already_set();
    }
    ids.push_back(static_cast<uint32_t>(v));
  }
  return ids;
}

class PyBpeEncoder {
 public:
  PyBpeEncoder(const py::bytes& rank_data, const std::string& pattern,
               const std::vector<std::pair<std::string, uint32_t>>& specials) {
    std::string_view data = rank_data;
    std::vector<SpecialToken> special_tokens;
    special_tokens.reserve(specials.size());
    for (const auto& [text, id] : specials) special_tokens.push_back(SpecialToken{text, id});
    Status status;
    {
      py::gil_scoped_release release;
      std::unique_ptr<BpeRanks> ranks;
      status = BpeRanks::FromTiktoken(data, &ranks);
      if (status.ok()) {
        status = BpeEncoder::Create(std::shared_ptr<const BpeRanks>(std::move(ranks)),
                                    known_pattern(pattern), std::move(special_tokens), &encoder_);
      }
    }
    raise_if_error(status);
    if (encoder_->ranks().size() == 0) throw py::value_error("rank file holds no tokens");
    n_specials_ = encoder_->specials().size();
    max_id_ = encoder_->ranks().max_rank();
    for (const SpecialToken& special : encoder_->specials()) max_id_ = std::max(max_id_, special.id);
    // Prebuilt ints for every ordinary id: list building then costs an INCREF per id.
    ints_ = std::make_unique<IntCache>(std::min<size_t>(size_t{encoder_->ranks().max_rank()} + 1,
                                                        size_t{1} << 20));
  }

  bool has_lexer() const { return encoder_->kind() != PreTokenizerKind::kNone; }

  py::list encode_ordinary(py::handle text, size_t num_threads) const {
    std::string_view view = text_utf8(text);
    std::vector<uint32_t> ids;
    Status status;
    {
      MaybeReleaseGil release(view.size());
      status = encoder_->EncodeOrdinary(view, &ids, num_threads);
    }
    raise_if_error(status);
    return ids_list(ids, ints_.get());
  }

  // Returns the ids, or (when a disallowed special occurs) the index of that special as an int.
  py::object encode(py::handle text, const py::bytes& allowed, const py::bytes& disallowed,
                    size_t num_threads, bool as_numpy) const {
    std::string_view view = text_utf8(text);
    std::vector<uint8_t> allowed_mask = to_mask(allowed, n_specials_);
    std::vector<uint8_t> disallowed_mask = to_mask(disallowed, n_specials_);
    std::vector<uint32_t> ids;
    Status status;
    bool found = false;
    size_t special_index = 0;
    {
      MaybeReleaseGil release(view.size());
      size_t offset = 0;
      if (any_set(disallowed_mask)) {
        found = encoder_->FindSpecial(view, disallowed_mask, &special_index, &offset);
      }
      if (!found) status = encoder_->Encode(view, allowed_mask, &ids, num_threads);
    }
    if (found) return py::int_(special_index);
    raise_if_error(status);
    if (as_numpy) return to_numpy(std::move(ids));
    return ids_list(ids, ints_.get());
  }

  // Token count, or -(index + 1) when a disallowed special occurs.
  long long count(py::handle text, const py::bytes& allowed, const py::bytes& disallowed) const {
    std::string_view view = text_utf8(text);
    std::vector<uint8_t> allowed_mask = to_mask(allowed, n_specials_);
    std::vector<uint8_t> disallowed_mask = to_mask(disallowed, n_specials_);
    size_t n = 0;
    Status status;
    bool found = false;
    size_t special_index = 0;
    {
      MaybeReleaseGil release(view.size());
      size_t offset = 0;
      if (any_set(disallowed_mask)) {
        found = encoder_->FindSpecial(view, disallowed_mask, &special_index, &offset);
      }
      if (!found) status = encoder_->Count(view, allowed_mask, &n);
    }
    if (found) return -static_cast<long long>(special_index) - 1;
    raise_if_error(status);
    return static_cast<long long>(n);
  }

  // Returns a list of id lists, or (text index, special index) when a text holds a disallowed
  // special token.
  py::object encode_batch(const py::object& texts_in, const py::bytes& allowed,
                          const py::bytes& disallowed, size_t num_threads) const {
    const py::list texts = owned_texts(texts_in);
    std::vector<std::vector<uint32_t>> results;
    if (py::object refused = tokenize_batch(texts, allowed, disallowed, num_threads, &results)) {
      return refused;
    }
    py::list out(results.size());
    for (size_t i = 0; i < results.size(); ++i) {
      out[i] = ids_list(results[i], ints_.get());
      std::vector<uint32_t>().swap(results[i]);
    }
    return std::move(out);
  }

  // Tokenize a batch and pack it into model inputs (padded or varlen) in one native call; the
  // GIL is released for the tokenization and for the packing. Returns the arrays as a dict, or
  // (text index, special index) when a text holds a disallowed special token.
  py::object encode_batch_packed(const py::object& texts_in, const py::bytes& allowed,
                                 const py::bytes& disallowed, size_t num_threads, bool varlen,
                                 int64_t pad_id, bool pad_left, int64_t max_length,
                                 bool truncate_left, int64_t pad_to_multiple_of, bool wide) const {
    const py::list texts = owned_texts(texts_in);
    if (texts.size() == 0) throw py::value_error("empty batch");
    if (max_id_ > 0x7FFFFFFFu) {
      throw py::value_error("this vocabulary has ids >= 2**31, which packing does not support");
    }
    std::vector<std::vector<uint32_t>> rows;
    if (py::object refused = tokenize_batch(texts, allowed, disallowed, num_threads, &rows)) {
      return refused;
    }
    Status status;
    pack::PaddedOptions options;
    options.pad_id = pad_id;
    options.pad_side = pad_left ? pack::Side::kLeft : pack::Side::kRight;
    options.max_length = max_length;
    options.truncation_side = truncate_left ? pack::Side::kLeft : pack::Side::kRight;
    options.pad_to_multiple_of = pad_to_multiple_of;
    options.max_threads = num_threads;
    py::dict out = wide ? pack_rows<int64_t>(rows, varlen, options, &status)
                        : pack_rows<int32_t>(rows, varlen, options, &status);
    raise_if_error(status);
    return std::move(out);
  }

  // General path: pieces already split by the Python regex engine.
  py::list encode_pieces(const py::object& pieces_in) const {
    const py::list pieces = owned_texts(pieces_in);
    std::string joined;
    std::vector<uint32_t> starts, ends;
    starts.reserve(pieces.size());
    ends.reserve(pieces.size());
    for (py::handle piece : pieces) {
      std::string_view view = text_utf8(piece);
      starts.push_back(static_cast<uint32_t>(joined.size()));
      joined.append(view);
      ends.push_back(static_cast<uint32_t>(joined.size()));
      if (joined.size() > 0xFFFFFFF0u) throw py::value_error("input too large (over 4 GiB)");
    }
    std::vector<uint32_t> ids;
    Status status;
    {
      py::gil_scoped_release release;
      status = encoder_->EncodePieces(joined, starts.data(), ends.data(), starts.size(), &ids);
    }
    raise_if_error(status);
    return ids_list(ids, ints_.get());
  }

  py::bytes decode_bytes(py::handle ids_obj) const {
    std::vector<uint32_t> ids = ids_from_python(ids_obj);
    std::string out;
    Status status;
    {
      py::gil_scoped_release release;
      status = encoder_->DecodeBytes(ids.data(), ids.size(), &out);
    }
    raise_if_error(status);
    return py::bytes(out);
  }

  py::bytes token_bytes(long long id) const {
    std::string_view bytes;
    if (id < 0 || id > 0xFFFFFFFFLL || !encoder_->TokenBytes(static_cast<uint32_t>(id), &bytes)) {
      PyErr_SetObject(PyExc_KeyError, py::str("Invalid token for decoding: {}").format(id).ptr());
      throw py::error_already_set();
    }
    return py::bytes(bytes.data(), bytes.size());
  }

  // Rank of exactly these bytes among the ordinary tokens, or None.
  py::object rank_of(const py::bytes& token) const {
    std::string_view view = token;
    uint32_t rank = encoder_->ranks().Rank(reinterpret_cast<const uint8_t*>(view.data()), view.size());
    if (rank == kNoRank) return py::none();
    return py::int_(rank);
  }

  size_t n_ranks() const { return encoder_->ranks().size(); }
  uint32_t max_rank() const { return encoder_->ranks().max_rank(); }

 private:
  // The batch body shared by encode_batch and encode_batch_packed: with the GIL released, refuse
  // a batch holding a disallowed special, else encode it. Returns (text index, special index)
  // for a refusal, or None with `rows` filled.
  py::object tokenize_batch(const py::list& texts, const py::bytes& allowed,
                            const py::bytes& disallowed, size_t num_threads,
                            std::vector<std::vector<uint32_t>>* rows) const {
    std::vector<std::string_view> views;
    views.reserve(texts.size());
    for (py::handle text : texts) views.push_back(text_utf8(text));
    std::vector<uint8_t> allowed_mask = to_mask(allowed, n_specials_);
    std::vector<uint8_t> disallowed_mask = to_mask(disallowed, n_specials_);
    Status status;
    bool found = false;
    size_t text_index = 0, special_index = 0;
    {
      py::gil_scoped_release release;
      if (any_set(disallowed_mask)) {
        for (size_t i = 0; i < views.size() && !found; ++i) {
          size_t offset = 0;
          if (encoder_->FindSpecial(views[i], disallowed_mask, &special_index, &offset)) {
            found = true;
            text_index = i;
          }
        }
      }
      if (!found) status = encoder_->EncodeBatch(views, allowed_mask, rows, num_threads);
    }
    if (found) return py::make_tuple(text_index, special_index);
    raise_if_error(status);
    return py::object();
  }

  std::unique_ptr<BpeEncoder> encoder_;
  size_t n_specials_ = 0;
  uint32_t max_id_ = 0;
  std::unique_ptr<IntCache> ints_;
};

}  // namespace

void bind_bpe(py::module_& m) {
  py::class_<PyBpeEncoder>(m, "BpeEncoder",
                           "Byte-level BPE over a tiktoken rank file (immutable, thread-safe).")
      .def(py::init<const py::bytes&, const std::string&,
                    const std::vector<std::pair<std::string, uint32_t>>&>(),
           py::arg("rank_data"), py::arg("pattern"), py::arg("specials"),
           "Parse a tiktoken rank file's bytes; choose the hand-written lexer for `pattern` if "
           "one matches exactly (see has_lexer). `specials` is a list of (text, id).")
      .def_property_readonly("has_lexer", &PyBpeEncoder::has_lexer,
                             "True when a hand-written lexer handles the pattern natively.")
      .def("encode_ordinary", &PyBpeEncoder::encode_ordinary, py::arg("text"),
           py::arg("num_threads") = 0,
           "Ids of `text` with no special-token handling. num_threads=0: all cores for long text.")
      .def("encode", &PyBpeEncoder::encode, py::arg("text"), py::arg("allowed"),
           py::arg("disallowed"), py::arg("num_threads") = 0, py::arg("as_numpy") = false,
           "Ids of `text` (list, or uint32 array if as_numpy); masks are bytes, one per special. "
           "Returns the int index of a disallowed special token instead if one occurs.")
      .def("count", &PyBpeEncoder::count, py::arg("text"), py::arg("allowed"),
           py::arg("disallowed"),
           "Number of ids encode() would return, or -(index+1) of a disallowed special.")
      .def("encode_batch", &PyBpeEncoder::encode_batch, py::arg("texts"), py::arg("allowed"),
           py::arg("disallowed"), py::arg("num_threads") = 0,
           "Encode many texts on the native thread pool with the GIL released. Returns "
           "(text index, special index) instead if a text holds a disallowed special.")
      .def("encode_batch_packed", &PyBpeEncoder::encode_batch_packed, py::arg("texts"),
           py::arg("allowed"), py::arg("disallowed"), py::arg("num_threads"), py::arg("varlen"),
           py::arg("pad_id"), py::arg("pad_left"), py::arg("max_length"), py::arg("truncate_left"),
           py::arg("pad_to_multiple_of"), py::arg("wide"),
           "Tokenize a batch and pack it (padded: input_ids/attention_mask/position_ids [B, L]; "
           "varlen: input_ids/cu_seqlens/position_ids/max_seqlen) in one call.")
      .def("encode_pieces", &PyBpeEncoder::encode_pieces, py::arg("pieces"),
           "BPE-encode pre-split pieces (the general pre-tokenizer path).")
      .def("decode_bytes", &PyBpeEncoder::decode_bytes, py::arg("ids"),
           "Concatenated bytes of the ids; KeyError for an id not in the vocabulary.")
      .def("token_bytes", &PyBpeEncoder::token_bytes, py::arg("id"),
           "Bytes of one id (ordinary or special); KeyError if unknown.")
      .def("rank_of", &PyBpeEncoder::rank_of, py::arg("token"),
           "Rank of exactly these bytes, or None.")
      .def_property_readonly("n_ranks", &PyBpeEncoder::n_ranks)
      .def_property_readonly("max_rank", &PyBpeEncoder::max_rank);
}

}  // namespace fastprep::bindings
