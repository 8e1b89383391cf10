// Python bindings for feature packing: turn the accepted input forms into id spans (reading NumPy
// buffers in place), run the kernels of fastprep/pack.h without the GIL, and hand the output
// buffers to NumPy without copying. Validation order and messages mirror _fallback/pack.py.
// Also the array side of the encoders' one-call text -> model inputs (FeatureArrays, convert.h).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "../src/byte_tables.h"
#include "convert.h"
#include "errors.h"
#include "fastprep/features.h"
#include "fastprep/pack.h"

namespace py = pybind11;

namespace fastprep::bindings {
namespace {

using pack::IdSpan;
using pack::IdWidth;

// Recently freed output blocks, reused by the next call that needs a block of the same size.
// Fresh memory is faulted in on first write, and those faults cost several times the packing
// itself; serving loops pack similar shapes over and over, so a small cache removes them (the
// idea of PyTorch's caching allocator). Bounded: past kMaxBytes or kMaxBlocks the oldest cached
// blocks are freed.
class BlockCache {
 public:
  static constexpr size_t kMaxBytes = size_t{64} << 20;
  static constexpr size_t kMaxBlocks = 32;

  static BlockCache& instance() {
    static BlockCache* cache = new BlockCache();  // never destroyed: capsules may outlive statics
    return *cache;
  }
  // A cached block of exactly `bytes`, most recently freed first, or nullptr.
  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t k = blocks_.size(); k-- > 0;) {
      if (blocks_[k].first == bytes) {
        void* p = blocks_[k].second;
        blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(k));
        cached_ -= bytes;
        return p;
      }
    }
    return nullptr;
  }
  // Caches a block obtained from std::aligned_alloc; frees what no longer fits.
  void give(void* p, size_t bytes) {
    std::vector<void*> evicted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (bytes > kMaxBytes) {
        evicted.push_back(p);
      } else {
        blocks_.emplace_back(bytes, p);
        cached_ += bytes;
        while (cached_ > kMaxBytes || blocks_.size() > kMaxBlocks) {
          evicted.push_back(blocks_.front().second);
          cached_ -= blocks_.front().first;
          blocks_.pop_front();
        }
      }
    }
    for (void* q : evicted) std::free(q);
  }

 private:
  std::mutex mu_;
  std::deque<std::pair<size_t, void*>> blocks_;  // (size, block), oldest first
  size_t cached_ = 0;
};

// Allocator for output arrays. Leaves elements uninitialized (the kernels write every cell, so
// value-initialization would be a wasted pass). Blocks of 256 KiB and more have size classes
// (64 KiB steps; 2 MiB steps, 2 MiB-aligned and MADV_HUGEPAGE from 1 MiB, as NumPy does for its
// large arrays) and go through BlockCache.
template <typename T>
struct OutputAllocator {
  using value_type = T;
  static constexpr size_t kCachedFrom = size_t{256} << 10;
  static constexpr size_t kHugeFrom = size_t{1} << 20;
  static constexpr size_t kHugePage = size_t{2} << 20;

  OutputAllocator() = default;
  template <typename U>
  OutputAllocator(const OutputAllocator<U>&) noexcept {}

