"""mcpsniff's own JSONL (schema v1): one record per line, meta lines collected."""

from __future__ import annotations

from typing import Any, BinaryIO, Iterator

import orjson

from ..schema import KIND_EXCHANGE, SCHEMA_VERSION, SchemaError, check_record
from .base import Reading, short_json_error

NAME = "jsonl"
BOM = b"\xef\xbb\xbf"


def sniff(head: bytes, name: str) -> int:
    """How sure we are that a file starting with ``head`` is JSONL (0..100)."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] == b"{":
        try:
            obj = orjson.loads(stripped.split(b"\n", 1)[0])
        except orjson.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and "v" in obj and "kind" in obj:
            return 100
    return 1  # the fallback: whatever else, the JSONL reader explains line by line


def records(r: Reading, fo: BinaryIO) -> Iterator[tuple[int, dict[str, Any]]]:
    """Decoded exchange records (unvalidated; the caller validates); meta lines go to ``r.meta``."""
    loads = orjson.loads
    seen_any = False
    line_no = 0
    for line_no, raw in enumerate(fo, 1):
        if line_no == 1 and raw.startswith(BOM):
            raw = raw[len(BOM):]
        if not raw.strip():
            continue
        seen_any = True
        try:
            obj = loads(raw)
        except orjson.JSONDecodeError as e:
            torn = not raw.endswith(b"\n")
            reason = (
                "incomplete last line (the capture was probably interrupted while writing it)"
                if torn
                else f"not JSON ({short_json_error(e)})"
            )
            r.problem(line_no, reason)
            continue
        if type(obj) is dict and obj.get("kind") == KIND_EXCHANGE and obj.get("v") == SCHEMA_VERSION:
            yield line_no, obj
            continue
        try:
            check_record(obj)
        except SchemaError as e:
            r.problem(line_no, str(e))
            continue
        r.meta.append(obj)  # a valid non-exchange record is a meta line
    r.lines = line_no
    if not seen_any:
        r.problem(None, "empty file, no records")
