"""Say at once why requests fail upstream: an untrusted certificate, a refused connection, a name
that does not resolve.

:class:`UpstreamErrors` is a mitmproxy addon. It watches failed server connections (and the
HTTP errors they turn into: the client gets mitmproxy's 502) and hands one line per cause to
``notify`` -- the first failure of each kind for each server, with what fixes it. Other errors
(a client hanging up, a server resetting mid-stream) are not upstream setup problems and pass
silently; the capture file records every exchange as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

CERT, REFUSED, DNS = "certificate", "refused", "dns"

_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (CERT, re.compile(r"certificate verify failed|self[- ]signed certificate|unable to get local issuer"
                      r"|certificate has expired|hostname mismatch|IP address mismatch|unable to verify the first", re.I)),
    (REFUSED, re.compile(r"connection refused|errno 111\b|errno 61\b|connect call failed", re.I)),
    (DNS, re.compile(r"name or service not known|temporary failure in name resolution|nodename nor servname"
                     r"|no address associated|getaddrinfo failed|name does not resolve|errno -[235]\b", re.I)),
)


def classify(message: str) -> str | None:
    """The cause of a failure message (CERT, REFUSED, DNS), or None for anything else."""
    for kind, pattern in _KINDS:
        if pattern.search(message):
            return kind
    return None


def explain(kind: str, server: str, message: str, reverse: bool) -> str:
    """One line: which server, what failed (mitmproxy's own words), and the fix."""
    detail = message.strip().splitlines()[0] if message.strip() else kind
    if kind == CERT:
        fix = ("trust its CA with --upstream-ca FILE (the server's certificate or its CA, PEM), "
               "or record without verifying with --upstream-insecure")
        what = "TLS certificate not trusted"
    elif kind == REFUSED:
        fix = "check the address and that the server is running" + (" (--upstream)" if reverse else "")
        what = "connection refused"
    else:
        fix = "check the host name" + (" in --upstream" if reverse else " the client uses")
        what = "host name does not resolve"
    return f"upstream {server}: {what} ({detail}); {fix}"


def _server(address: Any) -> str:
    try:
        host, port = address[0], address[1]
    except (TypeError, IndexError):
        return "(unknown server)"
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


class UpstreamErrors:
    """mitmproxy addon: ``notify(line)`` once per (cause, server)."""

    def __init__(self, notify: Callable[[str], None]) -> None:
        self.notify = notify
        self.said: set[tuple[str, str]] = set()

    def _say(self, message: str | None, address: Any) -> None:
        if not message:
            return
        kind = classify(message)
        if kind is None:
            return
        server = _server(address)
        if (kind, server) in self.said:
            return
        self.said.add((kind, server))
        try:
            from mitmproxy import ctx

            reverse = any(str(m).startswith("reverse:") for m in (ctx.options.mode or []))
        except Exception:  # noqa: BLE001 - outside a running proxy (tests of the addon alone)
            reverse = False
        try:
            self.notify(explain(kind, server, message, reverse))
        except Exception:  # noqa: BLE001 - a notice must never disturb the traffic
            pass

    # -- mitmproxy hooks -----------------------------------------------------------------------
    def server_connect_error(self, data: Any) -> None:
        conn = data.server
        self._say(conn.error, conn.address)

    def tls_failed_server(self, data: Any) -> None:
        conn = data.conn
        self._say(conn.error, conn.address)

    def error(self, flow: Any) -> None:
        err = getattr(flow, "error", None)
        server = getattr(flow, "server_conn", None)
        address = getattr(server, "address", None) if server is not None else None
        if address is None and getattr(flow, "request", None) is not None:
            address = (flow.request.host, flow.request.port)
        self._say(err.msg if err is not None else None, address)
