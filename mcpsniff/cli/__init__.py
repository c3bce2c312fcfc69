"""The command line: thin; it parses options, calls the library, renders documents, picks exit codes.

One module per command (``analyze``, ``explain``, ``report``, ``diff``, ``export``, ``capture``,
``rules``, ``addon-path``), the shared options and error handling in ``common``, the app and its
one-line usage errors in ``app``, plain coercion of option values in ``params``, the live capture
summary in ``live``. A command module imports the stages it runs inside the command, so starting
(and ``--version``, ``--help``, ``rules``) costs little more than importing Typer.
"""

from . import addon, analyze, capture, diff, explain, export, report, rules  # noqa: F401 - each registers its command
from .app import app

__all__ = ["app"]
