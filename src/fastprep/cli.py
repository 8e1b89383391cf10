"""The ``fastprep`` command line: one argparse subcommand per tool (``bench``, ``profile``).

To add a subcommand, write a module with ``add_arguments(parser)`` and ``command(args) -> int``
and list it in ``SUBCOMMANDS``. Such modules import only the standard library at top level
(peers, NumPy and the native core are imported inside ``command``), so building the parser
stays cheap.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

# name -> (module under fastprep, one-line help)
SUBCOMMANDS = {
    "bench": ("bench", "compare fastprep's speed and ids with tiktoken, rs-bpe, HF tokenizers, blingfire, fastokens and unicodedata"),
    "profile": ("profile", "per-stage time, tokens/s and latency percentiles over a request mix"),
}


def _lazy(module: str, attr: str):
    def call(*args):
        return getattr(importlib.import_module(f"fastprep.{module}"), attr)(*args)
    return call


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastprep", description="fastprep command-line tools")
    sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
    sub.required = True
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        _lazy(module, "add_arguments")(p)
        p.set_defaults(_command=_lazy(module, "command"))
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args._command(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
