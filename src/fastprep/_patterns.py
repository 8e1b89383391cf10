"""Pre-tokenizer regex strings of the OpenAI encodings, exactly as tiktoken 0.14 spells them.

The native backend recognises these exact strings (``fastprep._core.known_pattern``) and splits
with a hand-written lexer instead of a regex engine; any other string goes to the general path in
``fastprep._fallback.pretokenize``.
"""

# r50k_base, p50k_base, p50k_edit and gpt2.
R50K_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""

CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

# The original GPT-2 spelling (encoder.py, 2019). Splits identically to R50K_PATTERN (proved by
# tests/test_pretokenize.py), so it selects the same lexer.
GPT2_LEGACY_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# The cl100k_base spelling published before tiktoken 0.7. NOT equivalent to CL100K_PATTERN: it has
# no `\s++$` branch, so a whitespace run that reaches the end of the text and contains a line break
# is split after the last break ("a\n  " -> "a", "\n", "  " instead of "a", "\n  "). It has its own
# lexer kind, "cl100k_base_legacy", proved against tiktoken run with this very string.
CL100K_LEGACY_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

__all__ = [
    "CL100K_LEGACY_PATTERN",
    "CL100K_PATTERN",
    "GPT2_LEGACY_PATTERN",
    "O200K_PATTERN",
    "R50K_PATTERN",
]
