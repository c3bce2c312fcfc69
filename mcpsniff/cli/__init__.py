"""The command line: thin; it parses options, calls the library, renders documents, picks exit codes.

One module per command (``analyze``, ``report``, ``diff``, ``capture``, ``rules``), the shared
options and error handling in ``common``, the live capture summary in ``live``.
"""

from . import analyze, capture, diff, report, rules  # noqa: F401 - each registers its command
from .app import app

__all__ = ["app"]
