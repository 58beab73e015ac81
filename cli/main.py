"""The `segql` command: a thin shell over the library."""

from __future__ import annotations

import click

from segql.cli.catalog_commands import catalog
from segql.cli.demo import demo
from segql.cli.es_commands import es
from segql.cli.index_commands import index
from segql.cli.language_commands import COMMANDS as LANGUAGE_COMMANDS
from segql.cli.query_commands import compile, count, evaluate, explain, export
from segql.cli.reindex_command import reindex
from segql.cli.saved_segment_commands import segment
from segql.cli.serve_command import serve
from segql.cli.token_commands import token


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="segql")
def cli() -> None:
    """segql: dynamic segments for e-mail, SMS and push, resolved by Elasticsearch.

    Exit codes: 0 success, 1 runtime failure (e.g. Elasticsearch unreachable),
    2 invalid input (usage, parse or check errors), 3 internal fault.
    """


for command in (es, demo, index, reindex, catalog, *LANGUAGE_COMMANDS, compile, count, export,
                explain, evaluate, segment, serve):
    cli.add_command(command)
cli.add_command(token)


def main() -> None:
    cli()
