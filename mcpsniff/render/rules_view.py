"""Views of the rule catalogue document (``mcpsniff rules``; the README's rules table)."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def table(rules: list[dict[str, Any]]) -> Table:
    t = Table(title="mcpsniff rules", title_justify="left")
    for col in ("rule", "severity", "party", "eras", "title", "spec"):
        t.add_column(col, overflow="fold")
    for r in rules:
        c = r["citations"][0]
        t.add_row(r["id"], r["severity"], r["party"], ", ".join(r["eras"]), r["title"], f"{c['version']} {c['section']}")
    return t


def markdown(rules: list[dict[str, Any]]) -> str:
    lines = ["| rule | severity | party | title | spec |", "|---|---|---|---|---|"]
    for r in rules:
        c = r["citations"][0]
        lines.append(f"| `{r['id']}` | {r['severity']} | {r['party']} | {r['title']} | [{c['version']} {c['section']}]({c['url']}) |")
    return "\n".join(lines) + "\n"
