"""asyncio front end: tokenize (and pack) without blocking the event loop.

``aencode``, ``aencode_batch`` and ``aencode_padded`` run the tokenizer's GIL-releasing native
calls on one small, process-wide :class:`~concurrent.futures.ThreadPoolExecutor` and await the
result, so the loop keeps serving other requests while text is encoded. Each takes the tokenizer
as its first argument (``Tokenizer.aencode(...)`` is a thin method over :func:`aencode`).

Knobs (read once, when first needed; the setters change them at run time):

``FASTPREP_AIO_THREADS`` (default: the cores this process may use)
    Worker threads of the executor. One long prompt (>= 256 KiB) is additionally split by the
    native core at pre-token boundaries and encoded on its own thread pool across all cores.
``FASTPREP_AIO_MAX_CONCURRENCY`` / :func:`set_max_concurrency` (default: 2 x threads)
    Jobs each event loop may have in the executor at once. Further requests wait on the loop
    side (FIFO, cancellable) rather than piling into the executor's unbounded queue. A slot is
    returned when the job really ends, so a cancelled request whose encode already started
    still counts until its thread is free: the bound holds for the work, not the awaiters.
``FASTPREP_AIO_INLINE_CHARS`` / :func:`set_inline_chars` (default: 2048)
    Requests with at most this many characters in all are encoded directly on the loop:
    a thread hop (two GIL hand-offs and a loop wake-up) costs more than encoding them
    (< 512 bytes do not even release the GIL). 0 sends every request to the executor.

Long results are returned without holding the GIL for long either: a long text is encoded to
a NumPy array with the GIL released and turned into a list in slices, between which the loop's
thread can take the GIL; ``aencode_padded`` never builds Python lists for long texts at all.
"""
from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import os
import threading
import weakref
from typing import Any, Optional, Sequence

__all__ = [
    "aencode",
    "aencode_batch",
    "aencode_padded",
    "set_max_concurrency",
    "max_concurrency",
    "set_inline_chars",
    "executor",
    "shutdown",
]

# A text at least this long (characters) is encoded to a NumPy array, whose list (if one is
# wanted) is built in slices of _LIST_SLICE ids; shorter texts are grouped into encode_batch
# calls of about _GROUP_CHARS characters, so no single call builds a huge list under the GIL.
_LONG_CHARS = 1 << 16
_GROUP_CHARS = 1 << 18
_LIST_SLICE = 1 << 15
_CUT_CHARS = 1 << 19

_lock = threading.Lock()
_executor: Optional[concurrent.futures.ThreadPoolExecutor] = None
_threads: Optional[int] = None
_max_concurrency: Optional[int] = None
_inline_chars: Optional[int] = None
_limiters: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Limiter]" = weakref.WeakKeyDictionary()


def _env_int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _thread_count() -> int:
    global _threads
    if _threads is None:
        _threads = _env_int("FASTPREP_AIO_THREADS", _usable_cores(), 1)
    return _threads


def executor() -> concurrent.futures.ThreadPoolExecutor:
    """The process-wide executor (created on first use; recreated in a forked child)."""
    global _executor
    pool = _executor
    if pool is None:
        with _lock:
            if _executor is None:
                _executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=_thread_count(), thread_name_prefix="fastprep-aio")
            pool = _executor
    return pool


def shutdown(wait: bool = True) -> None:
    """Stops the executor (queued jobs are cancelled); the next request starts a new one."""
    global _executor
    with _lock:
        pool, _executor = _executor, None
    if pool is not None:
        pool.shutdown(wait=wait, cancel_futures=True)


def _after_fork_in_child() -> None:
    # The parent's worker threads do not exist in the child; start afresh there.
    global _executor, _lock
    _executor = None
    _lock = threading.Lock()
    _limiters.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def max_concurrency() -> int:
    """Jobs one event loop may have in the executor at once."""
    global _max_concurrency
    if _max_concurrency is None:
        _max_concurrency = _env_int("FASTPREP_AIO_MAX_CONCURRENCY", 2 * _thread_count(), 1)
    return _max_concurrency


