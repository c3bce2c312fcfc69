"""At 80 columns, in a real pseudo-terminal, no table cuts a User-Agent, a rule id or a method.

Each command runs under ``script`` (a pty, so mcpsniff sees a terminal) at 80 columns --
once with ``COLUMNS=80`` and once with the terminal itself set to 80 columns -- and its
output must hold every identifier as often as the same command at 250 columns does,
with no ellipsis anywhere.  ``rules`` piped into ``cat`` follows the same width rule as
analyze (140 columns), so rule ids are whole there too.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "samples").glob("*.jsonl"))
MCPSNIFF = Path(sys.executable).parent / "mcpsniff"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

pytestmark = pytest.mark.skipif(shutil.which("script") is None, reason="util-linux 'script' (a pty) is not installed")


def in_pty(args: list[str], *, columns: int, via_env: bool = True) -> str:
    """stdout of ``mcpsniff ARGS`` run in a pseudo-terminal of ``columns`` columns, plain text."""
    cmd = " ".join(shlex.quote(a) for a in [str(MCPSNIFF), *args])
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if via_env:
        env["COLUMNS"] = str(columns)
    else:
        cmd = f"stty cols {columns} rows 50; {cmd}"
    out = subprocess.run(["script", "-qec", cmd, "/dev/null"], cwd=ROOT, env=env, capture_output=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    text = ANSI.sub("", out.stdout.decode()).replace("\r", "")
    assert out.returncode in (0, 1), text
    return text


def identifiers(sample: Path) -> list[str]:
    doc = json.loads(subprocess.run([str(MCPSNIFF), "analyze", str(sample), "-f", "json", "--fail-on", "never"],
                                    capture_output=True, check=True).stdout)
    names = {p["user_agent"] for p in doc["planes"]}
    names |= {m["method"] for p in doc["planes"] for m in p["methods"]}
    names |= {f["rule"] for f in doc["findings"]}
    return sorted(names)


def assert_whole(narrow: str, wide: str, names: list[str]) -> None:
    assert "…" not in narrow
    for name in names:
        assert narrow.count(name) == wide.count(name) > 0, (name, narrow)


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.stem for s in SAMPLES])
def test_analyze_at_80_columns_keeps_identifiers_whole(sample):
    args = ["analyze", str(sample.relative_to(ROOT)), "--fail-on", "never", "--timing"]
    wide = in_pty(args, columns=250)
    narrow = in_pty(args, columns=80)
    assert_whole(narrow, wide, identifiers(sample))
    # only a spec URL (one unbreakable word) may be longer than the line
    assert all(len(line) <= 80 or re.fullmatch(r"\s*https://\S+", line) for line in narrow.splitlines()), narrow


def test_the_terminal_width_counts_without_columns_set():
    sample = ROOT / "samples" / "seed-two-planes.jsonl"
    args = ["analyze", "samples/seed-two-planes.jsonl", "--fail-on", "never"]
    narrow = in_pty(args, columns=80, via_env=False)
    assert_whole(narrow, in_pty(args, columns=250), identifiers(sample))
    tables = [line for line in narrow.splitlines() if line.startswith(("┏", "│", "└"))]
    assert tables and all(len(line) <= 80 for line in tables)


def test_rules_at_80_columns_and_in_a_pipe():
    doc = json.loads(subprocess.run([str(MCPSNIFF), "rules", "-f", "json"], capture_output=True, check=True).stdout)
    ids = [r["id"] for r in doc]
    narrow = in_pty(["rules"], columns=80)
    assert_whole(narrow, in_pty(["rules"], columns=250), ids)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    piped = subprocess.run(f"{shlex.quote(str(MCPSNIFF))} rules | cat", shell=True, env=env, capture_output=True, text=True).stdout
    for rid in ids:
        assert re.search(rf"│ {re.escape(rid)}\s+│", piped), rid
    assert max(len(line) for line in piped.splitlines()) <= 140
