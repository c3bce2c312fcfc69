"""``mcpsniff addon-path``: where the mitmproxy script is installed, for ``mitmdump -s``."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app

ADDON_SCRIPT = "mitmdump_addon.py"


def addon_path() -> Path:
    """The installed addon script (``mcpsniff/capture/mitmdump_addon.py``), found without importing it."""
    from .. import capture  # its package only: the proxy is imported when used

    return Path(capture.__file__).resolve().parent / ADDON_SCRIPT


@app.command("addon-path")
def addon_path_command() -> None:
    """Print the path of the mitmproxy addon script: mitmdump -s "$(mcpsniff addon-path)" --set mcpsniff_output=FILE"""
    typer.echo(str(addon_path()))
