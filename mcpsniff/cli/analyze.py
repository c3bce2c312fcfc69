"""``mcpsniff analyze``: a verdict per plane, findings with evidence and spec citations."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .app import app
from .common import FailOn, Files, Output, Strict, emit, exit_code, format_enum, make_parents, reports_errors, run_analysis

AnalysisFormat = format_enum("analysis")


@app.command("analyse", hidden=True)  # as spelled in British English prose
@app.command("analyze")
@reports_errors
def analyze_command(
    files: Files,
    format: Annotated[AnalysisFormat, typer.Option(  # type: ignore[valid-type]
        "--format", "-f", help="Output format: table, json, markdown, sarif (SARIF 2.1.0) or junit (JUnit XML).")] = AnalysisFormat("table"),
    plane: Annotated[Optional[str], typer.Option("--plane", help="Only this plane (exact User-Agent).")] = None,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 when findings reach this severity (also: JUnit failures).")] = FailOn.error,
    strict: Strict = False,
    evidence: Annotated[int, typer.Option("--evidence", min=0, help="Evidence exchanges per finding (0 = all).")] = 10,
    timing: Annotated[bool, typer.Option("--timing", help="Add latency per plane and method (p50/p95/p99) to the table.")] = False,
    output: Output = None,
) -> None:
    """Group a capture by plane and session and report which plane breaks which rule."""
    from ..documents.analysis import document

    fmt = format.value  # type: ignore[attr-defined]
    make_parents(output)
    a = run_analysis(files, strict=strict, plane=plane)
    doc = document(a, evidence_limit=evidence or None, plane=plane)
    emit("analysis", fmt, doc, output, fail_on=fail_on.value, timing=timing)
    raise typer.Exit(exit_code([f.severity for f in a.findings], fail_on, capture_failed=bool(doc["summary"]["capture_failed"])))
