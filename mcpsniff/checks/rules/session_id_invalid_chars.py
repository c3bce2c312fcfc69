"""Server issued a session id with characters outside visible ASCII."""

from __future__ import annotations

from ...model import Model
from ..rule import HS, Rule, SM, Selection, T, per_version

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 50

RULE = Rule(
    id="session-id-invalid-chars",
    severity="error",
    title="Server issued a session id with characters outside visible ASCII",
    explanation=(
        "The Mcp-Session-Id the server issued at initialize contains a character outside "
        "visible ASCII (0x21 to 0x7E), such as a space, a control character or non-ASCII "
        "text. Clients and proxies may mangle or reject such a header value, breaking the "
        "session. Issue ids made of visible ASCII only (for example a UUID or base64url "
        "token)."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=per_version(
        HS, T, SM, "session-management",
        {v: "The session ID MUST only contain visible ASCII characters (ranging from 0x21 "
            "to 0x7E)." for v in HS},
    ),
    party="server",
    detail="session id outside visible ASCII 0x21-0x7E",
)


VISIBLE_ASCII = "^[!-~]+$"


def check(m: Model) -> Selection:
    bad = f"SELECT pos FROM sessions WHERE NOT regexp_matches(sid, '{VISIBLE_ASCII}')"
    return Selection(f"pos IN ({bad})" if m.value(f"SELECT count(*) FROM ({bad})") else "FALSE")
