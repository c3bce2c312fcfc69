"""Tool versions, for meta lines, reports and ``mcpsniff --version`` (the one place outside the
addon that asks mitmproxy for its version)."""

from __future__ import annotations

import platform

from .. import __version__


def mitmproxy_version() -> str | None:
    try:
        from mitmproxy import version
    except ImportError:  # pragma: no cover - mitmproxy is a dependency
        return None
    return version.VERSION


def versions() -> dict[str, str | None]:
    return {"mcpsniff": __version__, "mitmproxy": mitmproxy_version(), "python": platform.python_version()}
