"""What a command line is expected to do: -h, completion, plurals, hints that name the command as run,
the installed mitmdump script, progress on stderr only, and the live summary's error count."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from rich.console import Console
from typer.testing import CliRunner

from mcpsniff import schema
from mcpsniff.cli import app, common
from mcpsniff.cli.live import LiveSummary
from mcpsniff import model
from mcpsniff.render.text import plural
from synth import seed_scenario

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SEED = ROOT / "samples" / "seed-two-planes.jsonl"
runner = CliRunner()


@pytest.mark.parametrize("args", [["-h"], ["--help"], ["analyze", "-h"], ["export", "-h"], ["rules", "-h"], ["addon-path", "-h"]])
def test_h_is_help(args):
    r = runner.invoke(app, args)
    assert r.exit_code == 0 and "Usage:" in r.output


def test_shell_completion_is_on():
    r = runner.invoke(app, ["--show-completion", "bash"], prog_name="mcpsniff")
    assert r.exit_code == 0 and "complete -o default -F _mcpsniff_completion mcpsniff" in r.output
    env = {**os.environ, "_MCPSNIFF_COMPLETE": "complete_bash", "COMP_WORDS": "mcpsniff expo", "COMP_CWORD": "1"}
    done = subprocess.run([str(BIN / "mcpsniff")], env=env, capture_output=True, text=True)
    assert done.stdout.split() == ["export"]


def test_plurals():
    assert plural(1, "plane") == "1 plane" and plural(2, "plane") == "2 planes" and plural(0, "exchange") == "0 exchanges"
    assert plural(1234, "exchange") == "1,234 exchanges"


@pytest.mark.parametrize("argv0, want", [
    ("mcpsniff", "mcpsniff"),
    (".venv/bin/mcpsniff", ".venv/bin/mcpsniff"),
    ("/opt/tools/bin/mcpsniff", "/opt/tools/bin/mcpsniff"),
    ("/some/where/mcpsniff/__main__.py", None),
    ("pytest", "mcpsniff"),
])
def test_hints_name_the_command_as_it_was_run(argv0, want, monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "argv", [argv0])
    monkeypatch.setenv("PATH", str(tmp_path))  # no mcpsniff on PATH
    got = common.invoked_as()
    if want is None:
        assert got.endswith(" -m mcpsniff") and "python" in got
    else:
        assert got == want


def test_the_hint_is_plain_mcpsniff_when_path_finds_the_same_program(monkeypatch, tmp_path):
    prog = tmp_path / "mcpsniff"
    prog.write_text("#!/bin/sh\n")
    prog.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "argv", [str(prog)])
    assert common.invoked_as() == "mcpsniff"


def test_addon_path_prints_the_installed_mitmdump_script():
    r = runner.invoke(app, ["addon-path"])
    assert r.exit_code == 0
    path = Path(r.stdout.strip())
    assert path.is_file() and path.name == "mitmdump_addon.py" and path.parent.name == "capture"
    assert "addons = [McpSniff()]" in path.read_text()
    # the clone's shim loads the same addon
    assert "from mcpsniff.capture.mitmdump_addon import addons" in (ROOT / "addons" / "mcpsniff_addon.py").read_text()


# -- one width rule -----------------------------------------------------------------------------------
def test_one_width_rule(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    assert common.output_width(False) == common.PIPE_WIDTH
    monkeypatch.setenv("COLUMNS", "91")
    assert common.output_width(False) == 91 and common.output_width(True) == 91
    ctx = common.render_context("out.txt", fail_on="warning")
    assert ctx.width == 91 and not ctx.color and ctx.fail_on == "warning"


# -- progress ---------------------------------------------------------------------------------------
def test_the_careful_reader_reports_bytes_as_it_reads(tmp_path):
    p = tmp_path / "cap.jsonl"
    p.write_bytes(seed_scenario(tool_calls=3000).jsonl())
    size = p.stat().st_size
    q = tmp_path / "cap2.jsonl"
    q.write_bytes(p.read_bytes())
    seen: list[int] = []
    model.build([str(p), str(q)], on_bytes=seen.append).close()
    assert seen == sorted(seen) and len(seen) > 4  # several updates while reading, not one at the end
    assert seen[-1] == 2 * size and any(size < n < 2 * size for n in seen)


def test_the_fast_reader_reports_bytes_too(tmp_path, monkeypatch):
    p = tmp_path / "cap.jsonl"
    p.write_bytes(seed_scenario(tool_calls=6000).jsonl())
    size = p.stat().st_size
    monkeypatch.setattr(model, "FAST_MIN_BYTES", 0)
    q = tmp_path / "cap2.jsonl"
    q.write_bytes(p.read_bytes())
    seen: list[int] = []
    m = model.build([str(p), str(q)], on_bytes=seen.append)
    assert m.inputs[0].fmt == "jsonl" and m.n == 2 * m.inputs[0].exchanges
    m.close()
    # the two files are read at once: a report as each ends (and between), never going back
    assert seen == sorted(seen) and len(seen) >= 2 and size <= seen[-2] and seen[-1] == 2 * size


def test_progress_shows_bytes_percentage_and_rate():
    buf = io.StringIO()
    prog = common.ReadProgress(10 * 1024 * 1024, Console(file=buf, force_terminal=True, width=120))
    with prog:
        prog.bytes_read(1024 * 1024)
        time.sleep(0.3)  # the rate needs two readings apart in time
        prog.bytes_read(5 * 1024 * 1024)
        prog.progress.refresh()
        text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buf.getvalue())
        assert "reading" in text and "5.2/10.5 MB" in text and "50%" in text and re.search(r"[\d.]+ [kMG]?B/s", text)
        prog.bytes_read(10 * 1024 * 1024)
        prog.progress.refresh()
    assert "analysing" in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buf.getvalue())


PTY_PROGRAM = """
import sys
from mcpsniff.cli import app, common
common.PROGRESS_MIN_BYTES = 0  # the sample is small; show the progress anyway
app(sys.argv[1:], prog_name="mcpsniff")
"""


@pytest.mark.skipif(shutil.which("script") is None, reason="util-linux 'script' (a pty) is not installed")
@pytest.mark.parametrize("fmt", ["json", "table", "sarif"])
def test_progress_goes_to_a_terminal_stderr_and_never_to_stdout(fmt, tmp_path):
    prog = tmp_path / "run.py"
    prog.write_text(PTY_PROGRAM)
    out = tmp_path / "stdout.txt"
    # stdout to a file, stderr the pseudo-terminal
    cmd = f"{sys.executable} {prog} analyze {SEED} -f {fmt} --fail-on never > {out}"
    done = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, timeout=120, stdin=subprocess.DEVNULL,
                          env={**os.environ, "COLUMNS": "120"})
    tty = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", done.stdout.decode(errors="replace"))
    assert done.returncode == 0, tty
    assert "reading" in tty and "%" in tty and "kB" in tty
    text = out.read_text()
    assert "reading" not in text and "\x1b" not in text
    if fmt != "table":
        json.loads(text)


def test_no_progress_when_stderr_is_not_a_terminal(monkeypatch):
    monkeypatch.setattr(common, "PROGRESS_MIN_BYTES", 0)
    r = runner.invoke(app, ["analyze", str(SEED), "-f", "json", "--fail-on", "never"])
    assert r.exit_code == 0 and r.stderr == ""


# -- the live capture summary -----------------------------------------------------------------------
def test_live_summary_counts_exchanges_without_a_response_not_normal_disconnects():
    s = seed_scenario(tool_calls=3)
    for rec in s.records:  # clients often hang up right after a complete response
        rec["error"] = "Client disconnected."
    lost = s.exchange("openai-mcp/1.0.0", headers=s.mcp_headers(None, "2025-11-25"), status=None,
                      error="Server disconnected.", rpc=[{"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {}}])
    assert lost["resp"] is None
    live = LiveSummary()
    for line in s.jsonl().splitlines():
        live.add(orjson.loads(line))
    live.add(schema.make_meta(x=1))
    assert live.line().startswith(f"{plural(len(s.records), 'exchange')} (1 without a response, 0 SSE events)")
    r = runner.invoke(app, ["analyze", "-", "-f", "json", "--fail-on", "never"], input=s.jsonl())
    doc = json.loads(r.stdout)
    assert sum(f["count"] for f in doc["findings"] if f["rule"] == "no-response") == live.no_response == 1


def test_live_summary_says_one_session_issued():
    live = LiveSummary()
    for line in seed_scenario(tool_calls=1).jsonl().splitlines():
        live.add(orjson.loads(line))
    assert "1 session issued" in live.line() and "sessions issued" not in live.line()


def test_live_table_keeps_user_agents_whole_at_80_columns():
    live = LiveSummary()
    for line in seed_scenario(tool_calls=1).jsonl().splitlines():
        live.add(orjson.loads(line))
    buf = io.StringIO()
    Console(file=buf, width=80).print(live.table("mcpsniff -> captures/x.jsonl (Ctrl-C to stop)"))
    out = buf.getvalue()
    assert "│ openai-mcp/1.0.0 (ChatGPT) │" in out and all(len(line) <= 80 for line in out.splitlines())
