"""Tool versions, for meta lines, reports and ``mcpsniff --version`` (the one place outside the
addon that asks mitmproxy for its version)."""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import sys

from .. import __version__

_VERSION_LINE = re.compile(r'^VERSION = "([^"]+)"$', re.MULTILINE)


def mitmproxy_version() -> str | None:
    """mitmproxy's version; read from its ``version.py`` without importing mitmproxy (which costs
    ``mcpsniff --version`` more than all of typer) unless mitmproxy is loaded already."""
    if "mitmproxy.version" in sys.modules:
        return sys.modules["mitmproxy.version"].VERSION
    spec = importlib.util.find_spec("mitmproxy")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - mitmproxy is a dependency
        return None
    try:
        with open(os.path.join(list(spec.submodule_search_locations)[0], "version.py"), encoding="utf-8") as fo:
            m = _VERSION_LINE.search(fo.read())
    except OSError:  # pragma: no cover - an installation without its sources
        m = None
    if m:
        return m.group(1)
    from mitmproxy import version  # pragma: no cover - a layout this reader does not know

    return version.VERSION  # pragma: no cover


def versions() -> dict[str, str | None]:
    return {"mcpsniff": __version__, "mitmproxy": mitmproxy_version(), "python": platform.python_version()}
