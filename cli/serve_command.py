"""`segql serve`: the HTTP API (docs/api.md)."""

from __future__ import annotations

import click

from segql.cli.common import EXIT_CODES_HELP, INDEX_HELP, guarded


@click.command(epilog=EXIT_CODES_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes.")
@click.option("--index", help=INDEX_HELP + " Checked once, at startup.")
@click.option("--no-auth", is_flag=True,
              help="Serve without tokens: only on a loopback address, for local use.")
@guarded
def serve(host: str, port: int, workers: int, index: str | None, no_auth: bool) -> None:
    """Serve the HTTP API: the language, counts, recipients, saved segments, catalog and
    ingestion, for builder UIs, the sending platform and the account's own systems. Every
    account endpoint needs a bearer token (`segql token create`)."""
    from segql.service.server import serve as run

    click.echo(f"segql serving on http://{host}:{port} (API reference: /docs)", err=True)
    run(host, port, workers=workers, no_auth=no_auth, index=index)
