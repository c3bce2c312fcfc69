"""The errors the library raises; only the CLI turns them into messages and exit codes.

Each message is one line written for the user, without a prefix (the CLI adds
``error: ``).
"""

from __future__ import annotations


class McpSniffError(Exception):
    """Base class: anything mcpsniff reports to the user as one line."""


class LoadError(McpSniffError):
    """Input that cannot be used at all (or a bad line under ``--strict``)."""


class CaptureError(McpSniffError):
    """The capture could not start or had to stop."""


class NotFound(McpSniffError):
    """Something the user named (a plane, a rule) is not in the data."""


class UsageError(McpSniffError):
    """Arguments that do not fit together."""


class ResourceError(McpSniffError):
    """The machine ran short (memory within the engine's limit, space for its spill files)."""
