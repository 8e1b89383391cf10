#!/usr/bin/env python3
"""Generate cpp/src/hf_unicode_tables.inc: the character data of the native BERT pipeline.

Single source of truth: the pure-Python HF reference's tables
(src/fastprep/_fallback/hf/_unicode_tables.py, made by its gen_unicode_tables.py) and
White_Space from src/fastprep/_fallback/unicode_data.py -- the very sets
fastprep._fallback.hf._unicode reads, so native and reference cannot drift apart. Versions (see the
docstring of fastprep._fallback.hf for how each was established against HF tokenizers 0.23.3):

* BertNormalizer clean_text ``is_other`` (Cc, Cf, private use), its accent filter (Mn) and the
  BertPreTokenizer's ``is_punctuation``: crate unicode_categories, Unicode 8.0.0;
* NFD inside strip_accents (canonical decompositions, canonical combining classes): crate
  unicode-normalization-alignments, Unicode 9.0.0;
* lowercase (full, context-free ``char::to_lowercase``) and ``char::is_whitespace``: Rust std,
  Unicode 17.0.0 (White_Space is unchanged since 6.x);
* ``\\w`` for single_word added tokens: Rust regex crate, Unicode 16.0.0.

Usage: python tools/gen_hf_unicode_tables.py [--output PATH]  (default: rewrites
cpp/src/hf_unicode_tables.inc; tests/test_bert_native.py checks that file is up to date)
"""
from __future__ import annotations

import argparse
import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "cpp" / "src" / "hf_unicode_tables.inc"

FLAG_WHITESPACE = 1 << 0     # White_Space (Rust char::is_whitespace)
FLAG_OTHER8 = 1 << 1         # unicode_categories is_other: Cc | Cf | Co (8.0)
FLAG_PUNCT8 = 1 << 2         # is_ascii_punctuation || is_punctuation (8.0)
FLAG_MN8 = 1 << 3            # is_mark_nonspacing (8.0)
FLAG_DECOMP9 = 1 << 4        # has a canonical decomposition (9.0), Hangul syllables included
FLAG_NONSTARTER9 = 1 << 5    # canonical combining class != 0 (9.0)
FLAG_LOWER17 = 1 << 6        # char::to_lowercase(c) != c (17.0)
FLAG_WORD16 = 1 << 7         # Rust regex \w (16.0)
FLAG_CJK = 1 << 8            # BertNormalizer's eight "Chinese character" ranges


def _load(rel: str):
    path = ROOT / rel
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def parse_ranges(text: str):
    out = []
    for item in text.split():
        lo, _, hi = item.partition("-")
        out.append((int(lo, 16), int(hi or lo, 16)))
    return out


def parse_map(text: str):
    out = {}
    for item in text.split():
        cp, mapping = item.split(":")
        out[int(cp, 16)] = tuple(int(x, 16) for x in mapping.split("."))
    return out