  // Size class and alignment of a cached block (0: not cached).
  static size_t block_size(size_t bytes) {
    const size_t step = bytes >= kHugeFrom ? kHugePage : size_t{64} << 10;
    return bytes < kCachedFrom ? 0 : (bytes + step - 1) & ~(step - 1);
  }
  T* allocate(size_t n) {
    if (n > (SIZE_MAX - kHugePage) / sizeof(T)) throw std::bad_alloc();
    const size_t block = block_size(n * sizeof(T));
    if (block == 0) return std::allocator<T>().allocate(n);
    if (void* p = BlockCache::instance().take(block)) return static_cast<T*>(p);
    const bool huge = block >= kHugeFrom;
    void* p = std::aligned_alloc(huge ? kHugePage : size_t{64} << 10, block);
    if (p == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    if (huge) madvise(p, block, MADV_HUGEPAGE);  // advisory: failure just means small pages
#endif
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) noexcept {
    const size_t block = block_size(n * sizeof(T));
    if (block == 0) {
      std::allocator<T>().deallocate(p, n);
    } else {
      BlockCache::instance().give(p, block);
    }
  }
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <typename U>
  bool operator==(const OutputAllocator<U>&) const noexcept {
    return true;
  }
  template <typename U>
  bool operator!=(const OutputAllocator<U>&) const noexcept {
    return false;
  }
};

template <typename T>
using Buffer = std::vector<T, OutputAllocator<T>>;

// Hands a heap buffer to NumPy: the array's base is a capsule that deletes the vector.
template <typename T>
py::array_t<T> to_numpy(std::unique_ptr<Buffer<T>> buffer, std::vector<py::ssize_t> shape) {
  if (buffer->empty()) return py::array_t<T>(shape);
  T* data = buffer->data();
  py::capsule owner(buffer.get(), [](void* p) { delete static_cast<Buffer<T>*>(p); });
  buffer.release();  // the capsule owns it now
  return py::array_t<T>(shape, data, owner);
}

template <typename T>
std::unique_ptr<Buffer<T>> new_buffer(int64_t size) {
  return std::make_unique<Buffer<T>>(static_cast<size_t>(size));
}

[[noreturn]] void raise(PyObject* type, const std::string& message) {
  PyErr_SetString(type, message.c_str());
  throw py::error_already_set();
}

std::string type_name(py::handle obj) { return py::str(py::type::handle_of(obj).attr("__name__")); }

std::string at(int64_t seq, int64_t pos) {
  return "sequence " + std::to_string(seq) + ", position " + std::to_string(pos);
}

const py::module_& numpy() {
  static const py::module_* np = new py::module_(py::module_::import("numpy"));  // leaked on purpose
  return *np;
}

// A native-endian, C-contiguous int32/int64 (or uint64, pending a range check) view of an array.
struct IdArray {
  // py::object, not py::array: a default-constructed py::array allocates an empty NumPy array.
  py::object owner;  // keeps the buffer alive
  py::array array() const { return py::reinterpret_borrow<py::array>(owner); }
  IdWidth width = IdWidth::k64;
  bool unsigned64 = false;  // uint64 data: ids above 2**63-1 must be rejected before use
};

// New references to the arrays spans point into, dropped with the batch (always under the GIL).
// Raw pointers rather than py::object, so that holding one is an increment and a store, inlined
// in the loop over a batch's arrays.
class HeldObjects {
 public:
  HeldObjects() = default;
  HeldObjects(HeldObjects&& other) noexcept : objects_(std::move(other.objects_)) { other.objects_.clear(); }
  HeldObjects(const HeldObjects&) = delete;
  HeldObjects& operator=(const HeldObjects&) = delete;
  HeldObjects& operator=(HeldObjects&&) = delete;
  ~HeldObjects() {
    for (PyObject* obj : objects_) Py_DECREF(obj);
  }
  void reserve(size_t n) { objects_.reserve(n); }
  void hold(py::handle obj) {
    objects_.push_back(obj.ptr());  // first, so that a failed push leaks no reference
    Py_INCREF(obj.ptr());
  }

