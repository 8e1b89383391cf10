// Python bindings for the fused BERT encoder (BertNormalizer -> BertPreTokenizer -> WordPiece):
// arguments converted with the GIL held, all tokenization with it released.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "convert.h"
#include "errors.h"
#include "fastprep/thread_pool.h"
#include "fastprep/wordpiece.h"

namespace py = pybind11;

namespace fastprep::bindings {
namespace {

using AddedTuple = std::tuple<std::string, uint32_t, bool, bool, bool, bool, bool>;

// Texts per pool task: enough bytes that task hand-out stays negligible.
constexpr size_t kTaskBytes = 32 * 1024;

class PyBertEncoder {
 public:
  PyBertEncoder(const std::vector<std::string>& vocab, std::string unk_token, std::string prefix,
                size_t max_input_chars_per_word, bool clean_text, bool handle_chinese_chars,
                std::optional<bool> strip_accents, bool lowercase, const std::vector<AddedTuple>& added) {
    std::unique_ptr<WordPieceModel> model;
    raise_if_error(WordPieceModel::Create(vocab, std::move(unk_token), std::move(prefix),
                                          max_input_chars_per_word, &model));
    BertNormalizerOptions options;
    options.clean_text = clean_text;
    options.handle_chinese_chars = handle_chinese_chars;
    options.lowercase = lowercase;
    options.strip_accents = strip_accents.value_or(lowercase);  // HF: None follows lowercase
    std::vector<AddedTokenSpec> specs;
    specs.reserve(added.size());
    for (const auto& t : added) {
      AddedTokenSpec s;
      std::tie(s.content, s.id, s.lstrip, s.rstrip, s.single_word, s.normalized, s.special) = t;
      specs.push_back(std::move(s));
    }
    std::unique_ptr<BertEncoder> enc;
    raise_if_error(BertEncoder::Create(std::shared_ptr<const WordPieceModel>(std::move(model)), options,
                                       std::move(specs), &enc));
    enc_ = std::move(enc);
    uint32_t max_id = static_cast<uint32_t>(vocab.size());
    for (const auto& t : added) {
      if (std::get<1>(t) < vocab.size() + 4096) max_id = std::max(max_id, std::get<1>(t) + 1);
    }
    id_ints_ = std::make_unique<IntCache>(max_id);
  }

  py::tuple encode(py::handle text) const {
    std::string_view s = str_utf8(text);
    std::vector<uint32_t> ids, offsets;
    Status st;
    {
      MaybeReleaseGil release(s.size());
      st = enc_->Encode(s, &ids, &offsets);
    }
    raise_if_error(st);
    return py::make_tuple(ids_list(ids, id_ints_.get()), offsets_list(offsets));
  }

  py::list encode_ids(py::handle text) const {
    std::string_view s = str_utf8(text);
    std::vector<uint32_t> ids;
    Status st;
    {
      MaybeReleaseGil release(s.size());
      st = enc_->Encode(s, &ids, nullptr);
    }
    raise_if_error(st);
    return ids_list(ids, id_ints_.get());
  }

  py::list encode_batch(const py::sequence& texts, size_t num_threads) const {
    std::vector<std::vector<uint32_t>> ids, offsets;
    run_batch(texts, num_threads, &ids, &offsets);
    py::list out(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      out[i] = py::make_tuple(ids_list(ids[i], id_ints_.get()), offsets_list(offsets[i]));
    }
    return out;
  }

  py::list encode_ids_batch(const py::sequence& texts, size_t num_threads) const {
    std::vector<std::vector<uint32_t>> ids;
    run_batch(texts, num_threads, &ids, nullptr);
    py::list out(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) out[i] = ids_list(ids[i], id_ints_.get());
    return out;
  }

  // Tokenize, post-process (template + HF truncation) and pack a batch of single sequences in one
  // call, with the GIL released once. None (nothing computed) when an item is not a str, so the
  // caller can take its general path.
  py::object encode_batch_packed(const py::sequence& texts, size_t num_threads, const py::dict& spec) const {
    const FeatureOptions options = feature_options(spec, num_threads);
    const py::list owned = owned_texts(texts);
    if (owned.empty()) throw py::value_error("empty batch");
    for (py::handle t : owned) {
      if (!PyUnicode_Check(t.ptr())) return py::none();
    }
    std::vector<std::vector<uint32_t>> ids;
    FeatureArrays arrays;
    run_batch(owned, num_threads, &ids, nullptr, &options, &arrays);
    return arrays.ToDict();
  }

  uint32_t token_to_id(const std::string& token) const {
    uint32_t id = enc_->model().TokenToId(token);
    if (id == kNoToken) throw py::key_error(token);
    return id;
  }

  size_t vocab_size() const { return enc_->model().vocab_size(); }

