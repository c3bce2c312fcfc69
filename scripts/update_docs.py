#!/usr/bin/env python3
"""Regenerate the generated parts of the docs (the README's rules table) from the code.

    .venv/bin/python scripts/update_docs.py          # rewrite in place
    .venv/bin/python scripts/update_docs.py --check  # exit 1 if anything is out of date

tests/cli/test_docs.py fails when the README is out of step, so a new rule only needs this run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcpsniff import render  # noqa: E402
from mcpsniff.documents import rules  # noqa: E402

START, END = "<!-- rules:start -->\n", "<!-- rules:end -->"


def updated(readme: str) -> str:
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + START + render.render("rules", "markdown", rules.document()) + END + tail


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    path = ROOT / "README.md"
    old = path.read_text()
    new = updated(old)
    if args.check:
        print("README.md is up to date" if new == old else "README.md is out of date: run scripts/update_docs.py")
        return 0 if new == old else 1
    path.write_text(new)
    print("README.md rules table " + ("unchanged" if new == old else "updated"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
