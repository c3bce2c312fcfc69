"""Any document as indented JSON (stable key order: the document's own)."""

from __future__ import annotations

from typing import Any

import orjson


def render(doc: Any) -> str:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"