 private:
  std::vector<PyObject*> objects_;
};

// The ids the user passed, as spans into NumPy buffers or into `small` / `owned`.
struct Batch {
  std::vector<IdSpan> spans;
  Buffer<int32_t> small;   // ids of Python lists that were all small ints
  Buffer<int64_t> owned;   // ids of the other Python lists
  HeldObjects keep_alive;  // arrays the spans point into
};

// np.asarray(obj), where an empty result built from a non-array (e.g. []) counts as int64.
py::array as_array(py::handle obj) {
  if (py::isinstance<py::array>(obj)) return py::reinterpret_borrow<py::array>(obj);
  py::array arr = numpy().attr("asarray")(obj);
  if (arr.size() == 0) arr = numpy().attr("asarray")(obj, py::dtype::of<int64_t>());
  return arr;
}

// Where an array came from, for messages: `name` ("flat_ids", "seqs") or else "sequence <index>".
struct Origin {
  const char* name;
  int64_t index;
  std::string label() const { return name != nullptr ? std::string(name) : "sequence " + std::to_string(index); }
};

// Checks rank and integer dtype, then views (or, for other integer dtypes, converts) the ids.
IdArray id_array(py::handle obj, Origin origin, int ndim) {
  IdArray out;
  // Fast path, no calls into NumPy: an int32/int64 native-order C-contiguous array of this rank.
  if (py::isinstance<py::array>(obj)) {
    auto* proxy = py::detail::array_proxy(obj.ptr());
    auto* descr = py::detail::array_descriptor_proxy(proxy->descr);
    const bool native_order = descr->byteorder == '=' || descr->byteorder == '|' ||
                              descr->byteorder == (PY_LITTLE_ENDIAN ? '<' : '>');
    if (proxy->nd == ndim && descr->kind == 'i' && native_order &&
        (proxy->flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) != 0) {
      const py::ssize_t itemsize = py::reinterpret_borrow<py::dtype>(proxy->descr).itemsize();
      if (itemsize == 4 || itemsize == 8) {
        out.width = itemsize == 4 ? IdWidth::k32 : IdWidth::k64;
        out.owner = py::reinterpret_borrow<py::object>(obj);
        return out;
      }
    }
  }
  py::array arr = as_array(obj);
  if (arr.ndim() != ndim) {
    raise(PyExc_TypeError, origin.label() + ": expected a " + std::to_string(ndim) + "-D array of ids, got a " +
                               std::to_string(arr.ndim()) + "-D array");
  }
  const py::dtype dt = arr.dtype();
  const char kind = dt.kind();
  if (kind != 'i' && kind != 'u') {
    raise(PyExc_TypeError, origin.label() + ": expected integer ids, got dtype " + std::string(py::str(dt)));
  }
  const char order = dt.byteorder();
  const bool native_order = order == '=' || order == '|' || order == (PY_LITTLE_ENDIAN ? '<' : '>');
  const bool same_kind_ok = kind == 'i' && (dt.itemsize() == 4 || dt.itemsize() == 8) && native_order;
  py::dtype target = py::dtype::of<int64_t>();
  if (same_kind_ok) {
    target = dt.itemsize() == 4 ? py::dtype::of<int32_t>() : py::dtype::of<int64_t>();
  } else if (kind == 'u' && dt.itemsize() == 8) {
    target = py::dtype::of<uint64_t>();
    out.unsigned64 = true;
  }
  // Exact: only widens, or reinterprets uint64 (range-checked by the caller).
  arr = numpy().attr("ascontiguousarray")(arr, target);
  out.width = target.itemsize() == 4 ? IdWidth::k32 : IdWidth::k64;
  out.owner = std::move(arr);
  return out;
}

// Rejects uint64 ids that int64 cannot hold, naming the first one.
void check_unsigned64(const IdSpan& span, int64_t seq) {
  const uint64_t* ids = static_cast<const uint64_t*>(span.data);
  for (int64_t j = 0; j < span.length; ++j) {
    if (ids[j] > static_cast<uint64_t>(INT64_MAX)) {
      raise(PyExc_ValueError, at(seq, j) + ": id " + std::to_string(ids[j]) + " does not fit in int64");
    }
  }
}

// One Python int (or any object with __index__, except bool) as an int64 id.
int64_t python_id(PyObject* x, int64_t seq, int64_t pos) {
  if (PyBool_Check(x)) raise(PyExc_TypeError, at(seq, pos) + ": expected an int, got bool");
  py::object index;
  if (!PyLong_Check(x)) {
    if (!PyIndex_Check(x)) raise(PyExc_TypeError, at(seq, pos) + ": expected an int, got " + type_name(x));
    index = py::reinterpret_steal<py::object>(PyNumber_Index(x));
    if (!index) {
      PyErr_Clear();
      raise(PyExc_TypeError, at(seq, pos) + ": expected an int, got " + type_name(x));
    }
    x = index.ptr();
  }
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(x, &overflow);
  if (overflow != 0) {
    raise(PyExc_ValueError, at(seq, pos) + ": id " + std::string(py::str(x)) + " does not fit in int64");
  }
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  return static_cast<int64_t>(v);
}

using byte_tables::prefetch;  // one the compiler keeps under the branches below

// The common case, read without calling into NumPy: an exact ndarray, 1-D, C-contiguous, whose
// dtype is NumPy's own int32 or int64 descriptor (those singletons are native-endian). Anything
// else answers false and takes id_array's general path.
class PlainIdVectors {
 public:
  static const PlainIdVectors& get() {
    static const PlainIdVectors* types = new PlainIdVectors();  // the descriptors are kept for the process
    return *types;
  }
  bool read(PyObject* obj, IdSpan* span) const {
    if (Py_TYPE(obj) != ndarray_) return false;
    const auto* proxy = py::detail::array_proxy(obj);
    if (proxy->nd != 1 || (proxy->flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) == 0) return false;
    if (proxy->descr == int32_descr_) {
      span->width = IdWidth::k32;
    } else if (proxy->descr == int64_descr_) {
      span->width = IdWidth::k64;
    } else {
      return false;
    }
    span->data = proxy->data;
    span->length = static_cast<int64_t>(proxy->dimensions[0]);
    return true;
  }
  // Starts loading the shape of an exact ndarray (a no-op for anything else).
  void prefetch_shape(PyObject* obj) const {
    if (Py_TYPE(obj) == ndarray_) prefetch(py::detail::array_proxy(obj)->dimensions);
  }

