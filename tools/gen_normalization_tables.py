#!/usr/bin/env python3
"""Generates the Unicode normalization data (NFC/NFD/NFKC/NFKD) for both backends.

Reads a Unicode Character Database directory (UnicodeData.txt, CompositionExclusions.txt,
DerivedNormalizationProps.txt) and writes

  cpp/src/normalization_tables.inc              two-stage lookup tables for cpp/src/normalize.cpp
  src/fastprep/_fallback/normalization_data.py  the raw mappings for the pure-Python reference

The C++ tables hold fully recursive decompositions (the native code never recurses); the Python
data holds the one-level mappings of UnicodeData.txt so the reference reads like UAX #15.
Derived facts the native fast path relies on are checked here, so a future UCD that breaks one
fails loudly at generation time instead of producing wrong output.

Usage: python tools/gen_normalization_tables.py [UCD_DIR]   (default: tools/ucd-15.0.0)
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CPP_OUT = REPO / "cpp" / "src" / "normalization_tables.inc"
PY_OUT = REPO / "src" / "fastprep" / "_fallback" / "normalization_data.py"

MAX_CP = 0x10FFFF
BLOCK_SHIFT = 7  # 128 code points per second-stage block
S_BASE, S_COUNT = 0xAC00, 11172
L_BASE, V_BASE, T_BASE = 0x1100, 0x1161, 0x11A7
L_COUNT, V_COUNT, T_COUNT = 19, 21, 28

LICENSE_LINES = [
    "Derived from the Unicode Character Database, Copyright (c) Unicode, Inc., distributed under",
    "the Unicode, Inc. License Agreement - Data Files and Software",
    "(https://www.unicode.org/license.txt).",
]


def ucd_version(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    m = re.search(r"-(\d+\.\d+\.\d+)\.txt", first)
    if not m:
        sys.exit(f"cannot read the Unicode version from the first line of {path}")
    return m.group(1)


def parse_range(field: str) -> range:
    if ".." in field:
        a, b = field.split("..")
        return range(int(a, 16), int(b, 16) + 1)
    return range(int(field, 16), int(field, 16) + 1)


def load_unicode_data(ucd: Path):
    ccc: dict[int, int] = {}
    decomp: dict[int, tuple[bool, list[int]]] = {}  # cp -> (is_compat, one-level mapping)
    for line in (ucd / "UnicodeData.txt").read_text(encoding="utf-8").splitlines():
        f = line.split(";")
        cp = int(f[0], 16)
        if int(f[3]):
            ccc[cp] = int(f[3])  # range entries (<CJK Ideograph, First> ...) all have ccc 0
        if f[5]:
            parts = f[5].split()
            compat = parts[0].startswith("<")
            if compat:
                parts = parts[1:]
            decomp[cp] = (compat, [int(p, 16) for p in parts])
    return ccc, decomp


def load_exclusions(ucd: Path) -> list[int]:
    out = []
    for line in (ucd / "CompositionExclusions.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            out.extend(parse_range(line))
    return sorted(out)


def load_derived(ucd: Path):
    qc = {name: {} for name in ("NFC_QC", "NFKC_QC", "NFD_QC", "NFKD_QC")}
    fce: set[int] = set()
    for line in (ucd / "DerivedNormalizationProps.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        f = [x.strip() for x in line.split(";")]
        if f[1] in qc:
            for cp in parse_range(f[0]):
                qc[f[1]][cp] = f[2]  # "N" or "M"
        elif f[1] == "Full_Composition_Exclusion":
            fce.update(parse_range(f[0]))
    return qc, fce


def hangul_decompose(cp: int) -> list[int]:
    s = cp - S_BASE
    out = [L_BASE + s // (V_COUNT * T_COUNT), V_BASE + (s % (V_COUNT * T_COUNT)) // T_COUNT]
    if s % T_COUNT:
        out.append(T_BASE + s % T_COUNT)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ucd", nargs="?", default=str(REPO / "tools" / "ucd-15.0.0"))
    args = ap.parse_args()
    ucd = Path(args.ucd)
    version = ucd_version(ucd / "DerivedNormalizationProps.txt")
    if ucd_version(ucd / "CompositionExclusions.txt") != version:  # UnicodeData.txt has no header
        sys.exit(f"CompositionExclusions.txt is not Unicode {version}")

    ccc, decomp = load_unicode_data(ucd)
    exclusions = load_exclusions(ucd)
    qc, fce = load_derived(ucd)

    def full(cp: int, compat: bool) -> list[int]:
        if S_BASE <= cp < S_BASE + S_COUNT:
            return hangul_decompose(cp)
        d = decomp.get(cp)
        if d is None or (d[0] and not compat):
            return [cp]
        return [x for c in d[1] for x in full(c, compat)]

    # Primary composites: canonical pairs not fully excluded from composition. Full exclusion is
    # derived here (explicit list + singletons + non-starter decompositions) and cross-checked.
    derived_fce = set(exclusions)
    for cp, (compat, m) in decomp.items():
        if compat:
            continue
        if len(m) == 1 or ccc.get(cp, 0) or ccc.get(m[0], 0):
            derived_fce.add(cp)
    assert derived_fce == fce, "Full_Composition_Exclusion does not match its derivation"
    pairs: dict[tuple[int, int], int] = {}
    for cp, (compat, m) in decomp.items():
        if not compat and cp not in fce:
            assert len(m) == 2
            pairs[(m[0], m[1])] = cp
    seconds = {b for (_, b) in pairs} | set(range(V_BASE, V_BASE + V_COUNT)) | set(range(T_BASE + 1, T_BASE + T_COUNT))
    maybe_nfc = {cp for cp, v in qc["NFC_QC"].items() if v == "M"}
    maybe_nfkc = {cp for cp, v in qc["NFKC_QC"].items() if v == "M"}
    assert seconds == maybe_nfc == maybe_nfkc, "NFC_QC=Maybe should be exactly the chars that combine backward"

    # Facts the native fast path relies on: a starter that passes the quick check (a "boundary")
    # decomposes to a sequence that starts with a starter (that, for NFC/NFKC, never combines
    # backward), so text before it can never change because of text after it.
    for form, compat in (("NFC_QC", False), ("NFKC_QC", True), ("NFD_QC", False), ("NFKD_QC", True)):
        for cp in range(MAX_CP + 1):
            if ccc.get(cp, 0) == 0 and cp not in qc[form]:
                first = full(cp, compat)[0]
                composes = form in ("NFC_QC", "NFKC_QC")
                assert ccc.get(first, 0) == 0 and not (composes and first in seconds), (form, hex(cp))
    # NFD/NFKD quick check No == has a decomposition of that kind.
    for cp in range(MAX_CP + 1):
        assert (cp in qc["NFD_QC"]) == (full(cp, False) != [cp]), hex(cp)
        assert (cp in qc["NFKD_QC"]) == (full(cp, True) != [cp]), hex(cp)

    # ---- C++ tables -------------------------------------------------------------------------
    pool: list[int] = [0]  # offset 0 unused so that length 0 means "maps to itself"
    pool_index: dict[tuple[int, ...], int] = {}

    def pool_add(seq: list[int]) -> int:
        key = tuple(seq)
        if key not in pool_index:
            pool_index[key] = len(pool)
            pool.extend(c | ccc.get(c, 0) << 24 for c in seq)
        return pool_index[key]

    firsts: dict[int, list[tuple[int, int]]] = {}
    for (a, b), c in sorted(pairs.items()):
        firsts.setdefault(a, []).append((b, c))
    comp_pairs: list[tuple[int, int]] = []
    comp_start: dict[int, tuple[int, int]] = {}
    for a in sorted(firsts):
        comp_start[a] = (len(comp_pairs), len(firsts[a]))
        comp_pairs.extend(firsts[a])

    def qc_code(form: str, cp: int) -> int:
        return 0 if cp not in qc[form] else 1

    records: list[tuple] = []
    record_ids: dict[tuple, int] = {}
    cp_record = [0] * (MAX_CP + 1)
    for cp in range(MAX_CP + 1):
        hangul = S_BASE <= cp < S_BASE + S_COUNT
        canon = full(cp, False)
        compat = full(cp, True)
        canon_off = canon_len = compat_off = compat_len = 0
        if canon != [cp] and not hangul:
            canon_off, canon_len = pool_add(canon), len(canon)
        if compat != [cp] and not hangul:
            compat_off, compat_len = pool_add(compat), len(compat)
        flags = (
            qc_code("NFC_QC", cp)
            | qc_code("NFKC_QC", cp) << 1
            | qc_code("NFD_QC", cp) << 2
            | qc_code("NFKD_QC", cp) << 3
            | (cp in seconds) << 4
        )
        if 0xD800 <= cp <= 0xDFFF:
            flags |= 0xF  # surrogates never pass a quick check (code-unit scans of Python str rely on it)
        cs, cn = comp_start.get(cp, (0, 0))
        rec = (canon_off, compat_off, cs, canon_len, compat_len, ccc.get(cp, 0), flags, cn)
        rid = record_ids.get(rec)
        if rid is None:
            rid = record_ids[rec] = len(records)
            records.append(rec)
        cp_record[cp] = rid
    assert len(pool) < 0x10000 and len(records) < 0x10000 and len(comp_pairs) < 0x10000
    assert max(r[3] for r in records) < 256 and max(r[4] for r in records) < 256

    block = 1 << BLOCK_SHIFT
    blocks: list[tuple[int, ...]] = []
    block_ids: dict[tuple[int, ...], int] = {}
    stage1 = []
    for start in range(0, MAX_CP + 1, block):
        b = tuple(cp_record[start:start + block])
        if b not in block_ids:
            block_ids[b] = len(blocks)
            blocks.append(b)
        stage1.append(block_ids[b])

    def min_not_boundary(bit: int) -> int:
        return min(cp for cp in range(MAX_CP + 1) if ccc.get(cp, 0) or records[cp_record[cp]][6] & bit)

    # Per form, one bit per 16 BMP code points: set when all 16 are boundaries (quick check Yes and
    # combining class 0), so the scan over CJK, kana, Hangul ... needs one load per character.
    group_bits = {}
    for name, bit in (("NFC", 1), ("NFKC", 2), ("NFD", 4), ("NFKD", 8)):
        words = [0] * (0x10000 >> 10)
        for g in range(0x10000 >> 4):
            if all(not ccc.get(cp, 0) and not records[cp_record[cp]][6] & bit for cp in range(g << 4, (g + 1) << 4)):
                words[g >> 6] |= 1 << (g & 63)
        group_bits[name] = words

    def rows(values, per_line=16):
        vals = list(values)
        return "\n".join("  " + ", ".join(str(v) for v in vals[i:i + per_line]) + ","
                         for i in range(0, len(vals), per_line))

    sizes = {
        "stage1": len(stage1) * (1 if len(blocks) < 256 else 2),
        "stage2": len(blocks) * block * 2,
        "records": len(records) * 12,
        "pool": len(pool) * 4,
        "pairs": len(comp_pairs) * 8,
    }
    out = []
    out.append(f"// Generated by tools/gen_normalization_tables.py from the Unicode {version} UCD -- do not edit.")
    out.extend("// " + x for x in LICENSE_LINES)
    out.append(f"// Sizes: stage1 {sizes['stage1']} B, stage2 {sizes['stage2']} B ({len(blocks)} blocks), "
               f"records {len(records)} x 12 B, decomposition pool {len(pool)} code points, "
               f"{len(comp_pairs)} composition pairs.")
    out.append("// Lookup: kNormRecords[kNormStage2[(kNormStage1[cp >> 7] << 7) | (cp & 127)]].")
    out.append(f'inline constexpr const char kNormalizationUnicodeVersion[] = "{version}";')
    out.append(f"inline constexpr uint32_t kNormBlockShift = {BLOCK_SHIFT};")
    for name, bit in (("NFC", 1), ("NFKC", 2), ("NFD", 4), ("NFKD", 8)):
        out.append(f"inline constexpr uint32_t kMinNonBoundary{name} = 0x{min_not_boundary(bit):X};")
    stage1_type = "uint8_t" if len(blocks) < 256 else "uint16_t"
    out.append(f"const {stage1_type} kNormStage1[{len(stage1)}] = {{\n{rows(stage1)}\n}};")
    out.append(f"const uint16_t kNormStage2[{len(blocks) * block}] = {{\n{rows((v for b in blocks for v in b), 32)}\n}};")
    out.append("// Bit (cp >> 4) & 63 of word cp >> 10: all of cp & ~15 .. cp | 15 are boundaries. Forms: NFC, NFD, NFKC, NFKD.")
    out.append("const uint64_t kBmpBoundaryGroups[4][64] = {")
    for name in ("NFC", "NFD", "NFKC", "NFKD"):
        out.append("  {" + ", ".join(f"0x{w:X}ULL" for w in group_bits[name]) + "},")
    out.append("};")
    out.append("// {canon_offset, compat_offset, compose_start, canon_length, compat_length, ccc, flags, compose_count}")
    out.append(f"const NormRecord kNormRecords[{len(records)}] = {{")
    out.extend("  {" + ", ".join(str(x) for x in r) + "}," for r in records)
    out.append("};")
    out.append("// Decomposition pool entries: code point | canonical combining class << 24.")
    out.append(f"const uint32_t kDecompositionPool[{len(pool)}] = {{\n{rows((f'0x{v:X}' for v in pool), 12)}\n}};")
    out.append("// {second, composite}, grouped by first character, sorted by second.")
    out.append(f"const CompositionPair kCompositionPairs[{len(comp_pairs)}] = {{")
    out.append(rows((f"{{0x{b:X}, 0x{c:X}}}" for b, c in comp_pairs), 6))
    out.append("};")
    CPP_OUT.write_text("\n".join(out) + "\n", encoding="utf-8")

    # ---- Python data --------------------------------------------------------------------------
    ccc_ranges = []
    for cp in sorted(ccc):
        if ccc_ranges and ccc_ranges[-1][1] == cp - 1 and ccc_ranges[-1][2] == ccc[cp]:
            ccc_ranges[-1][1] = cp
        else:
            ccc_ranges.append([cp, cp, ccc[cp]])
    ccc_text = " ".join(f"{a:X}" + (f"-{b:X}" if b != a else "") + f":{c}" for a, b, c in ccc_ranges)
    canon_lines, compat_lines = [], []
    for cp in sorted(decomp):
        compat, m = decomp[cp]
        (compat_lines if compat else canon_lines).append(f"{cp:X}:" + ".".join(f"{x:X}" for x in m))

    def wrap(items: list[str], width: int = 96) -> str:
        lines, cur = [], ""
        for it in items:
            if cur and len(cur) + 1 + len(it) > width:
                lines.append(cur)
                cur = it
            else:
                cur = f"{cur} {it}" if cur else it
        lines.append(cur)
        return "\n".join(lines)

    py = [
        f'"""Unicode {version} normalization data for the pure-Python reference (fastprep._fallback.normalize).',
        "",
        "Generated by tools/gen_normalization_tables.py -- do not edit.",
        *LICENSE_LINES,
        "",
        "Encodings (hex code points): CCC is 'first[-last]:class' items; CANONICAL and COMPATIBILITY",
        "are 'cp:m1.m2...' items with the one-level mappings of UnicodeData.txt field 5 (Hangul",
        "syllables are decomposed algorithmically); COMPOSITION_EXCLUSIONS is CompositionExclusions.txt.",
        '"""',
        f'UNICODE_VERSION = "{version}"',
        "",
        f'CCC = """\n{wrap(ccc_text.split())}\n"""',
        "",
        f'CANONICAL = """\n{wrap(canon_lines)}\n"""',
        "",
        f'COMPATIBILITY = """\n{wrap(compat_lines)}\n"""',
        "",
        f'COMPOSITION_EXCLUSIONS = """\n{wrap([f"{x:X}" for x in exclusions])}\n"""',
    ]
    PY_OUT.write_text("\n".join(py) + "\n", encoding="utf-8")
    print(f"Unicode {version}: {sizes}; records={len(records)} blocks={len(blocks)} pool={len(pool)} "
          f"pairs={len(comp_pairs)}; wrote {CPP_OUT.relative_to(REPO)} ({CPP_OUT.stat().st_size} B) and "
          f"{PY_OUT.relative_to(REPO)} ({PY_OUT.stat().st_size} B)")


if __name__ == "__main__":
    main()
