"""What a rule is: its data (:class:`Rule`, :class:`Citation`), what its check returns
(:class:`Selection`), and the helpers its module writes its citations with.

Every rule is one module of :mod:`mcpsniff.checks.rules` holding ``RULE`` (a :class:`Rule`),
``ORDER`` (its place in the catalogue) and ``check(model) -> Selection``.

Quotes are verbatim from ``docs/specification/<version>/...`` in the
``modelcontextprotocol/modelcontextprotocol`` repository with the markdown stripped (emphasis,
code spans, links, list markers) and whitespace folded. Where a rule rests on two passages that
are not adjacent, they are joined by `` … ``. Citations are ordered newest version first.

Eras (``mcp.ERAS``): ``legacy`` is the 2024-11-05 HTTP+SSE transport, ``handshake`` is
Streamable HTTP with ``initialize`` (2025-03-26 .. 2025-11-25), ``modern`` is stateless
Streamable HTTP (2026-07-28).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

PARTIES = ("client", "server", "any")
MCP = "MCP"  # the citation source of the MCP specification

SPEC_SITE = "https://modelcontextprotocol.io/specification"


@dataclass(frozen=True)
class Citation:
    version: str | None  # "2025-11-25" (MCP); None for another standard
    section: str  # heading path, e.g. "Streamable HTTP / Session Management"
    url: str  # https://modelcontextprotocol.io/specification/<version>/<page>#<anchor>
    quote: str  # the sentence(s) the rule enforces, verbatim, markdown stripped
    source: str = MCP  # "MCP", "RFC 9110", "Fetch Standard"


@dataclass(frozen=True)
class Rule:
    """One behaviour a passive observer of MCP HTTP traffic can judge: whose side it judges
    (``party``), how bad it is (``severity``: ``error`` for a MUST / MUST NOT, ``warning`` for a
    SHOULD, ``info`` for an observation that is no violation) and, per spec version, the text it
    rests on. ``eras`` and ``since`` scope it (the engine judges only exchanges of these eras, and
    of a known spec version >= ``since``); ``detail`` is the finding's one-line detail, a
    template the check's values fill (:func:`mcpsniff.checks.engine.fill`)."""

    id: str
    severity: str  # "error" | "warning" | "info"
    title: str
    explanation: str
    eras: tuple[str, ...]
    versions: tuple[str, ...]
    citations: tuple[Citation, ...]  # one per version, newest first
    party: str  # "client" | "server" | "any"
    detail: str  # template of the finding's detail line: {count} and the check's values
    since: str | None = None  # judge only exchanges whose spec version is known and >= this
    likely_causes: tuple[str, ...] = ()  # server rules whose finding, in the same capture, explains this one


@dataclass(frozen=True)
class Selection:
    """What a check returns: the exchanges that break its rule, and how to describe them.

    ``where`` is a SQL predicate over the table ``m``. ``values`` maps the names the rule's
    ``detail`` template uses (besides ``count``) to SQL aggregates over one plane's selected rows
    (the group's plane is ``s.plane``); ``post`` may turn the fetched values into their final form.
    """

    where: str
    values: dict[str, str] = field(default_factory=dict)
    post: Callable[[dict[str, Any]], dict[str, Any]] | None = None


NOTHING = Selection("FALSE")


# ---------------------------------------------------------------- citations


def cite(version: str, page: str, section: str, anchor: str, quote: str) -> Citation:
    """A citation of the MCP specification."""
    return Citation(version, section, f"{SPEC_SITE}/{version}/{page}#{anchor}", quote)


def rfc9110(section: str, anchor: str, quote: str) -> Citation:
    return Citation(None, section, f"https://www.rfc-editor.org/rfc/rfc9110#{anchor}", quote, "RFC 9110")


def fetch(section: str, anchor: str, quote: str) -> Citation:
    return Citation(None, section, f"https://fetch.spec.whatwg.org/#{anchor}", quote, "Fetch Standard")


def per_version(versions, page, section, anchor, quotes) -> tuple[Citation, ...]:
    """One citation per version; ``quotes`` maps version -> quote."""
    return tuple(cite(v, page, section, anchor, quotes[v]) for v in versions)


def hdr(v: str) -> str:
    """The session header as spec version ``v`` spells it (2025-11-25: MCP-Session-Id)."""
    return "MCP-Session-Id" if v == "2025-11-25" else "Mcp-Session-Id"


# spec pages
T = "basic/transports"  # 2024-11-05 .. 2025-11-25
SH = "basic/transports/streamable-http"  # 2026-07-28
IX = "basic/index"

# section headings
SM = "Streamable HTTP / Session Management"
SEND = "Streamable HTTP / Sending Messages to the Server"
LISTEN = "Streamable HTTP / Listening for Messages from the Server"
PVH = "Streamable HTTP / Protocol Version Header"
BC = "Streamable HTTP / Backwards Compatibility"
M_SEND = "Sending Messages"
M_PVH = "Request Metadata / Protocol Version Header"
M_VAL = "Request Metadata / Server Validation"
M_META = "General fields / _meta"

HS = ("2025-11-25", "2025-06-18", "2025-03-26")  # handshake versions, newest first
PV = ("2025-11-25", "2025-06-18")  # versions with the MCP-Protocol-Version header


# -- citations several rules rest on (each sentence quoted once) -------------------------------------
#: servers that require a session answer a request without one with 400
REQUIRE_SESSION_400 = per_version(
    HS, T, SM, "session-management",
    {v: f"Servers that require a session ID SHOULD respond to requests without an "
        f"{hdr(v)} header (other than initialization) with HTTP 400 Bad Request." for v in HS},
)
#: an ended session's id is answered 404
ENDED_SESSION_404 = per_version(
    HS, T, SM, "session-management",
    {v: "The server MAY terminate the session at any time, after which it MUST respond "
        "to requests containing that session ID with HTTP 404 Not Found." for v in HS},
)
#: what a session is (the observations about ids not issued to this plane rest on it)
SESSION_DEFINED = per_version(
    HS, T, SM, "session-management",
    {v: 'An MCP "session" consists of logically related interactions between a client '
        "and a server, beginning with the initialization phase." for v in HS},
)
#: the lifecycle's operation phase on capabilities, which the rules on undeclared features quote
NEGOTIATED_CAPABILITIES = cite(
    "2025-06-18", "basic/lifecycle", "Lifecycle / Operation", "operation",
    "During the operation phase, the client and server exchange messages according to the "
    "negotiated capabilities. Both parties MUST: Respect the negotiated protocol version; Only "
    "use capabilities that were successfully negotiated")
