"""Is this exchange MCP traffic?  (pure; reads flows, changes nothing)"""

from __future__ import annotations

from typing import Any, Iterable
from urllib.parse import urljoin

from ..mcp import MCP_REQUEST_HEADERS, H_SESSION, endpoint_key
from .convert import PARSE_CAP, header_pairs, is_sse, loads_or_none, rpc_messages
from .decode import content_encoding, decode_content


def _has_jsonrpc(raw: bytes | None, headers: list[tuple[str, str]]) -> bool:
    if not raw or (b"jsonrpc" not in raw and content_encoding(headers) is None):
        return False
    try:
        data = decode_content(raw, content_encoding(headers))
    except ValueError:
        return False
    if b'"jsonrpc"' not in data or len(data) > PARSE_CAP:
        return False
    obj = loads_or_none(data)
    return obj is not None and rpc_messages(obj)[0] is not None


def is_preflight_for_mcp(req: Any) -> bool:
    """A CORS preflight asking to send MCP headers (the browser's OPTIONS before an MCP request)."""
    if req.method != "OPTIONS":
        return False
    asked = {h.strip().lower() for h in req.headers.get("access-control-request-headers", "").split(",")}
    return bool(asked & set(MCP_REQUEST_HEADERS))


def is_mcp(flow: Any, known: Iterable[str] | set[str] = ()) -> bool:
    """Whether a flow is an MCP exchange.

    Yes when: a request or response header is one of the MCP headers, the
    response is ``text/event-stream``, the request or response body is JSON-RPC,
    the request is a CORS preflight asking for MCP headers, or the URL (without
    query) is in ``known`` (endpoints already seen to be MCP, e.g. the POST URL a
    legacy server announced in an ``endpoint`` event, a URL that got MCP POSTs
    before, or the target of a redirect an MCP request got).  So preflights
    (OPTIONS) and redirects (3xx) on MCP endpoints are recorded.
    """
    req = flow.request
    if any(h in req.headers for h in MCP_REQUEST_HEADERS) or is_preflight_for_mcp(req):
        return True
    resp = flow.response
    if resp is not None and (H_SESSION in resp.headers or is_sse(resp)):
        return True
    if endpoint_key(req.url) in known:
        return True
    if _has_jsonrpc(req.raw_content, header_pairs(req.headers)):
        return True
    return resp is not None and _has_jsonrpc(resp.raw_content, header_pairs(resp.headers))


class McpEndpoints:
    """Endpoints (URLs without query) known to be MCP within one capture."""

    def __init__(self) -> None:
        self.known: set[str] = set()

    def is_mcp(self, flow: Any) -> bool:
        return is_mcp(flow, self.known)

    def learn(self, flow: Any, endpoint_events: Iterable[str] = ()) -> None:
        """Remember an MCP flow's endpoint, the POST URLs its ``endpoint`` events announced and
        where a redirect sent it."""
        url = flow.request.url
        self.known.add(endpoint_key(url))
        self.learn_urls(url, endpoint_events)
        resp = flow.response
        if resp is not None and 300 <= resp.status_code < 400 and "location" in resp.headers:
            self.learn_urls(url, [resp.headers["location"]])

    def learn_urls(self, base_url: str, endpoint_events: Iterable[str]) -> None:
        for data in endpoint_events:
            try:
                self.known.add(endpoint_key(urljoin(base_url, data.strip())))
            except ValueError:
                continue
