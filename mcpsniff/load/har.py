"""HAR 1.2 (browsers' devtools, mitmproxy's HAR export, ``mcpsniff export --har``), read with
mitmproxy's own HAR reader.

Entry numbers (1-based) stand in for line numbers: problems read ``file:entry: reason``.
:func:`restore` adds what that reader leaves out: a status-0 entry (how browsers, mitmproxy's
HAR export and ``mcpsniff export`` write a request that got no response) has no response,
``response._error`` is the exchange's error, ``timings`` (send + wait) give the response
start, ``connection`` the client connection id.
"""

from __future__ import annotations

from typing import Any, BinaryIO, Iterator

import orjson

from ._flows import flow_records
from .base import Reading, short_json_error

NAME = "har"


def sniff(head: bytes, name: str) -> int:
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] != b"{":
        return 0
    try:
        obj = orjson.loads(stripped.split(b"\n", 1)[0])
    except orjson.JSONDecodeError:
        obj = None
    if isinstance(obj, dict) and "log" in obj:
        return 100
    if isinstance(obj, dict) and "v" in obj and "kind" in obj:
        return 0
    if b'"log"' in stripped[:200] or name.lower().endswith(".har"):
        return 50
    return 0


def records(r: Reading, fo: BinaryIO) -> Iterator[tuple[int, dict[str, Any]]]:
    from mitmproxy.io import har

    data = fo.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        r.problem(None, f"not a valid HAR file (JSON error: {short_json_error(e)})")
        return
    entries = doc.get("log", {}).get("entries") if isinstance(doc, dict) and isinstance(doc.get("log"), dict) else None
    if not isinstance(entries, list):
        r.problem(None, "not a HAR file (no log.entries list)")
        return
    if not entries:
        r.problem(None, "HAR file without entries")
        return

    def flows() -> Iterator[tuple[int, Any]]:
        for i, entry in enumerate(entries, 1):
            try:
                yield i, restore(har.request_to_flow(entry), entry)
            except Exception as e:  # noqa: BLE001
                r.problem(i, f"unusable HAR entry ({type(e).__name__}: {e})")

    yield from flow_records(r, flows())


def restore(flow: Any, entry: dict[str, Any]) -> Any:
    """The flow of a HAR entry, with what ``request_to_flow`` does not read (see the module docstring)."""
    from mitmproxy.flow import Error

    resp = entry.get("response") or {}
    end = flow.request.timestamp_end
    if resp.get("status") == 0:
        flow.response = None
    elif flow.response is not None and isinstance(entry.get("timings"), dict):
        # send + wait: the phases of this exchange alone (blocked, dns and connect may belong to a
        # connection set up earlier, and are not always measured from this request's start)
        t = entry["timings"]
        before = sum(v for k in ("send", "wait") if isinstance(v := t.get(k), (int, float)) and v > 0)
        flow.response.timestamp_start = min(flow.request.timestamp_start + before / 1000.0, end)
    err = resp.get("_error") or entry.get("_error")
    if isinstance(err, str) and err:
        flow.error = Error(err, timestamp=end)
    conn = entry.get("connection")
    if isinstance(conn, str) and conn:
        flow.client_conn.id = conn
    return flow
