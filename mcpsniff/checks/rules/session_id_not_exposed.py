"""Server does not expose Mcp-Session-Id to browser clients."""

from __future__ import annotations

from urllib.parse import urlsplit

from ...mcp import H_SESSION
from ...model import Model
from ...model.sql import OK, tuples_in
from ..rule import HS, Rule, SM, Selection, T, fetch, hdr, per_version
from ..shared import header_names, matching

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 200

RULE = Rule(
    id="session-id-not-exposed",
    severity="error",
    title="Server does not expose Mcp-Session-Id to browser clients",
    explanation=(
        "A browser-originated initialize (it has an Origin from another origin) got an "
        "Mcp-Session-Id, but the response's Access-Control-Expose-Headers does not list it. "
        "Browsers hide every response header outside the CORS-safelisted few unless it is "
        "exposed, so the page cannot read the id and its next request necessarily lacks "
        "it, however correct the client is. Add 'Access-Control-Expose-Headers: "
        "Mcp-Session-Id' (e.g. expose_headers=['Mcp-Session-Id'] in Starlette's "
        "CORSMiddleware)."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=(
        fetch(
            "Responses / CORS filtered response", "concept-filtered-response-cors",
            "A CORS filtered response is a filtered response whose type is \"cors\" and header "
            "list excludes any headers in internal response's header list whose name is not a "
            "CORS-safelisted response-header name, given internal response's CORS-exposed "
            "header-name list.",
        ),
    ) + per_version(
        HS, T, SM, "session-management",
        {v: f"If an {hdr(v)} is returned by the server during initialization, clients "
            f"using the Streamable HTTP transport MUST include it in the {hdr(v)} header "
            f"on all of their subsequent HTTP requests." for v in HS},
    ),
    party="server",
    detail="{count} initialize responses to {origins} exposed only: {exposed}",
)


def _origin_of(url: str) -> str:
    u = urlsplit(url)
    port = u.port or {"http": 80, "https": 443}.get(u.scheme)
    return f"{u.scheme}://{(u.hostname or '').lower()}:{port}"


def cross_origin(origin: object, url: str) -> bool:
    """A request the browser sent from another origin than the URL's (``null`` included)."""
    if not isinstance(origin, str) or not origin.strip():
        return False
    try:
        return _origin_of(origin.strip()) != _origin_of(url)
    except ValueError:
        return True


def check(m: Model) -> Selection:
    # judged only where the server answered with Access-Control-Allow-Origin: a browser cannot read
    # a cross-origin response without it at all, and behind a reverse capture a same-origin request
    # carries the proxy's address as Origin while the record holds the upstream URL
    issued = (f"rpc_method = 'initialize' AND {OK} AND resp_sid IS NOT NULL AND origin IS NOT NULL "
              "AND acao IS NOT NULL")
    exposed = matching(m, "aceh", lambda v: bool({H_SESSION, "*"} & header_names(v)))
    candidates = m.rows(f"SELECT DISTINCT origin, url FROM m WHERE {issued} AND NOT coalesce({exposed}, false)")
    cross = [(o, u) for o, u in candidates if cross_origin(o, u)]
    return Selection(f"{issued} AND NOT coalesce({exposed}, false) AND {tuples_in(cross, ['origin', 'url'])}", {
        "origins": "list_slice(list(DISTINCT origin ORDER BY origin), 1, 3)",
        "exposed": "list_slice(list(DISTINCT coalesce(aceh, '(none)') ORDER BY coalesce(aceh, '(none)')), 1, 3)"})
