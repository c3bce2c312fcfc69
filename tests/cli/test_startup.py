"""Start-up: what the entry point imports for the commands of a user's first minute.

Each case runs in a fresh interpreter (the console script's own import, then the command through
Typer) and lists the heavy libraries left in ``sys.modules``: ``--version``, ``--help`` and ``rules``
need none of DuckDB, pandas, numpy, mitmproxy or pydantic (Typer's coercion of option values);
analysing a small JSONL capture needs DuckDB but never pandas, numpy, mitmproxy, pydantic nor the
capture package (the recorder).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "samples" / "seed-two-planes.jsonl"
HEAVY = ("duckdb", "pandas", "numpy", "mitmproxy", "pyarrow", "pydantic")

PROBE = """
import json, sys
from mcpsniff.cli import app
from typer.testing import CliRunner
r = CliRunner().invoke(app, sys.argv[1:])
print(json.dumps({"exit": r.exit_code, "out": r.stdout,
                  "heavy": sorted({m.split(".")[0] for m in sys.modules} & set(%r)),
                  "capture": sorted(m for m in sys.modules if m == "mcpsniff.capture" or m.startswith("mcpsniff.capture."))}))
""" % (HEAVY,)


def run(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["rules"], ["rules", "-f", "json"], ["analyze", "--help"]])
def test_the_first_commands_import_no_heavy_library(args):
    got = run(*args)
    assert got["exit"] == 0, got
    assert got["heavy"] == []
    assert not [m for m in got["capture"] if m not in ("mcpsniff.capture", "mcpsniff.capture.versions")]


def test_version_names_mitmproxy_without_importing_it():
    got = run("--version")
    import mitmproxy.version

    assert got["out"] == f"mcpsniff 0.1.0 (mitmproxy {mitmproxy.version.VERSION}, Python {sys.version.split()[0]})\n"
    assert "mitmproxy" not in got["heavy"]


def test_analyze_of_a_jsonl_capture_imports_no_recorder():
    got = run("analyze", str(SEED), "-f", "json")
    assert got["exit"] == 1 and json.loads(got["out"])["planes"]
    assert "mitmproxy" not in got["heavy"] and "pydantic" not in got["heavy"]  # the options are coerced without it
    assert got["capture"] == []


def test_analyze_of_a_small_capture_imports_no_pandas():
    got = run("analyze", str(SEED), "-f", "json")
    assert got["exit"] == 1
    assert [m for m in got["heavy"] if m in ("pandas", "numpy")] == []


def test_the_program_ends_with_its_output_flushed_and_its_temporary_files_removed(tmp_path):
    """The console script ends without the interpreter's teardown (cli/app.py ``leave``): what a
    finished program owes still happens -- the whole output is written, the exit code is the
    command's, DuckDB's temporary directory is gone."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = subprocess.run([sys.executable, "-m", "mcpsniff", "analyze", str(SEED), "-f", "json"], capture_output=True,
                         text=True, cwd=ROOT, timeout=120, env={**__import__("os").environ, "TMPDIR": str(tmp)})
    assert out.returncode == 1, out.stderr  # the seed's plane breaks an error rule
    assert json.loads(out.stdout)["planes"]
    assert list(tmp.iterdir()) == []
