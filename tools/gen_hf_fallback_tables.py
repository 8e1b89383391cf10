#!/usr/bin/env python3
"""Generate _unicode_tables.py: the character data each HF `tokenizers` code path follows.

HF tokenizers 0.23.3 mixes four Unicode versions (see the package docstring for how each was
found); this generator builds each table from that version's data:

  * Unicode 9.0.0 (crate `unicode-normalization-alignments` 0.1.12, used by NFC/NFD/NFKC/NFKD,
    BertNormalizer's strip_accents decomposition and StripAccents' is_combining_mark):
    canonical combining classes, canonical and compatibility decompositions, the Mark
    categories, and the set of characters assigned in 9.0.
  * Unicode 8.0.0 (crate `unicode_categories` 0.1.1, used by BertNormalizer's clean_text
    (`is_other` = Cc | Cf | private use), its accent filter (`is_mark_nonspacing` = Mn) and the
    Bert/Punctuation pre-tokenizers (`is_punctuation` = P*)).
  * Unicode 17.0.0 (Rust std `char`, used by Lowercase/BertNormalizer lowercasing and by the
    Digits pre-tokenizer's is_numeric = N*).
  * Unicode 16.0.0 (Rust `regex` crate, used for `\\w` by the Whitespace pre-tokenizer and by
    single_word added tokens; Oniguruma's `\\p{..}`/`\\s` also follow 16.0 and go through
    fastprep._fallback.pretokenize, whose tables are 16.0).

Inputs (generator time only, never runtime dependencies):
  --ucd9 / --ucd8: the source distributions of `unicodedata2` 9.0.0 and 8.0.0 (pip download
      --no-binary :all: unicodedata2==9.0.0). Their Python 2-era C modules no longer build, so
      this script compiles a ten-line C program against their generated `unicodedata_db.h` and
      dumps category, combining class and decomposition of every code point.
  --ud17: a directory holding the `unicodedata2` 17.0.x wheel contents (pip install --target).
  the installed `unicodedata2` (16.0.0) and tools/ucd-15.0.0 (PropList.txt: Other_Alphabetic,
      Join_Control; CompositionExclusions.txt) -- 15.0.0 files whose entries for these uses are
      unchanged in 16.0 (tests/test_hf_reference.py checks the result against the peer).
  Lowercasing: Python 3.11's str.lower() is Unicode 14.0 and no Python package exposes the
      17.0 case mappings, so for code points unassigned in 14.0 the mapping is read from the
      peer itself (tokenizers' Lowercase normalizer, i.e. Rust's char::to_lowercase).

Usage: python tools/gen_hf_fallback_tables.py --ucd9 DIR --ucd8 DIR --ud17 DIR
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "src", "fastprep", "_fallback", "hf")

_DUMP_C = r"""
#include <stdio.h>
#include <string.h>
typedef unsigned int Py_UCS4;
typedef struct { const unsigned char category, combining, bidirectional, mirrored,
    east_asian_width, normalization_quick_check; } _PyUnicode_DatabaseRecord;
typedef struct change_record { const unsigned char bidir_changed, category_changed,
    decimal_changed, mirrored_changed, east_asian_width_changed; const double numeric_changed; } change_record;
