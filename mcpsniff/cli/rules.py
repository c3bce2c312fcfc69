"""``mcpsniff rules``: the rule catalogue (ids, severities, spec citations)."""

from __future__ import annotations

from typing import Annotated

import typer

from .app import app
from .common import emit, format_enum

RulesFormat = format_enum("rules")


@app.command("rules")
def rules_command(
    format: Annotated[RulesFormat, typer.Option("--format", "-f", help="Output format.")] = RulesFormat("table"),  # type: ignore[valid-type]
) -> None:
    """List the rule catalogue (ids, severities, spec citations)."""
    from ..documents import rules as rules_doc

    emit("rules", format.value, rules_doc.document())  # type: ignore[attr-defined]
