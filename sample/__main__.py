"""``python -m segql.sample``: runs the sample's command line (``segql.sample.cli.main``)."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
