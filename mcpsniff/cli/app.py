"""The Typer application and its global options; the commands register themselves on it."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .. import __version__

app = typer.Typer(
    name="mcpsniff",
    help="Record MCP HTTP traffic through mitmproxy and tell which client plane breaks the session contract.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        from ..capture.versions import mitmproxy_version

        typer.echo(f"mcpsniff {__version__} (mitmproxy {mitmproxy_version()}, Python {sys.version.split()[0]})")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show versions and exit.")] = False,
) -> None:
    """mcpsniff: record MCP HTTP traffic and tell which client plane breaks the session contract."""
