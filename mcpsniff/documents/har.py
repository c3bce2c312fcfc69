"""HAR 1.2 of a capture: its exchange records as a browser's devtools would export them.

:func:`har` turns schema records (as :mod:`mcpsniff.load` reads them: redacted as
recorded) into a HAR 1.2 ``log``; ``render.jsonout`` writes it.  A HAR opens in a
browser's devtools (Network panel, "Import HAR"), in mitmproxy (``mitmweb har.har``)
and in ``mcpsniff analyze`` again, which reads it back to the same planes, sessions
and findings (``tests/cli/test_export.py``).

How the record maps:

- ``startedDateTime``: ``t.req`` in ISO 8601 with microseconds; ``time`` and ``timings``:
  ``wait`` = request start to response headers (``t.resp``), ``receive`` = to the end
  (``t.end``), ``send`` 0, the phases mitmproxy does not time (``blocked``, ``dns``,
  ``connect``, ``ssl``) -1;
- bodies as text: JSON-RPC messages re-serialised as JSON (a batch as an array), other
  bodies as recorded; an SSE response as its event stream (``id:``, ``event:``,
  ``retry:``, ``data:`` lines), so devtools show the stream and readers parse the events;
  a body cut at capture time says so in its ``comment``;
- an exchange without a response gets status 0 and ``response._error`` (what Chrome and
  mitmproxy's own HAR export write for a failed request); the record's ``error`` is kept
  as ``response._error`` on answered exchanges too (e.g. ``Client disconnected.`` after a
  complete response), as mitmproxy does;
- ``connection`` is the client connection id, ``serverIPAddress`` the upstream host.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable
from urllib.parse import parse_qsl, urlsplit

import orjson

from .. import __version__
from ..schema import header_value

HAR_VERSION = "1.2"


def iso_us(t: float) -> str:
    """Epoch seconds -> ``2025-10-09T08:53:20.050123Z`` (HAR's startedDateTime, microseconds kept)."""
    return datetime.fromtimestamp(float(t), tz=timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _ms(seconds: float) -> float:
    return round(max(seconds, 0.0) * 1000.0, 3)


def _http_version(v: Any) -> str:
    """The record's HTTP version as HAR readers take it (mitmproxy reads ``HTTP/2``, not ``HTTP/2.0``)."""
    if not isinstance(v, str) or not v:
        return "HTTP/1.1"
    return "HTTP/2" if v.upper() in ("HTTP/2.0", "HTTP/2") else v


def _headers(pairs: Any) -> list[dict[str, str]]:
    return [{"name": str(n), "value": str(v)} for n, v in pairs or ()]


def _cookies(pairs: Any, name: str) -> list[dict[str, str]]:
    """``Cookie: a=1; b=2`` -> two cookies; ``Set-Cookie: a=1; Path=/`` -> one (attributes left out)."""
    out = []
    for n, v in pairs or ():
        if str(n).lower() != name:
            continue
        crumbs = str(v).split(";") if name == "cookie" else str(v).split(";")[:1]
        for c in crumbs:
            k, eq, val = c.strip().partition("=")
            if k and eq:
                out.append({"name": k, "value": val})
    return out


def body_text(body: dict[str, Any] | None) -> str | None:
    """A recorded body as text: its JSON-RPC messages as JSON, else its text; None when nothing was kept."""
    if not body:
        return None
    rpc = body.get("rpc")
    if rpc is not None:
        return orjson.dumps(rpc if body.get("batch") or len(rpc) != 1 else rpc[0]).decode()
    text = body.get("text")
    return text if isinstance(text, str) else None


def sse_text(events: list[dict[str, Any]]) -> str:
    """Recorded SSE events as the event stream that carried them."""
    out = []
    for ev in events:
        lines = []
        if ev.get("id") is not None:
            lines.append(f"id: {ev['id']}")
        if ev.get("event"):
            lines.append(f"event: {ev['event']}")
        if ev.get("retry") is not None:
            lines.append(f"retry: {ev['retry']}")
        data = ev.get("data") or ""
        if data or not lines:
            lines += [f"data: {line}" for line in data.split("\n")]
        out.append("\n".join(lines) + "\n\n")
    return "".join(out)


def _cut(body: dict[str, Any] | None) -> dict[str, str]:
    return {"comment": "body truncated at capture time (over the body limit or cut by a disconnect)"} if body and body.get("truncated") else {}


def _request(rec: dict[str, Any]) -> dict[str, Any]:
    req = rec["req"]
    headers = req.get("headers") or []
    out: dict[str, Any] = {
        "method": req["method"],
        "url": req["url"],
        "httpVersion": _http_version(req.get("http_version")),
        "cookies": _cookies(headers, "cookie"),
        "headers": _headers(headers),
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(req["url"]).query, keep_blank_values=True)],
        "headersSize": -1,
        "bodySize": -1,
    }
    body = req.get("body")
    text = body_text(body)
    if text is not None:
        out["postData"] = {"mimeType": header_value(headers, "content-type") or "", "text": text, **_cut(body)}
        size = (body or {}).get("size", -1)
        out["bodySize"] = size if isinstance(size, int) and size >= 0 else len(text.encode())
    return out


