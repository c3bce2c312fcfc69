"""MCP-over-HTTP facts every stage shares, defined once.

Header names, spec versions and their eras, the ``_meta`` keys of 2026-07-28,
what a missing User-Agent is called, what an endpoint is, what a success
status is and how a request is labelled.  Pure data and tiny pure functions:
this module imports nothing from mcpsniff, so any stage may import it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

# -- header names (lower case, as compared; HTTP/2 lowercases them anyway) -----------------------
H_SESSION = "mcp-session-id"
H_PROTOCOL_VERSION = "mcp-protocol-version"
H_METHOD = "mcp-method"
H_NAME = "mcp-name"
H_LAST_EVENT_ID = "last-event-id"
H_USER_AGENT = "user-agent"
H_ACCEPT = "accept"
#: headers whose presence on a request marks it as MCP
MCP_REQUEST_HEADERS = (H_SESSION, H_PROTOCOL_VERSION, H_METHOD, H_NAME)

#: canonical spelling of the header names reports talk about most
HEADER_LABELS = {
    H_SESSION: "Mcp-Session-Id",
    H_PROTOCOL_VERSION: "MCP-Protocol-Version",
    H_METHOD: "Mcp-Method",
    H_NAME: "Mcp-Name",
    H_LAST_EVENT_ID: "Last-Event-ID",
    H_ACCEPT: "Accept",
    "content-type": "Content-Type",
    H_USER_AGENT: "User-Agent",
    "authorization": "Authorization",
}


def header_label(name: str) -> str:
    """``mcp-session-id`` -> ``Mcp-Session-Id``; unknown names as given."""
    return HEADER_LABELS.get(name.lower(), name)


# -- severities ------------------------------------------------------------------------------------
#: finding severities, most severe first: error = a MUST, warning = a SHOULD, info = an observation
SEVERITIES = ("error", "warning", "info")
#: the thresholds a gate (exit code, JUnit failures) can be set to, and the severities each catches
FAIL_ON = {"error": ("error",), "warning": ("error", "warning"), "never": ()}


def at_or_above(threshold: str) -> tuple[str, ...]:
    """The severities a ``--fail-on`` threshold fails on (``never``: none)."""
    return FAIL_ON[threshold]


# -- versions and eras ---------------------------------------------------------------------------
ERAS = ("legacy", "handshake", "modern")
#: every spec version known, oldest first, with its era
VERSION_ERAS = {
    "2024-11-05": "legacy",
    "2025-03-26": "handshake",
    "2025-06-18": "handshake",
    "2025-11-25": "handshake",
    "2026-07-28": "modern",
}
LEGACY_VERSION = "2024-11-05"
MODERN_VERSION = "2026-07-28"
#: the era values an exchange can have in the model: the three eras, plus "probe" (a dual-era
#: client's refused POST initialize before its legacy fallback) and "other" (not MCP)
EXCHANGE_ERAS = ("handshake", "legacy", "modern", "probe", "other")
#: for rule scoping a probe belongs to the legacy transport it leads to
ERA_FAMILY = {"probe": "legacy"}

# -- 2026-07-28 request metadata -----------------------------------------------------------------
META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
#: methods whose name-bearing parameter is mirrored in Mcp-Name (2026-07-28)
NAMED_METHODS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
#: the server capability a client request needs declared (by method prefix, or the whole method)
SERVER_FEATURES = {"tools/": "tools", "prompts/": "prompts", "resources/": "resources", "logging/setLevel": "logging",
                   "completion/complete": "completions"}
#: the client capability a server request needs declared
CLIENT_FEATURES = {"sampling/createMessage": "sampling", "elicitation/create": "elicitation", "roots/list": "roots"}
#: the server capability whose ``listChanged: true`` a list_changed notification needs
LIST_CHANGED = {f"notifications/{f}/list_changed": f for f in ("tools", "prompts", "resources")}
#: what a request gets when it cannot be answered by id: a JSON-RPC error whose id is null (JSON-RPC 2.0 §5)
NULL_ID_ERRORS = (-32700, -32600)

# -- small facts ---------------------------------------------------------------------------------
NO_USER_AGENT = "(no User-Agent)"
EVENT_STREAM = "text/event-stream"


def is_2xx(status: Any) -> Any:
    """A success status; works on an int, a numpy array or a pandas Series alike."""
    return (status >= 200) & (status < 300)


def endpoint_key(url: str) -> str:
    """``scheme://host:port/path`` of a URL: query and fragment dropped, an empty path is ``/``.

    A URL that does not parse (``http://[::1``) is its own endpoint, up to any ``?`` or ``#``."""
    try:
        u = urlsplit(url)
    except ValueError:
        return url.split("?", 1)[0].split("#", 1)[0]
    return f"{u.scheme}://{u.netloc}{u.path or '/'}"


def netloc(url: str) -> str:
    """The ``host:port`` part of a URL ('' when it does not parse)."""
    try:
        return urlsplit(url).netloc
    except ValueError:
        return ""


def method_label(rpc_method: str | None, http_method: str) -> str:
    """How a request is named in tables: its JSON-RPC method, else its HTTP method."""
    return rpc_method if isinstance(rpc_method, str) else http_method


def plane_of(user_agent: str | None) -> str:
    """The plane of a request: its exact User-Agent."""
    return user_agent if user_agent is not None else NO_USER_AGENT


def media_type(content_type: Any) -> str | None:
    """``text/event-stream; charset=utf-8`` -> ``text/event-stream``."""
    return content_type.split(";", 1)[0].strip().lower() if isinstance(content_type, str) else None