 private:
  PyTypeObject* const ndarray_ = py::detail::npy_api::get().PyArray_Type_;
  PyObject* const int32_descr_ = py::dtype::of<int32_t>().release().ptr();
  PyObject* const int64_descr_ = py::dtype::of<int64_t>().release().ptr();
};

// Converts items [0, n) while they are exact ints held in one internal digit (0 <= value < 2**30:
// every realistic token id), reading the objects directly: lists of ids are read at a few ns per
// id this way, several times faster than through PyLong_AsLongLongAndOverflow. Returns the index
// of the first item that is not such an int (n when all are); that one takes python_id's general
// conversion.
Py_ssize_t convert_small_ints(PyObject* const* items, Py_ssize_t n, int32_t* out) {
  PyTypeObject* const long_type = &PyLong_Type;
  for (Py_ssize_t j = 0; j < n; ++j) {
    PyObject* const x = items[j];
    if (Py_TYPE(x) != long_type) return j;
#if PY_VERSION_HEX >= 0x030C0000
    auto* number = reinterpret_cast<PyLongObject*>(x);
    if (!PyUnstable_Long_IsCompact(number)) return j;
    const Py_ssize_t value = PyUnstable_Long_CompactValue(number);
    if (value < 0) return j;
    out[j] = static_cast<int32_t>(value);
#else
    const Py_ssize_t size = Py_SIZE(x);
    if (size == 1) {
      out[j] = static_cast<int32_t>(reinterpret_cast<PyLongObject*>(x)->ob_digit[0]);
    } else if (size == 0) {
      out[j] = 0;
    } else {
      return j;
    }
#endif
  }
  return n;
}

void parse_list(py::handle seqs, Batch* batch) {
  const Py_ssize_t n = PyList_GET_SIZE(seqs.ptr());
  batch->keep_alive.reserve(static_cast<size_t>(n));
  batch->spans.resize(static_cast<size_t>(n));
  // Leading plain arrays (usually the whole batch) in one pass. Their headers and shapes are
  // rarely cached (the previous call's copy evicted them), so they are prefetched a few items
  // ahead: the shape sits in its own allocation, a second miss behind the header's.
  constexpr Py_ssize_t kHeaderAhead = 8, kShapeAhead = 4;
  const PlainIdVectors& plain = PlainIdVectors::get();
  PyObject* const* items = PySequence_Fast_ITEMS(seqs.ptr());
  for (Py_ssize_t k = 0; k < std::min(n, kHeaderAhead); ++k) prefetch(items[k]);
  Py_ssize_t first_other = 0;
  for (; first_other < n; ++first_other) {
    if (first_other + kHeaderAhead < n) prefetch(items[first_other + kHeaderAhead]);
    if (first_other + kShapeAhead < n) plain.prefetch_shape(items[first_other + kShapeAhead]);
    if (!plain.read(items[first_other], &batch->spans[first_other])) break;
    batch->keep_alive.hold(items[first_other]);
  }
  if (first_other == n) return;
  // Lists of small ints (the usual case) land in `small`, sized for all lists up front; a list
  // holding anything else is converted to int64 in `owned`. Spans are set at the end, once
  // neither buffer moves any more.
  size_t small_total = 0;
  for (Py_ssize_t i = first_other; i < n; ++i) {
    PyObject* item = PyList_GET_ITEM(seqs.ptr(), i);
    if (PyList_Check(item) || PyTuple_Check(item)) small_total += static_cast<size_t>(Py_SIZE(item));
  }
  batch->small.resize(small_total);  // uninitialized; every used slot is written below
  size_t small_used = 0;
  std::vector<std::pair<size_t, size_t>> small_ranges;  // (span index, start in small)
  std::vector<std::pair<size_t, size_t>> owned_ranges;  // (span index, start in owned)
  // __index__ and __array__ run Python code that could resize the lists being read: hold the
  // item, and re-read the item pointers (and check sizes) after any such call.
  auto check_unchanged = [&](py::handle list, Py_ssize_t expected, const std::string& what) {
    if (Py_SIZE(list.ptr()) != expected) raise(PyExc_RuntimeError, what + " changed size during conversion");
  };
  for (Py_ssize_t i = first_other; i < n; ++i) {
    PyObject* const raw_item = PyList_GET_ITEM(seqs.ptr(), i);
    if (plain.read(raw_item, &batch->spans[i])) {
      batch->keep_alive.hold(raw_item);
      continue;
    }
    const py::object item = py::reinterpret_borrow<py::object>(raw_item);
    if (PyList_Check(item.ptr()) || PyTuple_Check(item.ptr())) {
      PyObject** elems = PySequence_Fast_ITEMS(item.ptr());
      const Py_ssize_t len = PySequence_Fast_GET_SIZE(item.ptr());
      const size_t start = small_used;
      // Grows only when Python code run by an earlier conversion lengthened this list.
      if (start + static_cast<size_t>(len) > batch->small.size()) batch->small.resize(start + static_cast<size_t>(len));
      int32_t* const fast = batch->small.data() + start;
      const Py_ssize_t converted = convert_small_ints(elems, len, fast);
      if (converted == len) {
        small_ranges.emplace_back(static_cast<size_t>(i), start);
        small_used += static_cast<size_t>(len);
        batch->spans[i] = IdSpan{nullptr, static_cast<int64_t>(len), IdWidth::k32};
        continue;
      }
      const size_t wide_start = batch->owned.size();
      batch->owned.resize(wide_start + static_cast<size_t>(len));
      owned_ranges.emplace_back(static_cast<size_t>(i), wide_start);
      int64_t* const out = batch->owned.data() + wide_start;
      std::copy(fast, fast + converted, out);
      for (Py_ssize_t j = converted; j < len; ++j) {
        // Slow path: anything but a small non-negative exact int (may run Python code).
        const py::object held = py::reinterpret_borrow<py::object>(elems[j]);  // it may leave the list meanwhile
        out[j] = python_id(held.ptr(), i, j);
        check_unchanged(item, len, "sequence " + std::to_string(i));
        check_unchanged(seqs, n, "seqs");
        elems = PySequence_Fast_ITEMS(item.ptr());
      }
      batch->spans[i] = IdSpan{nullptr, static_cast<int64_t>(len), IdWidth::k64};
    } else if (PyUnicode_Check(item.ptr()) || PyBytes_Check(item.ptr()) || PyByteArray_Check(item.ptr())) {
      raise(PyExc_TypeError, "sequence " + std::to_string(i) + ": expected a sequence of ints, got " + type_name(item));
    } else {
      IdArray ids = id_array(item, Origin{nullptr, static_cast<int64_t>(i)}, 1);
      check_unchanged(seqs, n, "seqs");
      const IdSpan span{ids.array().data(), static_cast<int64_t>(ids.array().size()), ids.width};
      if (ids.unsigned64) check_unsigned64(span, i);
      batch->spans[i] = span;
      batch->keep_alive.hold(ids.owner);
    }
  }
  for (const auto& [span, start] : small_ranges) batch->spans[span].data = batch->small.data() + start;
  for (const auto& [span, start] : owned_ranges) batch->spans[span].data = batch->owned.data() + start;
}

// Spans over `flat`, which the (validated) offsets cut into sequences; uint64 ranges checked after.
void spans_over(const IdArray& flat, const int64_t* offsets, int64_t n_offsets, Batch* batch) {
  raise_if_error(pack::spans_from_offsets(flat.array().data(), flat.width, static_cast<int64_t>(flat.array().size()),
                                          offsets, n_offsets, &batch->spans));
  if (flat.unsigned64) {
    for (size_t i = 0; i < batch->spans.size(); ++i) check_unsigned64(batch->spans[i], static_cast<int64_t>(i));
  }
  batch->keep_alive.hold(flat.owner);
}

void parse_ragged_pair(py::handle flat_obj, py::handle offsets_obj, Batch* batch) {
  IdArray flat = id_array(flat_obj, Origin{"flat_ids", 0}, 1);
  py::array offsets = as_array(offsets_obj);
  if (offsets.ndim() != 1) {
    raise(PyExc_TypeError, "offsets: expected a 1-D array, got a " + std::to_string(offsets.ndim()) + "-D array");
  }
  const char kind = offsets.dtype().kind();
  if (kind != 'i' && kind != 'u') {
    raise(PyExc_TypeError, "offsets: expected integer offsets, got dtype " + std::string(py::str(offsets.dtype())));
  }
  // Same cast as the fallback's offsets.astype(np.int64) (C conversion; huge uint64 wrap negative).
  py::array_t<int64_t, py::array::c_style> off64 =
      numpy().attr("ascontiguousarray")(offsets.attr("astype")(py::dtype::of<int64_t>()));
  spans_over(flat, off64.data(), static_cast<int64_t>(off64.size()), batch);
}

void parse_rows(py::handle seqs, Batch* batch) {
  IdArray rows = id_array(seqs, Origin{"seqs", 0}, 2);
  const int64_t b = static_cast<int64_t>(rows.array().shape(0));
  const int64_t n = static_cast<int64_t>(rows.array().shape(1));
  std::vector<int64_t> offsets(static_cast<size_t>(b) + 1);
  for (int64_t i = 0; i <= b; ++i) offsets[i] = i * n;
  spans_over(rows, offsets.data(), b + 1, batch);
}

Batch parse_batch(py::handle seqs) {
  Batch batch;
  if (PyTuple_Check(seqs.ptr())) {
    if (PyTuple_GET_SIZE(seqs.ptr()) != 2) {
      raise(PyExc_TypeError, "a tuple is read as the ragged pair (flat_ids, offsets) and must have 2 items, got " +
                                 std::to_string(PyTuple_GET_SIZE(seqs.ptr())) + "; pass a list for a batch of sequences");
    }
    parse_ragged_pair(PyTuple_GET_ITEM(seqs.ptr(), 0), PyTuple_GET_ITEM(seqs.ptr(), 1), &batch);
  } else if (py::isinstance<py::array>(seqs)) {
    parse_rows(seqs, &batch);
  } else if (PyList_Check(seqs.ptr())) {
    parse_list(seqs, &batch);
  } else {
    raise(PyExc_TypeError,
          "seqs must be a list of sequences, a 2-D integer array, or a (flat_ids, offsets) tuple; got " +
              type_name(seqs));
  }
  return batch;
}

int64_t batch_size(const Batch& batch) { return static_cast<int64_t>(batch.spans.size()); }

template <typename Out>
py::dict padded(const Batch& batch, const pack::PaddedOptions& options, int64_t width) {
  const int64_t b = batch_size(batch);
  auto ids = new_buffer<Out>(b * width), mask = new_buffer<Out>(b * width), pos = new_buffer<Out>(b * width);
  Status status;
  {
    py::gil_scoped_release nogil;
    status = pack::fill_padded<Out>(batch.spans.data(), b, options, width, ids->data(), mask->data(), pos->data());
  }
  raise_if_error(status);
  py::dict out;
  out["input_ids"] = to_numpy(std::move(ids), {b, width});
  out["attention_mask"] = to_numpy(std::move(mask), {b, width});
  out["position_ids"] = to_numpy(std::move(pos), {b, width});
  return out;
}

py::dict pack_padded(py::handle seqs, int64_t pad_id, bool pad_left, int64_t max_length, bool truncate_left,
                     int64_t pad_to_multiple_of, bool wide) {
  const Batch batch = parse_batch(seqs);
  pack::PaddedOptions options;
  options.pad_id = pad_id;
  options.pad_side = pad_left ? pack::Side::kLeft : pack::Side::kRight;
  options.max_length = max_length;
  options.truncation_side = truncate_left ? pack::Side::kLeft : pack::Side::kRight;
  options.pad_to_multiple_of = pad_to_multiple_of;
  options.max_threads = 0;  // large outputs use all cores
  int64_t width = 0;
  raise_if_error(pack::padded_width(batch.spans.data(), batch_size(batch), options, &width));
  return wide ? padded<int64_t>(batch, options, width) : padded<int32_t>(batch, options, width);
}

template <typename Out>
py::dict varlen(const Batch& batch, const pack::VarlenOptions& options, int64_t total, int64_t max_seqlen) {
  const int64_t b = batch_size(batch);
  auto ids = new_buffer<Out>(total), pos = new_buffer<Out>(total);
  auto cu = new_buffer<int32_t>(b + 1);
  Status status;
  {
    py::gil_scoped_release nogil;
    status = pack::fill_varlen<Out>(batch.spans.data(), b, options, ids->data(), cu->data(), pos->data());
  }
  raise_if_error(status);
  py::dict out;
  out["input_ids"] = to_numpy(std::move(ids), {total});
  out["cu_seqlens"] = to_numpy(std::move(cu), {b + 1});
  out["position_ids"] = to_numpy(std::move(pos), {total});
  out["max_seqlen"] = py::int_(max_seqlen);
  return out;
}

py::dict pack_varlen(py::handle seqs, int64_t max_length, bool truncate_left, bool wide) {
  const Batch batch = parse_batch(seqs);
  pack::VarlenOptions options;
  options.max_length = max_length;
  options.truncation_side = truncate_left ? pack::Side::kLeft : pack::Side::kRight;
  options.max_threads = 0;
  int64_t total = 0, max_seqlen = 0;
  raise_if_error(pack::varlen_sizes(batch.spans.data(), batch_size(batch), options, &total, &max_seqlen));
  return wide ? varlen<int64_t>(batch, options, total, max_seqlen) : varlen<int32_t>(batch, options, total, max_seqlen);
}

template <typename Out>
py::dict bins(const Batch& batch, const pack::BinPlan& plan, int64_t max_tokens, int64_t pad_id) {
  const int64_t b = batch_size(batch);
  const int64_t cells = plan.rows * max_tokens;
  auto ids = new_buffer<Out>(cells), seg = new_buffer<Out>(cells), pos = new_buffer<Out>(cells);
  auto cu = new_buffer<int32_t>(b + plan.rows);
  auto cu_offsets = new_buffer<int64_t>(plan.rows + 1);
  auto placement = new_buffer<int64_t>(2 * b);
  Status status;
  {
    py::gil_scoped_release nogil;
    status = pack::fill_bins<Out>(batch.spans.data(), b, plan, max_tokens, pad_id, ids->data(), seg->data(),
                                  pos->data(), cu->data(), cu_offsets->data(), placement->data(),
                                  /*max_threads=*/0);
  }
  raise_if_error(status);
  py::dict out;
  out["input_ids"] = to_numpy(std::move(ids), {plan.rows, max_tokens});
  out["segment_ids"] = to_numpy(std::move(seg), {plan.rows, max_tokens});
  out["position_ids"] = to_numpy(std::move(pos), {plan.rows, max_tokens});
  out["cu_seqlens"] = to_numpy(std::move(cu), {b + plan.rows});
  out["cu_seqlens_offsets"] = to_numpy(std::move(cu_offsets), {plan.rows + 1});
  out["placement"] = to_numpy(std::move(placement), {b, int64_t{2}});
  return out;
}

py::dict pack_bins(py::handle seqs, int64_t max_tokens, bool truncate, int64_t pad_id, bool wide) {
  const Batch batch = parse_batch(seqs);
  pack::BinPlan plan;
  Status status;
  {
    py::gil_scoped_release nogil;
    status = pack::plan_bins(batch.spans.data(), batch_size(batch), max_tokens, truncate, &plan);
  }
  raise_if_error(status);
  return wide ? bins<int64_t>(batch, plan, max_tokens, pad_id) : bins<int32_t>(batch, plan, max_tokens, pad_id);
}

// ------------------------------------------------------------------ text -> model inputs

// One entry of the options dict, converted; a missing or ill-typed entry is a clear error.
template <typename T>
T spec_item(const py::dict& spec, const char* key) {
  PyObject* value = PyDict_GetItemString(spec.ptr(), key);  // borrowed
  if (value == nullptr) raise(PyExc_ValueError, std::string("packing options: '") + key + "' is missing");
  try {
    return py::reinterpret_borrow<py::object>(value).cast<T>();
  } catch (const py::cast_error&) {
    raise(PyExc_TypeError, std::string("packing options: '") + key + "' has the wrong type (" +
                               type_name(value) + ")");
  }
}

void check_type_ids(const std::vector<uint32_t>& type_ids) {
  for (uint32_t t : type_ids) {
    if (t > 0x7FFFFFFFu) raise(PyExc_ValueError, "token type id " + std::to_string(t) + " does not fit in int32");
  }
}

}  // namespace

