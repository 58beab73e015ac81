"""The `segql` command: a thin shell over the library."""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

from segql.cli.catalog_commands import catalog
from segql.cli.common import EXIT_PIPE
from segql.cli.demo import demo
from segql.cli.es_commands import es
from segql.cli.index_commands import index
from segql.cli.language_commands import COMMANDS as LANGUAGE_COMMANDS
from segql.cli.query_commands import compile, count, evaluate, explain, export
from segql.cli.reindex_command import reindex
from segql.cli.saved_segment_commands import segment
from segql.cli.serve_command import serve
from segql.cli.token_commands import token


def closed_pipe() -> NoReturn:
    """The reader of stdout went away (`segql export ... | head -1`): stop quietly with
    128 + SIGPIPE, as a shell reports a writer killed by the closed pipe. Whatever is
    still buffered for stdout goes nowhere, so exiting does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout to redirect (e.g. under a test runner)
        pass
    sys.exit(EXIT_PIPE)


class Segql(click.Group):
    """The top command group: every subcommand runs inside its `invoke`, so a closed
    stdout is caught here once, for all of them (click alone would exit 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            closed_pipe()


@click.group(cls=Segql, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="segql")
def cli() -> None:
    """segql: dynamic segments for e-mail, SMS and push, resolved by Elasticsearch.

    Exit codes: 0 success, 1 runtime failure (e.g. Elasticsearch unreachable),
    2 invalid input (usage, parse or check errors), 3 internal fault,
    141 the output was closed early (e.g. piped into head).
    """


for command in (es, demo, index, reindex, catalog, *LANGUAGE_COMMANDS, compile, count, export,
                explain, evaluate, segment, serve):
    cli.add_command(command)
cli.add_command(token)


def main() -> None:
    try:
        cli()
    except SystemExit:
        _flush_stdout()
        raise
    _flush_stdout()


def _flush_stdout() -> None:
    """Write out what stdout still buffers now, so a closed pipe is noticed here (and
    ends quietly) rather than reported by the interpreter at exit."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        closed_pipe()
