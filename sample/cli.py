"""The sample's command line (``python -m segql.sample``): argparse over ``write`` with
the generator's defaults; prints the number of records per type and the file written.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Sequence

from .files import write
from .stream import (
    DEFAULT_ACCOUNT,
    DEFAULT_CONTACTS,
    DEFAULT_END,
    DEFAULT_SEED,
    DEFAULT_START,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m segql.sample --contacts N --seed S --account A -o FILE``."""
    ap = argparse.ArgumentParser(
        prog="python -m segql.sample",
        description="Write deterministic sample segql input records (JSON Lines).",
    )
    ap.add_argument("--contacts", type=int, default=DEFAULT_CONTACTS, help="number of contacts")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    ap.add_argument("--account", default=DEFAULT_ACCOUNT, help="account of every record")
    ap.add_argument("--start", default=DEFAULT_START, help="earliest activity (ISO 8601)")
    ap.add_argument("--end", default=DEFAULT_END, help="activity before this (ISO 8601)")
    ap.add_argument("-o", "--output", default="-", help="output file; .gz compresses; - is stdout")
    args = ap.parse_args(argv)
    if args.contacts < 0:
        ap.error("--contacts must be >= 0")
    counts: Counter[str] = Counter()
    try:
        total = write(
            args.output, counts=counts, contacts=args.contacts, seed=args.seed,
            account=args.account, start=args.start, end=args.end,
        )  # fmt: skip
    except ValueError as exc:
        ap.error(str(exc))
    except BrokenPipeError:  # e.g. piped into `head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    report = sys.stderr if args.output == "-" else sys.stdout
    for kind in ("contact", "event", "visit", "delete"):
        print(f"{kind:8} {counts[kind]:>8}", file=report)
    print(f"{'total':8} {total:>8}", file=report)
    if args.output != "-":
        print(f"wrote {args.output} ({os.path.getsize(args.output):,} bytes)", file=report)
    return 0