FeatureOptions feature_options(const py::dict& spec, size_t num_threads) {
  FeatureOptions o;
  o.single.prefix = spec_item<std::vector<uint32_t>>(spec, "prefix");
  o.single.suffix = spec_item<std::vector<uint32_t>>(spec, "suffix");
  o.single.prefix_type_ids = spec_item<std::vector<uint32_t>>(spec, "prefix_type_ids");
  o.single.suffix_type_ids = spec_item<std::vector<uint32_t>>(spec, "suffix_type_ids");
  o.single.sequence_type_id = spec_item<uint32_t>(spec, "sequence_type_id");
  check_type_ids(o.single.prefix_type_ids);
  check_type_ids(o.single.suffix_type_ids);
  check_type_ids({o.single.sequence_type_id});
  o.truncation.max_length = spec_item<int64_t>(spec, "max_length");
  o.truncation.side = spec_item<bool>(spec, "truncate_left") ? pack::Side::kLeft : pack::Side::kRight;
  o.varlen = spec_item<bool>(spec, "varlen");
  o.wide = spec_item<bool>(spec, "wide");
  o.padded.pad_id = spec_item<int64_t>(spec, "pad_id");
  o.padded.pad_side = spec_item<bool>(spec, "pad_left") ? pack::Side::kLeft : pack::Side::kRight;
  o.padded.pad_to_multiple_of = spec_item<int64_t>(spec, "pad_to_multiple_of");
  o.padded.min_width = spec_item<int64_t>(spec, "min_width");
  o.padded.max_threads = num_threads;
  o.type_ids = spec_item<bool>(spec, "type_ids");
  o.pad_type_id = spec_item<int64_t>(spec, "pad_type_id");
  if (o.pad_type_id < 0 || o.pad_type_id > 0x7FFFFFFF) {
    raise(PyExc_ValueError, "pad_type_id must be in [0, 2**31-1], got " + std::to_string(o.pad_type_id));
  }
  raise_if_error(features::check_single(o.single, o.truncation));
  return o;
}

