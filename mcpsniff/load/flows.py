"""mitmproxy flow files (``mitmdump -w``), read with mitmproxy's own FlowReader.

Flow numbers (1-based) stand in for line numbers.  A damaged stream cannot be
resynchronised: the rest of the file is skipped, and that is said.
"""

from __future__ import annotations

from typing import Any, BinaryIO, Iterator

from ._flows import flow_records
from .base import Reading

NAME = "flows"


def sniff(head: bytes, name: str) -> int:
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1].isdigit():
        return 100  # tnetstring: "<length>:<payload>"
    if stripped[:1] != b"{" and name.lower().endswith((".flow", ".flows", ".mitm")):
        return 50
    return 0


def records(r: Reading, fo: BinaryIO) -> Iterator[tuple[int, dict[str, Any]]]:
    from mitmproxy import exceptions, http
    from mitmproxy.io import FlowReader

    def flows() -> Iterator[tuple[int, Any]]:
        i = 0
        try:
            for i, f in enumerate(FlowReader(fo).stream(), 1):
                if isinstance(f, http.HTTPFlow):
                    yield i, f
        except exceptions.FlowReadException as e:
            r.problem(i + 1, f"unreadable mitmproxy flow ({e}); the rest of the file is skipped")
        except Exception as e:  # noqa: BLE001
            r.problem(i + 1, f"unreadable mitmproxy flow ({type(e).__name__}); the rest of the file is skipped")

    yield from flow_records(r, flows())
