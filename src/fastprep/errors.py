"""fastprep's exception hierarchy. Native errors arrive as ValueError/KeyError/TypeError/OSError;
these add fastprep-specific types that still derive from the builtin a caller would expect."""


class Error(Exception):
    """Base class of fastprep-specific exceptions."""


class UnsupportedError(Error, ValueError):
    """A tokenizer file uses a component or option that fastprep does not implement.

    Raised at load time, naming the component, so that fastprep never silently differs from the
    reference implementation.
    """


class LimitExceededError(Error, ValueError):
    """An input is larger than the limits set with :meth:`fastprep.Tokenizer.with_limits`
    (``max_input_bytes`` before any work, ``max_tokens`` on the result)."""