#include "unicodedata_db.h"
int main(void) {
  for (Py_UCS4 code = 0; code < 0x110000; code++) {
    int index = index1[(code >> SHIFT)];
    index = index2[(index << SHIFT) + (code & ((1 << SHIFT) - 1))];
    const _PyUnicode_DatabaseRecord *r = &_PyUnicode_Database_Records[index];
    int di = decomp_index1[(code >> DECOMP_SHIFT)];
    di = decomp_index2[(di << DECOMP_SHIFT) + (code & ((1 << DECOMP_SHIFT) - 1))];
    int count = decomp_data[di] >> 8, prefix = decomp_data[di] & 255;
    const char *cat = _PyUnicode_CategoryNames[r->category];
    if (strcmp(cat, "Cn") == 0 && count == 0) continue;
    printf("%X;%s;%d;", code, cat, r->combining);
    if (count) { printf("%s", decomp_prefix[prefix]);
      for (int i = 0; i < count; i++) printf(" %X", decomp_data[di + 1 + i]); }
    printf("\n");
  }
  return 0;
}
"""


def dump_ucd(sdist: str) -> dict[int, tuple[str, int, str]]:
    """code point -> (category, ccc, decomposition field) from an old unicodedata2 sdist."""
    inc = os.path.join(sdist, "unicodedata2")
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, "dump.c"), os.path.join(tmp, "dump")
        with open(src, "w") as f:
            f.write(_DUMP_C)
        subprocess.run(["gcc", "-O1", "-w", "-I", inc, "-o", exe, src], check=True)
        out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    table = {}
    for line in out.splitlines():
        cp, cat, ccc, dec = line.split(";")
        table[int(cp, 16)] = (cat, int(ccc), dec.strip())
    return table


def ranges(cps) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for cp in sorted(cps):
        if out and cp == out[-1][1] + 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return [(lo, hi) for lo, hi in out]


def fmt_ranges(name: str, rs) -> str:
    body = " ".join(f"{lo:X}" if lo == hi else f"{lo:X}-{hi:X}" for lo, hi in rs)
    lines, cur = [], ""
    for item in body.split(" "):
        if len(cur) + len(item) > 95:
            lines.append(cur)
            cur = ""
        cur += item + " "
    lines.append(cur)
    return f'{name} = """\n' + "\n".join(l.rstrip() for l in lines) + '\n"""\n'


def fmt_map(name: str, mapping: dict[int, tuple[int, ...]]) -> str:
    items = [f"{cp:X}:" + ".".join(f"{x:X}" for x in v) for cp, v in sorted(mapping.items())]
    lines, cur = [], ""
    for item in items:
        if len(cur) + len(item) > 95:
            lines.append(cur)
            cur = ""
        cur += item + " "
    lines.append(cur)
    return f'{name} = """\n' + "\n".join(l.rstrip() for l in lines) + '\n"""\n'


def prop_list(path: str, prop: str) -> set[int]:
    out = set()
    with open(path) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line:
                continue
            span, name = (x.strip() for x in line.split(";"))
            if name != prop:
                continue
            lo, _, hi = span.partition("..")
            out.update(range(int(lo, 16), int(hi or lo, 16) + 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ucd9", required=True, help="unicodedata2-9.0.0 sdist directory")
    ap.add_argument("--ucd8", required=True, help="unicodedata2-8.0.0 sdist directory")
    ap.add_argument("--ud17", required=True, help="directory with the unicodedata2 17.0 module")
    ap.add_argument("--ucd", default=os.path.join(ROOT, "tools", "ucd-15.0.0"))
    ap.add_argument("--out", default=os.path.join(HERE, "_unicode_tables.py"))
    args = ap.parse_args()

    u9, u8 = dump_ucd(args.ucd9), dump_ucd(args.ucd8)
    import unicodedata2 as ud16  # the installed 16.0.0
    assert ud16.unidata_version == "16.0.0", ud16.unidata_version
    sys.path.insert(0, args.ud17)
    for mod in [m for m in sys.modules if m.startswith("unicodedata2")]:
        del sys.modules[mod]
    import unicodedata2 as ud17
    assert ud17.unidata_version.startswith("17.0"), ud17.unidata_version

    # --- Unicode 9.0 normalization data -------------------------------------------------
    ccc9 = {cp: v[1] for cp, v in u9.items() if v[1]}
    canon9, compat9 = {}, {}
    for cp, (_cat, _ccc, dec) in u9.items():
        if not dec:
            continue
        parts = dec.split()
        if parts[0].startswith("<"):
            compat9[cp] = tuple(int(x, 16) for x in parts[1:])
        else:
            canon9[cp] = tuple(int(x, 16) for x in parts)
    excl = set()
    with open(os.path.join(args.ucd, "CompositionExclusions.txt")) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if line:
                excl.add(int(line, 16))
    excl &= set(canon9)  # the exclusion list only grows with characters that exist
    mark9 = [cp for cp, v in u9.items() if v[0].startswith("M")]
    ccc_items: dict[int, list[int]] = {}
    for cp, c in ccc9.items():
        ccc_items.setdefault(c, []).append(cp)

    # --- Unicode 8.0 general categories (unicode_categories) ------------------------------
    punct8 = [cp for cp, v in u8.items() if v[0].startswith("P")]
    mn8 = [cp for cp, v in u8.items() if v[0] == "Mn"]
    other8 = [cp for cp, v in u8.items() if v[0] in ("Cc", "Cf")]

    # --- Unicode 17.0 (Rust std) ----------------------------------------------------------
    numeric17 = [cp for cp in range(0x110000) if ud17.category(chr(cp)).startswith("N")]
    lower17: dict[int, tuple[int, ...]] = {}
    from tokenizers import normalizers as hf_normalizers
    hf_lower = hf_normalizers.Lowercase().normalize_str
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        if unicodedata.category(ch) != "Cn":
            low = ch.lower()
        elif ud17.category(ch) != "Cn":
            low = hf_lower(ch)
        else:
            continue
        if low != ch:
            lower17[cp] = tuple(ord(c) for c in low)

    # --- Unicode 16.0 \w (Rust regex) -----------------------------------------------------
    prop = os.path.join(args.ucd, "PropList.txt")
    other_alpha = prop_list(prop, "Other_Alphabetic")
    join_control = prop_list(prop, "Join_Control")
    word16 = set(other_alpha) | join_control
    for cp in range(0x110000):
        cat = ud16.category(chr(cp))
        if cat[0] in "LM" or cat in ("Nl", "Nd", "Pc"):
            word16.add(cp)
    # Other_Alphabetic outside M/L that 15.0's PropList cannot know about: none in 16.0
    # (the test checks the whole set against tokenizers' Whitespace pre-tokenizer).

    parts = [
        '"""Unicode tables for the HF-pipeline reference (generated; do not edit).\n\n'
        "Generated by tools/gen_hf_fallback_tables.py; see its docstring for the\n"
        "inputs. Derived from the Unicode Character Database, Copyright (c) Unicode, Inc.,\n"
        "distributed under the Unicode, Inc. License Agreement - Data Files and Software\n"
        "(https://www.unicode.org/license.txt).\n\n"
        "Ranges are 'LO[-HI]' hex items; maps are 'CP:M1.M2..' hex items.\n"
        '"""\n',
        "# Unicode 9.0.0: unicode-normalization-alignments (normalizers, StripAccents)\n",
        fmt_map("CANONICAL_9", canon9),
        fmt_map("COMPATIBILITY_9", compat9),
        fmt_ranges("COMPOSITION_EXCLUSIONS_9", ranges(excl)),
        'CCC_9 = {\n' + "".join(
            f"    {c}: {fmt_ranges('X', ranges(cps)).split(' = ', 1)[1].rstrip()},\n"
            for c, cps in sorted(ccc_items.items())) + "}\n",
        fmt_ranges("MARK_9", ranges(mark9)),
        "# Unicode 8.0.0: unicode_categories (BertNormalizer, Bert/Punctuation pre-tokenizers)\n",
        fmt_ranges("PUNCTUATION_8", ranges(punct8)),
        fmt_ranges("NONSPACING_MARK_8", ranges(mn8)),
        fmt_ranges("CONTROL_FORMAT_8", ranges(other8)),
        "# Unicode 17.0.0: Rust std char (to_lowercase, is_numeric)\n",
        fmt_ranges("NUMERIC_17", ranges(numeric17)),
        fmt_map("LOWERCASE_17", lower17),
        "# Unicode 16.0.0: Rust regex \\w\n",
        fmt_ranges("WORD_16", ranges(word16)),
    ]
    with open(args.out, "w") as f:
        f.write("\n".join(parts))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