def set_max_concurrency(n: int) -> None:
    """Sets the per-loop bound on executor jobs (>= 1); waiting requests are admitted at once
    if it grew. Overrides ``FASTPREP_AIO_MAX_CONCURRENCY``."""
    global _max_concurrency
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"max concurrency must be an int >= 1, got {n!r}")
    _max_concurrency = n
    for loop, limiter in list(_limiters.items()):
        try:
            loop.call_soon_threadsafe(limiter.admit)
        except RuntimeError:  # that loop is closed
            pass


def inline_chars() -> int:
    global _inline_chars
    if _inline_chars is None:
        _inline_chars = _env_int("FASTPREP_AIO_INLINE_CHARS", 2048, 0)
    return _inline_chars


def set_inline_chars(n: int) -> None:
    """Requests of at most ``n`` characters run on the loop itself (0: none do).
    Overrides ``FASTPREP_AIO_INLINE_CHARS``."""
    global _inline_chars
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"inline chars must be an int >= 0, got {n!r}")
    _inline_chars = n


class _Limiter:
    """A FIFO counting limiter for one event loop whose bound may change while in use
    (asyncio.Semaphore binds to one loop and has a fixed value)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self.active = 0
        self._waiters: collections.deque = collections.deque()

    async def acquire(self) -> None:
        if not self._waiters and self.active < max_concurrency():
            self.active += 1
            return
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over as we were cancelled: pass it on
            else:
                try:
                    self._waiters.remove(waiter)
                except ValueError:
                    pass
            raise

    def release(self) -> None:
        self.active -= 1
        self.admit()

    def admit(self) -> None:
        limit = max_concurrency()
        while self._waiters and self.active < limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.active += 1  # counted for the waiter before it resumes
                waiter.set_result(None)

    @property
    def waiting(self) -> int:
        return len(self._waiters)


def _limiter(loop: asyncio.AbstractEventLoop) -> _Limiter:
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = _Limiter(loop)
    return limiter


def _release_from_thread(loop: asyncio.AbstractEventLoop, limiter: _Limiter) -> None:
    try:
        loop.call_soon_threadsafe(limiter.release)
    except RuntimeError:  # the loop closed while the job ran: nothing left to admit
        pass


async def _offload(fn, *args):
    """Runs ``fn(*args)`` on the executor under this loop's bound and awaits its result."""
    loop = asyncio.get_running_loop()
    limiter = _limiter(loop)
    await limiter.acquire()
    try:
        job = executor().submit(fn, *args)
    except BaseException:
        limiter.release()
        raise
    # The slot is given back when the job ends (done, failed, or cancelled before it started),
    # not when the awaiting task is cancelled: a running encode cannot be interrupted.
    job.add_done_callback(lambda _job: _release_from_thread(loop, limiter))
    return await asyncio.wrap_future(job, loop=loop)


# -- the work, as it runs on a worker thread ------------------------------------------------------

_NUMPY_ENCODE_KWARGS = frozenset({"allowed_special", "disallowed_special"})


def _numpy_capable(tokenizer, kwargs: dict) -> bool:
    """Whether ``encode_to_numpy`` gives the same ids as ``encode``/``encode_batch`` with kwargs
    (tiktoken-style tokenizers; ``num_threads``/``add_special_tokens`` do not change their ids)."""
    if getattr(tokenizer, "is_hf", True) or not hasattr(tokenizer, "encode_to_numpy"):
        return False
    return all(k in _NUMPY_ENCODE_KWARGS or k in ("num_threads", "add_special_tokens") for k in kwargs)


def _numpy_kwargs(kwargs: dict) -> dict:
    return {k: v for k, v in kwargs.items() if k in _NUMPY_ENCODE_KWARGS}