def _response(rec: dict[str, Any]) -> dict[str, Any]:
    resp = rec.get("resp")
    error = rec.get("error")
    if not resp:
        return {"status": 0, "statusText": "", "httpVersion": "", "cookies": [], "headers": [],
                "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "", "headersSize": -1, "bodySize": -1,
                "_error": error or "no response"}
    headers = resp.get("headers") or []
    body = resp.get("body") or {}
    sse = resp.get("sse")
    text = sse_text(sse) if sse is not None else body_text(body)
    size = body.get("size", -1)
    content: dict[str, Any] = {"size": size if isinstance(size, int) and size >= 0 else len((text or "").encode()),
                               "mimeType": resp.get("content_type") or ""}
    if text is not None:
        content["text"] = text
    content.update(_cut(body))
    out = {
        "status": resp["status"],
        "statusText": resp.get("reason") or "",
        "httpVersion": _http_version(resp.get("http_version")),
        "cookies": _cookies(headers, "set-cookie"),
        "headers": _headers(headers),
        "content": content,
        "redirectURL": header_value(headers, "location") or "",
        "headersSize": -1,
        "bodySize": content["size"],
    }
    if error:
        out["_error"] = error
    return out


def _timings(rec: dict[str, Any]) -> dict[str, float]:
    t = rec["t"]
    t0, t_resp, t_end = t["req"], t.get("resp"), t.get("end")
    if t_resp is not None:
        wait = _ms(t_resp - t0)
        receive = _ms(t_end - t_resp) if t_end is not None else 0.0
    else:  # no response headers: the whole exchange was waiting
        wait, receive = (_ms(t_end - t0) if t_end is not None else 0.0), 0.0
    return {"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": 0, "wait": wait, "receive": receive}


def entry(rec: dict[str, Any]) -> dict[str, Any]:
    """One exchange record -> one HAR entry."""
    timings = _timings(rec)
    out: dict[str, Any] = {
        "startedDateTime": iso_us(rec["t"]["req"]),
        "time": round(timings["send"] + timings["wait"] + timings["receive"], 3),
        "request": _request(rec),
        "response": _response(rec),
        "cache": {},
        "timings": timings,
    }
    server = (rec.get("server") or {}).get("addr")
    if isinstance(server, str) and server:
        host = server.rsplit(":", 1)[0] if server.count(":") == 1 or server.startswith("[") else server
        out["serverIPAddress"] = host.strip("[]")
    conn = (rec.get("client") or {}).get("conn")
    if isinstance(conn, str) and conn:
        out["connection"] = conn
    return out


def har(records: Iterable[dict[str, Any]], inputs: list[str]) -> dict[str, Any]:
    """The HAR 1.2 document of these exchange records (in the order given)."""
    return {
        "log": {
            "version": HAR_VERSION,
            "creator": {"name": "mcpsniff", "version": __version__},
            "comment": f"exported by mcpsniff {__version__} from {', '.join(inputs)}; secrets redacted as recorded",
            "entries": [entry(r) for r in records],
        }
    }
