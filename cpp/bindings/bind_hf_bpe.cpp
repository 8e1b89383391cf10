// Python bindings for the native HF tokenizer.json byte-level BPE (fastprep/hf_bpe.h): the JSON
// pieces are converted with the GIL held, all encoding runs with it released.
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
#include "fastprep/hf_bpe.h"
#include "fastprep/thread_pool.h"

namespace py = pybind11;

namespace fastprep::bindings {
namespace {


HfPreTokenizer pre_tokenizer_from_name(std::string_view name, const char* owner) {
  HfPreTokenizer kind = HfPreTokenizer::kWhole;
  if (!hf_pre_tokenizer_from_name(name, &kind)) {
    raise_if_error(Status(ErrorCode::kInvalidArgument,
                          std::string(owner) + ": unknown pre_tokenizer '" + std::string(name) +
                              "' (expected whole, gpt2, deepseek_v3, llama3, qwen2, cl100k or o200k)"));
  }
  return kind;
}

HfNormalizer normalizer_from_name(const std::string& name) {
  if (name.empty()) return HfNormalizer::kNone;
  if (name == "NFC") return HfNormalizer::kNFC;
  if (name == "NFKC") return HfNormalizer::kNFKC;
  raise_if_error(Status(ErrorCode::kUnsupported, "HfBpeEncoder: normalizer '" + name + "' is not supported"));
  return HfNormalizer::kNone;
}

std::pair<std::string, std::string> merge_from(py::handle item, size_t index) {
  if (PyUnicode_Check(item.ptr())) {
    const std::string line(str_utf8(item));
    const size_t sp = line.find(' ');
    if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos) {
      raise_if_error(Status(ErrorCode::kInvalidArgument,
                            "HfBpeEncoder: merge " + std::to_string(index + 1) + " is not two tokens: '" + line + "'"));
    }
    return {line.substr(0, sp), line.substr(sp + 1)};
  }
  py::sequence pair = py::reinterpret_borrow<py::sequence>(item);
  if (pair.size() != 2) {
    raise_if_error(Status(ErrorCode::kInvalidArgument,
                          "HfBpeEncoder: merge " + std::to_string(index + 1) + " is not a pair of tokens"));
  }
  return {std::string(str_utf8(pair[0])), std::string(str_utf8(pair[1]))};
}

// Batch tasks of ~64 KB keep the pool busy without per-text scheduling cost: task t encodes
// texts [starts[t], starts[t+1]).
std::vector<size_t> task_starts(const std::vector<std::string_view>& views) {
  std::vector<size_t> starts{0};
  size_t bytes = 0;
  for (size_t i = 0; i < views.size(); ++i) {
    bytes += views[i].size() + 64;
    if (bytes >= (64u << 10) && i + 1 < views.size()) {
      starts.push_back(i + 1);
      bytes = 0;
    }
  }
  starts.push_back(views.size());
  return starts;
}

// An id or code point argument as uint32: TypeError for a non-integer, ValueError outside
// [0, 2**32) (pybind's own cast would raise a bare RuntimeError).
uint32_t uint32_arg(py::handle value, const char* what) {
  const py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(value.ptr()));
  if (!index) throw py::error_already_set();
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (overflow != 0 || v < 0 || v > static_cast<long long>(UINT32_MAX)) {
    throw py::value_error(std::string(what) + " " + std::string(py::repr(index)) + " is outside [0, 2**32)");
  }
  return static_cast<uint32_t>(v);
}