def _as_list(ids) -> list:
    # Slice by slice, so the GIL can pass to the loop's thread between slices.
    n = len(ids)
    if n <= _LIST_SLICE:
        return ids.tolist()
    out: list = []
    for start in range(0, n, _LIST_SLICE):
        out += ids[start:start + _LIST_SLICE].tolist()
    return out


# Lexers whose pieces never span "<non-space>\n<letter>": the newline is a piece of its own
# (or ends the punctuation piece before it) and the letter starts a piece, whose extent depends
# only on the text after it. Cutting a text there gives exactly the pieces of the whole text.
_CUTTABLE_KINDS = frozenset({"cl100k_base", "o200k_base", "gpt2", "cl100k_base_legacy"})
_cuttable_cache: "weakref.WeakKeyDictionary[Any, bool]" = weakref.WeakKeyDictionary()


def _cuttable(tokenizer) -> bool:
    """Whether long texts of this tokenizer may be encoded in cuts (see _cut_points)."""
    ok = _cuttable_cache.get(tokenizer)
    if ok is None:
        ok = False
        try:
            from . import _backend

            core = _backend.native_core()
            ok = (core is not None and tokenizer.backend == "native"
                  and core.known_pattern(tokenizer.pat_str) in _CUTTABLE_KINDS
                  and not any(("\n" in t or "\r" in t) for t in tokenizer.special_tokens_set))
        except Exception:  # not a tiktoken-style fastprep tokenizer
            ok = False
        _cuttable_cache[tokenizer] = ok
    return ok


def _cut_points(text: str, target: int) -> list:
    """Offsets 0 = c0 < c1 < ... < len(text), about ``target`` characters apart, each just after
    a newline that follows a non-space character and precedes a letter."""
    cuts = [0]
    n = len(text)
    pos = target
    while pos < n:
        i = text.find("\n", pos)
        while i != -1 and i + 1 < n and not (
                text[i + 1].isalpha() and i > 0 and not text[i - 1].isspace()):
            i = text.find("\n", i + 1)
        if i == -1 or i + 1 >= n:
            break
        cuts.append(i + 1)
        pos = i + 1 + target
    cuts.append(n)
    return cuts


def _encode_long_numpy(tokenizer, text: str, kwargs: dict):
    """Ids of a long text as a NumPy uint32 array. A non-ASCII str is encoded in cuts of
    _CUT_CHARS characters: CPython converts the whole str to UTF-8 with the GIL held
    (about 30 ms for 5 MB), which would stall the event loop; cut by cut it is a few ms."""
    kwargs = _numpy_kwargs(kwargs)
    if text.isascii() or len(text) <= _CUT_CHARS or not _cuttable(tokenizer):
        return tokenizer.encode_to_numpy(text, **kwargs)
    import numpy as np

    cuts = _cut_points(text, _CUT_CHARS)
    parts = [tokenizer.encode_to_numpy(text[a:b], **kwargs) for a, b in zip(cuts, cuts[1:])]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _encode(tokenizer, text, kwargs: dict):
    if isinstance(text, str) and len(text) >= _LONG_CHARS and _numpy_capable(tokenizer, kwargs):
        return _as_list(_encode_long_numpy(tokenizer, text, kwargs))
    return tokenizer.encode(text, **kwargs)


def _groups(texts: Sequence, long_ok: bool):
    """Yields ("long", index, text) and ("group", start, texts) runs in input order."""
    group: list = []
    start = 0
    size = 0
    for i, text in enumerate(texts):
        if long_ok and isinstance(text, str) and len(text) >= _LONG_CHARS:
            if group:
                yield "group", start, group
            group, size = [], 0
            yield "long", i, text
            start = i + 1
            continue
        group.append(text)
        size += len(text) if isinstance(text, str) else 0
        if size >= _GROUP_CHARS:
            yield "group", start, group
            group, size, start = [], 0, i + 1
    if group:
        yield "group", start, group


