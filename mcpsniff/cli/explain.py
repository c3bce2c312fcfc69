"""``mcpsniff explain``: why each exchange was judged as it was, per plane and session."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .app import app
from .common import Files, Output, Strict, emit, format_enum, make_parents, reports_errors, run_analysis

ExplainFormat = format_enum("explain")


@app.command("explain")
@reports_errors
def explain_command(
    files: Files,
    plane: Annotated[Optional[str], typer.Option("--plane", help="Only this plane (exact User-Agent).")] = None,
    session: Annotated[Optional[str], typer.Option("--session", help="Only this session (its id, or its pseudonym such as session-A).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Exchanges shown per session (0 = all).")] = 50,
    raw_ids: Annotated[bool, typer.Option("--raw-ids", help="Keep real session ids (default: session-A, session-B ...).")] = False,
    format: Annotated[ExplainFormat, typer.Option("--format", "-f", help="Output format: table or json.")] = ExplainFormat("table"),  # type: ignore[valid-type]
    strict: Strict = False,
    output: Output = None,
) -> None:
    """Show each session's timeline: every exchange's role, session state, explanation and the rules it fed."""
    from ..documents import explain as ex

    make_parents(output)
    a = run_analysis(files, strict=strict, plane=plane)
    emit("explain", format.value, ex.build(a, plane=plane, session=session, limit=limit or None, raw_ids=raw_ids), output)  # type: ignore[attr-defined]
