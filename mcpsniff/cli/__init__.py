"""The command line: thin; it parses options, calls the library, renders documents, picks exit codes.

One module per command (``analyze``, ``explain``, ``report``, ``diff``, ``export``, ``capture``, ``rules``,
``addon-path``), the shared options and error handling in ``common``, the live capture summary
in ``live``.
"""

from . import addon, analyze, capture, diff, explain, export, report, rules  # noqa: F401 - each registers its command
from .app import app

__all__ = ["app"]
