"""``mcpsniff report``: a paste-ready bug report (exit 0 when written, 2 for unusable input)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .app import app
from .common import Files, Output, Strict, emit, format_enum, make_parents, reports_errors, run_analysis

ReportFormat = format_enum("report")


@app.command("report")
@reports_errors
def report_command(
    files: Files,
    output: Output = None,
    raw_ids: Annotated[bool, typer.Option("--raw-ids", help="Keep real session ids (default: session-A, session-B ...).")] = False,
    format: Annotated[ReportFormat, typer.Option("--format", "-f", help="Output format.")] = ReportFormat("markdown"),  # type: ignore[valid-type]
    strict: Strict = False,
) -> None:
    """Write a bug report for a GitHub issue: summary, planes, findings with spec quotes, a sequence diagram."""
    from ..documents import report as rep

    make_parents(output)
    a = run_analysis(files, strict=strict)
    emit("report", format.value, rep.build(a, raw_ids=raw_ids), output)  # type: ignore[attr-defined]
    if output not in (None, "-"):
        sys.stderr.write(f"report written to {output}\n")
