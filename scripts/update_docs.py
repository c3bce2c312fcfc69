#!/usr/bin/env python3
"""Regenerate the generated parts of the docs from the code and the shipped samples.

    .venv/bin/python scripts/update_docs.py          # rewrite in place
    .venv/bin/python scripts/update_docs.py --check  # exit 1 if anything is out of date

Two kinds of generated parts, so that what the docs show is what the commands print:

- the README's rules table (between ``<!-- rules:start -->`` and ``<!-- rules:end -->``);
- docs/schema.md's table of the exchange columns (between ``<!-- columns:start -->`` and
  ``<!-- columns:end -->``), from the column spec ``mcpsniff.model.columns.COLUMNS``;
- command output, in README.md and docs/*.md, between
  ``<!-- generated[OPTIONS]: COMMAND -->`` and ``<!-- /generated -->``: COMMAND runs with
  bash from the repository root (``.venv/bin/mcpsniff`` is the mcpsniff next to this
  interpreter) and its stdout goes in between; OPTIONS ``fence=LANG`` wraps it in a
  fenced block, ``mermaid`` keeps only the first mermaid block of the output.

tests/cli/test_docs.py fails when a generated part is out of step (the versions of Python
and mitmproxy a report names are ignored there: they are the machine's).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcpsniff import render  # noqa: E402
from mcpsniff.documents import rules  # noqa: E402
from mcpsniff.model.columns import COLUMNS  # noqa: E402

START, END = "<!-- rules:start -->\n", "<!-- rules:end -->"
COLS_START, COLS_END = "<!-- columns:start -->\n", "<!-- columns:end -->"
#: the Parquet export's columns beyond the exchange table's
PARQUET_ONLY = [("source", "VARCHAR", "the capture file the exchange came from"),
                ("day", "VARCHAR", "partition: UTC day of `t_req`, `YYYY-MM-DD`")]
GENERATED = re.compile(r"(<!-- generated(?:\[(?P<opts>[^\]]*)\])?: (?P<cmd>.+?) -->\n)(?P<body>.*?)(<!-- /generated -->)", re.S)
#: lines that name the machine's own versions (a report's environment block)
MACHINE_LINES = re.compile(r"^(mitmproxy|python):\s.*$", re.M)
DOCS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]


def mcpsniff_bin() -> str:
    exe = Path(sys.executable).parent / "mcpsniff"
    return str(exe) if exe.exists() else f"{sys.executable} -m mcpsniff"


def run_shown(cmd: str) -> str:
    """stdout of a command as the docs show it (run from the repository root, no terminal)."""
    real = re.sub(r"(?<![\w/.-])(?:\.venv/bin/)?mcpsniff(?= )", mcpsniff_bin(), cmd)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    done = subprocess.run(["bash", "-o", "pipefail", "-c", real], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{cmd}: exit {done.returncode}\n{done.stderr}")
    return done.stdout


def body_for(opts: str, cmd: str) -> str:
    out = run_shown(cmd)
    options = dict((o.split("=", 1) + [""])[:2] for o in (opts or "").split(",") if o)
    if "mermaid" in options:
        m = re.search(r"```mermaid\n.*?```\n", out, re.S)
        if not m:
            raise SystemExit(f"{cmd}: no mermaid block in its output")
        return m.group(0)
    if options.get("fence"):
        ticks = "````" if "```" in out else "```"
        return f"{ticks}{options['fence']}\n{out.rstrip()}\n{ticks}\n"
    return out if out.endswith("\n") else out + "\n"


def columns_table() -> str:
    rows = [(c.name, c.type, c.doc) for c in COLUMNS] + PARQUET_ONLY
    return "| column | type | what |\n|---|---|---|\n" + "".join(f"| `{n}` | {t} | {d} |\n" for n, t, d in rows)


def between(text: str, start: str, end: str, body: str) -> str:
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return head + start + body + end + tail


def updated(text: str, path: str) -> str:
    if path == "README.md":
        text = between(text, START, END, render.render("rules", "markdown", rules.document()))
    if path == "docs/schema.md":
        text = between(text, COLS_START, COLS_END, columns_table())
    return GENERATED.sub(lambda m: m.group(1) + body_for(m.group("opts"), m.group("cmd")) + m.group(5), text)


def comparable(text: str) -> str:
    return MACHINE_LINES.sub(lambda m: m.group(1) + ": (this machine)", text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    stale = []
    for name in DOCS:
        path = ROOT / name
        old = path.read_text()
        new = updated(old, name)
        if comparable(new) != comparable(old):
            stale.append(name)
            if not args.check:
                path.write_text(new)
    if args.check:
        print("out of date (run scripts/update_docs.py): " + ", ".join(stale) if stale else "docs are up to date")
        return 1 if stale else 0
    print("updated: " + ", ".join(stale) if stale else "docs unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