 private:
  // Encodes texts on the pool with the GIL released. With `features`, each row is also finished
  // (features::finish_single) and the batch packed into *arrays within that same release.
  void run_batch(const py::sequence& texts, size_t num_threads, std::vector<std::vector<uint32_t>>* ids,
                 std::vector<std::vector<uint32_t>>* offsets, const FeatureOptions* features = nullptr,
                 FeatureArrays* arrays = nullptr) const {
    const py::list owned = owned_texts(texts);  // keeps every item alive while the GIL is released
    std::vector<std::string_view> views;
    views.reserve(owned.size());
    for (py::handle t : owned) views.push_back(str_utf8(t));
    const size_t n = views.size();
    ids->assign(n, {});
    if (offsets) offsets->assign(n, {});
    // Contiguous chunks of about kTaskBytes each.
    std::vector<size_t> bounds{0};
    size_t acc = 0;
    for (size_t i = 0; i < n; ++i) {
      acc += views[i].size() + 64;
      if (acc >= kTaskBytes) {
        bounds.push_back(i + 1);
        acc = 0;
      }
    }
    if (bounds.back() != n) bounds.push_back(n);
    std::vector<Status> statuses(bounds.size() > 0 ? bounds.size() - 1 : 0);
    Status pool_status, pack_status;
    {
      py::gil_scoped_release release;
      pool_status = parallel_for(statuses.size(), num_threads, [&](size_t task) {
        for (size_t i = bounds[task]; i < bounds[task + 1]; ++i) {
          Status st = enc_->Encode(views[i], &(*ids)[i], offsets ? &(*offsets)[i] : nullptr);
          if (!st.ok()) {
            statuses[task] = Status(st.code(), st.message() + " (text " + std::to_string(i) + ")");
            return;
          }
          if (features != nullptr) features::finish_single(features->single, features->truncation, &(*ids)[i]);
        }
      });
      const bool encoded = pool_status.ok() &&
                           std::all_of(statuses.begin(), statuses.end(), [](const Status& st) { return st.ok(); });
      if (features != nullptr && encoded) pack_status = arrays->Fill(*ids, *features);
    }
    raise_if_error(pool_status);
    for (const Status& st : statuses) raise_if_error(st);
    raise_if_error(pack_status);
  }

  std::shared_ptr<const BertEncoder> enc_;
  std::unique_ptr<IntCache> id_ints_;
};

}  // namespace

void bind_wordpiece(py::module_& m) {
  py::class_<PyBertEncoder>(m, "BertEncoder",
                            "BertNormalizer -> BertPreTokenizer -> WordPiece fused in one native pass, "
                            "with HF's added-token extraction (raw text first, normalized=True tokens on the normalized text). "
                            "Ids and offsets equal HF tokenizers' before post-processing.")
      .def(py::init<const std::vector<std::string>&, std::string, std::string, size_t, bool, bool,
                    std::optional<bool>, bool, const std::vector<AddedTuple>&>(),
           py::arg("vocab"), py::arg("unk_token"), py::arg("prefix"), py::arg("max_input_chars_per_word"),
           py::arg("clean_text"), py::arg("handle_chinese_chars"), py::arg("strip_accents"),
           py::arg("lowercase"), py::arg("added_tokens"),
           "vocab: tokens in id order; strip_accents None follows lowercase (as HF); added_tokens: "
           "(content, id, lstrip, rstrip, single_word, normalized, special) tuples with the ids HF's "
           "AddedVocabulary assigns (ValueError for a normalized content that normalizes to '').")
      .def("encode", &PyBertEncoder::encode, py::arg("text"),
           "(ids, offsets) of text, offsets as (start, end) in characters of text, without "
           "post-processing.")
      .def("encode_ids", &PyBertEncoder::encode_ids, py::arg("text"), "Ids of text only.")
      .def("encode_batch", &PyBertEncoder::encode_batch, py::arg("texts"), py::arg("num_threads") = 0,
           "[(ids, offsets), ...] for texts, on the native thread pool (0 = all cores) with the GIL "
           "released.")
      .def("encode_ids_batch", &PyBertEncoder::encode_ids_batch, py::arg("texts"),
           py::arg("num_threads") = 0, "[ids, ...] for texts on the native thread pool.")
      .def("encode_batch_packed", &PyBertEncoder::encode_batch_packed, py::arg("texts"), py::arg("num_threads"),
           py::arg("spec"),
           "Tokenize single sequences, add the post-processor's specials with HF truncation, and pack "
           "(padded or varlen, per spec; see src/fastprep/features.py) with the GIL released once. Returns "
           "the arrays as a dict, or None when an item is not a str.")
      .def("token_to_id", &PyBertEncoder::token_to_id, py::arg("token"),
           "Id of a vocabulary token (KeyError if absent).")
      .def_property_readonly("vocab_size", &PyBertEncoder::vocab_size);
}

}  // namespace fastprep::bindings
