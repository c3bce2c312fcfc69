"""``mcpsniff diff``: what changed between two captures per plane, or how two planes of one differ.

Exit codes: 0 no plane got worse, 1 some plane got worse (two captures only), 2 unusable input or usage.
"""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from .app import app
from .common import EXIT_FINDINGS, EXIT_OK, Output, Strict, emit, format_enum, make_parents, reports_errors, run_analysis

DiffFormat = format_enum("diff")


@app.command("diff")
@reports_errors
def diff_command(
    files: Annotated[list[str], typer.Argument(help="BEFORE AFTER capture files; with --planes, one capture (several files are merged).")],
    planes: Annotated[Optional[tuple[str, str]], typer.Option("--planes", help="Compare two planes (exact User-Agents) of one capture.")] = None,
    format: Annotated[DiffFormat, typer.Option("--format", "-f", help="Output format.")] = DiffFormat("table"),  # type: ignore[valid-type]
    strict: Strict = False,
    output: Output = None,
) -> None:
    """What changed between two captures per plane, or how two planes of one capture differ."""
    from ..documents import diff as d

    fmt = format.value  # type: ignore[attr-defined]
    make_parents(output)
    if planes is not None:
        a = run_analysis(files, strict=strict)
        doc = d.compare_planes(a, planes[0], planes[1])
        code = EXIT_OK
    else:
        if len(files) != 2:
            raise UsageError(f"diff needs exactly two captures (BEFORE AFTER), got {len(files)}; use --planes A B to compare planes of one capture")
        before = run_analysis([files[0]], strict=strict)
        same = os.path.realpath(files[0]) == os.path.realpath(files[1]) and files[0] != "-"
        after = before if same else run_analysis([files[1]], strict=strict)  # a file against itself: read once
        doc = d.compare_captures(before, after)
        code = EXIT_FINDINGS if doc["worse"] else EXIT_OK
    emit("diff", fmt, doc, output)
    raise typer.Exit(code)
