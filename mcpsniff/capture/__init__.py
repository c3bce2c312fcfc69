"""Capture: record MCP HTTP traffic into schema-v1 JSONL.

Modules, from the wire inwards:

- ``proxy``   runs a real mitmproxy in-process (:class:`Capture`, :func:`run_until_stopped`)
- ``asgi``    records inside a Python ASGI server instead (:class:`~mcpsniff.capture.asgi.MCPSniffMiddleware`;
              imports no mitmproxy, nor does anything it imports at import time)
- ``recorder`` what every recorder shares, once: the options (declared in ``OPTIONS``), the meta
              line, the SSE tap, classify -> learn -> skip -> convert -> write (:class:`~.recorder.Recorder`)
- ``addon``   the mitmproxy addon (:class:`~mcpsniff.capture.addon.McpSniff`): hooks only
- ``detect``  is an exchange MCP traffic?
- ``convert`` flow -> record (pure), incl. the streaming SSE collector
- ``decode``  Content-Encoding, whole or incremental
- ``sse``     incremental Server-Sent Events parser
- ``redact``  record-time redaction of secrets
- ``writer``  the append-only JSONL file and the one writer every recorder uses (its failure policy)

Only this package and the flow-based loaders (``load.har``, ``load.flows``) import mitmproxy.
"""

from typing import Any

from ..errors import CaptureError

_PROXY_NAMES = ("Capture", "CaptureConfig", "default_output", "normalize_upstream", "run_until_stopped")


def __getattr__(name: str) -> Any:
    """The proxy's names, imported on first use: importing a light module of this package
    (``versions``, ``writer``, ``redact``) must not import mitmproxy."""
    if name in _PROXY_NAMES:
        from . import proxy

        return getattr(proxy, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Capture", "CaptureConfig", "CaptureError", "default_output", "normalize_upstream", "run_until_stopped"]
