"""Text helpers every view shares: shortening, percentages, Markdown escaping."""

from __future__ import annotations

import re
from typing import Any

_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")


def cut(s: str, n: int) -> str:
    """``s`` shortened to ``n`` characters with an ellipsis."""
    return s if len(s) <= n else s[: n - 1] + "…"


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``1 plane``, ``2 planes``, ``1,234 exchanges``; ``many`` for irregular plurals."""
    return f"{n:,} {noun if n == 1 else (many or noun + 's')}"


def ms(x: float | None) -> str:
    """Milliseconds for people: ``0.8``, ``12.3``, ``1,204``; None -> ``-``."""
    if x is None:
        return "-"
    return f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


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


def source_name(spec: dict[str, Any], mcp: str = "MCP spec") -> str:
    """``MCP spec 2025-11-25`` or the other standard's name (``RFC 9110``, ``Fetch Standard``)."""
    if spec.get("source", "MCP") == "MCP":
        return f"{mcp} {spec['version']}"
    return str(spec["source"])


def capture_failed_line(summary: dict[str, Any]) -> str | None:
    """The headline for a capture whose traffic mostly failed, or None."""
    cf = summary.get("capture_failed")
    if not cf:
        return None
    answers = "; ".join(f"{k} ×{v}" for k, v in cf["answers"].items())
    return (f"The capture itself looks broken: {cf['failed']:,} of {cf['exchanges']:,} MCP exchanges failed "
            f"(most frequent: {answers}). Verdicts below describe traffic that did not work.")


def status_name(status: Any) -> str:
    """A status as people read it: ``404``; ``none`` (the model's key for no response) -> ``no response``."""
    return "no response" if status == "none" else str(status)


def statuses_text(statuses: dict[str, int], times: str = "×") -> str:
    """``{"200": 3, "none": 1}`` -> ``200 ×3, no response ×1`` (``times="x"`` for plain terminals)."""
    return ", ".join(f"{status_name(k)} {times}{v:,}" for k, v in statuses.items())


def _tie(c: dict[str, Any]) -> str:
    n, d, key = c["requests"], c["distinct"], c["key"]
    if key == "client connection":
        if n == 1:
            return "its one request came on one client connection"
        if d == n:
            return f"each of its {n:,} requests came on its own client connection"
        if d == 1:
            return f"all {n:,} of its requests came on one client connection"
        return f"its {n:,} requests came on {d:,} client connections"
    if d == 1:
        return f"{plural(n, 'request')} {'carries' if n == 1 else 'all carry'} the same {key} value"
    return f"{n:,} requests carry {d:,} different {key} values"


CORRELATION_LEAD = "Without the session header, only other values can tie this plane's requests to a session: "


def correlation_text(corr: list[dict[str, Any]]) -> str:
    """What else ties a plane's requests together, as clauses of a sentence: ``its 40 requests came on
    12 client connections; 40 requests carry 3 different openai/session values``."""
    return "; ".join(_tie(c) for c in corr)