def _encode_batch(tokenizer, texts, kwargs: dict):
    if isinstance(texts, str):
        raise TypeError("aencode_batch expects a sequence of str, not a single str")
    texts = texts if isinstance(texts, (list, tuple)) else list(texts)
    total = sum(len(t) for t in texts if isinstance(t, str))
    if total < _GROUP_CHARS or not _numpy_capable(tokenizer, kwargs):
        return tokenizer.encode_batch(texts, **kwargs)
    out: list = []
    for kind, _, item in _groups(texts, True):
        if kind == "long":
            out.append(_as_list(_encode_long_numpy(tokenizer, item, kwargs)))
        else:
            out.extend(tokenizer.encode_batch(item, **kwargs))
    return out


def _encode_padded(tokenizer, texts, encode_kwargs: dict, pack_kwargs: dict):
    from .pack import pack_padded

    if isinstance(texts, str):
        raise TypeError("aencode_padded expects a sequence of str, not a single str")
    texts = texts if isinstance(texts, (list, tuple)) else list(texts)
    if not _numpy_capable(tokenizer, encode_kwargs):
        return pack_padded(tokenizer.encode_batch(texts, **encode_kwargs), **pack_kwargs)
    seqs: list = []
    for kind, _, item in _groups(texts, True):
        if kind == "long":
            # uint32 ids below 2**31 (checked at load) read as int32 without a copy.
            seqs.append(_encode_long_numpy(tokenizer, item, encode_kwargs).view("int32"))
        else:
            seqs.extend(tokenizer.encode_batch(item, **encode_kwargs))
    return pack_padded(seqs, **pack_kwargs)


def _inline(texts_chars: int) -> bool:
    return texts_chars <= inline_chars()


def _chars(texts) -> int:
    if isinstance(texts, str):
        return len(texts)
    if not isinstance(texts, (list, tuple)):
        return 1 << 62  # an iterator: unknown size, so off the loop
    return sum(len(t) if isinstance(t, str) else 1 << 30 for t in texts)


# -- public API ------------------------------------------------------------------------------------

async def aencode(tokenizer, text: str, **kwargs: Any) -> list:
    """``tokenizer.encode(text, **kwargs)`` without blocking the event loop."""
    if isinstance(text, str) and _inline(len(text)):
        return tokenizer.encode(text, **kwargs)
    return await _offload(_encode, tokenizer, text, kwargs)


async def aencode_batch(tokenizer, texts: Sequence[str], **kwargs: Any):
    """``tokenizer.encode_batch(texts, **kwargs)`` without blocking the event loop."""
    if isinstance(texts, (list, tuple)) and _inline(_chars(texts)):
        return tokenizer.encode_batch(texts, **kwargs)
    return await _offload(_encode_batch, tokenizer, texts, kwargs)


async def aencode_padded(
    tokenizer,
    texts: Sequence[str],
    *,
    pad_id: int,
    side: str = "right",
    max_length: Optional[int] = None,
    truncation_side: str = "right",
    pad_to_multiple_of: Optional[int] = None,
    dtype: Any = "int32",
    **encode_kwargs: Any,
) -> dict:
    """Tokenizes ``texts`` and packs them with :func:`fastprep.pack_padded`, off the loop.

    Returns ``{"input_ids", "attention_mask", "position_ids"}``, each ``[B, L]`` of ``dtype``,
    equal to ``pack_padded(tokenizer.encode_batch(texts, **encode_kwargs), pad_id=..., ...)``.
    ``encode_kwargs`` go to ``encode_batch`` (``allowed_special``, ``disallowed_special``,
    ``num_threads``, ``add_special_tokens``).
    """
    pack_kwargs = dict(pad_id=pad_id, side=side, max_length=max_length,
                       truncation_side=truncation_side, pad_to_multiple_of=pad_to_multiple_of,
                       dtype=dtype)
    if isinstance(texts, (list, tuple)) and _inline(_chars(texts)):
        return _encode_padded(tokenizer, texts, encode_kwargs, pack_kwargs)
    return await _offload(_encode_padded, tokenizer, texts, encode_kwargs, pack_kwargs)