class PyHfBpeEncoder {
 public:
  PyHfBpeEncoder(const py::dict& vocab, const py::list& merges, const py::list& added_tokens,
                 const std::string& pre_tokenizer, bool add_prefix_space, const std::string& normalizer,
                 bool ignore_merges, const py::list& norm_simple) {
    HfBpeConfig config;
    config.vocab.reserve(vocab.size());
    for (auto item : vocab) {
      config.vocab.emplace_back(std::string(str_utf8(item.first)), uint32_arg(item.second, "vocabulary id"));
    }
    config.merges.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) config.merges.push_back(merge_from(merges[i], i));
    for (auto item : added_tokens) {
      auto t = item.cast<py::tuple>();
      if (t.size() != 5) throw py::value_error("added token: expected (content, id, normalized, lstrip, rstrip)");
      HfAddedToken tok;
      tok.content = std::string(str_utf8(t[0]));
      tok.id = uint32_arg(t[1], "added token id");
      tok.normalized = t[2].cast<bool>();
      tok.lstrip = t[3].cast<bool>();
      tok.rstrip = t[4].cast<bool>();
      config.added.push_back(std::move(tok));
    }
    config.pre_tokenizer = pre_tokenizer_from_name(pre_tokenizer, "HfBpeEncoder");
    config.add_prefix_space = add_prefix_space;
    config.normalizer = normalizer_from_name(normalizer);
    config.ignore_merges = ignore_merges;
    for (auto item : norm_simple) {
      auto t = item.cast<py::tuple>();
      config.norm_simple.emplace_back(uint32_arg(t[0], "normalizer code point"), std::string(str_utf8(t[1])));
    }
    Status st;
    {
      py::gil_scoped_release release;
      st = HfBpeEncoder::Create(config, &encoder_);
    }
    raise_if_error(st);
    // Prebuilt ints for every id (vocabulary and added tokens): building a list of ids then costs
    // an INCREF per id instead of an int allocation (and its later free), as bind_bpe.cpp does.
    size_t max_id = 0;
    for (const auto& [token, id] : config.vocab) max_id = std::max<size_t>(max_id, id);
    for (const HfAddedToken& tok : config.added) max_id = std::max<size_t>(max_id, tok.id);
    id_ints_ = std::make_unique<IntCache>(std::min<size_t>(max_id + 1, size_t{1} << 20));
  }

  // (ids, offsets[, words]), or None when the text needs the normalizer (use the reference).
  py::object encode(py::handle text, bool words) const {
    const std::string_view utf8 = str_utf8(text);
    HfEncodeOutput out;
    Status st;
    {
      MaybeReleaseGil release(utf8.size());
      st = encoder_->Encode(utf8, true, words, &out);
    }
    if (st.code() == ErrorCode::kUnsupported) return py::none();
    raise_if_error(st);
    if (words) {
      return py::make_tuple(ids_list(out.ids, id_ints_.get()), offsets_list(out.offsets), ids_list(out.words));
    }
    return py::make_tuple(ids_list(out.ids, id_ints_.get()), offsets_list(out.offsets));
  }

  py::object encode_ids(py::handle text) const {
    const std::string_view utf8 = str_utf8(text);
    HfEncodeOutput out;
    Status st;
    {
      MaybeReleaseGil release(utf8.size());
      st = encoder_->Encode(utf8, false, false, &out);
    }
    if (st.code() == ErrorCode::kUnsupported) return py::none();
    raise_if_error(st);
    return ids_list(out.ids, id_ints_.get());
  }

  py::list encode_batch(const py::object& texts_in, size_t num_threads, bool with_offsets) const {
    const py::list texts = owned_texts(texts_in);  // keeps every item alive without the GIL
    std::vector<std::string_view> views;
    views.reserve(texts.size());
    for (auto t : texts) views.push_back(str_utf8(t));
    std::vector<HfEncodeOutput> outs(views.size());
    std::vector<Status> statuses(views.size());
    Status st;
    {
      py::gil_scoped_release release;
      const std::vector<size_t> starts = task_starts(views);
      st = parallel_for(starts.size() - 1, num_threads, [&](size_t task) {
        for (size_t i = starts[task]; i < starts[task + 1]; ++i) {
          statuses[i] = encoder_->Encode(views[i], with_offsets, false, &outs[i]);
        }
      });
    }
    raise_if_error(st);
    py::list result(views.size());
    for (size_t i = 0; i < views.size(); ++i) {
      py::object item;
      if (statuses[i].code() == ErrorCode::kUnsupported) {
        item = py::none();
      } else {
        raise_if_error(statuses[i]);
        if (with_offsets) item = py::make_tuple(ids_list(outs[i].ids, id_ints_.get()), offsets_list(outs[i].offsets));
        else item = ids_list(outs[i].ids, id_ints_.get());
      }
      PyList_SET_ITEM(result.ptr(), static_cast<Py_ssize_t>(i), item.release().ptr());
    }
    return result;
  }

  // Tokenize, post-process (template + HF truncation) and pack a batch of single sequences in one
  // call, with the GIL released once. None (nothing returned) when an item is not a str or a text
  // needs the normalizer, so the caller can take its general path.
  py::object encode_batch_packed(const py::object& texts_in, size_t num_threads, const py::dict& spec) const {
    const FeatureOptions options = feature_options(spec, num_threads);
    const py::list texts = owned_texts(texts_in);  // keeps every item alive without the GIL
    if (texts.size() == 0) throw py::value_error("empty batch");
    std::vector<std::string_view> views;
    views.reserve(texts.size());
    for (py::handle t : texts) {
      if (!PyUnicode_Check(t.ptr())) return py::none();
      views.push_back(str_utf8(t));
    }
    std::vector<std::vector<uint32_t>> rows(views.size());
    std::vector<Status> statuses(views.size());
    FeatureArrays arrays;
    Status st, pack_status;
    bool declined = false;
    {
      py::gil_scoped_release release;
      const std::vector<size_t> starts = task_starts(views);
      st = parallel_for(starts.size() - 1, num_threads, [&](size_t task) {
        HfEncodeOutput out;
        for (size_t i = starts[task]; i < starts[task + 1]; ++i) {
          statuses[i] = encoder_->Encode(views[i], false, false, &out);
          if (!statuses[i].ok()) continue;
          rows[i] = std::move(out.ids);
          features::finish_single(options.single, options.truncation, &rows[i]);
        }
      });
      bool failed = !st.ok();
      for (const Status& s : statuses) {
        declined |= s.code() == ErrorCode::kUnsupported;
        failed |= !s.ok();
      }
      if (!failed) pack_status = arrays.Fill(rows, options);
    }
    raise_if_error(st);
    for (const Status& s : statuses) {
      if (s.code() != ErrorCode::kUnsupported) raise_if_error(s);
    }
    if (declined) return py::none();
    raise_if_error(pack_status);
    return arrays.ToDict();
  }

  py::list encode_word(const py::bytes& word) const {
    const std::string w = word;
    std::vector<uint32_t> ids;
    encoder_->EncodeWord(reinterpret_cast<const uint8_t*>(w.data()), w.size(), &ids);
    return ids_list(ids);
  }

  size_t vocab_size() const { return encoder_->vocab_size(); }
  size_t num_merges() const { return encoder_->num_merges(); }

 private:
  std::unique_ptr<HfBpeEncoder> encoder_;
  std::unique_ptr<IntCache> id_ints_;
};