template <typename Out>
struct FeatureBuffers {
  std::unique_ptr<Buffer<Out>> ids, mask, positions, type_ids;
};

struct FeatureArrays::Impl {
  bool varlen = false;
  bool wide = false;
  int64_t batch = 0;
  int64_t width = 0;       // padded
  int64_t total = 0;       // varlen
  int64_t max_seqlen = 0;  // varlen
  FeatureBuffers<int32_t> narrow;
  FeatureBuffers<int64_t> wide_buffers;
  std::unique_ptr<Buffer<int32_t>> cu_seqlens;

  template <typename Out>
  FeatureBuffers<Out>& buffers() {
    if constexpr (sizeof(Out) == 4) {
      return narrow;
    } else {
      return wide_buffers;
    }
  }

  template <typename Out>
  Status Fill(const std::vector<IdSpan>& spans, const FeatureOptions& o) {
    FeatureBuffers<Out>& a = buffers<Out>();
    if (varlen) {
      pack::VarlenOptions options;
      options.max_threads = o.padded.max_threads;
      if (Status s = pack::varlen_sizes(spans.data(), batch, options, &total, &max_seqlen); !s.ok()) return s;
      a.ids = new_buffer<Out>(total);
      a.positions = new_buffer<Out>(total);
      cu_seqlens = new_buffer<int32_t>(batch + 1);
      Status s = pack::fill_varlen<Out>(spans.data(), batch, options, a.ids->data(), cu_seqlens->data(),
                                        a.positions->data());
      if (!s.ok()) return s;
      if (o.type_ids) {
        a.type_ids = new_buffer<Out>(total);
        features::fill_type_ids_varlen<Out>(o.single, spans.data(), batch, cu_seqlens->data(), a.type_ids->data());
      }
      return Status::Ok();
    }
    if (Status s = pack::padded_width(spans.data(), batch, o.padded, &width); !s.ok()) return s;
    a.ids = new_buffer<Out>(batch * width);
    a.mask = new_buffer<Out>(batch * width);
    a.positions = new_buffer<Out>(batch * width);
    Status s = pack::fill_padded<Out>(spans.data(), batch, o.padded, width, a.ids->data(), a.mask->data(),
                                      a.positions->data());
    if (!s.ok()) return s;
    if (o.type_ids) {
      a.type_ids = new_buffer<Out>(batch * width);
      features::fill_type_ids_padded<Out>(o.single, spans.data(), batch, width, o.padded.pad_side, o.pad_type_id,
                                          a.type_ids->data());
    }
    return Status::Ok();
  }

