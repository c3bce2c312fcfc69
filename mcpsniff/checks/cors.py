"""Checks of what browsers need (the Fetch standard's CORS protocol) to speak MCP at all."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..mcp import H_LAST_EVENT_ID, H_METHOD, H_NAME, H_PROTOCOL_VERSION, H_SESSION
from ..model import Model
from ..model.model import quote
from .engine import Selection, check, matching

#: request headers an MCP client may need a preflight to allow
MCP_CORS_HEADERS = (H_SESSION, H_PROTOCOL_VERSION, H_LAST_EVENT_ID, H_METHOD, H_NAME)


def header_names(value: object) -> set[str]:
    """``"A, b ,C"`` -> ``{"a", "b", "c"}`` (a header-name list, compared case-insensitively)."""
    return {p.strip().lower() for p in str(value).split(",") if p.strip()} if isinstance(value, str) else set()


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


def tuples_in(tuples: list[tuple], cols: list[str]) -> str:
    """SQL predicate: the row's ``cols`` equal one of ``tuples`` (NULL matching NULL)."""
    if not tuples:
        return "FALSE"
    def lit(v: object) -> str:
        return "NULL" if v is None else (str(v) if isinstance(v, int) else quote(v))
    items = ", ".join("(" + ", ".join(lit(v) for v in t) + ")" for t in tuples)
    names = [f"c{i}" for i in range(len(cols))]
    cond = " AND ".join(f"v.{n} IS NOT DISTINCT FROM {c}" for n, c in zip(names, cols))  # {c}: the outer row
    return f"EXISTS (SELECT 1 FROM (VALUES {items}) v({', '.join(names)}) WHERE {cond})"


@check("session-id-not-exposed")
def session_id_not_exposed(m: Model) -> Selection:
    issued = f"rpc_method = 'initialize' AND {Model.OK} AND resp_sid IS NOT NULL AND origin IS NOT NULL"
    exposed = matching(m, "aceh", lambda v: bool({H_SESSION, "*"} & header_names(v)))
    candidates = m.rows(f"SELECT DISTINCT origin, url FROM m WHERE {issued} AND NOT coalesce({exposed}, false)")
    cross = [(o, u) for o, u in candidates if cross_origin(o, u)]
    return Selection(f"{issued} AND NOT coalesce({exposed}, false) AND {tuples_in(cross, ['origin', 'url'])}", {
        "origins": "list_slice(list(DISTINCT origin ORDER BY origin), 1, 3)",
        "exposed": "list_slice(list(DISTINCT coalesce(aceh, '(none)') ORDER BY coalesce(aceh, '(none)')), 1, 3)"})


def _blocked(acrh: object, acah: object) -> list[str]:
    wanted = [h for h in MCP_CORS_HEADERS if h in header_names(acrh)]
    allowed = header_names(acah)
    return [h for h in wanted if h not in allowed and "*" not in allowed]


def _missing(acrh: object, acah: object, status: int) -> list[str]:
    if 200 <= status < 300:
        return _blocked(acrh, acah)
    return [h for h in MCP_CORS_HEADERS if h in header_names(acrh)]


@check("cors-preflight-blocks-mcp-headers")
def cors_preflight_blocks_mcp_headers(m: Model) -> Selection:
    triples = m.rows("SELECT DISTINCT acrh, acah, status FROM m WHERE http_method = 'OPTIONS' AND acrh IS NOT NULL")
    asks = [t for t in triples if set(MCP_CORS_HEADERS) & header_names(t[0])]
    bad = [t for t in asks if not (200 <= t[2] < 300) or _blocked(t[0], t[1])]
    missing = {t: _missing(*t) for t in bad}

    def post(values: dict) -> dict:
        found = sorted({h for t in values.pop("triples") or [] for h in missing.get(tuple(t.values()), [])})
        return {"headers": found, "statuses": values["statuses"]}

    return Selection(f"http_method = 'OPTIONS' AND {tuples_in(bad, ['acrh', 'acah', 'status'])}", {
        "triples": "list(DISTINCT {'a': acrh, 'b': acah, 'c': status})",
        "statuses": "list(DISTINCT status::VARCHAR ORDER BY status::VARCHAR)"}, post=post)
