"""Text helpers every view shares: shortening, percentages, Markdown escaping."""

from __future__ import annotations

import re
from typing import Any

_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")


def cut(s: str, n: int) -> str:
    """``s`` shortened to ``n`` characters with an ellipsis."""
    return s if len(s) <= n else s[: n - 1] + "…"


def pct(r: float | None, missing: str = "-") -> str:
    """0.5 -> ``50%``; None -> ``missing``."""
    return missing if r is None else f"{r:.0%}"


def md_escape(s: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(s).replace("|", "\\|").replace("\n", " ")


def code(s: Any) -> str:
    """``s`` as an inline code span, safe inside a table cell."""
    s = md_escape(str(s))
    fence = "``" if "`" in s else "`"
    pad = " " if fence == "``" or s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}" if s else "-"


def md_text(s: Any) -> str:
    """Plain text with Markdown, HTML and @-mentions neutralised."""
    s = _MD_SPECIAL.sub(r"\\\1", str(s).replace("\n", " "))
    return s.replace("<", "&lt;").replace(">", "&gt;").replace("@", "&#64;")