  template <typename Out>
  py::dict ToDict() {
    FeatureBuffers<Out>& a = buffers<Out>();
    py::dict out;
    if (varlen) {
      out["input_ids"] = to_numpy(std::move(a.ids), {total});
      out["cu_seqlens"] = to_numpy(std::move(cu_seqlens), {batch + 1});
      out["position_ids"] = to_numpy(std::move(a.positions), {total});
      out["max_seqlen"] = py::int_(max_seqlen);
      if (a.type_ids) out["token_type_ids"] = to_numpy(std::move(a.type_ids), {total});
    } else {
      out["input_ids"] = to_numpy(std::move(a.ids), {batch, width});
      out["attention_mask"] = to_numpy(std::move(a.mask), {batch, width});
      out["position_ids"] = to_numpy(std::move(a.positions), {batch, width});
      if (a.type_ids) out["token_type_ids"] = to_numpy(std::move(a.type_ids), {batch, width});
    }
    return out;
  }
};

FeatureArrays::FeatureArrays() : impl_(std::make_unique<Impl>()) {}
FeatureArrays::~FeatureArrays() = default;

Status FeatureArrays::Fill(const std::vector<std::vector<uint32_t>>& rows, const FeatureOptions& options) {
  std::vector<IdSpan> spans(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    spans[i] = IdSpan{rows[i].data(), static_cast<int64_t>(rows[i].size()), IdWidth::k32};
  }
  impl_->varlen = options.varlen;
  impl_->wide = options.wide;
  impl_->batch = static_cast<int64_t>(rows.size());
  try {
    return options.wide ? impl_->Fill<int64_t>(spans, options) : impl_->Fill<int32_t>(spans, options);
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::kLimitExceeded, "out of memory for the packed arrays");
  }
}

