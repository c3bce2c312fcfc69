"""Is this exchange MCP traffic?  (pure; reads flows or plain values, changes nothing)

The rules are written once, on plain values (method, URL, header pairs, raw
bodies): :func:`is_mcp_parts` and :meth:`McpEndpoints.learn_parts`.  The
mitmproxy addon calls them through the flow wrappers :func:`is_mcp` and
:meth:`McpEndpoints.learn`; the ASGI middleware calls them directly.
"""

from __future__ import annotations

from typing import Any, Iterable
from urllib.parse import urljoin

from ..mcp import MCP_REQUEST_HEADERS, H_SESSION, endpoint_key
from .convert import PARSE_CAP, header_joined, header_pairs, is_sse_headers, loads_or_none, rpc_messages
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
    return preflight_asks_mcp(req.method, header_pairs(req.headers))


def preflight_asks_mcp(method: str, headers: list[tuple[str, str]]) -> bool:
    """:func:`is_preflight_for_mcp` on plain values."""
    if method != "OPTIONS":
        return False
    asked = {h.strip().lower() for h in (header_joined(headers, "access-control-request-headers") or "").split(",")}
    return bool(asked & set(MCP_REQUEST_HEADERS))


def _has_header(headers: list[tuple[str, str]], name: str) -> bool:
    return any(n.lower() == name for n, _ in headers)


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
    req, resp = flow.request, flow.response
    return is_mcp_parts(
        req.method, req.url, header_pairs(req.headers), req.raw_content,
        header_pairs(resp.headers) if resp is not None else None,
        resp.raw_content if resp is not None else None,
        known,
    )


def is_mcp_parts(
    method: str,
    url: str,
    req_headers: list[tuple[str, str]],
    req_raw: bytes | None,
    resp_headers: list[tuple[str, str]] | None,
    resp_raw: bytes | None,
    known: Iterable[str] | set[str] = (),
) -> bool:
    """:func:`is_mcp` on plain values; ``resp_headers`` is None when there was no response."""
    if any(_has_header(req_headers, h) for h in MCP_REQUEST_HEADERS) or preflight_asks_mcp(method, req_headers):
        return True
    if resp_headers is not None and (_has_header(resp_headers, H_SESSION) or is_sse_headers(resp_headers)):
        return True
    if endpoint_key(url) in known:
        return True
    if _has_jsonrpc(req_raw, req_headers):
        return True
    return resp_headers is not None and _has_jsonrpc(resp_raw, resp_headers)


_URL_MEMO = 4096


class McpEndpoints:
    """Endpoints (URLs without query) known to be MCP within one capture."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self._urls: set[str] = set()  # URLs whose endpoint is in `known` (the same ones come again and again)

    def is_mcp(self, flow: Any) -> bool:
        return is_mcp(flow, self.known)

    def learn(self, flow: Any, endpoint_events: Iterable[str] = ()) -> None:
        """Remember an MCP flow's endpoint, the POST URLs its ``endpoint`` events announced and
        where a redirect sent it."""
        resp = flow.response
        self.learn_parts(
            flow.request.url,
            resp.status_code if resp is not None else None,
            header_pairs(resp.headers) if resp is not None else [],
            endpoint_events,
        )

    def learn_parts(
        self, url: str, status: int | None, resp_headers: list[tuple[str, str]], endpoint_events: Iterable[str] = ()
    ) -> None:
        """:meth:`learn` on plain values (``status`` None: no response)."""
        if url not in self._urls:
            if len(self._urls) >= _URL_MEMO:
                self._urls.clear()
            self._urls.add(url)
            self.known.add(endpoint_key(url))
        self.learn_urls(url, endpoint_events)
        if status is not None and 300 <= status < 400:
            location = header_joined(resp_headers, "location")
            if location is not None:
                self.learn_urls(url, [location])

    def learn_urls(self, base_url: str, endpoint_events: Iterable[str]) -> None:
        for data in endpoint_events:
            try:
                self.known.add(endpoint_key(urljoin(base_url, data.strip())))
            except ValueError:
                continue
