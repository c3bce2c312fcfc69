"""Views of the rule catalogue (``mcpsniff rules``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Mapping

from rich.table import Table


def as_dicts(rules: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rules.values()]


def table(rules: Mapping[str, Any]) -> Table:
    t = Table(title="mcpsniff rules", title_justify="left")
    for col in ("rule", "severity", "party", "eras", "title", "spec"):
        t.add_column(col, overflow="fold")
    for r in rules.values():
        c = r.citations[0]
        t.add_row(r.id, r.severity, r.party, ", ".join(r.eras), r.title, f"{c.version} {c.section}")
    return t


def markdown(rules: Mapping[str, Any]) -> str:
    lines = ["| rule | severity | party | title | spec |", "|---|---|---|---|---|"]
    for r in rules.values():
        c = r.citations[0]
        lines.append(f"| `{r.id}` | {r.severity} | {r.party} | {r.title} | [{c.version} {c.section}]({c.url}) |")
    return "\n".join(lines) + "\n"
