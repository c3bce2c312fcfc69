"""The ``report`` and ``diff`` commands (registered by cli.py).

Exit codes: report -- 0 written, 2 unusable input; diff -- 0 no plane got
worse, 1 some plane got worse (two captures only), 2 unusable input or usage.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Optional

import orjson
import typer

from .cli import Format, emit, fail, run_analysis


class ReportFormat(str, Enum):
    markdown = "markdown"
    json = "json"


def _write(data: str, output: Optional[str]) -> None:
    if output is None or output == "-":
        sys.stdout.write(data)
        return
    try:
        with open(output, "w", encoding="utf-8") as fo:
            fo.write(data)
    except OSError as e:
        raise fail(f"{output}: cannot write ({e.strerror or e})") from None


def report(
    files: Annotated[list[str], typer.Argument(help="Capture files: mcpsniff JSONL, HAR or mitmproxy flows; '-' reads stdin. Several files are one capture.")],
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write the report to this file instead of stdout.")] = None,
    raw_ids: Annotated[bool, typer.Option("--raw-ids", help="Keep real session ids (default: session-A, session-B ...).")] = False,
    format: Annotated[ReportFormat, typer.Option("--format", "-f", help="Output format.")] = ReportFormat.markdown,
    strict: Annotated[bool, typer.Option("--strict", help="A bad line is fatal instead of skipped.")] = False,
) -> None:
    """Write a bug report for a GitHub issue: summary, planes, findings with spec quotes, a sequence diagram."""
    from . import report as rep
    from .render import report_md

    a = run_analysis(files, strict=strict, plane=None, show_progress=True)
    if format is ReportFormat.json:
        doc = rep.build(a, raw_ids=raw_ids)
        _write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n", output)
    else:
        text, _ = report_md.fit(a, raw_ids=raw_ids)
        _write(text, output)
    if output not in (None, "-"):
        sys.stderr.write(f"report written to {output}\n")


def diff(
    files: Annotated[list[str], typer.Argument(help="BEFORE AFTER capture files; with --planes, one capture (several files are merged).")],
    planes: Annotated[Optional[tuple[str, str]], typer.Option("--planes", help="Compare two planes (exact User-Agents) of one capture.")] = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    strict: Annotated[bool, typer.Option("--strict", help="A bad line is fatal instead of skipped.")] = False,
) -> None:
    """What changed between two captures per plane, or how two planes of one capture differ."""
    from . import diff as d
    from .render import diff_view

    quiet = format is Format.json
    if planes is not None:
        a = run_analysis(files, strict=strict, plane=None, show_progress=not quiet)
        known = sorted(set(a.cap.df["plane"].astype("object")))
        for p in planes:
            if p not in known:
                raise fail(f"no plane with User-Agent {p!r}; planes: " + ", ".join(repr(k) for k in known))
        if planes[0] == planes[1]:
            raise fail("--planes needs two different planes")
        doc = d.compare_planes(a, planes[0], planes[1])
        code = 0
    else:
        if len(files) != 2:
            raise fail(f"diff needs exactly two captures (BEFORE AFTER), got {len(files)}; use --planes A B to compare planes of one capture")
        before = run_analysis([files[0]], strict=strict, plane=None, show_progress=not quiet)
        after = run_analysis([files[1]], strict=strict, plane=None, show_progress=not quiet)
        doc = d.compare_captures(before, after)
        code = 1 if doc["worse"] else 0
    emit(doc, format, markdown=diff_view.markdown, table=diff_view.table)
    raise typer.Exit(code)
