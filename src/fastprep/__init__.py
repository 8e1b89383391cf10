"""fastprep: exact, fast text preprocessing for LLM and encoder serving.

Byte-level BPE with tiktoken's ids and method names, on native kernels with the GIL released,
and a pure-Python reference backend that gives identical results.
"""
from ._backend import available_backends, backend
from . import encodings
from .encodings import get_encoding, list_encoding_names
from .errors import Error, LimitExceededError, UnsupportedError
from .normalize import is_normalized, normalize
from .pack import pack_bins, pack_padded, pack_varlen
from .stream import DecodeStream, DecodeStreams
from .tokenizer import Tokenizer

# tiktoken's class name, so `from fastprep import Encoding` works when switching imports.
Encoding = Tokenizer

__version__ = "0.1.0"

__all__ = [
    "DecodeStream",
    "DecodeStreams",
    "Encoding",
    "Error",
    "LimitExceededError",
    "UnsupportedError",
    "Tokenizer",
    "available_backends",
    "encodings",
    "backend",
    "get_encoding",
    "is_normalized",
    "normalize",
    "pack_bins",
    "pack_padded",
    "pack_varlen",
    "list_encoding_names",
    "__version__",
]