py::list split_deepseek(py::handle text) {
  const std::string_view utf8 = str_utf8(text);
  std::vector<uint32_t> ends;
  {
    py::gil_scoped_release release;
    split_deepseek_v3(reinterpret_cast<const uint8_t*>(utf8.data()), utf8.size(), &ends);
  }
  return pieces_list(utf8, ends);
}

py::list split_hf(std::string_view kind_name, py::handle text) {
  const HfPreTokenizer kind = pre_tokenizer_from_name(kind_name, "hf_split_pieces");
  const std::string_view utf8 = str_utf8(text);
  std::vector<uint32_t> ends;
  {
    py::gil_scoped_release release;
    split_hf_pieces(kind, reinterpret_cast<const uint8_t*>(utf8.data()), utf8.size(), &ends);
  }
  return pieces_list(utf8, ends);
}

py::object split_pattern_lexer(std::string_view pattern) {
  HfPreTokenizer kind = HfPreTokenizer::kWhole;
  if (!hf_split_pattern_lexer(pattern, &kind)) return py::none();
  return py::str(hf_pre_tokenizer_name(kind));
}

}  // namespace

void bind_hf_bpe(py::module_& m) {
  py::class_<PyHfBpeEncoder>(m, "HfBpeEncoder",
                             "HF tokenizer.json byte-level BPE (added tokens, pre-tokenizer, merges) giving HF's ids\n"
                             "and character offsets before the post-processor. Immutable and thread-safe.")
      .def(py::init<const py::dict&, const py::list&, const py::list&, const std::string&, bool, const std::string&,
                    bool, const py::list&>(),
           py::arg("vocab"), py::arg("merges"), py::arg("added_tokens"), py::arg("pre_tokenizer"),
           py::arg("add_prefix_space") = false, py::arg("normalizer") = "", py::arg("ignore_merges") = false,
           py::arg("norm_simple") = py::list(),
           "vocab: {token: id} in the ByteLevel alphabet; merges: 'a b' strings or (a, b) pairs (priority =\n"
           "index); added_tokens: (content, id, normalized, lstrip, rstrip) tuples, content already normalized\n"
           "for normalized tokens; pre_tokenizer: 'whole' (ByteLevel without regex), 'gpt2' (ByteLevel with its\n"
           "regex), 'deepseek_v3', or a Split lexer name of hf_split_pattern_lexer ('llama3', 'qwen2',\n"
           "'cl100k', 'o200k'); normalizer: '', 'NFC' or 'NFKC'; norm_simple: (code point, image)\n"
           "pairs the normalizer replaces independently of their neighbours (see hf_bpe.h).")
      .def("encode", &PyHfBpeEncoder::encode, py::arg("text"), py::arg("words") = false,
           "(ids, offsets) -- offsets as (start, end) character offsets -- plus word indices when words=True;\n"
           "None when the text is not already normal under the normalizer (use the reference).")
      .def("encode_ids", &PyHfBpeEncoder::encode_ids, py::arg("text"),
           "Token ids of text, or None when the text needs the normalizer (use the reference).")
      .def(
          "encode_batch",
          [](const PyHfBpeEncoder& self, const py::list& texts, size_t num_threads) {
            return self.encode_batch(texts, num_threads, true);
          },
          py::arg("texts"), py::arg("num_threads") = 0,
          "encode() of each text on the thread pool with the GIL released (None entries as in encode).")
      .def(
          "encode_ids_batch",
          [](const PyHfBpeEncoder& self, const py::list& texts, size_t num_threads) {
            return self.encode_batch(texts, num_threads, false);
          },
          py::arg("texts"), py::arg("num_threads") = 0,
          "encode_ids() of each text on the thread pool with the GIL released.")
      .def("encode_batch_packed", &PyHfBpeEncoder::encode_batch_packed, py::arg("texts"), py::arg("num_threads"),
           py::arg("spec"),
           "Tokenize single sequences, add the post-processor's specials with HF truncation, and pack\n"
           "(padded or varlen, per spec; see src/fastprep/features.py) with the GIL released once. Returns the\n"
           "arrays as a dict, or None when an item is not a str or a text needs the normalizer.")
      .def("encode_word", &PyHfBpeEncoder::encode_word, py::arg("word"),
           "The BPE model alone on one pre-token given as raw bytes (for tests).")
      .def_property_readonly("vocab_size", &PyHfBpeEncoder::vocab_size)
      .def_property_readonly("num_merges", &PyHfBpeEncoder::num_merges);
  m.def("hf_split_deepseek_v3", &split_deepseek, py::arg("text"),
        "Pieces of deepseek_v3.json's three Split pre-tokenizers (hand-written lexer), for tests.");
  m.def(
      "hf_deepseek_split_patterns_match",
      [](const std::vector<std::string>& patterns) { return deepseek_split_patterns_match(patterns); },
      py::arg("patterns"), "Whether these Split regexes are exactly deepseek_v3.json's three.");
  m.def("hf_split_pattern_lexer", &split_pattern_lexer, py::arg("pattern"),
        "The HfBpeEncoder pre_tokenizer name ('gpt2', 'llama3', 'qwen2', 'cl100k', 'o200k') whose\n"
        "hand-written lexer splits exactly as an HF Split with this regex, or None when the string is not\n"
        "exactly one of those patterns.");
  m.def("hf_split_pieces", &split_hf, py::arg("kind"), py::arg("text"),
        "Pieces of text under the HfBpeEncoder pre-tokenizer `kind` (hand-written lexers), for tests.");
}

}  // namespace fastprep::bindings