def generate() -> str:
    """The text of hf_unicode_tables.inc."""
    t = _load("src/fastprep/_fallback/hf/_unicode_tables.py")
    u16 = _load("src/fastprep/_fallback/unicode_data.py")

    flags = [0] * 0x110000

    def mark(ranges, bit):
        for lo, hi in ranges:
            for cp in range(lo, hi + 1):
                flags[cp] |= bit

    mark(u16.WHITE_SPACE, FLAG_WHITESPACE)
    mark(parse_ranges(t.CONTROL_FORMAT_8) + [(0xE000, 0xF8FF), (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD)],
         FLAG_OTHER8)
    mark(parse_ranges(t.PUNCTUATION_8)
         + [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)], FLAG_PUNCT8)
    mark(parse_ranges(t.NONSPACING_MARK_8), FLAG_MN8)
    mark(parse_ranges(t.WORD_16), FLAG_WORD16)
    mark([(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
          (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)], FLAG_CJK)

    ccc = {}
    for cls, text in t.CCC_9.items():
        for lo, hi in parse_ranges(text):
            for cp in range(lo, hi + 1):
                ccc[cp] = int(cls)
    for cp, cls in ccc.items():
        if cls:
            flags[cp] |= FLAG_NONSTARTER9

    canonical = parse_map(t.CANONICAL_9)

    def full(cp):
        m = canonical.get(cp)
        if m is None:
            return (cp,)
        return tuple(x for d in m for x in full(d))

    decomp = {cp: full(cp) for cp in canonical}
    for cp in decomp:
        flags[cp] |= FLAG_DECOMP9
    mark([(0xAC00, 0xAC00 + 11172 - 1)], FLAG_DECOMP9)  # Hangul: algorithmic, in the C++ code

    lower = {cp: m for cp, m in parse_map(t.LOWERCASE_17).items() if m != (cp,)}
    for cp in lower:
        flags[cp] |= FLAG_LOWER17

    # Two-stage lookup over 128-code-point blocks.
    block = 128
    blocks: dict[tuple, int] = {}
    stage1 = []
    stage2: list[int] = []
    for base in range(0, 0x110000, block):
        chunk = tuple(flags[base:base + block])
        idx = blocks.get(chunk)
        if idx is None:
            idx = len(blocks)
            blocks[chunk] = idx
            stage2.extend(chunk)
        stage1.append(idx)

    assert len(blocks) <= 256, "stage 1 is uint8_t"
    decomp_data: list[int] = []
    decomp_rows = []
    for cp in sorted(decomp):
        m = decomp[cp]
        decomp_rows.append((cp, len(decomp_data), len(m)))
        decomp_data.extend(m)

    lower_multi: list[int] = []
    lower_rows = []
    for cp in sorted(lower):
        m = lower[cp]
        if len(m) == 1:
            lower_rows.append((cp, m[0]))
        else:
            assert len(m) <= 3
            lower_rows.append((cp, 0x80000000 | (len(lower_multi) << 2) | len(m)))
            lower_multi.extend(m)

    ccc_rows = sorted((cp, c) for cp, c in ccc.items() if c)

    def emit_array(ctype, name, values, per_line=16, fmt="{}"):
        lines = [f"constexpr {ctype} {name}[{len(values)}] = {{"]
        for i in range(0, len(values), per_line):
            lines.append("  " + " ".join(fmt.format(v) + "," for v in values[i:i + per_line]))
        lines.append("};")
        return "\n".join(lines)

    parts = [
        "// Generated by tools/gen_hf_unicode_tables.py -- do not edit.",
        "// Character data of the native BERT pipeline (BertNormalizer, BertPreTokenizer, added tokens),",
        "// generated from the HF reference's tables (src/fastprep/_fallback/hf/_unicode_tables.py and",
        "// White_Space from src/fastprep/_fallback/unicode_data.py). Unicode versions, as HF tokenizers",
        "// 0.23.3 follows them: is_other/Mn/punctuation = Unicode 8.0.0 (crate unicode_categories);",
        "// canonical decompositions and combining classes = Unicode 9.0.0 (crate",
        "// unicode-normalization-alignments); lowercase = Unicode 17.0.0 (Rust std to_lowercase, full",
        "// mappings); White_Space = Rust std (unchanged since 6.x); \\w = Unicode 16.0.0 (Rust regex).",
        "// Derived from the Unicode Character Database, Copyright (c) Unicode, Inc., distributed under",
        "// the Unicode, Inc. License Agreement - Data Files and Software (https://www.unicode.org/license.txt).",
        "//",
        "// Flags: kHfFlagStage2[(kHfFlagStage1[cp >> 7] << 7) | (cp & 127)].",
        f"constexpr uint16_t kHfWhitespace = {FLAG_WHITESPACE};",
        f"constexpr uint16_t kHfOther8 = {FLAG_OTHER8};",
        f"constexpr uint16_t kHfPunct8 = {FLAG_PUNCT8};",
        f"constexpr uint16_t kHfMn8 = {FLAG_MN8};",
        f"constexpr uint16_t kHfDecomp9 = {FLAG_DECOMP9};",
        f"constexpr uint16_t kHfNonStarter9 = {FLAG_NONSTARTER9};",
        f"constexpr uint16_t kHfLower17 = {FLAG_LOWER17};",
        f"constexpr uint16_t kHfWord16 = {FLAG_WORD16};",
        f"constexpr uint16_t kHfCjk = {FLAG_CJK};",
        emit_array("uint8_t", "kHfFlagStage1", stage1),
        emit_array("uint16_t", "kHfFlagStage2", stage2, fmt="0x{:03x}"),
        "// Full canonical decompositions (Unicode 9.0, recursive, Hangul excluded): code point,",
        "// offset into kHfDecompData, length; sorted by code point.",
        "struct HfDecompRow { uint32_t cp; uint16_t offset; uint8_t length; };",
        "constexpr HfDecompRow kHfDecompRows[] = {",
        "\n".join("  " + " ".join(f"{{0x{cp:X}, {o}, {n}}}," for cp, o, n in decomp_rows[i:i + 6])
                  for i in range(0, len(decomp_rows), 6)),
        "};",
        emit_array("uint32_t", "kHfDecompData", decomp_data, fmt="0x{:X}"),
        "// Canonical combining classes != 0 (Unicode 9.0), sorted by code point.",
        "struct HfCccRow { uint32_t cp; uint8_t ccc; };",
        "constexpr HfCccRow kHfCccRows[] = {",
        "\n".join("  " + " ".join(f"{{0x{cp:X}, {c}}}," for cp, c in ccc_rows[i:i + 8])
                  for i in range(0, len(ccc_rows), 8)),
        "};",
        "// Lowercase mappings (Unicode 17.0), sorted by code point: the single code point, or",
        "// 0x80000000 | (offset into kHfLowerMulti << 2) | length for multi-character mappings.",
        "struct HfLowerRow { uint32_t cp; uint32_t lower; };",
        "constexpr HfLowerRow kHfLowerRows[] = {",
        "\n".join("  " + " ".join(f"{{0x{cp:X}, 0x{lw:X}}}," for cp, lw in lower_rows[i:i + 6])
                  for i in range(0, len(lower_rows), 6)),
        "};",
        emit_array("uint32_t", "kHfLowerMulti", lower_multi or [0], fmt="0x{:X}"),
        "",
    ]
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=pathlib.Path, default=OUT)
    args = parser.parse_args()
    args.output.write_text(generate())
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