py::dict FeatureArrays::ToDict() { return impl_->wide ? impl_->ToDict<int64_t>() : impl_->ToDict<int32_t>(); }

void bind_pack(py::module_& m) {
  m.attr("pack_kernel") = py::str(pack::kernel_name());
  m.def("pack_padded", &pack_padded, py::arg("seqs"), py::arg("pad_id"), py::arg("pad_left"), py::arg("max_length"),
        py::arg("truncate_left"), py::arg("pad_to_multiple_of"), py::arg("wide"),
        "Native kernel of fastprep.pack_padded (arguments already normalized by fastprep.pack): "
        "max_length 0 = none, wide = int64 output. Returns {input_ids, attention_mask, position_ids}.");
  m.def("pack_varlen", &pack_varlen, py::arg("seqs"), py::arg("max_length"), py::arg("truncate_left"),
        py::arg("wide"),
        "Native kernel of fastprep.pack_varlen. Returns {input_ids, cu_seqlens, position_ids, max_seqlen}.");
  m.def("pack_bins", &pack_bins, py::arg("seqs"), py::arg("max_tokens"), py::arg("truncate"), py::arg("pad_id"),
        py::arg("wide"),
        "Native kernel of fastprep.pack_bins (first-fit-decreasing). Returns {input_ids, segment_ids, "
        "position_ids, cu_seqlens, cu_seqlens_offsets, placement}.");
}

}  // namespace fastprep::bindings
