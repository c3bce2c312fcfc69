"""Views of the rule catalogue document (``mcpsniff rules``; the README's rules table)."""

from __future__ import annotations

from typing import Any

from .layout import ID, TAG, TEXT, Col, FitTable
from .text import source_name

RULE_COLS = (Col("rule", ID), Col("severity", TAG), Col("party", TAG), Col("eras", TEXT), Col("title", TEXT), Col("spec", TEXT))


def table(rules: list[dict[str, Any]]) -> FitTable:
    t = FitTable(["mcpsniff rules"], RULE_COLS)
    for r in rules:
        c = r["citations"][0]
        t.add_row(r["id"], r["severity"], r["party"], ", ".join(r["eras"]), r["title"], _spec(c))
    return t


def _spec(c: dict[str, Any]) -> str:
    """``2025-11-25 Streamable HTTP / Session Management``; ``RFC 9110 5.3. Field Order`` for another standard."""
    return f"{c['version'] if c.get('version') else source_name(c)} {c['section']}"


def markdown(rules: list[dict[str, Any]]) -> str:
    lines = ["| rule | severity | party | title | spec |", "|---|---|---|---|---|"]
    for r in rules:
        c = r["citations"][0]
        lines.append(f"| `{r['id']}` | {r['severity']} | {r['party']} | {r['title']} | [{_spec(c)}]({c['url']}) |")
    return "\n".join(lines) + "\n"
